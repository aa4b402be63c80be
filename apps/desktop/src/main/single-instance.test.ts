/**
 * The real lock (`app.requestSingleInstanceLock`) needs the Electron binary, which cannot be installed on the
 * machine these tests run on; the fake `app` below stands in for it and records what the shell does.
 */
import { describe, expect, it } from 'vitest';
import { claimSingleInstance, type FocusableWindow, type SingleInstanceApp } from './single-instance';

function fakeApp(lockGranted: boolean) {
  const listeners: (() => void)[] = [];
  const app: SingleInstanceApp & { quits: number; secondLaunch(): void } = {
    quits: 0,
    requestSingleInstanceLock: () => lockGranted,
    quit() {
      this.quits++;
    },
    on(_event, listener) {
      listeners.push(listener);
      return this;
    },
    secondLaunch() {
      for (const l of listeners) l();
    },
  };
  return app;
}

function fakeWindow(state: { minimized?: boolean; destroyed?: boolean } = {}) {
  const calls: string[] = [];
  const window: FocusableWindow = {
    isDestroyed: () => state.destroyed ?? false,
    isMinimized: () => state.minimized ?? false,
    restore: () => calls.push('restore'),
    show: () => calls.push('show'),
    focus: () => calls.push('focus'),
  };
  return { window, calls };
}

describe('single instance', () => {
  it('a second launch brings the first window back, restored and focused', () => {
    const app = fakeApp(true);
    const { window, calls } = fakeWindow({ minimized: true });
    expect(claimSingleInstance(app, () => window)).toBe(true);
    expect(calls).toEqual([]);
    app.secondLaunch();
    expect(calls).toEqual(['restore', 'show', 'focus']);
    expect(app.quits).toBe(0);
  });

  it('a window that is not minimised is shown and focused without a restore', () => {
    const app = fakeApp(true);
    const { window, calls } = fakeWindow();
    claimSingleInstance(app, () => window);
    app.secondLaunch();
    expect(calls).toEqual(['show', 'focus']);
  });

  it('the second instance quits and opens nothing', () => {
    const app = fakeApp(false);
    const { window, calls } = fakeWindow();
    expect(claimSingleInstance(app, () => window)).toBe(false);
    expect(app.quits).toBe(1);
    app.secondLaunch();
    expect(calls).toEqual([]);
  });

  it('a launch before the window exists, or after it closed, does nothing', () => {
    const app = fakeApp(true);
    let current: FocusableWindow | undefined;
    claimSingleInstance(app, () => current);
    expect(() => app.secondLaunch()).not.toThrow();
    const { window, calls } = fakeWindow({ destroyed: true });
    current = window;
    app.secondLaunch();
    expect(calls).toEqual([]);
  });
});
