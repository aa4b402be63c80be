/**
 * Comlink's handling of thrown values, replaced so that Loam errors cross the worker boundary whole: the
 * throwing side sends {@link SerializedError} (`name`, `code`, `message`, `problems`, `sqliteCode`), the
 * receiving side throws the error rebuilt from its `code` by {@link rebuildError}.
 *
 * Both sides must call {@link registerErrorTransfer} (the worker entry and `@loam/client` do). Idempotent.
 */
import * as Comlink from 'comlink';
import { rebuildError, type SerializedError, serializeError } from './errors';

const marker = '__loamError';

interface Thrown {
  readonly value: unknown;
}

type WireThrown = { readonly [marker]: SerializedError };

let registered = false;

/** Installs the `throw` transfer handler on this side of every Comlink connection. */
export function registerErrorTransfer(): void {
  if (registered) return;
  const builtin = Comlink.transferHandlers.get('throw');
  if (!builtin) throw new Error('Comlink has no "throw" transfer handler to replace');
  const handler: Comlink.TransferHandler<Thrown, WireThrown> = {
    canHandle: (value): value is Thrown => builtin.canHandle(value),
    serialize: ({ value }) => [{ [marker]: serializeError(value) }, []],
    deserialize: (wire) => {
      throw rebuildError(wire[marker]);
    },
  };
  Comlink.transferHandlers.set('throw', handler as Comlink.TransferHandler<unknown, unknown>);
  registered = true;
}
