/**
 * Two terminals in two Linux network namespaces joined by a veth pair (a two-till shop LAN), each running the
 * LAN peering of the desktop shell's main process in its own process (`test-pages/lan-peer-process.ts`), each
 * with a device certificate signed by a relay key (`test-pages/lan-identities.ts`). Needs root and `ip` (and
 * `nft` for the blocked-multicast case); elsewhere the tests skip and say why.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  certifyTerminal,
  createRelayKey,
  exportTerminal,
  replicaOf,
  type TestRelayKey,
} from '../../../test-pages/lan-identities';

const root = fileURLToPath(new URL('../../../../../', import.meta.url));
const script = fileURLToPath(new URL('../../../test-pages/lan-peer-process.ts', import.meta.url));
const tag = `l${process.pid.toString(36)}`;
const ns = { a: `${tag}a`, b: `${tag}b` } as const;
const ip = { a: '10.199.0.1', b: '10.199.0.2' } as const;
const STORE = 'store-101-hash';
const keyDir = mkdtempSync(join(tmpdir(), 'loam-lan-keys-'));
let relay: TestRelayKey;
let otherRelay: TestRelayKey;
const name = { a: replicaOf('till-a'), b: replicaOf('till-b'), c: replicaOf('till-c') } as const;

const run = (...args: string[]) => spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
const inNs = (name: string, ...args: string[]) => run('ip', 'netns', 'exec', name, ...args);

function whyNot(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces exist only on Linux';
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root';
  if (run('ip', '-V').status !== 0) return 'the `ip` command (iproute2) is missing';
  const probe = run('ip', 'netns', 'add', `${tag}p`);
  if (probe.status !== 0) return `cannot create a network namespace: ${probe.stderr.trim()}`;
  run('ip', 'netns', 'del', `${tag}p`);
  return undefined;
}
const reason = whyNot();
if (reason) console.warn(`Skipping the network-namespace LAN tests: ${reason}`);
const hasNft = !reason && run('nft', '--version').status === 0;
if (!reason && !hasNft) console.warn('Skipping the blocked-multicast LAN test: `nft` is missing');

type Event = Record<string, unknown> & { event: string };

interface Terminal {
  readonly events: Event[];
  send(command: Record<string, unknown>): void;
  next(match: (e: Event) => boolean, what: string, timeoutMs?: number): Promise<Event>;
  stop(): Promise<void>;
}

const running: Terminal[] = [];

/**
 * Starts terminal `replica` in `namespace`, certified by `options.certifiedBy` (default the shop's relay) and
 * trusting `options.trusts` (default the same), its certificate expiring at `options.expires`.
 */
