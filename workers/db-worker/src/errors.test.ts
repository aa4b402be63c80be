import { LoamError, NotFoundError, ValidationError } from '@loam/core';
import { StorageError } from '@loam/store';
import { SyncClientError } from '@loam/sync';
import * as Comlink from 'comlink';
import { afterEach, expect, it } from 'vitest';
import { registerErrorTransfer } from './error-transfer';
import { rebuildError, SyncNotConfiguredError, serializeError } from './errors';

const roundTrip = (error: unknown) => rebuildError(structuredClone(serializeError(error)));
const problems = [{ path: ['price'], expected: 'finite number', found: 'string "x"' }];

it('rebuilds validation, not-found and storage errors as their classes with code, message and details', () => {
  const invalid = roundTrip(new ValidationError('products', problems));
  expect(invalid).toBeInstanceOf(ValidationError);
  expect(invalid).toMatchObject({ code: 'validation_failed', name: 'ValidationError', problems });
  expect(invalid.message).toBe(new ValidationError('products', problems).message);

  expect(roundTrip(new NotFoundError('products', 'p1'))).toBeInstanceOf(NotFoundError);

  const busy = roundTrip(new StorageError('storage_busy', 'held by another tab', { sqliteCode: 5 }));
  expect(busy).toBeInstanceOf(StorageError);
  expect(busy).toMatchObject({ code: 'storage_busy', sqliteCode: 5, message: 'held by another tab' });
});

it("rebuilds sync errors as their classes: not configured, and the sync client's own", () => {
  const notConfigured = roundTrip(new SyncNotConfiguredError());
  expect(notConfigured).toBeInstanceOf(SyncNotConfiguredError);
  expect(notConfigured).toMatchObject({ code: 'sync_not_configured' });
  expect(notConfigured.message).toMatch(/sync: \{ url, getToken \}/);
  const invalid = roundTrip(new SyncClientError('subscription_invalid', 'no such collection'));
  expect(invalid).toBeInstanceOf(SyncClientError);
  expect(invalid).toMatchObject({ code: 'subscription_invalid', message: 'no such collection' });
});

it('keeps the code of errors this side does not know, and marks foreign throws as internal', () => {
  const unknown = roundTrip(new LoamError('quota_exceeded_later', 'a newer worker error'));
  expect(unknown).toBeInstanceOf(LoamError);
  expect(unknown).toMatchObject({ code: 'quota_exceeded_later', message: 'a newer worker error' });
  expect(roundTrip(new TypeError('x is not a function'))).toMatchObject({
    code: 'internal_error',
    name: 'TypeError',
    message: 'x is not a function',
  });
});

const channels: MessageChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) {
    c.port1.close();
    c.port2.close();
  }
});

it('makes a ValidationError thrown behind Comlink reject the caller as a ValidationError with its problems', async () => {
  registerErrorTransfer();
  const channel = new MessageChannel();
  channels.push(channel);
  Comlink.expose(
    {
      save() {
        throw new ValidationError('products', problems);
      },
    },
    channel.port1 as unknown as Comlink.Endpoint,
  );
  const remote = Comlink.wrap<{ save(): void }>(channel.port2 as unknown as Comlink.Endpoint);
  const error = await remote.save().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  expect(error).toMatchObject({ code: 'validation_failed', problems });
  remote[Comlink.releaseProxy]();
});
