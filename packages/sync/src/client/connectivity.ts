/**
 * Whether the device has a network: the sync client makes no connection attempt while it reports itself offline,
 * and tries at once when it comes back.
 */

/** Whether the device has a network, and changes of it. */
export interface Connectivity {
  isOnline(): boolean;
  /** Called with the new value when the device goes on- or offline. Returns the unsubscribe function. */
  onChange(listener: (online: boolean) => void): () => void;
}

/**
 * The runtime's connectivity: `navigator.onLine` plus the `online`/`offline` events of `globalThis`. Chromium
 * updates `navigator.onLine` in dedicated workers without firing those events there, so where `navigator.onLine`
 * exists it is also checked every `pollMs`; listeners hear each change once. Without `navigator.onLine` (Node) the
 * device counts as always online.
 */
export function createGlobalConnectivity(pollMs = 250): Connectivity {
  const g = globalThis as {
    navigator?: { onLine?: unknown };
    addEventListener?: (type: string, listener: () => void) => void;
    removeEventListener?: (type: string, listener: () => void) => void;
  };
  const isOnline = () => g.navigator?.onLine !== false;
  return {
    isOnline,
    onChange(listener) {
      let last = isOnline();
      const check = () => {
        const value = isOnline();
        if (value === last) return;
        last = value;
        listener(value);
      };
      const cleanups: (() => void)[] = [];
      if (typeof g.addEventListener === 'function') {
        g.addEventListener('online', check);
        g.addEventListener('offline', check);
        cleanups.push(() => {
          g.removeEventListener?.('online', check);
          g.removeEventListener?.('offline', check);
        });
      }
      if (typeof g.navigator?.onLine === 'boolean') {
        const interval = setInterval(check, pollMs);
        cleanups.push(() => clearInterval(interval));
      }
      return () => {
        for (const c of cleanups) c();
      };
    },
  };
}
