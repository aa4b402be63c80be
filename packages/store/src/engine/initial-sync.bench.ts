/**
 * `npm run bench -- initial`: a fresh Node device taking 100k small documents from the relay, as sync hands them over
 * (pages of 8,192 document snapshots, as the sync client groups relay frames that queue up, each page applied in one
 * `applyDownload`, which decodes the snapshots as it goes), in snapshot formats 2 and 1, against a raw
 * better-sqlite3 insert of the same rows (a prepared INSERT in one transaction, one column per field) in the same
 * run. Also reports both database files' sizes once closed (target: the device's at most 2× the raw table's). Each
 * side runs `ROUNDS` times, in turn, and the median of each counts (see `medianRounds`).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SnapshotVersion } from '@loam/core';
import Database from 'better-sqlite3';
import { type Bench, medianRounds } from '../../../../test/bench/bench';
import { createBetterSqlite3Storage } from '../storage/storage-better-sqlite3';
import { downloadedDocs, relayPages, syncRow, syncSchema } from './initial-sync-data';
import { openEngine } from './open-engine';

const DOCS = 100_000;
/** Documents per applyDownload: what the sync client applies at once when relay frames queue up. */
const PAGE = 8_192;
/** Runs of each side; the median counts. */
const ROUNDS = 5;

const size = (path: string) => statSync(path).size;

interface Run {
  readonly ms: number;
  /** The database file's size once closed. */
  readonly bytes: number;
}

/** Raw better-sqlite3: the same rows, one prepared INSERT each, in one transaction, into a fresh file. */
function rawInsert(file: string, rows: ReturnType<typeof syncRow>[]): Run {
  const raw = new Database(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.exec(
    'CREATE TABLE products (id TEXT PRIMARY KEY, name TEXT, price REAL, category TEXT, active INTEGER, stock INTEGER); CREATE INDEX products_category ON products (category)',
  );
  const insert = raw.prepare('INSERT INTO products VALUES (?, ?, ?, ?, ?, ?)');
  const start = performance.now();
  raw.transaction(() => {
    for (const r of rows) insert.run(r.id, r.name, r.price, r.category, r.active ? 1 : 0, r.stock);
  })();
  const ms = performance.now() - start;
  raw.close();
  return { ms, bytes: size(file) };
}

/** A fresh device at `file` taking `pages` as sync hands them over; checks it then holds every document. */
async function loamSync(file: string, pages: ReturnType<typeof relayPages>): Promise<Run> {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: file }),
    schema: syncSchema,
  });
  const start = performance.now();
  for (const page of pages) await engine.syncStore.applyDownload({ docs: downloadedDocs(page), removed: [] });
  const ms = performance.now() - start;
  const count = (await engine.aggregate({ collection: 'products', aggregates: { n: { fn: 'count' } } }))[0];
  await engine.close();
  if (count?.n !== DOCS) throw new Error(`the device holds ${count?.n} documents, not ${DOCS}`);
  return { ms, bytes: size(file) };
}

/** The bench of an initial sync whose snapshots are in format `version`. */
function initialSync(version: SnapshotVersion): Bench {
  return {
    name: `store: initial sync of ${DOCS / 1000}k documents (snapshot format ${version}) into a fresh Node device vs raw better-sqlite3 insert`,
    async run() {
      const dir = mkdtempSync(join(tmpdir(), 'loam-initial-sync-'));
      try {
        const rows = Array.from({ length: DOCS }, (_, i) => syncRow(i));
        const pages = relayPages(DOCS, PAGE, version);
        const { baseline: raw, subject: loam } = await medianRounds(
          ROUNDS,
          (round) => rawInsert(join(dir, `raw-${round}.db`), rows),
          (round) => loamSync(join(dir, `device-${round}.db`), pages),
        );
        const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
        return {
          figure: DOCS / (loam.ms / 1000),
          unit: 'docs/s',
          higherIsBetter: true,
          baseline: { name: 'raw prepared INSERT', figure: DOCS / (raw.ms / 1000) },
          target: 0.5,
          notes: `medians of ${ROUNDS} alternating runs: ${(loam.ms / 1000).toFixed(2)} s vs ${(raw.ms / 1000).toFixed(2)} s; database ${mb(loam.bytes)} vs raw table ${mb(raw.bytes)} (≤ 2× wanted)`,
        };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Format 2 is what current clients get; format 1 what a client too old to announce 2 still gets. */
export const benches: Bench[] = [initialSync(2), initialSync(1)];
