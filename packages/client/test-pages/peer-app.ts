/**
 * Peer test page of `@loam/client` (browser tests and the peer benchmark): opens database `?db=` syncing with the
 * relay `?sync=` (token `?token=`), with peers (`?peers=0` turns them off, `?subscribe=1` subscribes to every
 * note through the relay) and exposes `globalThis.peerApp` for Playwright to drive. Not part of the package's API.
 */
import { openDatabase, type PeerView, type SyncStatus } from '@loam/client';
import { LoamError } from '@loam/core';
import { peerRules } from './peer-rules';
import { schema } from './schema';

const params = new URL(location.href).searchParams;
const token = params.get('token');
const db = await openDatabase({
  name: params.get('db') ?? 'peers',
  schema,
  sync: { url: params.get('sync') ?? '', getToken: async () => token },
  ...(params.get('peers') === '0' ? {} : { peers: { rules: peerRules, keepAliveMs: 250 } }),
});
if (params.get('subscribe') === '1') await db.subscribe('notes');
const notes = db.collection('notes');
const restarts: string[] = [];
db.onWorkerRestart((reason) => restarts.push(reason));
let titles: string[] = [];
const arrivals = new Map<string, () => void>();
/** When each title was first seen by the live query (`performance.now()`), for titles with a recorded prefix. */
const firstSeen = new Map<string, number>();
let recordPrefix: string | undefined;
let echo = false;
const echoed = new Set<string>();
notes.watch({ sort: [{ field: 'title', dir: 'asc' }] }, (docs) => {
  titles = docs.map((d) => d.title);
  const now = performance.now();
  for (const title of titles) {
    if (recordPrefix !== undefined && title.startsWith(recordPrefix) && !firstSeen.has(title))
      firstSeen.set(title, now);
    arrivals.get(title)?.();
    if (echo && title.startsWith('ping-') && !echoed.has(title)) {
      echoed.add(title);
      void notes.insert({ title: `pong-${title.slice(5)}`, n: 0 });
    }
  }
});
let peers: PeerView[] = [];
db.peers.onChange((list) => {
  peers = list;
});
let status: SyncStatus | undefined;
db.sync.onStatus((s) => {
  status = s;
});

const peerApp = {
  role: () => db.role,
  /** Why this tab replaced its worker, each time it did. */
  restarts: () => restarts,
  peers: () => peers,
  /** The peers as `db.peers.list()` answers now. */
  list: () => db.peers.list(),
  status: () => status,
  titles: () => titles,
  insert: (title: string, group?: string) => notes.insert({ title, n: 1, ...(group ? { group } : {}) }),
  refused: () => db.refusedWrites(),
  /** `db.peers.connect` of a port no link drives; resolves with the error code it rejected with, if any. */
  async connectStray(): Promise<string | null> {
    try {
      await db.peers.connect(new MessageChannel().port2);
      return null;
    } catch (error) {
      return error instanceof LoamError ? error.code : String(error);
    }
  },
  /** Records when each note whose title starts with `prefix` first reaches the live query. */
  record(prefix: string) {
    recordPrefix = prefix;
    firstSeen.clear();
  },
  /** The recorded arrival times, ms, in arrival order. */
  recorded: () => [...firstSeen.values()].sort((x, y) => x - y),
  /** Inserts `count` notes `<prefix><i>`, one every `everyMs` (not waiting for any answer). */
  async stream(prefix: string, count: number, everyMs: number): Promise<void> {
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      const due = start + i * everyMs - performance.now();
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
      await notes.insert({ title: `${prefix}${i}`, n: 0 });
    }
  },
  /** Answers every `ping-x` note (from anyone) with a `pong-x` note. */
  startEcho() {
    echo = true;
  },
  /**
   * Writes `count` notes `ping-<run>-<i>` one at a time, each after the previous one's `pong` arrived; resolves
   * with the round-trip times, ms.
   */
  async roundTrips(run: string, count: number): Promise<number[]> {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const key = `${run}-${i}`;
      const back = new Promise<void>((resolve) => arrivals.set(`pong-${key}`, resolve));
      const start = performance.now();
      await notes.insert({ title: `ping-${key}`, n: 0 });
      await back;
      times.push(performance.now() - start);
      arrivals.delete(`pong-${key}`);
    }
    return times;
  },
};

/** What the Node side drives. */
export type PeerApp = typeof peerApp;
(globalThis as unknown as { peerApp: PeerApp }).peerApp = peerApp;
