/**
 * For the peer tests and benches that run without a relay: certifies a replica's device key with a relay key made
 * by the test, valid from a day ago to a day ahead, and saves the certificate in its store as sign-in would. Not part
 * of the package's API.
 */
import type { ReplicaId, Rules } from '@loam/core';
import { issueCertificate } from './certificate';
import { saveCertificate } from './credentials';
import type { SigningKeys } from './keys';
import { rulesVersion } from './rules-version';

const DAY = 86_400_000;

export async function certifyForTest(
  engine: { readonly replica: ReplicaId; readonly syncStore: Parameters<typeof saveCertificate>[0] },
  keys: SigningKeys,
  relay: SigningKeys,
  options: { readonly serial: number; readonly user: string; readonly rules: Rules },
): Promise<void> {
  const cert = await issueCertificate(relay.privateKey, {
    serial: options.serial,
    replica: engine.replica,
    publicKey: keys.publicKey,
    user: options.user,
    claims: {},
    rulesVersion: rulesVersion(options.rules),
    notBefore: Date.now() - DAY,
    expires: Date.now() + DAY,
  });
  await saveCertificate(
    engine.syncStore,
    { replica: engine.replica, publicKey: keys.publicKey, now: Date.now },
    { cert: cert.bytes, sig: cert.signature, relayKey: relay.publicKey },
  );
}
