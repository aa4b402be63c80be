/**
 * `@loam/sync/webrtc`: WebRTC links to peers, for the page's main thread (where `RTCPeerConnection` exists). Each
 * open link hands a `MessagePort` to the worker, which wraps it with `createMessagePortTransport` (`@loam/sync`).
 * A separate entry point so that Node code importing `@loam/sync` never loads the browser bundle of simple-peer.
 */
import SimplePeerBundle from 'simple-peer/simplepeer.min.js';
import type { SimplePeerConstructor } from './peer-link';

export { createPeerConnector, type PeerConnector, type PeerConnectorOptions } from './peer-connector';
export {
  createPeerLink,
  LINK_LOST,
  type PeerLink,
  type PeerLinkClose,
  type PeerLinkOptions,
  type PeerLinkState,
  type SimplePeerConstructor,
  type SimplePeerInstance,
} from './peer-link';

/** simple-peer's prebuilt browser bundle, over the platform's `RTCPeerConnection`: pass it as `link.SimplePeer`. */
export const SimplePeer = SimplePeerBundle as SimplePeerConstructor;
