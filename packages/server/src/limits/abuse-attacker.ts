/**
 * The attacker of `abuse.test.ts`, in a process of its own so its work does not slow the measuring process:
 * `tsx abuse-attacker.ts <wsUrl> <ms> [attack index]` runs 8 sockets that send, each on a fresh connection, the worst frames we
 * can build, for `ms` milliseconds, then prints `sent <n>`.
 */
import { encodeMessage, PROTOCOL_VERSION } from '@loam/sync';
import { mintToken, testDevice } from '../testing/fixtures';
import { connectClient, type ProtocolClient } from '../testing/protocol-client';

const FOUR_MIB = 4 * 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `first` then an array nested `depth` deep: `0x01` + 4 MiB of it took the relay from 107 MB to 782 MB. */
function nested(depth: number, first: number = PROTOCOL_VERSION): Uint8Array {
  const bytes = new Uint8Array(depth + 2).fill(0x91);
  bytes[0] = first;
  bytes[depth + 1] = 0xc0;
  return bytes;
}

/** A push frame `{t: 'push', batch: 1, ops}` written by hand around `ops` (the encoder would copy 4 MiB). */
function pushFrame(ops: Uint8Array): Uint8Array {
  const head = [
    PROTOCOL_VERSION,
    0x83,
    0xa1,
    0x74,
    0xa4,
    ...Buffer.from('push'),
    0xa5,
    ...Buffer.from('batch'),
  ];
  const middle = [0x01, 0xa3, ...Buffer.from('ops'), 0xc6, 0, 0, 0, 0];
  const frame = new Uint8Array(head.length + middle.length + ops.length);
  frame.set(head, 0);
  frame.set(middle, head.length);
  new DataView(frame.buffer).setUint32(head.length + middle.length - 4, ops.length);
  frame.set(ops, head.length + middle.length);
  return frame;
}

const attacks: { readonly signIn: boolean; readonly frames: readonly Uint8Array[] }[] = [
  { signIn: false, frames: [nested(FOUR_MIB)] },
  { signIn: false, frames: [nested(64 * 1024 - 2)] },
  { signIn: true, frames: [nested(FOUR_MIB)] },
  { signIn: true, frames: [pushFrame(nested(FOUR_MIB - 64, 1))] },
  {
    signIn: true,
    frames: Array.from({ length: 1000 }, (_, i) =>
      encodeMessage({
        t: 'subscribe',
        sub: { id: `s${i}`, query: { collection: i % 2 ? 'orders' : `bad name ${i}` } },
      }),
    ),
  },
];

async function attacker(url: string, until: number, index: number): Promise<number> {
  let sent = 0;
  let turn = index;
  while (Date.now() < until) {
    const attack = attacks[turn++ % attacks.length]!;
    let c: ProtocolClient;
    try {
      c = await connectClient(url);
    } catch {
      await sleep(20);
      continue;
    }
    try {
      if (attack.signIn)
        await c.hello({
          replica: testDevice().replica,
          token: await mintToken({ sub: `mallory${index}` }, { alg: 'HS256' }),
        });
      for (const frame of attack.frames) c.sendRaw(frame);
      sent++;
      await Promise.race([c.closed, sleep(2000)]);
    } catch {
      // refused: the point of the exercise
    } finally {
      c.close();
    }
  }
  return sent;
}

const [url, ms, only] = process.argv.slice(2);
if (only !== undefined) attacks.splice(0, attacks.length, attacks[Number(only)]!);
const until = Date.now() + Number(ms);
const counts = await Promise.all(Array.from({ length: 8 }, (_, i) => attacker(url!, until, i)));
console.log(`sent ${counts.reduce((a, b) => a + b, 0)}`);
process.exit(0);
