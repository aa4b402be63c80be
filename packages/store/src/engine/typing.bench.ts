/**
 * `npm run bench -- typing`: real character-by-character editing traces (the `shared/data` folder beside the
 * repository, read at run time; see its README for the format and licence) replayed into a Loam text field on the
 * Node engine (better-sqlite3 file) and carried to a second engine, against plain Yjs doing the same edits from one
 * `Y.Doc` to another, in the same run. Checks both Loam replicas end with the trace's `endContent`.
 *
 * The edits are issued as an app issues keystrokes: one write per trace transaction, none awaited before the next
 * is issued (the engine groups the writes that arrive while it is busy into one storage transaction, and one
 * field's consecutive edits there into one op). Every `CHUNK` edits the bench waits for them, then ships replica A's
 * pending ops to replica B as a download and acknowledges them on A, as sync does. Reported: edits/s over the whole
 * trace (A and B together), ms per 1,000 edits over the first and the last chunk (flat means O(edit)), one awaited
 * keystroke (its own transaction) on an empty document and on the final one, and the bytes on disk once closed.
 *
 * `LOAM_TRACE_EDITS=n` replays only the first n transactions (the final text is then not checked).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { applyOp, createDocState, defineSchema, f, type WriteIntent } from '@loam/core';
import * as Y from 'yjs';
import type { Bench, BenchResult } from '../../../../test/bench/bench';
import { createBetterSqlite3Storage } from '../storage/storage-better-sqlite3';
import type { Engine } from './engine';
import { openEngine } from './open-engine';

interface Trace {
  readonly endContent: string;
  readonly txns: readonly { readonly patches: readonly [number, number, string][] }[];
}

const TRACES = ['automerge-paper', 'seph-blog1'] as const;
const CHUNK = 10_000;
const KEYSTROKES = 300;

const schema = defineSchema({
  version: 1,
  collections: { notes: { fields: { title: f.string(), body: f.text() } } },
});

function dataDir(): string | undefined {
  let dir = join(import.meta.dirname ?? process.cwd());
  for (;;) {
    const candidate = join(dir, 'shared', 'data');
    if (existsSync(join(candidate, 'README.md'))) return candidate;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function readTrace(dir: string, name: string): Trace {
  const trace = JSON.parse(gunzipSync(readFileSync(join(dir, `${name}.json.gz`))).toString('utf8')) as Trace;
  // Trace positions count code points; Yjs and Loam count UTF-16 code units. They agree on BMP-only text.
  const astral = /[\u{10000}-\u{10FFFF}]/u;
  if (trace.txns.some((t) => t.patches.some(([, , s]) => astral.test(s))))
    throw new Error(`${name}: characters outside the BMP; positions would need converting`);
  const limit = Number(process.env.LOAM_TRACE_EDITS ?? 0);
  return limit > 0 ? { endContent: '', txns: trace.txns.slice(0, limit) } : trace;
}

function plainYjs(trace: Trace): { ms: number; text: string; bytes: number } {
  const a = new Y.Doc();
  const b = new Y.Doc();
  a.on('update', (u: Uint8Array) => Y.applyUpdate(b, u));
  const text = a.getText('v');
  const start = performance.now();
  for (const txn of trace.txns) {
    a.transact(() => {
      for (const [pos, del, ins] of txn.patches) {
        if (del > 0) text.delete(pos, del);
        if (ins) text.insert(pos, ins);
      }
    });
  }
  const ms = performance.now() - start;
  return { ms, text: b.getText('v').toString(), bytes: Y.encodeStateAsUpdate(b).length };
}

function intentsOf(id: string, patches: Trace['txns'][number]['patches']): WriteIntent<typeof schema>[] {
  const out: WriteIntent<typeof schema>[] = [];
  for (const [index, count, text] of patches) {
    if (count > 0) out.push({ kind: 'textDelete', collection: 'notes', id, field: 'body', index, count });
    if (text) out.push({ kind: 'textInsert', collection: 'notes', id, field: 'body', index, text });
  }
  return out;
}

function fileBytes(path: string): number {
  let total = 0;
  for (const suffix of ['', '-wal']) if (existsSync(path + suffix)) total += statSync(path + suffix).size;
  return total;
}

/** Merges many Yjs updates as a tree of small merges (`Y.mergeUpdates` is quadratic in its inputs). */
function mergeTree(updates: Uint8Array[]): Uint8Array {
  let level = updates;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 16) next.push(Y.mergeUpdates(level.slice(i, i + 16)));
    level = next;
  }
  return level[0] as Uint8Array;
}

/**
 * Ships A's pending ops of the note to B as one download (the state they make), then acknowledges them on A. As a
 * relay batching them would, it merges their Yjs updates before applying them (applied one by one to a document
 * that lacks their history, each would be merged into Yjs's pending updates: quadratic).
 */
