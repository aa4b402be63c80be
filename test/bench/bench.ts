/**
 * The shape every `*.bench.ts` file exports: `export const benches: Bench[]`.
 *
 * A bench measures one figure and, where it has one, a baseline measured in the same run on the same machine
 * (raw Yjs, raw wa-sqlite, raw `ws`...), so the printed ratio means something whatever the machine's speed.
 */
export interface BenchResult {
  /** The measured figure, e.g. ops per second or milliseconds. */
  readonly figure: number;
  /** Its unit, e.g. `ops/s`, `ms`. */
  readonly unit: string;
  /** True when a larger figure is better (throughput); false for latencies. */
  readonly higherIsBetter: boolean;
  /** The same work done by the baseline, in the same unit. */
  readonly baseline?: { readonly name: string; readonly figure: number };
  /** The target ratio from DESIGN.md or the issue, if any (ratio = figure/baseline, or baseline/figure for latencies). */
  readonly target?: number;
  /** Extra figures worth printing (p50/p99, sizes...). */
  readonly notes?: string;
}

/** One benchmark. */
export interface Bench {
  readonly name: string;
  run(): Promise<BenchResult> | BenchResult;
}

/** Runs `fn` `runs` times and returns the best (least disturbed) duration in ms. */
export function bestOf(runs: number, fn: () => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

/** Percentile (0–100) of a list of samples. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

/**
 * Runs `baseline` then `subject`, `rounds` times in turn, and returns the run of each whose `ms` is the median of its
 * rounds: on a shared machine one run of either can be slowed by a neighbour, and alternating puts both sides under
 * the same conditions.
 */
export async function medianRounds<T extends { readonly ms: number }>(
  rounds: number,
  baseline: (round: number) => Promise<T> | T,
  subject: (round: number) => Promise<T> | T,
): Promise<{ baseline: T; subject: T; rounds: number }> {
  const base: T[] = [];
  const subj: T[] = [];
  for (let round = 0; round < rounds; round++) {
    base.push(await baseline(round));
    subj.push(await subject(round));
  }
  const median = (runs: T[]) => [...runs].sort((a, b) => a.ms - b.ms)[Math.floor((runs.length - 1) / 2)] as T;
  return { baseline: median(base), subject: median(subj), rounds };
}
