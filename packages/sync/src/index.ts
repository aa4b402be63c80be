/**
 * `@loam/sync`: the wire protocol, the client sync engine and its transports.
 */

export * from './client/backoff';
export * from './client/lifecycle';
export * from './client/permissions';
export * from './client/subscriptions';
export * from './client/sync-client';
export * from './errors';
export * from './port/sync-store';
export * from './protocol/codec';
export * from './protocol/codes';
export * from './protocol/messages';
export * from './transport/transport';
export * from './transport/transport-websocket';
