/**
 * Every error raised by `@loam/react` itself. Errors of queries arrive as the `error` of a live result, with the
 * classes of the package that raised them.
 */
import { LoamError } from '@loam/core';

/** Stable codes of the errors `@loam/react` raises. */
export const ReactErrorCode = {
  /** A hook was used outside the `LoamProvider` of its `createLoamHooks`. */
  providerMissing: 'react_provider_missing',
} as const;
export type ReactErrorCode = (typeof ReactErrorCode)[keyof typeof ReactErrorCode];

/** A Loam hook rendered outside its provider. */
export class ProviderMissingError extends LoamError {
  constructor() {
    super(
      ReactErrorCode.providerMissing,
      'A Loam hook was used outside its <LoamProvider db={db}>: render the component inside the provider returned by the same createLoamHooks(schema)',
    );
  }
}
