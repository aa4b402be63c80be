import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TerminalConfigError } from '../errors';
import { defaultTerminalId, loadTerminalConfig, terminalConfigPath } from './terminal-config';

const defaults = { relayUrl: 'ws://127.0.0.1:8787/', terminalId: 'shop-pc' };
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'loam-desktop-terminal-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const load = (relayUrlOverride?: string) =>
  loadTerminalConfig({
    file: terminalConfigPath(dir),
    readFile: (path) => readFileSync(path, 'utf8'),
    defaults,
    relayUrlOverride,
  });

async function refusal(contents: string): Promise<TerminalConfigError> {
  const file = terminalConfigPath(dir);
  await writeFile(file, contents);
  const before = await stat(file);
  let caught: unknown;
  try {
    load();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(TerminalConfigError);
  const error = caught as TerminalConfigError;
  expect(error.file).toBe(file);
  expect(error.message).toContain(file);
  expect(await readFile(file, 'utf8')).toBe(contents);
  expect((await stat(file)).mtimeMs).toBe(before.mtimeMs);
  expect(await readdir(dir)).toEqual(['terminal.json']);
  return error;
}

describe('terminal configuration file', () => {
  it('is optional: without it the terminal uses the defaults and nothing is written', async () => {
    expect(load()).toEqual(defaults);
    expect(await readdir(dir)).toEqual([]);
  });

  it('sets the relay and terminal id', async () => {
    await writeFile(
      terminalConfigPath(dir),
      JSON.stringify({ relayUrl: 'wss://relay.shop.example/sync', terminalId: 'till-2' }),
    );
    expect(load()).toEqual({ relayUrl: 'wss://relay.shop.example/sync', terminalId: 'till-2' });
  });

  it('keeps defaults for keys it leaves out, and yields the relay to --relay-url', async () => {
    await writeFile(terminalConfigPath(dir), '{ "terminalId": "till-3" }');
    expect(load()).toEqual({ relayUrl: defaults.relayUrl, terminalId: 'till-3' });
    expect(load('ws://10.0.0.9:8787/')).toEqual({ relayUrl: 'ws://10.0.0.9:8787/', terminalId: 'till-3' });
  });

  it("takes the terminal's sign-in endpoint, and refuses one that is not a plain http(s) URL", async () => {
    await writeFile(
      terminalConfigPath(dir),
      JSON.stringify({ terminalId: '2', sessionUrl: 'http://127.0.0.1:4173/dev/session' }),
    );
    expect(load()).toEqual({
      relayUrl: defaults.relayUrl,
      terminalId: '2',
      sessionUrl: 'http://127.0.0.1:4173/dev/session',
    });
    for (const bad of [
      'file:///etc/passwd',
      'https://user:secret@id.shop.example/session',
      'not a url',
      42,
    ]) {
      expect((await refusal(JSON.stringify({ sessionUrl: bad }))).message).toContain('"sessionUrl"');
    }
  });

  it('takes the relay key LAN peering trusts, and refuses anything but 32 bytes in base64url', async () => {
    const relayKey = Buffer.alloc(32, 7).toString('base64url');
    await writeFile(terminalConfigPath(dir), JSON.stringify({ terminalId: '4', relayKey }));
    expect(load()).toEqual({ relayUrl: defaults.relayUrl, terminalId: '4', relayKey });
    for (const bad of [
      Buffer.alloc(31).toString('base64url'),
      `${relayKey}=`,
      relayKey.replace('B', '+'),
      7,
    ]) {
      expect((await refusal(JSON.stringify({ relayKey: bad }))).message).toContain('"relayKey"');
    }
  });

  it('refuses a corrupt file with an error naming it, and leaves it untouched', async () => {
    const error = await refusal('{ "relayUrl": "ws://127.0.0.1:8787", ');
    expect(error.code).toBe('terminal_config_invalid');
    expect(error.message).toMatch(/not valid JSON/);
  });

  it.each([
    ['an array', '[]', /JSON object/],
    ['a misspelt key', '{ "relayURL": "ws://x" }', /unknown key "relayURL"/],
    ['a relay that is not a URL', '{ "relayUrl": "relay.local" }', /relayUrl/],
    ['a relay on another scheme', '{ "relayUrl": "file:///etc/passwd" }', /relayUrl/],
    ['a relay that is not a string', '{ "relayUrl": 8787 }', /"relayUrl" must be a string/],
    ['an empty terminal id', '{ "terminalId": "" }', /terminalId/],
    ['a terminal id with spaces', '{ "terminalId": "till 1" }', /terminalId/],
  ])('refuses %s', async (_what, contents, message) => {
    const error = await refusal(contents);
    expect(error.code).toBe('terminal_config_invalid');
    expect(error.message).toMatch(message);
  });

  it('reports an unreadable file (a folder in its place) as unreadable, not as missing', async () => {
    await mkdir(terminalConfigPath(dir));
    let caught: unknown;
    try {
      load();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TerminalConfigError);
    expect((caught as TerminalConfigError).code).toBe('terminal_config_unreadable');
    expect((caught as TerminalConfigError).message).toContain(terminalConfigPath(dir));
  });
});

describe('default terminal id', () => {
  it('comes from the host name, cleaned to letters, digits, ".", "_" and "-"', () => {
    expect(defaultTerminalId('till-1.shop.local')).toBe('till-1.shop.local');
    expect(defaultTerminalId('Caisse Nº 2')).toBe('Caisse-N-2');
    expect(defaultTerminalId('---')).toBe('terminal');
    expect(defaultTerminalId('x'.repeat(100))).toHaveLength(64);
  });
});
