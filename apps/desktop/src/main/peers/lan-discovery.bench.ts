/**
 * Time for two terminals to find each other and hold an authenticated LAN signaling session, on this host's
 * interfaces (two peerings in one process): by mDNS (DESIGN.md target ≤ 2 s), and by the roster with mDNS off
 * (target ≤ 3 s; the roster loop ticks every second by default). The baseline is pairing by address, which skips
 * discovery: what is left is the key challenge itself. `lan-peers.netns.test.ts` prints the same figures across
 * two network namespaces.
 */
import { type Bench, percentile } from '../../../../../test/bench/bench';
import {
  certifyTerminal,
  createRelayKey,
  proofOf,
  replicaOf,
  verifierOf,
} from '../../../test-pages/lan-identities';
import { type LanPeers, type LanPeersOptions, startLanPeers } from './lan-peers';

const RUNS = 5;

async function pairOf(
  how: 'mdns' | 'roster' | 'manual',
  run: number,
): Promise<{ ms: number; peers: LanPeers[] }> {
  const store = `bench-${process.pid}-${how}-${run}`;
  const relay = await createRelayKey();
  const options = async (replica: string): Promise<LanPeersOptions> => ({
    proof: await proofOf(await certifyTerminal(relay, replica)),
    verifier: verifierOf(relay),
    storeHash: store,
    mdns: how === 'mdns',
  });
  const [ra, rb] = [replicaOf(`a${run}${how}`), replicaOf(`b${run}${how}`)];
  const optionsA = await options(ra);
  const optionsB = await options(rb);
  const a = await startLanPeers(optionsA);
  const started = performance.now();
  const b = await startLanPeers(optionsB);
  const connected = new Promise<void>((resolve) => a.onSession(() => resolve()));
  if (how === 'roster') {
    a.setRoster([{ replica: rb, addresses: [`127.0.0.1:${b.port}`] }]);
    b.setRoster([{ replica: ra, addresses: [`127.0.0.1:${a.port}`] }]);
  }
  if (how === 'manual') await b.pair(`127.0.0.1:${a.port}`);
  await connected;
  return { ms: performance.now() - started, peers: [a, b] };
}

async function measure(how: 'mdns' | 'roster' | 'manual'): Promise<number[]> {
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const { ms, peers } = await pairOf(how, run);
    times.push(ms);
    for (const p of peers) await p.stop();
  }
  return times;
}

const bench = (how: 'mdns' | 'roster', target: number): Bench => ({
  name: `LAN peer found and authenticated, by ${how === 'mdns' ? 'mDNS' : 'roster (mDNS off)'}`,
  async run() {
    const found = await measure(how);
    const direct = await measure('manual');
    return {
      figure: percentile(found, 50),
      unit: 'ms',
      higherIsBetter: false,
      baseline: { name: 'pairing by address (no discovery)', figure: percentile(direct, 50) },
      notes: `${RUNS} runs, worst ${Math.max(...found).toFixed(0)} ms (target ≤ ${target} ms); one process, host interfaces`,
    };
  },
});

export const benches: Bench[] = [bench('mdns', 2_000), bench('roster', 3_000)];
