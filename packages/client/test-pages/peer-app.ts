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
let echo = false;
const echoed = new Set<string>();
notes.watch({ sort: [{ field: 'title', dir: 'asc' }] }, (docs) => {
  titles = docs.map((d) => d.title);
  for (const title of titles) {
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
