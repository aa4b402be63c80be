/**
 * `@loam/core`: the pure heart of Loam shared by the local engine, the relay server and peers.
 * No I/O: schema, ids, hybrid logical clocks, operations and their encoding, merge, queries and rules.
 */
export * from './clock/hlc';
export * from './errors';
export * from './ids/ids';
export * from './merge/doc-state';
export * from './merge/memory-replica';
export * from './merge/memory-state';
export * from './merge/snapshot';
export { checkIntent, patchedDoc } from './ops/check-intent';
export * from './ops/codec';
export * from './ops/intents';
export * from './ops/ops';
export * from './ops/writer';
export * from './query/ast';
export * from './query/builder';
export * from './query/evaluate';
export * from './query/validate';
export * from './query/values';
export * from './rules/access';
export * from './rules/fields';
export * from './rules/permissions';
export * from './rules/placeholders';
export * from './rules/rules';
export * from './rules/validate';
export * from './schema/schema';
export * from './schema/validate';
