/**
 * `@loam/core/testing`: the in-memory reference replica and merge state, the oracle of the convergence fuzzers and a
 * quick way for tests to make ops and snapshots without a database. Not for apps: it keeps everything in memory.
 */

export { discardIdRandomPool } from './ids/ids';
export { canonicalDocState } from './merge/doc-state';
export { createMemoryReplica, type MemoryReplica, type MemoryReplicaOptions } from './merge/memory-replica';
export { createMemoryState, type MemoryState } from './merge/memory-state';
