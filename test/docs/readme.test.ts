/**
 * Docs that run: every fenced code block of every README in the repository is either
 * - a file of the repository, named by an `<!-- example: path -->` line right above it, whose whole text it must
 *   equal (the file is compiled by `npm run typecheck`, linted, and run by a test: the Node example here, the
 *   getting-started app in `getting-started.browser.test.ts`, the harness example as a browser test), or
 * - a `sh` block of commands, each checked against what it names: npm scripts (of the root or of the `-w`
 *   workspace), workspace packages, and the binaries `npx` runs.
 * A block that is neither fails, so a snippet cannot drift from the code without a red test.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repositoryRoot } from '../browser/harness';

interface Block {
  readonly readme: string;
  readonly line: number;
  readonly lang: string;
  readonly text: string;
  /** The path of the `<!-- example: path -->` line above the block, if any. */
  readonly example?: string;
}

function readmes(dir = repositoryRoot): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.') || name === 'dist' || name === 'test-results')
      continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...readmes(path));
    else if (name === 'README.md') out.push(path);
  }
  return out;
}

function blocks(readme: string): Block[] {
  const lines = readFileSync(readme, 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const start = i;
    let end = i + 1;
    while (end < lines.length && lines[end] !== '```') end++;
    const above = /^<!-- example: (\S+) -->$/.exec(lines[start - 1] ?? '');
    out.push({
      readme: relative(repositoryRoot, readme),
      line: start + 1,
      lang: open[1] ?? '',
      text: `${lines.slice(start + 1, end).join('\n')}\n`,
      ...(above?.[1] ? { example: above[1] } : {}),
    });
    i = end;
  }
  return out;
}

const all = readmes().flatMap(blocks);
const rootPackage = JSON.parse(readFileSync(join(repositoryRoot, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  workspaces: string[];
};
const workspaces = new Map<string, { scripts?: Record<string, string> }>();
for (const pattern of rootPackage.workspaces) {
  const parent = join(repositoryRoot, pattern.replace(/\/\*$/, ''));
  for (const name of readdirSync(parent)) {
    const file = join(parent, name, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string; scripts?: Record<string, string> };
    workspaces.set(pkg.name, pkg);
  }
}

/**
 * Why `command` (one command of a `sh` block) does not do what it says here, or undefined when it does. `comment`
 * is the line's `#` comment: `npx downloads it` there admits a binary this repository does not install.
 */
function commandProblem(command: string, comment = ''): string | undefined {
  const [tool, verb, ...rest] = command.trim().split(/\s+/);
  const workspace = rest.includes('-w') ? rest[rest.indexOf('-w') + 1] : undefined;
  const scriptsOf = workspace === undefined ? rootPackage.scripts : workspaces.get(workspace)?.scripts;
  if (workspace !== undefined && !workspaces.has(workspace)) return `no workspace ${workspace}`;
  if (tool === 'npx') {
    const installed = existsSync(join(repositoryRoot, 'node_modules/.bin', verb ?? ''));
    return installed || comment.includes('npx downloads it') ? undefined : `no binary ${verb}`;
  }
  if (tool !== 'npm') return `unknown command ${tool}`;
  if (verb === 'install') {
    const named = rest.filter((w) => !w.startsWith('-') && w !== workspace);
    const unknown = named.filter((name) => !workspaces.has(name));
    return unknown.length > 0 ? `not a package of this repository: ${unknown.join(', ')}` : undefined;
  }
  const script = verb === 'run' ? rest[0] : verb;
  return script && scriptsOf?.[script] !== undefined ? undefined : `no npm script "${script}"`;
}

describe('the READMEs', () => {
  it('has code blocks, each a file of the repository or commands', () => {
    expect(all.length).toBeGreaterThan(8);
    for (const block of all) {
      const where = `${block.readme}:${block.line}`;
      if (block.example !== undefined) {
        const file = join(repositoryRoot, block.example);
        expect(existsSync(file), `${where}: ${block.example} does not exist`).toBe(true);
        expect(block.text, `${where} differs from ${block.example}`).toBe(readFileSync(file, 'utf8'));
      } else {
        expect(
          block.lang,
          `${where}: a ${block.lang || 'plain'} block needs <!-- example: path --> above it`,
        ).toBe('sh');
      }
    }
  });

  it('names only commands, scripts, workspaces and binaries that exist', () => {
    for (const block of all.filter((b) => b.lang === 'sh')) {
      for (const [i, line] of block.text.split('\n').entries()) {
        const comment = /\s#(.*)$/.exec(line)?.[1] ?? '';
        const code = line.replace(/\s#.*$/, '').trim();
        if (code === '') continue;
        for (const command of code.split('&&'))
          expect(
            commandProblem(command, comment),
            `${block.readme}:${block.line + 1 + i}: ${command.trim()}`,
          ).toBeUndefined();
      }
    }
  });

  it('checks what it says: an unknown script, workspace, package or binary is caught', () => {
    expect(commandProblem('npm run nope')).toBe('no npm script "nope"');
    expect(commandProblem('npm run build -w @loam/nope')).toBe('no workspace @loam/nope');
    expect(commandProblem('npm install @loam/nope')).toBe('not a package of this repository: @loam/nope');
    expect(commandProblem('npx nope-cli')).toBe('no binary nope-cli');
    expect(commandProblem('npx nope-cli', ' npx downloads it')).toBeUndefined();
    expect(commandProblem('make all')).toBe('unknown command make');
    expect(commandProblem('npm start -w @loam/server -- --config x.json')).toBeUndefined();
  });

  it('runs the Node example of "Using it" as written', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'loam-readme-'));
    try {
      const run = spawnSync(
        join(repositoryRoot, 'node_modules/.bin/tsx'),
        [join(repositoryRoot, 'test/docs/examples/using-it/node-engine.ts')],
        { cwd, encoding: 'utf8' },
      );
      expect(run.stderr).toBe('');
      expect(run.stdout).toContain("[ 'Tea: 9 left' ]");
      expect(run.stdout).toMatch(/^orders: first result\n/);
      expect(existsSync(join(cwd, 'shop.db'))).toBe(true);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
