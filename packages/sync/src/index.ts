/**
 * `@loam/sync`: the wire protocol, the client sync engine and its transports.
 */
export * from './errors';
export * from './protocol/codec';
export * from './protocol/messages';
