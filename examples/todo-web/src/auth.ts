// Signing in: the service's development issuer (`POST /dev/token`), or Amazon Cognito's Hosted UI
// with the OAuth 2.0 authorization code flow and PKCE (RFC 7636, S256). The ID token is the bearer
// token, kept in sessionStorage; a token past its `exp` counts as signed out.

import type { CognitoAuth, Config } from './config';

const TOKEN_KEY = 'todo.idToken';
const PKCE_KEY = 'todo.pkce';

export interface Session {
  token: string;
  /** The token's `email` claim, when it has one (`GET /me` is the authority). */
  email: string | null;
  /** Seconds since the epoch, or null when the token does not say. */
  exp: number | null;
}

// ---- base64url, PKCE -------------------------------------------------------------------------

export function base64UrlEncode(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function base64UrlDecode(text: string): string {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** A random string of `bytes` bytes, base64url (32 bytes: a 43-character PKCE verifier). */
export function randomString(bytes = 32): string {
  return base64UrlEncode(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The S256 code challenge of a verifier: BASE64URL(SHA256(ASCII(verifier))). */
export async function codeChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64UrlEncode(new Uint8Array(digest));
}

// ---- tokens ----------------------------------------------------------------------------------

/** The claims of a JWT, unverified (the API verifies it; the client only reads `exp`, `email`). */
export function decodeJwt(token: string): Record<string, unknown> | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const claims: unknown = JSON.parse(base64UrlDecode(payload));
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function sessionFromToken(token: string): Session {
  const claims = decodeJwt(token) ?? {};
  return {
    token,
    email: typeof claims.email === 'string' ? claims.email : null,
    exp: typeof claims.exp === 'number' ? claims.exp : null,
  };
}

export function isExpired(session: Session, nowMs = Date.now()): boolean {
  return session.exp !== null && session.exp * 1000 <= nowMs;
}

/** The stored session, or null when there is none or its token has expired (then it is dropped). */
export function loadSession(storage: Storage = sessionStorage): Session | null {
  const token = storage.getItem(TOKEN_KEY);
  if (!token) return null;
  const session = sessionFromToken(token);
  if (isExpired(session)) {
    storage.removeItem(TOKEN_KEY);
    return null;
  }
  return session;
}

export function saveSession(token: string, storage: Storage = sessionStorage): Session {
  storage.setItem(TOKEN_KEY, token);
  return sessionFromToken(token);
}

export function clearSession(storage: Storage = sessionStorage): void {
  storage.removeItem(TOKEN_KEY);
}

// ---- Cognito Hosted UI -----------------------------------------------------------------------

export function redirectUri(): string {
  return `${window.location.origin}/`;
}

interface PendingSignIn {
  verifier: string;
  state: string;
}

/** The Hosted UI's authorize URL for a verifier and state. */
export async function authorizeUrl(auth: CognitoAuth, verifier: string, state: string, redirect: string): Promise<string> {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: auth.clientId,
    redirect_uri: redirect,
    scope: auth.scopes.join(' '),
    state,
    code_challenge: await codeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  return `${auth.domain}/oauth2/authorize?${params}`;
}

/** Leaves for the Hosted UI; the verifier and state wait in sessionStorage for the way back. */
export async function beginCognitoSignIn(auth: CognitoAuth): Promise<void> {
  const pending: PendingSignIn = { verifier: randomString(32), state: randomString(16) };
  sessionStorage.setItem(PKCE_KEY, JSON.stringify(pending));
  window.location.assign(await authorizeUrl(auth, pending.verifier, pending.state, redirectUri()));
}

export class SignInError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignInError';
  }
}

/** The token request of the code exchange (form-encoded), for `POST {domain}/oauth2/token`. */
export function tokenRequestBody(auth: CognitoAuth, code: string, verifier: string, redirect: string): URLSearchParams {
  return new URLSearchParams({
    grant_type: 'authorization_code',
    client_id: auth.clientId,
    code,
    redirect_uri: redirect,
    code_verifier: verifier,
  });
}

/**
 * Completes a Hosted UI sign-in when the page is the redirect back (`?code=&state=`, or
 * `?error=`): checks the state, exchanges the code with the verifier and stores the ID token. The
 * query is removed from the address either way. Resolves to null when the page is no redirect.
 */
export async function completeCognitoSignIn(auth: CognitoAuth, fetchImpl: typeof fetch = fetch): Promise<Session | null> {
  const url = new URL(window.location.href);
  const code = url.searchParams.get('code');
  const error = url.searchParams.get('error');
  if (code === null && error === null) return null;
  const returnedState = url.searchParams.get('state');
  const stored = sessionStorage.getItem(PKCE_KEY);
  sessionStorage.removeItem(PKCE_KEY);
  window.history.replaceState(null, '', `${url.pathname}${url.hash}`);

  if (error !== null) {
    const description = url.searchParams.get('error_description');
    throw new SignInError(`the sign-in page answered ${error}${description ? `: ${description}` : ''}`);
  }
  let pending: PendingSignIn | null = null;
  try {
    pending = stored ? (JSON.parse(stored) as PendingSignIn) : null;
  } catch {
    pending = null;
  }
  if (!pending || pending.state !== returnedState) {
    throw new SignInError('the sign-in answer does not match a sign-in started here; please try again');
  }
  let response: Response;
  try {
    response = await fetchImpl(`${auth.domain}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: tokenRequestBody(auth, code ?? '', pending.verifier, redirectUri()),
    });
  } catch {
    throw new SignInError('the sign-in service could not be reached');
  }
  const body = (await response.json().catch(() => ({}))) as { id_token?: string; error?: string; error_description?: string };
  if (!response.ok || typeof body.id_token !== 'string') {
    throw new SignInError(
      `the sign-in service refused the code${body.error ? ` (${body.error}${body.error_description ? `: ${body.error_description}` : ''})` : ''}`,
    );
  }
  return saveSession(body.id_token);
}

/** The Hosted UI's logout URL, back to this page. */
export function logoutUrl(auth: CognitoAuth): string {
  const params = new URLSearchParams({ client_id: auth.clientId, logout_uri: redirectUri() });
  return `${auth.domain}/logout?${params}`;
}

/** Signs out: drops the token; with Cognito (unless `local`), also ends the Hosted UI's session. */
export function signOut(config: Config, local = false): void {
  clearSession();
  if (config.auth.type === 'cognito' && !local) window.location.assign(logoutUrl(config.auth));
}
