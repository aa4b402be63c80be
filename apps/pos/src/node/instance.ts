/**
 * What `npm start` checks before it touches anything: that no other instance runs on this data folder and that
 * its ports are free. Node only.
 *
 * Invariants:
 * 1. **Nothing is touched before the checks pass**: no file is written, no server started, nothing built.
 * 2. **One instance per data folder.** A running instance holds `pos-instance.json` (its pid and addresses) in the
 *    data folder; a file whose process is gone is stale and taken over.
 * 3. **Problems are sentences**, each naming what is in the way and what to do, never a stack trace.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** A port `npm start` needs. */
export interface NeededPort {
  readonly port: number;
  /** What listens there, e.g. `the relay`. */
  readonly what: string;
  /** The environment variable that moves it, e.g. `LOAM_PORT`. */
  readonly env: string;
}

/** What the instance file records. */
export interface InstanceInfo {
  readonly pid: number;
  readonly appUrl: string;
  readonly relayUrl: string;
}

/** The instance file of `dataDir`. */
export function instanceFile(dataDir: string): string {
  return join(dataDir, 'pos-instance.json');
}

/** Whether something already listens on `port` of `host` (a bind attempt that is undone at once). */
export async function portTaken(port: number, host = '127.0.0.1'): Promise<boolean> {
  return await new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(true));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(false)));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running instance of `dataDir`, if its file names a live process. */
export function runningInstance(dataDir: string): InstanceInfo | undefined {
  const file = instanceFile(dataDir);
  if (!existsSync(file)) return undefined;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as Partial<InstanceInfo>;
    if (typeof info.pid === 'number' && info.pid !== process.pid && alive(info.pid))
      return info as InstanceInfo;
  } catch {
    // An unreadable instance file is stale.
  }
  return undefined;
}

/** Why `npm start` cannot run now (empty: it can). Touches nothing. */
export async function startProblems(dataDir: string, ports: readonly NeededPort[]): Promise<string[]> {
  const running = runningInstance(dataDir);
  if (running) {
    return [
      `Loam POS is already running (process ${running.pid}) on this data folder: the till is at ${running.appUrl}, the relay at ${running.relayUrl}. Use it, or stop it (Ctrl+C in its terminal) before starting another.`,
    ];
  }
  const problems: string[] = [];
  for (const { port, what, env } of ports) {
    if (await portTaken(port))
      problems.push(
        `Port ${port} (${what}) is already in use by another program. Stop that program, or start on another port: ${env}=${port + 1} npm start`,
      );
  }
  return problems;
}

/** Records this process as the running instance of `dataDir`; returns the function that removes the record. */
export function claimInstance(dataDir: string, info: Omit<InstanceInfo, 'pid'>): () => void {
  const file = instanceFile(dataDir);
  writeFileSync(file, `${JSON.stringify({ pid: process.pid, ...info }, null, 2)}\n`);
  return () => {
    if (runningInstance(dataDir) === undefined) rmSync(file, { force: true });
  };
}
