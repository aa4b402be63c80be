/**
 * The key store of Node and Electron's main process: a file in the database folder (mode 0600) holding the
 * PKCS#8 private key and the raw public key. The key is imported non-extractable on every open; the extractable
 * copy made to write the file is dropped at once.
 *
 * File layout: MessagePack `[1, pkcs8, publicKey]`. The file is written under a temporary name and linked into
 * place only if no key is there yet, so a crash leaves either no key or a whole one, and processes starting at
 * once on one folder (relay nodes) all end up with the same key. Its folder is created when missing.
 */
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { decodeBoundedMsgpack } from '@loam/core';
import { encode } from '@msgpack/msgpack';
import { PeerError, PeerErrorCode } from '../errors';
import type { KeyStore } from './key-store';
import { createSigningKeys, exportPrivateKey, importSigningKeys, type SigningKeys } from './keys';

async function read(path: string): Promise<SigningKeys | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const body = decodeBoundedMsgpack(bytes);
  if (
    !Array.isArray(body) ||
    body[0] !== 1 ||
    !(body[1] instanceof Uint8Array) ||
    !(body[2] instanceof Uint8Array)
  )
    throw new PeerError(PeerErrorCode.certInvalid, `${path} is not a Loam key file`);
  return importSigningKeys(body[1], body[2]);
}

async function write(path: string): Promise<void> {
  const made = await createSigningKeys(true);
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  const file = await open(temp, 'wx', 0o600);
  try {
    await file.writeFile(encode([1, await exportPrivateKey(made.privateKey), made.publicKey]));
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await link(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(temp);
  }
}

/** Creates the key store kept in the file `path` (e.g. `<database>.key` beside the database file). */
export function createFileKeyStore(path: string): KeyStore {
  let pending: Promise<SigningKeys> | undefined;
  return {
    deviceKeys() {
      pending ??= (async () => {
        const found = await read(path);
        if (found) return found;
        await write(path);
        return (await read(path)) as SigningKeys;
      })();
      pending.catch(() => {
        pending = undefined;
      });
      return pending;
    },
  };
}
