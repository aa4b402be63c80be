import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyOp, createDocState, defineSchema, f, type Op } from '@loam/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBetterSqlite3Storage } from '../storage/storage-better-sqlite3';
import type { Engine } from './engine';
import { openEngine } from './open-engine';

const schema = defineSchema({
  version: 1,
  collections: { notes: { fields: { title: f.string(), body: f.text(), tags: f.list<string>() } } },
});
type Notes = Engine<typeof schema>;

let dir: string;
const opened: Notes[] = [];
async function openAt(file: string): Promise<Notes> {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, file) }),
    schema,
  });
  opened.push(engine);
  return engine;
}
async function close(engine: Notes): Promise<void> {
  opened.splice(opened.indexOf(engine), 1);
  await engine.close();
}
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'loam-text-'));
});
afterEach(async () => {
  for (const e of opened.splice(0)) await e.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('text and list edits', () => {
  it('a keystroke on a long text writes a few pages, not the text, and the text reads back after reopening', async () => {
    const driver = await createBetterSqlite3Storage({ filename: join(dir, 'a.db') });
    let engine: Notes = await openEngine({ driver, schema });
    opened.push(engine);
    const long = 'lorem ipsum dolor sit amet '.repeat(4000);
    const id = await engine.insert('notes', { title: 't', body: long });
    await driver.exec('PRAGMA wal_autocheckpoint = 0; PRAGMA wal_checkpoint(TRUNCATE)');
    let expected = long;
    const keystrokes = 200;
    for (let i = 0; i < keystrokes; i++) {
      const at = (i * 7919) % expected.length;
      if (i % 5 === 4) {
        await engine.textDelete('notes', id, 'body', at, 1);
        expected = expected.slice(0, at) + expected.slice(at + 1);
      } else {
        await engine.textInsert('notes', id, 'body', at, 'x');
        expected = `${expected.slice(0, at)}x${expected.slice(at)}`;
      }
    }
    const wal = await driver.get<{ log: number }>('PRAGMA wal_checkpoint(PASSIVE)');
    // Pages written per keystroke (4 KB each): rewriting the 108 KB text would take dozens.
    expect((wal?.log ?? Number.POSITIVE_INFINITY) / keystrokes).toBeLessThan(12);
    expect((await engine.get('notes', id))?.body).toBe(expected);
    await close(engine);
    engine = await openAt('a.db');
    expect((await engine.get('notes', id))?.body).toBe(expected);
    await engine.textInsert('notes', id, 'body', 0, 'Title: ');
    expect((await engine.get('notes', id))?.body).toBe(`Title: ${expected}`);
  });

  it('a transaction that edits a text and then throws leaves the text as it was', async () => {
    const engine = await openAt('a.db');
    const id = await engine.insert('notes', { title: 't', body: 'hello' });
    await expect(
      engine.transaction(async (tx) => {
        await tx.textInsert('notes', id, 'body', 5, ' world');
        expect((await tx.get('notes', id))?.body).toBe('hello world');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect((await engine.get('notes', id))?.body).toBe('hello');
    await engine.textInsert('notes', id, 'body', 0, '> ');
    expect((await engine.get('notes', id))?.body).toBe('> hello');
    expect((await engine.find({ collection: 'notes' })).map((d) => d.body)).toEqual(['> hello']);
  });

  it("one transaction's edits of a field become one op that another replica applies whole", async () => {
    const engine = await openAt('a.db');
    const id = await engine.insert('notes', { title: 't', body: '' });
    const start = (await engine.syncStore.pendingOps(100)).length;
    await engine.transaction(async (tx) => {
      for (const ch of 'typed fast')
        await tx.textInsert('notes', id, 'body', (await tx.get('notes', id))!.body.length, ch);
      await tx.listInsert('notes', id, 'tags', 0, ['a', 'b']);
      await tx.listDelete('notes', id, 'tags', 0, 1);
      await tx.update('notes', id, { title: 'fast' });
    });
    const ops = (await engine.syncStore.pendingOps(100)).slice(start);
    expect(ops.map((op) => (op.kind === 'yjs' ? op.field : op.kind)).sort()).toEqual(['body', 'set', 'tags']);
    const other = await openAt('b.db');
    const state = createDocState();
    for (const op of await engine.syncStore.pendingOps(100)) applyOp(schema.collections.notes, state, op);
    await other.syncStore.applyDownload({
      docs: [{ collection: 'notes', id, state, mode: 'merge' }],
      removed: [],
    });
    expect(await other.get('notes', id)).toEqual({ id, title: 'fast', body: 'typed fast', tags: ['b'] });
  });
});

describe('single writes made without waiting', () => {
  it('all commit in call order, a refused one fails alone, and a read made after them sees them', async () => {
    const engine = await openAt('a.db');
    const id = await engine.insert('notes', { title: 't', body: '' });
    const committed: Op[][] = [];
    engine.syncStore.onPending(() => committed.push([]));
    const writes = [
      engine.textInsert('notes', id, 'body', 0, 'abc'),
      engine.textInsert('notes', id, 'body', 99, 'out of range'),
      engine.textInsert('notes', id, 'body', 3, 'def'),
      engine.update('notes', id, { title: 'second' }),
      engine.textDelete('notes', id, 'body', 0, 1),
    ];
    const read = engine.get('notes', id);
    const outcomes = await Promise.allSettled(writes);
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'validation_failed' });
    expect(await read).toEqual({ id, title: 'second', body: 'bcdef', tags: [] });
    expect(committed).toHaveLength(1);
    const late = engine.textInsert('notes', id, 'body', 0, '!');
    expect((await engine.get('notes', id))?.body).toBe('!bcdef');
    await late;
  });

  it('a writeAll refused part-way leaves none of its writes, and the writes around it commit', async () => {
    const engine = await openAt('a.db');
    const id = await engine.insert('notes', { title: 't', body: 'ab' });
    const before = engine.textInsert('notes', id, 'body', 2, 'c');
    const all = engine.writeAll([
      { kind: 'textInsert', collection: 'notes', id, field: 'body', index: 0, text: 'X' },
      { kind: 'textDelete', collection: 'notes', id, field: 'body', index: 0, count: 99 },
    ]);
    const after = engine.update('notes', id, { title: 'kept' });
    await expect(all).rejects.toMatchObject({ code: 'validation_failed' });
    await Promise.all([before, after]);
    expect(await engine.get('notes', id)).toEqual({ id, title: 'kept', body: 'abc', tags: [] });
  });

  it('a burst of keystrokes made without waiting travels as one op that rebuilds the same text elsewhere', async () => {
    const engine = await openAt('a.db');
    const id = await engine.insert('notes', { title: 't', body: 'start' });
    await engine.get('notes', id);
    const sent = (await engine.syncStore.pendingOps(100)).length;
    const typed = 'the quick brown fox jumps over the lazy dog';
    const keys: Promise<unknown>[] = [];
    for (const [i, ch] of [...typed].entries()) keys.push(engine.textInsert('notes', id, 'body', 5 + i, ch));
    keys.push(engine.textDelete('notes', id, 'body', 0, 5));
    await Promise.all(keys);
    const ops = await engine.syncStore.pendingOps(100);
    expect(ops.slice(sent).map((op) => op.kind)).toEqual(['yjs']);
    expect((await engine.get('notes', id))?.body).toBe(typed);
    const other = await openAt('b.db');
    const state = createDocState();
    for (const op of ops) applyOp(schema.collections.notes, state, op);
    await other.syncStore.applyDownload({
      docs: [{ collection: 'notes', id, state, mode: 'merge' }],
      removed: [],
    });
    expect((await other.get('notes', id))?.body).toBe(typed);
  });
});
