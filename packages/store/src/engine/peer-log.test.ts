import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asReplicaId, defineSchema, f } from '@loam/core';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createBetterSqlite3Storage } from '../storage/storage-better-sqlite3';
import { openEngine } from './open-engine';

const schema = defineSchema({ version: 1, collections: { notes: { fields: { title: f.string() } } } });
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'loam-peer-log-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

it("a peer's refused transaction reaches live queries of the refused-writes log (the app's refusals panel)", async () => {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, 'a.db') }),
    schema,
  });
  const seen: unknown[][] = [];
  const stop = engine.watch(
    { kind: 'sql', sql: 'SELECT op, code, author FROM loam_refused', params: [] },
    (e) => {
      if (e.kind === 'rows') seen.push(e.rows);
    },
  );
  await vi.waitFor(() => expect(seen).toEqual([[]]));
  await engine.syncStore.refusePeerTransaction(
    [
      {
        op: 'peerreplica00001:7',
        collection: 'notes',
        doc: 'n1',
        code: 'field_denied',
        reason: 'Role "cashier" may not write "title"',
        at: 1,
        author: 'till-2 (peerreplica00001)',
      },
    ],
    { replica: asReplicaId('peerreplica00001'), seq: 7 },
  );
  await vi.waitFor(() =>
    expect(seen.at(-1)).toEqual([
      { op: 'peerreplica00001:7', code: 'field_denied', author: 'till-2 (peerreplica00001)' },
    ]),
  );
  stop();
  await engine.close();
});
