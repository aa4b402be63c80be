/**
 * Webhooks: after every commit that changes documents of a hooked collection, one POST per webhook.
 *
 * Body (JSON): `{ "collection", "cursor", "source": "device" | "backend", "changes": [{ "id", "deleted", "doc" }] }`
 * with `doc` the whole materialized document (dates as ISO strings), or null when it was deleted. Headers:
 * `Content-Type: application/json`, `X-Loam-Signature: sha256=<hex HMAC-SHA256 of the raw body with the secret>`,
 * `X-Loam-Delivery: <id>` (the same on every retry of one delivery, from any relay node).
 *
 * Durability: bodies are rendered inside the transaction that commits their version and queued in the store
 * (`ServerStore.deliveries`), so a restart or a dead relay node loses none; the queue is not capped. Every relay
 * node sharing the store runs the same lanes, and the store hands a lane to one node at a time, so one node
 * delivers each delivery (a node that dies mid-attempt leaves it to the next, which may repeat that attempt:
 * receivers dedupe by `X-Loam-Delivery`).
 *
 * Delivery: in commit order per webhook, one at a time; a network error or a non-2xx status is retried after
 * `baseDelayMs * 2^(attempt-1)` (capped at 60 s), up to `maxAttempts` attempts, then dropped.
 */
import { createHash, createHmac } from 'node:crypto';
import { type CollectionDef, materialize, type Schema } from '@loam/core';
import type { WebhookConfig } from '../config/config';
import type { Metrics } from '../metrics/metrics';
import type { Commit } from '../relay/relay';
import type { DeliveryOutcome, OutboxEntry, QueuedDelivery, ServerStore } from '../storage/server-store';

/** Options of {@link createWebhooks}. */
export interface WebhookOptions {
  readonly hooks: readonly WebhookConfig[];
  readonly schema: Schema;
  readonly store: ServerStore;
  readonly metrics: Metrics;
  /** First retry delay; default 500 ms. */
  readonly baseDelayMs?: number;
  /** Timeout of one attempt; default 10 s. */
  readonly timeoutMs?: number;
  /** How often every lane looks for deliveries another node left behind; default 1 s. */
  readonly pollMs?: number;
  /** Wall clock, Unix ms; default `Date.now`. */
  readonly now?: () => number;
}

/** The webhook dispatcher. */
export interface Webhooks {
  /** Wakes the lanes of a commit's collections (their deliveries were queued with the commit). */
  onCommit(commit: Commit): void;
  /** Resolves when no delivery of these webhooks is queued in the store or in progress here. */
  idle(): Promise<void>;
  /** Stops delivering (queued deliveries stay in the store); resolves once attempts in progress ended. */
  close(): Promise<void>;
}

/** The signature header value of a body. */
export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The queue lane of a webhook: stable across restarts and identical on every node with the same configuration. */
export function webhookLane(hook: Pick<WebhookConfig, 'collection' | 'url'>): string {
  return `hook:${createHash('sha256').update(`${hook.collection}\n${hook.url}`).digest('hex').slice(0, 24)}`;
}

interface Lane {
  readonly id: string;
  readonly hook: WebhookConfig;
  running: Promise<void> | undefined;
  again: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Creates the dispatcher and registers its renderer as the store's outbox. */
export function createWebhooks(options: WebhookOptions): Webhooks {
  const { store, metrics, schema } = options;
  const base = options.baseDelayMs ?? 500;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  const aborts = new AbortController();
  let closed = false;
  const lanes = new Map<string, Lane>();
  for (const hook of options.hooks) {
    const id = webhookLane(hook);
    if (!lanes.has(id)) lanes.set(id, { id, hook, running: undefined, again: false, timer: undefined });
  }
  const idleWaiters = new Set<() => void>();

  store.setOutbox((commit) => {
    const out: OutboxEntry[] = [];
    for (const lane of lanes.values()) {
      const { collection } = lane.hook;
      const changes = commit.changes
        .filter((c) => c.collection === collection)
        .map((c) => ({
          id: c.id,
          deleted: c.after.deleted,
          doc: materialize(schema.collections[collection] as CollectionDef, c.id, c.after) ?? null,
        }));
      if (changes.length === 0) continue;
      out.push({ lane: lane.id, body: JSON.stringify({ collection, source: commit.source, changes }) });
    }
    return out;
  });

  const attempt = async (hook: WebhookConfig, d: QueuedDelivery): Promise<DeliveryOutcome> => {
    const { collection, source, changes } = JSON.parse(d.body) as Record<string, unknown>;
    const body = JSON.stringify({ collection, cursor: d.version, source, changes });
    let ok = false;
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-loam-signature': signWebhookBody(hook.secret, body),
          'x-loam-delivery': d.id,
        },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), aborts.signal]),
      });
      await res.arrayBuffer().catch(() => undefined);
      ok = res.ok;
    } catch {
      ok = false;
    }
    const made = d.attempts + 1;
    if (ok || made >= hook.maxAttempts) {
      metrics.webhook(ok ? 'delivered' : 'dropped');
      return { done: true };
    }
    metrics.webhook('retried');
    return { done: false, retryAt: now() + Math.min(60_000, base * 2 ** (made - 1)) };
  };

  const drive = async (lane: Lane) => {
    for (;;) {
      if (closed) return;
      let step: Awaited<ReturnType<ServerStore['deliveries']['deliverNext']>>;
      try {
        step = await store.deliveries.deliverNext(lane.id, now(), (d) => attempt(lane.hook, d));
      } catch {
        return;
      }
      if (step === 'attempted') continue;
      if (typeof step === 'object' && !closed) {
        clearTimeout(lane.timer);
        lane.timer = setTimeout(() => wake(lane), Math.max(0, step.dueAt - now()));
      }
      return;
    }
  };

  const wake = (lane: Lane) => {
    if (closed) return;
    if (lane.running) {
      lane.again = true;
      return;
    }
    lane.running = (async () => {
      do {
        lane.again = false;
        await drive(lane);
      } while (lane.again && !closed);
      lane.running = undefined;
      for (const w of [...idleWaiters]) w();
    })();
  };

  const poll = setInterval(() => {
    for (const lane of lanes.values()) wake(lane);
  }, options.pollMs ?? 1000);
  poll.unref();
  for (const lane of lanes.values()) wake(lane);

  const busy = () => [...lanes.values()].some((l) => l.running !== undefined);

  return {
    onCommit(commit) {
      for (const lane of lanes.values())
        if (commit.changes.some((c) => c.collection === lane.hook.collection)) wake(lane);
    },
    async idle() {
      for (;;) {
        if (closed) return;
        if (!busy() && (await store.deliveries.pending([...lanes.keys()])) === 0 && !busy()) return;
        await new Promise<void>((resolve) => {
          const done = () => {
            idleWaiters.delete(done);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(done, 50);
          idleWaiters.add(done);
        });
      }
    },
    async close() {
      closed = true;
      clearInterval(poll);
      for (const lane of lanes.values()) clearTimeout(lane.timer);
      aborts.abort();
      await Promise.all([...lanes.values()].map((l) => l.running));
      for (const w of [...idleWaiters]) w();
    },
  };
}
