/**
 * The permissions the relay sent for the session's token (`permissions` frames), kept by the sync client: persisted
 * through the `SyncStore` port (sync setting `permissions`) so a device that restarts offline still knows them, and
 * announced to listeners when they change.
 *
 * Invariants:
 * 1. **Last sent wins.** Each `permissions` frame replaces the previous value, in the order frames are applied.
 * 2. **Persisted before announced.** A listener never hears a value that a restart would not read back.
 * 3. **Unknown is `null`.** Before the relay ever sent any (or when the stored value no longer reads as rules),
 *    the value is `null`; apps decide what unknown means (the client's `can` allows, the relay still checks).
 */
import { type Permissions, validateRules } from '@loam/core';
import type { SyncStatePort } from '../port/sync-store';

/** The sync setting (`SyncStore.readState` key) holding the last permissions the relay sent. */
export const PERMISSIONS_META_KEY = 'permissions';

/** The client's copy of the session's permissions. */
export interface PermissionsKeeper {
  /** The current value (loaded from the store on first use). */
  get(): Promise<Permissions | null>;
  /** Persists `value`, then announces it. */
  set(value: Permissions): Promise<void>;
  /** Called with each new value. Returns the unsubscribe function. */
  onChange(listener: (value: Permissions) => void): () => void;
}

function readStored(value: unknown): Permissions | null {
  if (typeof value !== 'object' || value === null) return null;
  const { rules, claims } = value as { rules?: unknown; claims?: unknown };
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return null;
  try {
    return { rules: validateRules(rules), claims: claims as Permissions['claims'] };
  } catch {
    return null;
  }
}

/** Keeps the permissions of the sync sessions of `store`'s database. */
export function createPermissionsKeeper(
  store: Pick<SyncStatePort, 'readState' | 'writeState'>,
): PermissionsKeeper {
  const listeners = new Set<(value: Permissions) => void>();
  let current: Promise<Permissions | null> | undefined;
  return {
    get() {
      current ??= store.readState(PERMISSIONS_META_KEY).then(readStored);
      return current;
    },
    async set(value) {
      await store.writeState(PERMISSIONS_META_KEY, value);
      current = Promise.resolve(value);
      for (const listener of [...listeners]) listener(value);
    },
    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
