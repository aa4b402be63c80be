/**
 * The relay's metrics, rendered in the Prometheus text exposition format (version 0.0.4) at `/metrics`.
 *
 * Counters only grow; gauges are read when rendered. Label values are the stable codes of refusals and errors,
 * so the number of series stays bounded.
 */

/** Upper bounds (seconds) of the acknowledgement latency histogram's buckets. */
export const ACK_LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
] as const;

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
  const buckets = ACK_LATENCY_BUCKETS.map(() => 0);
  let latencySum = 0;
  let latencyCount = 0;
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
    ackLatency(seconds) {
      latencySum += seconds;
      latencyCount++;
      ACK_LATENCY_BUCKETS.forEach((bound, i) => {
        if (seconds <= bound) buckets[i] = (buckets[i] ?? 0) + 1;
      });
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
        '# HELP loam_ack_latency_seconds Time from receiving a push to acknowledging it durably.',
        '# TYPE loam_ack_latency_seconds histogram',
        ...ACK_LATENCY_BUCKETS.map((b, i) => `loam_ack_latency_seconds_bucket{le="${b}"} ${buckets[i]}`),
        `loam_ack_latency_seconds_bucket{le="+Inf"} ${latencyCount}`,
        `loam_ack_latency_seconds_sum ${latencySum}`,
        `loam_ack_latency_seconds_count ${latencyCount}`,
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
