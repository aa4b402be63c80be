/**
 * One terminal's LAN peering in its own process, for `lan-peers.netns.test.ts`, which runs two of these in two
 * network namespaces. Arguments: `terminal keyFile storeHash mdns port` (`terminal`: `exportTerminal` of
 * `lan-identities.ts`, its certificate and the relay key it trusts; `keyFile`: its key pair; `mdns`: `on` or
 * `off`; `port`: of its LAN signaling server). Commands arrive as JSON lines on stdin (`roster`, `pair`,
 * `signal`, `stop`); events leave as JSON lines on stdout (`ready`, `session`, `signal`, `paired`,
 * `pair-failed`, `refused`). Not part of the app.
 */
import { createInterface } from 'node:readline';
import { createCertificateVerifier } from '../src/main/peers/device-proof';
import { startLanPeers } from '../src/main/peers/lan-peers';
import { importTerminal, proofOf } from './lan-identities';

const [exported = '', keyFile = '', storeHash = '', mdns = 'on', port = '47800'] = process.argv.slice(2);
const out = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

const { terminal, relayKey } = await importTerminal(exported, keyFile);
const proof = await proofOf(terminal);
const peers = await startLanPeers({
  proof,
  verifier: createCertificateVerifier({ trust: () => ({ relayKey, revoked: new Set() }) }),
  storeHash,
  mdns: mdns === 'on',
  port: Number(port),
  rosterIntervalMs: 250,
});
peers.onSession((session, via) => {
  out({
    event: 'session',
    replica: session.peer.replica,
    fingerprint: session.peer.fingerprint,
    via,
    role: session.role,
  });
  session.onSignal((data) => out({ event: 'signal', from: session.peer.replica, data }));
});
peers.onRefused((r) => out({ event: 'refused', ...r }));
out({ event: 'ready', port: peers.port, fingerprint: proof.fingerprint });

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as Record<string, unknown>;
  if (command.cmd === 'roster') peers.setRoster(command.peers as { replica: string; addresses: string[] }[]);
  if (command.cmd === 'pair')
    await peers.pair(command.address as string).then(
      (s) => out({ event: 'paired', replica: s.peer.replica }),
      (e: { code?: string; message?: string }) =>
        out({ event: 'pair-failed', code: e.code, message: e.message }),
    );
  if (command.cmd === 'signal')
    for (const s of peers.sessions()) if (s.peer.replica === command.to) s.send(command.data as string);
  if (command.cmd === 'stop') {
    await peers.stop();
    process.exit(0);
  }
}
