/**
 * `@loam/server`: the relay. Devices sync through it over the `@loam/sync` protocol; backends write through its
 * HTTP API; its storage is a {@link ServerStore}: SQLite by default, PostgreSQL for several relay nodes. Node only.
 *
 * `startServer` (or the `loam-server` command) runs the whole relay from a configuration. Its parts (the relay, a
 * session over any `@loam/sync` transport, the token verifier, the HTTP API, metrics, webhooks) are public too, for
 * hosting the relay inside another server. Test fixtures and the store conformance suite are in
 * `@loam/server/testing`, relay nodes in child processes behind a TCP balancer in `@loam/server/testing/cluster`.
 */
export { createVerifier, type Identity, type Verifier } from './auth/auth';
export {
  ASYMMETRIC_ALGORITHMS,
  type AsymmetricAlgorithm,
  type AuthConfig,
  CONFIG_DEFAULTS,
  type ConfigSources,
  type DevicesConfig,
  type LimitsConfig,
  loadConfig,
  type PublicKeyConfig,
  parseConfig,
  type ServerConfig,
  type WebhookConfig,
} from './config/config';
export { type Devices, openDevices } from './devices/devices';
export { AuthError, ConfigError, HttpApiError, ServerErrorCode, ServerStorageError } from './errors';
export { createHttpApi, type HttpApi, type HttpApiOptions } from './http/http-api';
export { createWebhooks, signWebhookBody, type WebhookOptions, type Webhooks } from './http/webhooks';
export { createMetrics, type Metrics } from './metrics/metrics';
export {
  type BackendWritten,
  type Commit,
  type CommittedChange,
  createRelay,
  type PushOutcome,
  type Relay,
  type RelayOptions,
} from './relay/relay';
export { createSession, type Session, type SessionContext } from './relay/session';
export {
  createSignalingHub,
  type SignalingHub,
  type SignalingMember,
  type SignalingSession,
} from './relay/signaling';
export { type LoamServer, type StartServerOptions, startServer } from './server';
export {
  type ApplyBatchRequest,
  type BatchResult,
  type CommitFeed,
  type CommitFeedEvent,
  type CommitSource,
  type CommittedDocChange,
  type DeliveryOutcome,
  type DeliveryQueue,
  type DocChange,
  type FindPage,
  type OutboxEntry,
  type OutboxRenderer,
  type QueuedDelivery,
  type Screen,
  type ScreenRefusal,
  SERVER_USER,
  type ServerMeta,
  type ServerStore,
  type StoreCommit,
  type StoredDoc,
  type StoreStats,
} from './storage/server-store';
export {
  createPostgresServerStore,
  type PostgresServerStore,
  type PostgresServerStoreOptions,
} from './storage/storage-postgres';
export { createSqliteServerStore, type SqliteServerStoreOptions } from './storage/storage-sqlite';
