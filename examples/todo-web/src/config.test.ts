import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_CONFIG, loadConfig, parseConfig } from './config';

const cognito = {
  apiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com',
  auth: {
    type: 'cognito',
    domain: 'https://todo-xyz.auth.eu-west-1.amazoncognito.com',
    clientId: 'abc123',
    scopes: ['openid', 'email', 'profile'],
  },
};

describe('parseConfig', () => {
  it("reads the CDK deployment's config", () => {
    expect(parseConfig(cognito)).toEqual(cognito);
  });

  it('drops trailing slashes and defaults the scopes', () => {
    const config = parseConfig({
      apiUrl: 'https://api.example/',
      auth: { type: 'cognito', domain: 'https://auth.example/', clientId: 'c' },
    });
    expect(config).toEqual({
      apiUrl: 'https://api.example',
      auth: { type: 'cognito', domain: 'https://auth.example', clientId: 'c', scopes: ['openid', 'email', 'profile'] },
    });
  });

  it('accepts the development sign-in, with or without an API URL', () => {
    expect(parseConfig({ auth: { type: 'dev' } })).toEqual(DEV_CONFIG);
    expect(parseConfig({})).toEqual(DEV_CONFIG);
    expect(parseConfig({ apiUrl: 'http://127.0.0.1:3000', auth: { type: 'dev' } })).toEqual({
      apiUrl: 'http://127.0.0.1:3000',
      auth: { type: 'dev' },
    });
  });

  it.each([
    ['not an object', []],
    ['a null', null],
    ['an unknown auth type', { auth: { type: 'saml' } }],
    ['a missing client id', { auth: { type: 'cognito', domain: 'https://a.example' } }],
    ['a missing domain', { auth: { type: 'cognito', clientId: 'c' } }],
    ['a domain that is no URL', { auth: { type: 'cognito', domain: 'todo-xyz', clientId: 'c' } }],
    ['a javascript: URL', { apiUrl: 'javascript:alert(1)' }],
    ['scopes that are not strings', { auth: { type: 'cognito', domain: 'https://a.example', clientId: 'c', scopes: [1] } }],
  ])('refuses %s', (_, raw) => {
    expect(() => parseConfig(raw)).toThrow(ConfigError);
  });
});

describe('loadConfig', () => {
  const serve = (response: Response | Error) => async () => {
    if (response instanceof Error) throw response;
    return response;
  };

  it('is development mode when config.json is missing or cannot be fetched', async () => {
    expect(await loadConfig(serve(new Response('{"error":{}}', { status: 404 })))).toEqual(DEV_CONFIG);
    expect(await loadConfig(serve(new TypeError('Failed to fetch')))).toEqual(DEV_CONFIG);
    expect(await loadConfig(serve(new Response('<!doctype html>', { headers: { 'Content-Type': 'text/html' } })))).toEqual(
      DEV_CONFIG,
    );
  });

  it('parses a served config.json', async () => {
    const response = new Response(JSON.stringify(cognito), { headers: { 'Content-Type': 'application/json' } });
    expect(await loadConfig(serve(response))).toEqual(cognito);
  });

  it('fails on a config.json that is there but broken', async () => {
    await expect(loadConfig(serve(new Response('{oops', { headers: { 'Content-Type': 'application/json' } })))).rejects.toThrow(
      ConfigError,
    );
  });
});
