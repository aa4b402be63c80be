/**
 * `@loam/react`: React hooks over a Loam database. `createLoamHooks(schema)` returns a provider and hooks typed by
 * the schema: `useQuery`, `useDoc`, `useAggregate`, `useSyncStatus`, `useRefusedWrites`, `usePeers`, `useCan`.
 */
export { ProviderMissingError, ReactErrorCode } from './errors';
export { createLoamHooks, type LoamHooks } from './hooks';
export type { LiveResult } from './live-store';
