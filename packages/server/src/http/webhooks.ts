/**
 * Webhooks: after every commit that changes documents of a hooked collection, one POST per webhook.
 *
 * Body (JSON): `{ "collection", "cursor", "source": "device" | "backend", "changes": [{ "id", "deleted", "doc" }] }`
 * with `doc` the whole materialized document (dates as ISO strings), or null when it was deleted. Headers:
 * `Content-Type: application/json`, `X-Loam-Signature: sha256=<hex HMAC-SHA256 of the raw body with the secret>`,
 * `X-Loam-Delivery: <id>` (the same on every retry of one delivery).
 *
 * Delivery: in commit order per webhook, one at a time; a network error or a non-2xx status is retried after
 * `baseDelayMs * 2^(attempt-1)` (capped at 60 s), up to `maxAttempts` attempts, then dropped. At most
 * `maxQueued` deliveries wait per webhook; beyond that the oldest is dropped. The queue lives in memory: a
 * restart forgets pending deliveries (receivers should reconcile from the HTTP API after downtime).
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { WebhookConfig } from '../config/config';
import type { Metrics } from '../metrics/metrics';
import type { Commit } from '../relay/relay';

/** Options of {@link createWebhooks}. */
export interface WebhookOptions {
  readonly hooks: readonly WebhookConfig[];
  readonly metrics: Metrics;
  /** First retry delay; default 500 ms. */
  readonly baseDelayMs?: number;
  /** Deliveries waiting per webhook; default 1000. */
  readonly maxQueued?: number;
  /** Timeout of one attempt; default 10 s. */
  readonly timeoutMs?: number;
}

/** The webhook dispatcher. */
export interface Webhooks {
  /** Queues the deliveries of a commit. */
  onCommit(commit: Commit): void;
  /** Resolves when every queued delivery has been delivered or dropped. */
  idle(): Promise<void>;
  /** Stops delivering (pending deliveries are dropped). */
  close(): void;
}

/** The signature header value of a body. */
export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

interface Delivery {
  readonly id: string;
  readonly body: string;
}

/** Creates the dispatcher. */
export function createWebhooks(options: WebhookOptions): Webhooks {
  const base = options.baseDelayMs ?? 500;
  const maxQueued = options.maxQueued ?? 1000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  let closed = false;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const idleWaiters: (() => void)[] = [];
  const lanes = options.hooks.map((hook) => ({ hook, queue: [] as Delivery[], busy: false }));

  const checkIdle = () => {
    if (lanes.every((l) => !l.busy && l.queue.length === 0)) for (const w of idleWaiters.splice(0)) w();
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const attempt = async (hook: WebhookConfig, d: Delivery): Promise<boolean> => {
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-loam-signature': signWebhookBody(hook.secret, d.body),
          'x-loam-delivery': d.id,
        },
        body: d.body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok;
    } catch {
      return false;
    }
  };

  const drive = async (lane: (typeof lanes)[number]) => {
    lane.busy = true;
    while (lane.queue.length > 0 && !closed) {
      const d = lane.queue[0] as Delivery;
      let delivered = false;
      for (let n = 1; n <= lane.hook.maxAttempts && !closed; n++) {
        delivered = await attempt(lane.hook, d);
        if (delivered) break;
        if (n < lane.hook.maxAttempts) {
          options.metrics.webhook('retried');
          await sleep(Math.min(60_000, base * 2 ** (n - 1)));
        }
      }
      options.metrics.webhook(delivered ? 'delivered' : 'dropped');
      lane.queue.shift();
    }
    lane.busy = false;
    checkIdle();
  };

  return {
    onCommit(commit) {
      if (closed) return;
      for (const lane of lanes) {
        const changes = commit.changes
          .filter((c) => c.collection === lane.hook.collection)
          .map((c) => ({ id: c.id, deleted: c.after.deleted, doc: c.afterDoc ?? null }));
        if (changes.length === 0) continue;
        const body = JSON.stringify({
          collection: lane.hook.collection,
          cursor: commit.version,
          source: commit.source,
          changes,
        });
        lane.queue.push({ id: randomUUID(), body });
        if (lane.queue.length > maxQueued) {
          lane.queue.splice(lane.busy ? 1 : 0, 1);
          options.metrics.webhook('dropped');
        }
        if (!lane.busy) void drive(lane);
      }
    },
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      });
    },
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const lane of lanes) lane.queue.length = 0;
      for (const w of idleWaiters.splice(0)) w();
    },
  };
}
