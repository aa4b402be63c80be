/**
 * Vite plugin: builds `src/sw/service-worker.ts` as `/sw.js` and, once every file of the build is written, fills
 * in its precache manifest (every output file, so the database worker and wa-sqlite's wasm are included).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';
import type { PrecacheManifest } from '../sw/precache';

const SERVICE_WORKER = fileURLToPath(new URL('../sw/service-worker.ts', import.meta.url));
const PLACEHOLDER = /(["'`])__LOAM_PRECACHE_MANIFEST__\1/;

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out;
}

/** The manifest of the build in `outDir` (every file but the service worker itself and source maps). */
export function precacheManifest(outDir: string): PrecacheManifest {
  const hash = createHash('sha256');
  const files: string[] = [];
  for (const path of listFiles(outDir).sort()) {
    const url = `/${relative(outDir, path).split(sep).join('/')}`;
    if (url === '/sw.js' || url.endsWith('.map')) continue;
    files.push(url);
    hash.update(url).update(readFileSync(path));
  }
  return { version: hash.digest('hex').slice(0, 16), files };
}

/** The plugin; only active in `vite build`. */
export function precachePlugin(): Plugin {
  let outDir = '';
  return {
    name: 'loam-pos-precache',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    buildStart() {
      this.emitFile({ type: 'chunk', id: SERVICE_WORKER, fileName: 'sw.js' });
    },
    closeBundle() {
      const swPath = join(outDir, 'sw.js');
      const code = readFileSync(swPath, 'utf8');
      if (!PLACEHOLDER.test(code)) throw new Error('sw.js has no precache placeholder to fill in');
      const manifest = precacheManifest(outDir);
      writeFileSync(swPath, code.replace(PLACEHOLDER, JSON.stringify(JSON.stringify(manifest))));
    },
  };
}
