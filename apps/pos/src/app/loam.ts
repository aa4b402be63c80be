/**
 * The React hooks of `@loam/react`, typed by the shop's schema. Every component reads the till's database through
 * them (one live query per distinct query, shared by the components that ask it).
 */
import { createLoamHooks } from '@loam/react';
import { shopSchema } from '../shop/schema';

export const {
  LoamProvider,
  useDatabase,
  useQuery,
  useDoc,
  useAggregate,
  useSyncStatus,
  useRefusedWrites,
  usePeers,
  useCan,
} = createLoamHooks(shopSchema);
