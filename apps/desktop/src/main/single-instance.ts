/**
 * One shell per user-data folder. Electron keys its single-instance lock on the `userData` path, so the path
 * must be set before the lock is claimed; two terminals on one machine use two `--data-dir`s.
 */

/** The part of Electron's `app` the lock uses. */
export interface SingleInstanceApp {
  requestSingleInstanceLock(): boolean;
  quit(): void;
  on(event: 'second-instance', listener: () => void): unknown;
}

/** The part of a `BrowserWindow` that is brought to the front. */
export interface FocusableWindow {
  isDestroyed(): boolean;
  isMinimized(): boolean;
  restore(): void;
  show(): void;
  focus(): void;
}

/**
 * Claims the lock. The first instance gets `true` and, from then on, every later launch brings its window
 * back (restored if minimised, shown, focused). A later instance gets `false` and quits.
 */
export function claimSingleInstance(
  app: SingleInstanceApp,
  getWindow: () => FocusableWindow | undefined,
): boolean {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return false;
  }
  app.on('second-instance', () => {
    const window = getWindow();
    if (window === undefined || window.isDestroyed()) return;
    if (window.isMinimized()) window.restore();
    window.show();
    window.focus();
  });
  return true;
}
