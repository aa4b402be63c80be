/**
 * `@loam/server`: the relay. Devices sync through it over the `@loam/sync` protocol; backends write through its
 * HTTP API; its storage is a {@link ServerStore} (SQLite by default).
 */
export * from './auth/auth';
export * from './config/config';
export * from './config/store-location';
export * from './errors';
export * from './http/http-api';
export * from './http/webhooks';
export * from './metrics/metrics';
export * from './relay/relay';
export * from './relay/session';
export * from './server';
export * from './storage/open-store';
export * from './storage/server-store';
export * from './storage/server-store-conformance';
export * from './storage/storage-postgres';
export * from './storage/storage-sqlite';
