import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  authorizeUrl,
  base64UrlEncode,
  codeChallenge,
  completeCognitoSignIn,
  decodeJwt,
  isExpired,
  loadSession,
  logoutUrl,
  randomString,
  saveSession,
  SignInError,
  tokenRequestBody,
} from './auth';
import type { CognitoAuth } from './config';

const auth: CognitoAuth = {
  type: 'cognito',
  domain: 'https://todo-xyz.auth.eu-west-1.amazoncognito.com',
  clientId: 'abc123',
  scopes: ['openid', 'email', 'profile'],
};

/** An unsigned JWT with these claims (the client never checks signatures). */
function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => base64UrlEncode(new TextEncoder().encode(JSON.stringify(value)));
  return `${part({ alg: 'RS256' })}.${part(claims)}.sig`;
}

class MemoryStorage implements Storage {
  private items = new Map<string, string>();
  get length() {
    return this.items.size;
  }
  clear() {
    this.items.clear();
  }
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  key(index: number) {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

describe('PKCE', () => {
  it('computes the S256 challenge of RFC 7636, appendix B', async () => {
    expect(await codeChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('encodes the RFC 7636 verifier octets as the RFC does', () => {
    const octets = [
      116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5,
      88, 83, 132, 141, 121,
    ];
    expect(base64UrlEncode(new Uint8Array(octets))).toBe('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk');
  });

  it('makes 43-character verifiers of the unreserved alphabet, new each time', () => {
    const a = randomString(32);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomString(32)).not.toBe(a);
  });

  it('asks the Hosted UI for a code with the S256 challenge', async () => {
    const url = new URL(await authorizeUrl(auth, 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', 'st', 'https://app.example/'));
    expect(url.origin + url.pathname).toBe(`${auth.domain}/oauth2/authorize`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'abc123',
      redirect_uri: 'https://app.example/',
      scope: 'openid email profile',
      state: 'st',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    });
  });

  it('exchanges the code with a form-encoded body', () => {
    expect(tokenRequestBody(auth, 'the-code', 'the-verifier', 'https://app.example/').toString()).toBe(
      'grant_type=authorization_code&client_id=abc123&code=the-code&redirect_uri=https%3A%2F%2Fapp.example%2F&code_verifier=the-verifier',
    );
  });

  it('logs out of the Hosted UI back to the page', () => {
    vi.stubGlobal('window', { location: { origin: 'https://app.example' } });
    expect(logoutUrl(auth)).toBe(`${auth.domain}/logout?client_id=abc123&logout_uri=https%3A%2F%2Fapp.example%2F`);
    vi.unstubAllGlobals();
  });
});

describe('sessions', () => {
  it('reads exp and email from the token', () => {
    const storage = new MemoryStorage();
    const session = saveSession(jwt({ email: 'ann@example.com', exp: 2_000_000_000 }), storage);
    expect(session).toMatchObject({ email: 'ann@example.com', exp: 2_000_000_000 });
    expect(loadSession(storage)?.token).toBe(session.token);
    expect(decodeJwt('garbage')).toBeNull();
  });

  it('treats a token past its exp as signed out, and drops it', () => {
    const storage = new MemoryStorage();
    saveSession(jwt({ exp: Math.floor(Date.now() / 1000) - 1 }), storage);
    expect(loadSession(storage)).toBeNull();
    expect(storage.length).toBe(0);
    expect(isExpired({ token: 't', email: null, exp: 100 }, 100_000)).toBe(true);
    expect(isExpired({ token: 't', email: null, exp: 101 }, 100_000)).toBe(false);
    expect(isExpired({ token: 't', email: null, exp: null })).toBe(false);
  });
});

describe('completing a Hosted UI sign-in', () => {
  let storage: MemoryStorage;
  let replaced: string | null;

  function at(href: string) {
    const url = new URL(href);
    replaced = null;
    vi.stubGlobal('window', {
      location: { href, origin: url.origin },
      history: { replaceState: (_: unknown, __: string, to: string) => (replaced = to) },
    });
  }

  beforeEach(() => {
    storage = new MemoryStorage();
    vi.stubGlobal('sessionStorage', storage);
  });
  afterEach(() => vi.unstubAllGlobals());

  it('does nothing on a page that is no redirect', async () => {
    at('https://app.example/#/lists/l1');
    expect(await completeCognitoSignIn(auth, vi.fn())).toBeNull();
    expect(replaced).toBeNull();
  });

  it('exchanges the code when the state matches, and cleans the address', async () => {
    storage.setItem('todo.pkce', JSON.stringify({ verifier: 'v'.repeat(43), state: 's1' }));
    at('https://app.example/?code=c1&state=s1');
    const token = jwt({ email: 'ann@example.com', exp: 2_000_000_000 });
    const fetchMock = vi.fn(async (..._args: unknown[]) => new Response(JSON.stringify({ id_token: token, access_token: 'a' })));
    const session = await completeCognitoSignIn(auth, fetchMock as unknown as typeof fetch);
    expect(session?.token).toBe(token);
    expect(storage.getItem('todo.idToken')).toBe(token);
    expect(storage.getItem('todo.pkce')).toBeNull();
    expect(replaced).toBe('/');
    const [url, init] = fetchMock.mock.calls[0] as [string, RequestInit];
    expect(url).toBe(`${auth.domain}/oauth2/token`);
    expect(init.method).toBe('POST');
    expect(init.headers).toEqual({ 'Content-Type': 'application/x-www-form-urlencoded' });
    expect(Object.fromEntries(init.body as URLSearchParams)).toEqual({
      grant_type: 'authorization_code',
      client_id: 'abc123',
      code: 'c1',
      redirect_uri: 'https://app.example/',
      code_verifier: 'v'.repeat(43),
    });
  });

  it('refuses an answer whose state is not the one sent', async () => {
    storage.setItem('todo.pkce', JSON.stringify({ verifier: 'v', state: 's1' }));
    at('https://app.example/?code=c1&state=forged');
    const fetchMock = vi.fn();
    await expect(completeCognitoSignIn(auth, fetchMock)).rejects.toThrow(SignInError);
    expect(fetchMock).not.toHaveBeenCalled();
    expect(storage.getItem('todo.idToken')).toBeNull();
  });

  it("reports the Hosted UI's error", async () => {
    at('https://app.example/?error=access_denied&error_description=User+cancelled&state=s1');
    await expect(completeCognitoSignIn(auth, vi.fn())).rejects.toThrow('access_denied: User cancelled');
  });

  it('reports a refused code', async () => {
    storage.setItem('todo.pkce', JSON.stringify({ verifier: 'v', state: 's1' }));
    at('https://app.example/?code=c1&state=s1');
    const refuse = async () => new Response(JSON.stringify({ error: 'invalid_grant' }), { status: 400 });
    await expect(completeCognitoSignIn(auth, refuse)).rejects.toThrow('invalid_grant');
  });
});
