/**
 * A Prometheus histogram: cumulative bucket counts, a sum and a count. Observing is O(buckets) and allocates
 * nothing, so stores and the relay may observe on their hot paths.
 */

/** A histogram with fixed upper bounds. */
export interface Histogram {
  readonly bounds: readonly number[];
  observe(value: number): void;
  /** Renders the `_bucket`, `_sum` and `_count` lines of metric `name`, with its HELP and TYPE lines. */
  render(name: string, help: string): string[];
}

/** Creates an empty histogram with the given (ascending) bucket upper bounds. */
export function createHistogram(bounds: readonly number[]): Histogram {
  const counts = bounds.map(() => 0);
  let sum = 0;
  let count = 0;
  return {
    bounds,
    observe(value) {
      sum += value;
      count++;
      for (let i = 0; i < bounds.length; i++)
        if (value <= (bounds[i] as number)) counts[i] = (counts[i] ?? 0) + 1;
    },
    render(name, help) {
      return [
        `# HELP ${name} ${help}`,
        `# TYPE ${name} histogram`,
        ...bounds.map((b, i) => `${name}_bucket{le="${b}"} ${counts[i]}`),
        `${name}_bucket{le="+Inf"} ${count}`,
        `${name}_sum ${sum}`,
        `${name}_count ${count}`,
      ];
    },
  };
}

/** Bucket bounds (seconds) for latencies from 1 ms to 5 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

/** Bucket bounds for sizes (ops or pushes per transaction). */
export const SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] as const;

/** The histograms every store keeps (see `StoreStats`). */
export function createStoreStats() {
  return {
    dbLatency: createHistogram(LATENCY_BUCKETS),
    batchOps: createHistogram(SIZE_BUCKETS),
    batchRequests: createHistogram(SIZE_BUCKETS),
  };
}
