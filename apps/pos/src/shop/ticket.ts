/**
 * Ticket numbers a shop can read aloud and that never repeat in a store: `T<terminal>-<device>-<sequence>`, e.g.
 * `T1-K7QM-0042`.
 *
 * Invariants:
 * 1. **Unique without asking anyone.** Two devices may run the same terminal number, both offline; the device code
 *    (4 characters drawn at random once per device, 32⁴ = 1,048,576 codes) tells their tickets apart, and the
 *    sequence counts that device's own tickets at that terminal. Two devices of one store repeat a number only if
 *    they drew the same code: about one chance in a million per pair of devices.
 * 2. **Readable.** Crockford's base-32 digits: no I, L, O or U to mistake for 1, 0 or V.
 */

/** The characters of a device code. */
export const DEVICE_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

const DEVICE_CODE_RE = /^[0-9A-HJKMNP-TV-Z]{4}$/;

/** A new device code from `random` (which fills a byte array; default: the platform's crypto). */
export function newDeviceCode(
  random: (bytes: Uint8Array) => Uint8Array = (bytes) => globalThis.crypto.getRandomValues(bytes),
): string {
  return [...random(new Uint8Array(4))].map((b) => DEVICE_CODE_ALPHABET[b % 32]).join('');
}

/** Whether `value` is a device code. */
export function isDeviceCode(value: unknown): value is string {
  return typeof value === 'string' && DEVICE_CODE_RE.test(value);
}

/** `T1-K7QM-0042`: terminal, device code, and the sequence padded to at least four digits. */
export function ticketNumber(terminal: string, device: string, sequence: number): string {
  return `T${terminal}-${device}-${String(sequence).padStart(4, '0')}`;
}
