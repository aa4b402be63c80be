/**
 * `npm run bench [-- filter]`: finds every `*.bench.ts` in the repository, runs its benches one after the
 * other, and prints a table of figures and ratios against the baselines measured in the same run.
 *
 * Each bench file is bundled with esbuild first (as an app build would), not run through tsx: tsx keeps
 * function names by wrapping every closure created at run time, which slows hot paths and would skew ratios.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import type { Bench, BenchResult } from './bench';

const root = join(import.meta.dirname, '..', '..');
const filter = process.argv[2];

function findBenchFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.') || entry.name === 'dist') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findBenchFiles(path));
    else if (entry.name.endsWith('.bench.ts')) out.push(path);
  }
  return out.sort();
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  return n.toPrecision(3);
}

const outDir = mkdtempSync(join(root, 'node_modules', '.loam-bench-'));
process.on('exit', () => rmSync(outDir, { recursive: true, force: true }));

/**
 * Bundles a bench file; packages with native code or their own binaries stay external, and so does `yjs`: every
 * bundle loads into this one process, and a copy of Yjs per bundle breaks its constructor checks across them.
 */
async function bundle(file: string, index: number): Promise<string> {
  const outfile = join(outDir, `bench-${index}.mjs`);
  await build({
    entryPoints: [file],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    external: [
      'better-sqlite3',
      'playwright-core',
      'vite',
      'vitest',
      'esbuild',
      '@roamhq/wrtc',
      'ws',
      'pg',
      'yjs',
    ],
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  return outfile;
}

const rows: string[][] = [['bench', 'figure', 'baseline', 'ratio', 'target', 'notes']];
let failures = 0;
for (const [index, file] of findBenchFiles(root).entries()) {
  const mod = (await import(pathToFileURL(await bundle(file, index)).href)) as { benches?: Bench[] };
  for (const bench of mod.benches ?? []) {
    if (filter && !bench.name.includes(filter) && !relative(root, file).includes(filter)) continue;
    process.stderr.write(`running ${bench.name} …\n`);
    let r: BenchResult;
    try {
      r = await bench.run();
    } catch (e) {
      failures++;
      rows.push([bench.name, 'FAILED', '', '', '', e instanceof Error ? e.message : String(e)]);
      continue;
    }
    const ratio = r.baseline
      ? r.higherIsBetter
        ? r.figure / r.baseline.figure
        : r.baseline.figure / r.figure
      : undefined;
    rows.push([
      bench.name,
      `${fmt(r.figure)} ${r.unit}`,
      r.baseline ? `${r.baseline.name}: ${fmt(r.baseline.figure)} ${r.unit}` : '',
      ratio === undefined ? '' : ratio.toFixed(2),
      r.target === undefined
        ? ''
        : `${ratio !== undefined && ratio >= r.target ? 'met' : 'MISSED'} (≥ ${r.target})`,
      r.notes ?? '',
    ]);
  }
}

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
for (const [i, row] of rows.entries()) {
  console.log(
    row
      .map((cell, j) => cell.padEnd(widths[j]!))
      .join(' | ')
      .trimEnd(),
  );
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
}
console.log(
  `\nratio: Loam ÷ baseline for throughput, baseline ÷ Loam for latency (1.00 = as fast as the baseline)`,
);
process.exit(failures ? 1 : 0);
