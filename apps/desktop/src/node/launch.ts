/**
 * `npm run desktop`: starts the built shell with the Electron binary. Electron 41+ downloads its binary on
 * first use rather than at install time; where that download cannot happen (no access to Electron's download
 * host, or Node older than 22.12), this prints what to do instead of a stack trace and exits with status 1.
 * Arguments after `--` go to the shell, e.g. `npm run desktop -- --kiosk --url=http://localhost:5173`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ElectronMissingError } from '../errors';

/** Where the Electron binary is, or why it is not there. */
export type ElectronBinary =
  | { readonly found: true; readonly path: string }
  | {
      readonly found: false;
      readonly reason: 'package-missing' | 'binary-missing';
      readonly packageDir?: string;
    };

/** What {@link locateElectron} looks at; injected so tests need no Electron. */
export interface LocateElectronOptions {
  /** Resolves `electron/package.json` to a path; throws when the package is not installed. */
  readonly resolvePackage: () => string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly exists: (path: string) => boolean;
  readonly readFile: (path: string) => string;
}

/**
 * Finds the binary the way the `electron` package does, without its side effect of downloading: `path.txt`
 * names the executable inside `dist/` (or inside `ELECTRON_OVERRIDE_DIST_PATH` when set).
 */
export function locateElectron(options: LocateElectronOptions): ElectronBinary {
  let packageDir: string;
  try {
    packageDir = dirname(options.resolvePackage());
  } catch {
    return { found: false, reason: 'package-missing' };
  }
  const pathFile = join(packageDir, 'path.txt');
  const executable = options.exists(pathFile) ? options.readFile(pathFile).trim() : undefined;
  const override = options.env.ELECTRON_OVERRIDE_DIST_PATH;
  if (override !== undefined && override !== '') {
    const path = join(override, executable ?? (process.platform === 'win32' ? 'electron.exe' : 'electron'));
    return options.exists(path)
      ? { found: true, path }
      : { found: false, reason: 'binary-missing', packageDir };
  }
  if (executable === undefined || executable === '')
    return { found: false, reason: 'binary-missing', packageDir };
  const path = join(packageDir, 'dist', executable);
  return options.exists(path)
    ? { found: true, path }
    : { found: false, reason: 'binary-missing', packageDir };
}

/**
 * The message printed when the binary cannot be had. `detail` is the download's own last error line, if any.
 */
export function electronMissingMessage(
  reason: 'package-missing' | 'binary-missing',
  detail?: string,
): string {
  const lines =
    reason === 'package-missing'
      ? ['The `electron` package is not installed: run `npm install` at the repository root.']
      : [
          `The Electron binary is not installed, and fetching it failed${detail ? ` (${detail})` : ''}.`,
          'Only `npm run desktop` needs it: the rest of Loam, and the desktop tests, run without it.',
          'Where Electron can be downloaded (Node ≥ 22.12 and access to its download host), run:',
          '  npx install-electron --no',
          'or set ELECTRON_OVERRIDE_DIST_PATH to the folder of an unpacked Electron of the version in',
          'apps/desktop/package.json.',
        ];
  return lines.join('\n');
}

function lastErrorLine(output: string): string | undefined {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[A-Za-z]*Error\b|^Error:/.test(l));
  return lines[0];
}

function ensureElectron(desktopDir: string): string {
  const require = createRequire(join(desktopDir, 'package.json'));
  const options: LocateElectronOptions = {
    resolvePackage: () => require.resolve('electron/package.json'),
    env: process.env,
    exists: existsSync,
    readFile: (path) => readFileSync(path, 'utf8'),
  };
  const first = locateElectron(options);
  if (first.found) return first.path;
  if (first.reason === 'package-missing' || first.packageDir === undefined) {
    throw new ElectronMissingError(electronMissingMessage('package-missing'));
  }
  console.log('Fetching the Electron binary (first run)…');
  const fetched = spawnSync(process.execPath, [join(first.packageDir, 'install.js')], { encoding: 'utf8' });
  const second = locateElectron(options);
  if (second.found) return second.path;
  const detail = lastErrorLine(`${fetched.stderr ?? ''}\n${fetched.stdout ?? ''}`);
  throw new ElectronMissingError(electronMissingMessage('binary-missing', detail));
}

function run(): void {
  const desktopDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  const mainFile = join(desktopDir, 'dist', 'main.cjs');
  if (!existsSync(mainFile)) {
    console.error(`${mainFile} is missing: run \`npm run build -w @loam/desktop\` first.`);
    process.exit(1);
  }
  let binary: string;
  try {
    binary = ensureElectron(desktopDir);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
  const child = spawn(binary, [mainFile, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  run();
}
