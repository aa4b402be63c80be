/**
 * What this device remembers about itself in `localStorage` (beside the saved session): its device code, which
 * tells its ticket numbers apart from other devices' (see `shop/ticket.ts`), and when it last synced.
 */
import { isDeviceCode, newDeviceCode } from '../shop/ticket';

type Store = Pick<Storage, 'getItem' | 'setItem'>;

const DEVICE_KEY = 'loam-pos:device';

/** This device's code, drawn once and kept. */
export function deviceCode(storage: Store): string {
  const saved = storage.getItem(DEVICE_KEY);
  if (isDeviceCode(saved)) return saved;
  const code = newDeviceCode();
  storage.setItem(DEVICE_KEY, code);
  return code;
}

const lastSyncedKey = (terminal: string) => `loam-pos:last-synced:${terminal}`;

/** When terminal `terminal` of this device last synced (ms since epoch), as saved by {@link rememberSynced}. */
export function savedLastSynced(storage: Store, terminal: string): number | null {
  const value = Number(storage.getItem(lastSyncedKey(terminal)));
  return Number.isFinite(value) && value > 0 ? value : null;
}

/** Saves `at` as the last sync of `terminal` (kept across reloads, for the status line). */
export function rememberSynced(storage: Store, terminal: string, at: number): void {
  storage.setItem(lastSyncedKey(terminal), String(at));
}
