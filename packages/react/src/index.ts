/**
 * `@loam/react`: React hooks over a Loam database. `createLoamHooks(schema)` returns a provider and hooks typed by
 * the schema: `useQuery`, `useDoc`, `useAggregate`, `useSyncStatus`, `useRefusedWrites`, `useCan`.
 */
export { ProviderMissingError, ReactErrorCode } from './errors';
export { type AggregateRow, activeQueryKeys, createLoamHooks, type LoamHooks } from './hooks';
export { type LiveResult, LOADING } from './live-store';
export { stableKey } from './stable-key';
