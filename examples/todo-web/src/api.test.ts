import { describe, expect, it, vi } from 'vitest';
import { ApiError, createApi, errorFromResponse } from './api';

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

function client(respond: (url: string, init: RequestInit) => Response | Promise<Response>, token: string | null = 'tok') {
  const calls: { url: string; init: RequestInit }[] = [];
  const onUnauthorized = vi.fn();
  const api = createApi({
    baseUrl: 'https://api.example',
    getToken: () => token,
    onUnauthorized,
    fetch: async (input, init) => {
      calls.push({ url: String(input), init: init ?? {} });
      return respond(String(input), init ?? {});
    },
  });
  return { api, calls, onUnauthorized };
}

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('expected the call to fail');
}

describe('errorFromResponse', () => {
  it("reads the contract's error body", async () => {
    const error = await errorFromResponse(json(409, { error: { code: 'conflict', message: "the owner's own role cannot change" } }));
    expect(error).toMatchObject({ status: 409, code: 'conflict', message: "the owner's own role cannot change" });
  });

  it('maps an HTML body to the status in words', async () => {
    const error = await errorFromResponse(
      new Response('<html><body>Bad gateway</body></html>', { status: 502, statusText: 'Bad Gateway', headers: { 'Content-Type': 'text/html' } }),
    );
    expect(error).toMatchObject({ status: 502, code: 'http_502', message: 'the service answered 502 Bad Gateway' });
  });

  it('keeps a short plain-text body, and names a status without a reason', async () => {
    expect(await errorFromResponse(new Response('upstream timed out', { status: 504 }))).toMatchObject({
      code: 'http_504',
      message: 'upstream timed out',
    });
    expect(await errorFromResponse(new Response('', { status: 503 }))).toMatchObject({
      message: 'the service answered 503 Service Unavailable',
    });
    expect(await errorFromResponse(new Response('', { status: 418 }))).toMatchObject({ message: 'the service answered 418 Error' });
  });

  it("reads API Gateway's own {message} body", async () => {
    expect(await errorFromResponse(json(401, { message: 'Unauthorized' }))).toMatchObject({
      status: 401,
      code: 'unauthenticated',
      message: 'Unauthorized',
    });
  });

  it('fills in a missing message or code', async () => {
    expect(await errorFromResponse(json(404, { error: { code: 'not_found' } }))).toMatchObject({
      code: 'not_found',
      message: 'the service answered 404 Not Found',
    });
    expect(await errorFromResponse(json(412, { error: { message: 'changed' } }))).toMatchObject({
      code: 'precondition_failed',
      message: 'changed',
    });
  });
});

describe('the client', () => {
  it('sends the bearer token, JSON bodies and encoded path segments', async () => {
    const { api, calls } = client(() => json(200, { email: 'bob@example.com', role: 'viewer' }));
    await api.putMember('l/1', 'bob+x@example.com', 'viewer');
    const [call] = calls;
    expect(call?.url).toBe('https://api.example/lists/l%2F1/members/bob%2Bx%40example.com');
    expect(call?.init.method).toBe('PUT');
    expect(call?.init.body).toBe('{"role":"viewer"}');
    expect(call?.init.headers).toMatchObject({ Authorization: 'Bearer tok', 'Content-Type': 'application/json' });
  });

  it('pages with limit and cursor, and leaves them out when unset', async () => {
    const { api, calls } = client(() => json(200, { items: [], next_cursor: null }));
    await api.listTodos('l1', { limit: 20, cursor: 'abc=' });
    await api.listTodos('l1');
    await api.listLists(null);
    expect(calls.map((c) => c.url)).toEqual([
      'https://api.example/lists/l1/todos?limit=20&cursor=abc%3D',
      'https://api.example/lists/l1/todos',
      'https://api.example/lists',
    ]);
  });

  it('sends If-Match with the version, and maps 412', async () => {
    const { api, calls } = client(() => json(412, { error: { code: 'precondition_failed', message: 'the version differs' } }));
    const error = await failure(api.updateTodo('l1', 't1', { done: true }, 3));
    expect(calls[0]?.init.headers).toMatchObject({ 'If-Match': '3' });
    expect(error).toMatchObject({ status: 412, code: 'precondition_failed', message: 'the version differs' });
  });

  it('sends no If-Match without a version', async () => {
    const { api, calls } = client(() => json(200, { id: 't1' }));
    await api.updateTodo('l1', 't1', { title: 'x' });
    expect(calls[0]?.init.headers).not.toHaveProperty('If-Match');
  });

  it('reports a 401 to onUnauthorized, then throws it', async () => {
    const { api, onUnauthorized } = client(() =>
      json(401, { error: { code: 'unauthenticated', message: 'the token is not valid' } }, { 'WWW-Authenticate': 'Bearer' }),
    );
    const error = await failure(api.me());
    expect(error).toMatchObject({ status: 401, code: 'unauthenticated' });
    expect(onUnauthorized).toHaveBeenCalledOnce();
  });

  it('does not sign out on a failed development sign-in', async () => {
    const { api, calls, onUnauthorized } = client(() => json(400, { error: { code: 'invalid_request', message: 'not an email address' } }));
    const error = await failure(api.devToken('nope'));
    expect(error.message).toBe('not an email address');
    expect(calls[0]?.init.headers).not.toHaveProperty('Authorization');
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('maps a network failure to status 0', async () => {
    const { api } = client(() => {
      throw new TypeError('Failed to fetch');
    });
    expect(await failure(api.getList('l1'))).toMatchObject({ status: 0, code: 'network_error' });
  });

  it('answers undefined for 204 and refuses a 200 that is not JSON', async () => {
    expect(await client(() => new Response(null, { status: 204 })).api.deleteTodo('l1', 't1')).toBeUndefined();
    const error = await failure(client(() => new Response('<html>', { status: 200 })).api.getList('l1'));
    expect(error.code).toBe('invalid_response');
  });
});
