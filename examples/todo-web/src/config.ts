// Runtime configuration: `GET /config.json`, written next to the client by a deployment.
// Without it (404, or any failure to fetch or read it) the client is in development mode: the
// API on the same origin, sign-in through the service's `POST /dev/token`.

export interface CognitoAuth {
  type: 'cognito';
  /** The Hosted UI's origin, e.g. `https://todo-xyz.auth.eu-west-1.amazoncognito.com`. */
  domain: string;
  clientId: string;
  scopes: string[];
}

export interface DevAuth {
  type: 'dev';
}

export interface Config {
  /** The API's origin without a trailing slash; `''` is this page's origin. */
  apiUrl: string;
  auth: CognitoAuth | DevAuth;
}

export const DEV_CONFIG: Config = { apiUrl: '', auth: { type: 'dev' } };

export class ConfigError extends Error {
  constructor(message: string) {
    super(`Invalid config.json: ${message}`);
    this.name = 'ConfigError';
  }
}

const DEFAULT_SCOPES = ['openid', 'email', 'profile'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function httpUrl(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(`${field} must be a non-empty string`);
  }
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ConfigError(`${field} is not a URL: ${value}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`${field} must be an http(s) URL: ${value}`);
  }
  return url.toString().replace(/\/+$/, '');
}

/** Checks a parsed `config.json`; throws `ConfigError` on anything it cannot use. */
export function parseConfig(raw: unknown): Config {
  if (!isObject(raw)) throw new ConfigError('expected a JSON object');
  const apiUrl = raw.apiUrl === undefined || raw.apiUrl === '' ? '' : httpUrl(raw.apiUrl, 'apiUrl');
  const auth = raw.auth === undefined ? { type: 'dev' } : raw.auth;
  if (!isObject(auth)) throw new ConfigError('auth must be an object');
  if (auth.type === 'dev') return { apiUrl, auth: { type: 'dev' } };
  if (auth.type !== 'cognito') {
    throw new ConfigError(`auth.type must be "cognito" or "dev", not ${JSON.stringify(auth.type)}`);
  }
  if (typeof auth.clientId !== 'string' || auth.clientId === '') {
    throw new ConfigError('auth.clientId must be a non-empty string');
  }
  let scopes = DEFAULT_SCOPES;
  if (auth.scopes !== undefined) {
    if (!Array.isArray(auth.scopes) || !auth.scopes.every((s) => typeof s === 'string' && s !== '')) {
      throw new ConfigError('auth.scopes must be a list of strings');
    }
    scopes = auth.scopes as string[];
  }
  return {
    apiUrl,
    auth: { type: 'cognito', domain: httpUrl(auth.domain, 'auth.domain'), clientId: auth.clientId, scopes },
  };
}

/**
 * Fetches and parses `/config.json`. A missing file or a failed fetch means development mode; a
 * file that is there but wrong is an error (a deployment mistake should not silently fall back to
 * the development sign-in).
 */
export async function loadConfig(fetchImpl: typeof fetch = fetch): Promise<Config> {
  let response: Response;
  try {
    response = await fetchImpl('/config.json', { cache: 'no-store', headers: { Accept: 'application/json' } });
  } catch {
    return DEV_CONFIG;
  }
  if (!response.ok) return DEV_CONFIG;
  // A server without the file may answer its index page instead of a 404.
  if ((response.headers.get('Content-Type') ?? '').includes('text/html')) return DEV_CONFIG;
  let raw: unknown;
  try {
    raw = await response.json();
  } catch {
    throw new ConfigError('not valid JSON');
  }
  return parseConfig(raw);
}