async function terminal(
  namespace: string,
  replica: string,
  options: {
    mdns?: boolean;
    port?: number;
    certifiedBy?: TestRelayKey;
    trusts?: TestRelayKey;
    expires?: number;
  } = {},
): Promise<Terminal> {
  const keyFile = join(keyDir, `${replica}-${options.port ?? 47800}.key`);
  const certified = await certifyTerminal(options.certifiedBy ?? relay, replica, {
    keyFile,
    ...(options.expires !== undefined ? { expires: options.expires } : {}),
  });
  const child: ChildProcessWithoutNullStreams = spawn(
    'ip',
    [
      'netns',
      'exec',
      namespace,
      process.execPath,
      '--import',
      'tsx',
      script,
      exportTerminal(certified, options.trusts ?? options.certifiedBy ?? relay),
      keyFile,
      STORE,
      options.mdns === false ? 'off' : 'on',
      String(options.port ?? 47800),
    ],
    { cwd: root },
  );
  const events: Event[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    events.push(JSON.parse(line) as Event);
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const t: Terminal = {
    events,
    send: (command) => child.stdin.write(`${JSON.stringify(command)}\n`),
    next: (match, what, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(match);
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${replica}: no ${what} within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    async stop() {
      if (child.exitCode === null) {
        t.send({ cmd: 'stop' });
        const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killer);
      }
    },
  };
  running.push(t);
  return t;
}

const firewall = (name: string, action: 'add' | 'delete') => {
  if (action === 'delete') return inNs(name, 'nft', 'delete', 'table', 'inet', 'loamtest');
  for (const hook of ['input', 'output']) {
    const rules = [
      ['add', 'table', 'inet', 'loamtest'],
      ['add', 'chain', 'inet', 'loamtest', hook, `{ type filter hook ${hook} priority 0 ; }`],
      ['add', 'rule', 'inet', 'loamtest', hook, 'ip', 'daddr', '224.0.0.0/4', 'drop'],
    ];
    for (const rule of rules) {
      const r = inNs(name, 'nft', ...rule);
      if (r.status !== 0) throw new Error(`nft ${rule.join(' ')}: ${r.stderr}`);
    }
  }
  return undefined;
};

describe.skipIf(reason !== undefined)('two terminals on a LAN (network namespaces)', () => {
  beforeAll(async () => {
    relay = await createRelayKey();
    otherRelay = await createRelayKey();
    const steps = [
      ['ip', 'netns', 'add', ns.a],
      ['ip', 'netns', 'add', ns.b],
      [
        'ip',
        'link',
        'add',
        `${tag}va`,
        'netns',
        ns.a,
        'type',
        'veth',
        'peer',
        'name',
        `${tag}vb`,
        'netns',
        ns.b,
      ],
      ...(['a', 'b'] as const).flatMap((side) => [
        ['ip', '-n', ns[side], 'addr', 'add', `${ip[side]}/24`, 'dev', `${tag}v${side}`],
        ['ip', '-n', ns[side], 'link', 'set', 'lo', 'up'],
        ['ip', '-n', ns[side], 'link', 'set', `${tag}v${side}`, 'up', 'multicast', 'on'],
        ['ip', '-n', ns[side], 'route', 'add', '224.0.0.0/4', 'dev', `${tag}v${side}`],
      ]),
    ];
    for (const step of steps) {
      const r = run(...step);
      if (r.status !== 0) throw new Error(`${step.join(' ')}: ${r.stderr}`);
    }
  });
  afterEach(async () => {
    for (const t of running.splice(0)) await t.stop();
    if (hasNft) for (const name of Object.values(ns)) firewall(name, 'delete');
  });
  afterAll(() => {
    for (const name of Object.values(ns)) run('ip', 'netns', 'del', name);
    rmSync(keyDir, { recursive: true, force: true });
  });

  it('find each other by mDNS, prove their certified keys and exchange signals', async () => {
    const a = await terminal(ns.a, name.a);
    const b = await terminal(ns.b, name.b);
    await Promise.all([
      a.next((e) => e.event === 'ready', 'start'),
      b.next((e) => e.event === 'ready', 'start'),
    ]);
    const started = performance.now();
    const atA = await a.next((e) => e.event === 'session', 'a session with till-b');
    const atB = await b.next((e) => e.event === 'session', 'a session with till-a');
    console.info(`mDNS discovery to authenticated session: ${(performance.now() - started).toFixed(0)} ms`);
    expect(atA).toMatchObject({ replica: name.b, via: 'mdns', role: 'dialer' });
    expect(atB).toMatchObject({ replica: name.a, via: 'inbound', role: 'listener' });
    a.send({ cmd: 'signal', to: name.b, data: '{"type":"offer"}' });
    expect(await b.next((e) => e.event === 'signal', 'the offer')).toMatchObject({
      from: name.a,
      data: '{"type":"offer"}',
    });
  });

  it.skipIf(!hasNft)('still find each other through the roster when multicast is dropped', async () => {
    firewall(ns.a, 'add');
    firewall(ns.b, 'add');
    const a = await terminal(ns.a, name.a);
    const b = await terminal(ns.b, name.b);
    await Promise.all([
      a.next((e) => e.event === 'ready', 'start'),
      b.next((e) => e.event === 'ready', 'start'),
    ]);
    // Unblocked, mDNS finds the peer in about a second (the test above): three seconds of silence show the drop works.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect([...a.events, ...b.events].filter((e) => e.event === 'session')).toEqual([]);
    const started = performance.now();
    a.send({ cmd: 'roster', peers: [{ replica: name.b, addresses: [`${ip.b}:47800`] }] });
    b.send({ cmd: 'roster', peers: [{ replica: name.a, addresses: [`${ip.a}:47800`] }] });
    const atA = await a.next((e) => e.event === 'session', 'a session through the roster');
    console.info(`roster fallback to authenticated session: ${(performance.now() - started).toFixed(0)} ms`);
    expect(atA).toMatchObject({ replica: name.b, via: 'roster' });
    await b.next((e) => e.event === 'session', 'the inbound session');
  });

  it('refuse a terminal certified by another relay, or whose certificate expired, before any signal', async () => {
    const b = await terminal(ns.b, name.b, { mdns: false });
    const stranger = await terminal(ns.a, name.a, { mdns: false, certifiedBy: otherRelay, port: 47801 });
    const lapsed = await terminal(ns.a, name.c, {
      mdns: false,
      expires: Date.now() - 3_600_000,
      port: 47802,
    });
    const certified = await terminal(ns.a, name.a, { mdns: false, port: 47803 });
    for (const t of [b, stranger, lapsed, certified]) await t.next((e) => e.event === 'ready', 'start');

    stranger.send({ cmd: 'pair', address: `${ip.b}:47800` });
    const refused = await stranger.next((e) => e.event.startsWith('pair'), 'the pairing outcome');
    expect(refused).toMatchObject({ event: 'pair-failed', code: 'lan_peer_refused' });
    expect(refused.message).toMatch(/not signed by this relay's key/);
    lapsed.send({ cmd: 'pair', address: `${ip.b}:47800` });
    const expired = await lapsed.next((e) => e.event.startsWith('pair'), 'the pairing outcome');
    expect(expired).toMatchObject({ event: 'pair-failed', code: 'lan_peer_refused' });
    expect(expired.message).toMatch(/expired/);
    // The listener refused both before any session existed, so no signal could cross in either direction.
    expect(b.events.filter((e) => e.event === 'session' || e.event === 'signal')).toEqual([]);
    // The listener's own report of each refusal (its output may trail the dialer's).
    await b.next((e) => e.event === 'refused' && e.replica === name.c, 'the refusal of the expired terminal');
    expect(b.events.filter((e) => e.event === 'refused')).toEqual([
      expect.objectContaining({
        replica: name.a,
        via: 'inbound',
        address: ip.a,
        reason: expect.stringMatching(/relay/),
      }),
      expect.objectContaining({
        replica: name.c,
        via: 'inbound',
        address: ip.a,
        reason: expect.stringMatching(/expired/),
      }),
    ]);

    // The dialer judges the listener too: the shop's terminal refuses one certified by another relay.
    b.send({ cmd: 'pair', address: `${ip.a}:47801` });
    expect(await b.next((e) => e.event.startsWith('pair'), 'the pairing outcome')).toMatchObject({
      event: 'pair-failed',
      code: 'lan_peer_refused',
    });
    expect(stranger.events.filter((e) => e.event === 'session' || e.event === 'signal')).toEqual([]);

    certified.send({ cmd: 'pair', address: `${ip.b}:47800` });
    expect(await certified.next((e) => e.event.startsWith('pair'), 'the pairing outcome')).toMatchObject({
      event: 'paired',
      replica: name.b,
    });
  });
});