async function ship(a: Engine<typeof schema>, b: Engine<typeof schema>, id: string): Promise<void> {
  const ops = await a.syncStore.pendingOps(Number.MAX_SAFE_INTEGER);
  if (ops.length === 0) return;
  const state = createDocState();
  const updates: Uint8Array[] = [];
  for (const op of ops) {
    if (op.kind === 'yjs') updates.push(op.update);
    else applyOp(schema.collections.notes, state, op);
  }
  if (updates.length > 0) {
    const body = new Y.Doc({ guid: 'body' });
    Y.applyUpdate(body, mergeTree(updates));
    state.crdts.body = body;
  }
  await b.syncStore.applyDownload({ docs: [{ collection: 'notes', id, state, mode: 'merge' }], removed: [] });
  await a.syncStore.acknowledge(ops.map((op) => op.id));
}

async function keystrokeMs(engine: Engine<typeof schema>, id: string, at: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < KEYSTROKES; i++) await engine.textInsert('notes', id, 'body', at, 'x');
  return (performance.now() - start) / KEYSTROKES;
}

async function replay(name: string, trace: Trace): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'loam-typing-'));
  try {
    const yjs = plainYjs(trace);
    if (trace.endContent && yjs.text !== trace.endContent) throw new Error(`${name}: plain Yjs diverged`);
    const a = await openEngine({
      driver: await createBetterSqlite3Storage({ filename: join(dir, 'a.db') }),
      schema,
    });
    const b = await openEngine({
      driver: await createBetterSqlite3Storage({ filename: join(dir, 'b.db') }),
      schema,
    });
    const id = await a.insert('notes', { title: name, body: '' });
    await ship(a, b, id);
    const chunks: number[] = [];
    const start = performance.now();
    for (let from = 0; from < trace.txns.length; from += CHUNK) {
      const t0 = performance.now();
      const pending: Promise<unknown>[] = [];
      for (const txn of trace.txns.slice(from, from + CHUNK)) {
        const intents = intentsOf(id, txn.patches);
        if (intents.length === 1) pending.push(a.write(intents[0] as WriteIntent<typeof schema>));
        else if (intents.length > 1) pending.push(a.writeAll(intents));
      }
      await Promise.all(pending);
      await ship(a, b, id);
      chunks.push((performance.now() - t0) / (Math.min(CHUNK, trace.txns.length - from) / 1000));
    }
    const ms = performance.now() - start;
    const textA = (await a.get('notes', id))?.body;
    const textB = (await b.get('notes', id))?.body;
    if (textA !== textB) throw new Error(`${name}: the two Loam replicas differ`);
    if (trace.endContent && textA !== trace.endContent)
      throw new Error(`${name}: Loam's text is not endContent`);
    const endKey = await keystrokeMs(a, id, Math.floor((textA?.length ?? 0) / 2));
    const fresh = await a.insert('notes', { title: 'fresh', body: '' });
    const startKey = await keystrokeMs(a, fresh, 0);
    await a.close();
    await b.close();
    // The machine's load drifts: the baseline runs again after Loam, and its better run counts.
    const yjsMs = Math.min(yjs.ms, plainYjs(trace).ms);
    const bytesA = fileBytes(join(dir, 'a.db'));
    const bytesB = fileBytes(join(dir, 'b.db'));
    const edits = trace.txns.length;
    const kb = (n: number) => `${Math.round(n / 1024)} KB`;
    return {
      figure: edits / (ms / 1000),
      unit: 'edits/s',
      higherIsBetter: true,
      baseline: { name: 'plain Yjs A → B (best of 2)', figure: edits / (yjsMs / 1000) },
      target: 0.8,
      notes:
        `${edits} edits, ${(textA ?? '').length} chars; ms/1k edits first ${chunks[0]?.toFixed(1)}, last ${chunks.at(-1)?.toFixed(1)}; ` +
        `awaited keystroke ${(startKey * 1000).toFixed(0)} µs (empty) / ${(endKey * 1000).toFixed(0)} µs (end); ` +
        `disk A ${kb(bytesA)} (${2 * KEYSTROKES} keystrokes more), B ${kb(bytesB)} (Yjs state ${kb(yjs.bytes)})`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const data = dataDir();
if (!data) process.stderr.write('typing traces skipped: no shared/data folder beside the repository\n');

export const benches: Bench[] = data
  ? TRACES.map(
      (name): Bench => ({
        name: `store: typing trace ${name}, Loam text field A → B vs plain Yjs`,
        run: () => replay(name, readTrace(data, name)),
      }),
    )
  : [];
