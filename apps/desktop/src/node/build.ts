/**
 * Builds the shell into `apps/desktop/dist/`: `main.cjs` (the main process) and `preload.cjs` (the sandboxed
 * preload), each one self-contained file with only `electron` left external, plus `pos/`, a copy of the built
 * POS app (`apps/pos/dist`) when it exists. `electron-builder.yml` packs exactly these files.
 *
 * Run: `npm run build -w @loam/desktop` (after `npm run build -w @loam/pos` for a production bundle).
 */
import { cp, mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Plugin } from 'esbuild';

/** The desktop package's folder. */
export const DESKTOP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** What {@link buildDesktop} produced. */
export interface BuildResult {
  readonly mainFile: string;
  readonly preloadFile: string;
  /** The copied POS app folder, or `undefined` when `apps/pos/dist` has not been built. */
  readonly posDir: string | undefined;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * `ws`'s optional native add-ons, bundled as modules that throw when required: `ws` then uses its JavaScript
 * code, as it does wherever they are not installed, and the main bundle requires nothing outside Electron.
 */
const absentNativeAddons: Plugin = {
  name: 'absent-native-addons',
  setup(b) {
    b.onResolve({ filter: /^(bufferutil|utf-8-validate)$/ }, (args) => ({
      path: args.path,
      namespace: 'absent',
    }));
    b.onLoad({ filter: /.*/, namespace: 'absent' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not bundled`)});`,
      loader: 'js',
    }));
  },
};

/**
 * Bundles main and preload into `outDir` (emptied first) and copies the built POS app from `posDist` into
 * `outDir/pos`. Electron 45 runs Node 22 and Chromium 14x; the bundles target both.
 */
export async function buildDesktop(options: { outDir: string; posDist: string }): Promise<BuildResult> {
  const { outDir, posDist } = options;
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const common: BuildOptions = {
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node22',
    external: ['electron'],
    plugins: [absentNativeAddons],
    sourcemap: 'linked',
    logLevel: 'warning',
  };
  const mainFile = join(outDir, 'main.cjs');
  const preloadFile = join(outDir, 'preload.cjs');
  await build({
    ...common,
    entryPoints: [join(DESKTOP_DIR, 'src/main/electron-main.ts')],
    outfile: mainFile,
  });
  await build({
    ...common,
    entryPoints: [join(DESKTOP_DIR, 'src/preload/preload.ts')],
    outfile: preloadFile,
  });

  let posDir: string | undefined;
  if (await isFile(join(posDist, 'index.html'))) {
    posDir = join(outDir, 'pos');
    await cp(posDist, posDir, { recursive: true });
  }
  return { mainFile, preloadFile, posDir };
}

async function cli(): Promise<void> {
  const posDist = resolve(DESKTOP_DIR, '../pos/dist');
  const result = await buildDesktop({ outDir: join(DESKTOP_DIR, 'dist'), posDist });
  console.log(`Built ${result.mainFile} and ${result.preloadFile}.`);
  if (result.posDir === undefined) {
    console.log(
      `No built POS app at ${posDist}: the shell can only load a dev server (--url). ` +
        'Run `npm run build -w @loam/pos` and build again to bundle it.',
    );
  } else {
    console.log(`Bundled the POS app into ${result.posDir}.`);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
