import { describe, expect, it } from 'vitest';
import { type SessionStore, signIn, type TerminalSessionResponse, terminalOf } from './terminal-session';

const session: TerminalSessionResponse = {
  token: 'jwt',
  expiresAt: 1,
  syncUrl: 'ws://127.0.0.1:8787/sync',
  storeId: 'store-1',
  terminal: '2',
  cashier: 'Sam',
};

function device(answer: () => Promise<Response>, sessionUrl?: string) {
  const saved = new Map<string, string>();
  const asked: string[] = [];
  const store: SessionStore = {
    fetch: (async (input: RequestInfo | URL) => {
      asked.push(String(input));
      return answer();
    }) as typeof fetch,
    storage: { getItem: (k) => saved.get(k) ?? null, setItem: (k, v) => void saved.set(k, v) },
    ...(sessionUrl ? { sessionUrl } : {}),
  };
  return { store, asked };
}

describe('terminal sign-in', () => {
  it("asks the configured endpoint (the desktop shell's) for this terminal, and keeps the session", async () => {
    const { store, asked } = device(async () => Response.json(session), 'http://127.0.0.1:4173/dev/session');
    expect(await signIn('2', store)).toEqual({ ...session, source: 'network' });
    expect(asked).toEqual(['http://127.0.0.1:4173/dev/session?terminal=2']);
  });

  it('uses /dev/session of its own server by default, and the saved session when the endpoint is unreachable', async () => {
    let online = true;
    const { store, asked } = device(async () => {
      if (!online) throw new TypeError('Failed to fetch');
      return Response.json(session);
    });
    await signIn('2', store);
    online = false;
    expect(await signIn('2', store)).toEqual({ ...session, source: 'saved' });
    expect(asked[0]).toBe('/dev/session?terminal=2');
    expect(await signIn('3', store)).toBeUndefined();
  });

  it('opens the till named in the address, else the last one used here, and names a wrong one instead of guessing', () => {
    const saved = new Map<string, string>();
    const storage = {
      getItem: (k: string) => saved.get(k) ?? null,
      setItem: (k: string, v: string) => void saved.set(k, v),
    };
    expect(terminalOf({ search: '' }, storage)).toEqual({ terminal: '1' });
    expect(terminalOf({ search: '?terminal=07' }, storage)).toEqual({ terminal: '7' });
    expect(terminalOf({ search: '' }, storage)).toEqual({ terminal: '7' });
    for (const bad of ['abc', '0', '100', '-1', ''])
      expect(terminalOf({ search: `?terminal=${bad}` }, storage)).toEqual({ invalid: bad });
    expect(terminalOf({ search: '' }, storage)).toEqual({ terminal: '7' });
  });
});
