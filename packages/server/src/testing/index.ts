/**
 * `@loam/server/testing`: what tests of the relay, and of devices syncing through it, share: a schema, rules, keys
 * and tokens, relays started on port 0, a raw protocol client, a PostgreSQL schema of its own per test, the
 * conformance suite every `ServerStore` implementation runs, and the digest a store keeps with each op id.
 */

export { opDigest } from '../storage/op-digest';
export {
  conformanceSchema,
  runServerStoreCase,
  type ServerStoreCase,
  ServerStoreConformanceFailure,
  type ServerStoreContext,
  serverStoreCases,
} from '../storage/server-store-conformance';
export {
  AUDIENCE,
  HS256_SECRET,
  ISSUER,
  type MintOptions,
  mintToken,
  SERVICE_TOKEN,
  startTestRelay,
  startTestServer,
  type TestKeys,
  type TestRelay,
  tempDir,
  testConfig,
  testDevice,
  testKeys,
  testRules,
  testSchema,
} from './fixtures';
export { createTestSchema, TEST_PG_URL, type TestSchema } from './postgres';
export { type Closed, type ConnectOptions, connectClient, type ProtocolClient } from './protocol-client';
