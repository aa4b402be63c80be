/**
 * Replayable WebCrypto for the real-stack fuzzer's peer runs.
 *
 * Node runs `crypto.subtle.sign`, `verify` and `digest` as thread-pool jobs: their results land after an
 * unpredictable number of event-loop turns, so a peer run (every transaction signed, every received one verified)
 * would interleave differently each time and a failing seed would not replay. For the run's duration these three
 * calls answer from `node:crypto`'s synchronous Ed25519 (signing through `nodeEd25519`, as a Node app signs) and
 * SHA-256 (the same OpenSSL, the same bytes) through an already resolved promise; every other call, and other algorithms, go to WebCrypto unchanged.
 */
import { createHash, KeyObject, verify as nodeVerify } from 'node:crypto';
import { nodeEd25519 } from '@loam/sync/node';

type Algorithm = Parameters<SubtleCrypto['sign']>[0];

const isEd25519 = (algorithm: Algorithm) =>
  (typeof algorithm === 'string' ? algorithm : algorithm.name) === 'Ed25519';

function bytes(data: BufferSource): Uint8Array {
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

function buffer(out: Uint8Array): ArrayBuffer {
  return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
}

/** Makes `crypto.subtle`'s Ed25519 and SHA-256 calls resolve at once; returns the function that undoes it. */
export function installCryptoGate(): () => void {
  const subtle = globalThis.crypto.subtle;
  const original = { sign: subtle.sign, verify: subtle.verify, digest: subtle.digest };
  const own = subtle as unknown as Record<'sign' | 'verify' | 'digest', unknown>;
  own.sign = (algorithm: Algorithm, key: CryptoKey, data: BufferSource) => {
    if (!isEd25519(algorithm)) return original.sign.call(subtle, algorithm, key, data);
    try {
      return Promise.resolve(buffer(nodeEd25519.sign(key, bytes(data))));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  own.verify = (algorithm: Algorithm, key: CryptoKey, signature: BufferSource, data: BufferSource) => {
    if (!isEd25519(algorithm)) return original.verify.call(subtle, algorithm, key, signature, data);
    try {
      return Promise.resolve(nodeVerify(null, bytes(data), KeyObject.from(key), bytes(signature)));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  own.digest = (algorithm: AlgorithmIdentifier, data: BufferSource) => {
    const name = typeof algorithm === 'string' ? algorithm : algorithm.name;
    if (name !== 'SHA-256') return original.digest.call(subtle, algorithm, data);
    return Promise.resolve(buffer(createHash('sha256').update(bytes(data)).digest()));
  };
  return () => {
    delete own.sign;
    delete own.verify;
    delete own.digest;
  };
}
