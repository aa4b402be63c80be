/**
 * The relay's metrics, rendered in the Prometheus text exposition format (version 0.0.4) at `/metrics`.
 *
 * Counters only grow; gauges are read when rendered. Label values are the stable codes of refusals and errors,
 * so the number of series stays bounded.
 */

import type { StoreStats } from '../storage/server-store';
import { createHistogram, LATENCY_BUCKETS } from './histogram';

/** Upper bounds (seconds) of the acknowledgement latency histogram's buckets. */
export const ACK_LATENCY_BUCKETS = LATENCY_BUCKETS;

/** The relay's counters and histograms. */
export interface Metrics {
  /** Open WebSocket connections (set by the server). */
  connections: number;
  /** Counts ops received in pushes. */
  opsIn(count: number): void;
  /** Counts document snapshots and removals sent to devices. */
  docsOut(count: number): void;
  /** Records the time from receiving a push to acknowledging it. */
  ackLatency(seconds: number): void;
  /** Records the time from a version's commit (on any node) to its fan-out on this node. */
  fanOutLag(seconds: number): void;
  /** Renders the store's figures too (database latency, batch sizes). */
  attachStore(stats: StoreStats): void;
  /** Counts a refused op by its code. */
  refusal(code: string): void;
  /** Counts an `error` frame sent, by code. */
  error(code: string): void;
  /** Counts a webhook delivery attempt by outcome (`delivered`, `retried`, `dropped`). */
  webhook(outcome: string): void;
  /** Counts an HTTP API request by status code. */
  http(status: number): void;
  /** The Prometheus text exposition. */
  render(): string;
}

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

/** Creates an empty set of metrics. */
export function createMetrics(): Metrics {
  let opsIn = 0;
  let docsOut = 0;
  const ack = createHistogram(ACK_LATENCY_BUCKETS);
  const lag = createHistogram(LATENCY_BUCKETS);
  let store: StoreStats | undefined;
  const refusals = new Map<string, number>();
  const errors = new Map<string, number>();
  const webhooks = new Map<string, number>();
  const http = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const labelled = (name: string, label: string, map: Map<string, number>) =>
    [...map].map(([k, v]) => `${name}{${label}="${escapeLabel(k)}"} ${v}`);

  const metrics: Metrics = {
    connections: 0,
    opsIn: (n) => {
      opsIn += n;
    },
    docsOut: (n) => {
      docsOut += n;
    },
    ackLatency: (seconds) => ack.observe(seconds),
    fanOutLag: (seconds) => lag.observe(Math.max(0, seconds)),
    attachStore(stats) {
      store = stats;
    },
    refusal: (code) => bump(refusals, code),
    error: (code) => bump(errors, code),
    webhook: (outcome) => bump(webhooks, outcome),
    http: (status) => bump(http, String(status)),
    render() {
      const lines = [
        '# HELP loam_connections Open WebSocket connections.',
        '# TYPE loam_connections gauge',
        `loam_connections ${metrics.connections}`,
        '# HELP loam_ops_in_total Ops received from devices.',
        '# TYPE loam_ops_in_total counter',
        `loam_ops_in_total ${opsIn}`,
        '# HELP loam_docs_out_total Document snapshots and removals sent to devices.',
        '# TYPE loam_docs_out_total counter',
        `loam_docs_out_total ${docsOut}`,
        ...ack.render('loam_ack_latency_seconds', 'Time from receiving a push to acknowledging it durably.'),
        ...lag.render(
          'loam_fanout_lag_seconds',
          "Time from a commit (on any node) to its fan-out to this node's sessions.",
        ),
        ...(store
          ? [
              ...store.dbLatency.render('loam_db_latency_seconds', 'Duration of database transactions.'),
              ...store.batchOps.render('loam_db_batch_ops', 'Ops per committed database transaction.'),
              ...store.batchRequests.render(
                'loam_db_batch_pushes',
                'Pushes and backend writes grouped into one committed transaction.',
              ),
            ]
          : []),
        '# HELP loam_refusals_total Ops refused, by code.',
        '# TYPE loam_refusals_total counter',
        ...labelled('loam_refusals_total', 'code', refusals),
        '# HELP loam_errors_total Error frames sent, by code.',
        '# TYPE loam_errors_total counter',
        ...labelled('loam_errors_total', 'code', errors),
        '# HELP loam_webhook_deliveries_total Webhook delivery attempts, by outcome.',
        '# TYPE loam_webhook_deliveries_total counter',
        ...labelled('loam_webhook_deliveries_total', 'outcome', webhooks),
        '# HELP loam_http_requests_total HTTP API requests, by status.',
        '# TYPE loam_http_requests_total counter',
        ...labelled('loam_http_requests_total', 'status', http),
      ];
      return `${lines.join('\n')}\n`;
    },
  };
  return metrics;
}
