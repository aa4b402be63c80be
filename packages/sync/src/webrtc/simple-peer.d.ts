/**
 * The prebuilt browser bundle of `simple-peer` (a UMD build over the platform's `RTCPeerConnection`). Its surface
 * as Loam uses it is `SimplePeerConstructor` in `peer-link.ts`.
 */
declare module 'simple-peer/simplepeer.min.js' {
  const SimplePeer: unknown;
  export default SimplePeer;
}
