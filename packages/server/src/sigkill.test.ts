import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { DocId, Op } from '@loam/core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AUDIENCE,
  HS256_SECRET,
  ISSUER,
  mintToken,
  SERVICE_TOKEN,
  tempDir,
  testDevice,
  testRules,
  testSchema,
} from './testing/fixtures';
import { connectClient, type ProtocolClient } from './testing/protocol-client';

const tmp = tempDir('loam-sigkill-');
const cli = join(import.meta.dirname, 'cli.ts');
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
  tmp.cleanup();
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Starts `loam-server` as a child process and resolves once it listens. */
function startChild(configFile: string, port: number): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', cli, '--config', configFile], {
    env: { ...process.env, LOAM_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening on')) resolve(proc);
    });
    proc.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.once('exit', (code) => reject(new Error(`loam-server exited with ${code}: ${out}`)));
  });
}

function killed(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

/** A device with an outbox: ops leave it only when acknowledged. */
function createTill(sub: string) {
  const device = testDevice();
  const outbox: Op[] = [];
  let batch = 0;
  return {
    device,
    outbox,
    acked: new Set<string>(),
    async connect(url: string): Promise<ProtocolClient> {
      const c = await connectClient(url);
      await c.hello({
        replica: device.replica,
        token: await mintToken({ sub, role: 'manager' }, { alg: 'HS256' }),
      });
      return c;
    },
    /** Pushes the outbox in batches of 10 without waiting; resolves when every batch is acked or the link died. */
    flush(c: ProtocolClient, onAck: () => void): Promise<void> {
      const pending: Promise<void>[] = [];
      for (let i = 0; i < outbox.length; i += 10) {
        const ops = outbox.slice(i, i + 10);
        pending.push(
          c.push(++batch, ops).then(
            (ack) => {
              expect(ack.refused).toEqual([]);
              for (const id of ack.accepted) {
                this.acked.add(id);
                const at = outbox.findIndex((o) => o.id === id);
                if (at !== -1) outbox.splice(at, 1);
              }
              onAck();
            },
            () => undefined,
          ),
        );
      }
      return Promise.all(pending).then(() => undefined);
    },
  };
}

describe('SIGKILL mid-upload', () => {
  it('loses no acknowledged op and applies none twice across repeated kills and restarts', async () => {
    const schemaFile = join(tmp.dir, 'schema.json');
    const rulesFile = join(tmp.dir, 'rules.json');
    const configFile = join(tmp.dir, 'loam-server.json');
    writeFileSync(schemaFile, JSON.stringify(testSchema));
    writeFileSync(rulesFile, JSON.stringify(testRules));
    writeFileSync(
      configFile,
      JSON.stringify({
        storagePath: './data/server.db',
        schemaFile: './schema.json',
        rulesFile: './rules.json',
        auth: { hs256Secret: HS256_SECRET, issuer: ISSUER, audience: AUDIENCE },
        serviceToken: SERVICE_TOKEN,
      }),
    );
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}/sync`;
    const tills = [createTill('till-a'), createTill('till-b'), createTill('till-c')];

    child = await startChild(configFile, port);
    const first = tills[0]!;
    const shared = first.device.insert('orders', { id: 'shared', storeId: 'k', owner: 'till-a', total: 0 });
    first.outbox.push(...shared.ops);
    const c0 = await first.connect(url);
    await first.flush(c0, () => undefined);
    c0.close();
    expect(first.outbox).toEqual([]);
    for (const t of tills.slice(1)) t.device.receive(shared.ops);

    let increments = 0;
    const inserted: DocId[] = [];
    for (let round = 0; round < 4; round++) {
      for (const t of tills) {
        for (let i = 0; i < 25; i++)
          t.outbox.push(...t.device.increment('orders', 'shared' as DocId, 'qty', 1));
        increments += 25;
        const doc = t.device.insert('orders', { storeId: 'k', owner: 'x', total: round });
        t.outbox.push(...doc.ops);
        inserted.push(doc.id);
      }
      const clients = await Promise.all(tills.map((t) => t.connect(url)));
      let acks = 0;
      const proc = child;
      const batches = tills.reduce((n, t) => n + Math.ceil(t.outbox.length / 10), 0);
      const killAfter = Math.max(1, Math.floor((batches * (round + 1)) / 5));
      const flushing = tills.map((t, i) =>
        t.flush(clients[i]!, () => {
          acks++;
          if (acks === killAfter) void killed(proc);
        }),
      );
      await Promise.all(flushing);
      await killed(proc);
      for (const c of clients) c.close();
      child = await startChild(configFile, port);
    }

    const clients = await Promise.all(tills.map((t) => t.connect(url)));
    await Promise.all(tills.map((t, i) => t.flush(clients[i]!, () => undefined)));
    for (const t of tills) expect(t.outbox).toEqual([]);
    for (const c of clients) c.close();

    const get = async (id: string) =>
      (await fetch(`http://127.0.0.1:${port}/v1/collections/orders/docs/${id}`, {
        headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
      }).then((r) => r.json())) as { doc?: { qty: number } };
    expect((await get('shared')).doc?.qty).toBe(increments);
    for (const id of inserted) expect((await get(id)).doc).toBeDefined();
    await killed(child);
  }, 60_000);
});
