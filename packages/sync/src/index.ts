/**
 * `@loam/sync`: the relay's wire protocol, the client sync engine, the port it reaches the local database through
 * (`SyncStore`, implemented by `@loam/store`'s engine) and its transports.
 */

export type { BackoffOptions } from './client/backoff';
export { createSyncClient } from './client/lifecycle';
export type { SubscriptionDenial } from './client/subscriptions';
export {
  type Connectivity,
  createGlobalConnectivity,
  type DownloadProgress,
  INITIAL_SYNC_STATUS,
  type RelaySignaling,
  type SubscriptionHandle,
  type SubscriptionInfo,
  type SubscriptionOutcome,
  type SyncClient,
  type SyncClientOptions,
  type SyncIssue,
  type SyncState,
  type SyncStatus,
  type Timers,
} from './client/sync-client';
export {
  PeerError,
  PeerErrorCode,
  ProtocolError,
  SyncClientError,
  SyncClientErrorCode,
  SyncErrorCode,
} from './errors';
export {
  certificateFingerprint,
  type DeviceCertificate,
  decodeCertificate,
  issueCertificate,
  issueRevocationList,
  type RevocationList,
  readSignedCertificate,
  type SignedCertificate,
  type SignedRevocationList,
  type Trust,
  type Verdict,
  verifyCertificate,
  verifyRevocationList,
} from './peers/certificate';
export { loadCredentials, type PeerCredentials } from './peers/credentials';
export type { KeyStore } from './peers/key-store';
export { createIndexedDbKeyStore } from './peers/key-store-indexeddb';
export { createSigningKeys, type Ed25519Engine, type SigningKeys, useEd25519Engine } from './peers/keys';
export {
  LAN_PROOF_DIGEST_BYTES,
  lanProofMessage,
  signLanProof,
  verifyLanProof,
} from './peers/lan-proof';
export { PeerCloseCode, type PeerInfo, type PeerState, type PeerTxRefusal } from './peers/peer-info';
export {
  createPeers,
  type PeerConnection,
  type Peers,
  type PeersOptions,
} from './peers/peers';
export { rulesVersion } from './peers/rules-version';
export {
  type SignedTransaction,
  signTransaction,
  type VerifyTransactionOptions,
  verifyTransaction,
} from './peers/signed-transaction';
export type {
  Coverage,
  Download,
  DownloadedDoc,
  DownloadPort,
  LoggedTransaction,
  OutboxPort,
  PeerLogPort,
  RefusedWrite,
  SyncStatePort,
  SyncStore,
  VersionVector,
} from './port/sync-store';
export {
  DEFAULT_MAX_FRAME_BYTES,
  decodeClientMessage,
  decodeServerMessage,
  encodeMessage,
  isCollectionName,
} from './protocol/codec';
export { FATAL_WIRE_CODES, RefusalCode, WireErrorCode } from './protocol/codes';
export {
  type ClientMessage,
  type DocSnapshotFrame,
  type ForwardedTx,
  type ForwardOutcome,
  MAX_PEER_ADDRESSES,
  MAX_SIGNAL_CHARS,
  type Message,
  PROTOCOL_VERSION,
  type Refusal,
  type RosterPeer,
  type ServerMessage,
  type Subscription,
  type SubscriptionQuery,
} from './protocol/messages';
export {
  listenOn,
  type Transport,
  type TransportCloseEvent,
  type TransportFactory,
} from './transport/transport';
export { createMemoryTransportPair, type MemoryTransportPair } from './transport/transport-memory';
export {
  createMessagePortTransport,
  type MessagePortLike,
  PORT_PROTOCOL_ERROR,
  readSocketEndMessage,
  readTransportEndMessage,
  type SocketEndMessage,
  type TransportEndMessage,
} from './transport/transport-message-port';
export { createSimplePeerTransport, type SimplePeerLike } from './transport/transport-simple-peer';
export {
  createWebSocketTransport,
  createWebSocketTransportFactory,
  type WebSocketConstructor,
  type WebSocketLike,
  type WebSocketTransportOptions,
} from './transport/transport-websocket';
