import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenKeyring, tokenAllows, verifyToken } from '../../src/auth/api-tokens.js';
import { OidcVerifier } from '../../src/auth/oidc.js';
import { type MintResult, TrustedPublishing, parseTrustedPublishers } from '../../src/auth/trusted-publishers.js';
import { type OidcRouteOptions, oidcRoutes } from '../../src/routes/oidc.js';
import { AuditLog, readAuditTrail } from '../../src/store/audit-log.js';
import { publishActionExchange, type TestIssuer, startOidcIssuer } from '../helpers/oidc-issuer.js';

const AUDIENCE = 'wheelhouse-test';
const keyring = TokenKeyring.parse('oidc-route-test-key-0123456789-abcdefghij', 'test');
let issuer: TestIssuer;
let dir: string;

beforeAll(async () => {
  issuer = await startOidcIssuer({ audience: AUDIENCE });
  dir = mkdtempSync(join(tmpdir(), 'wh-oidc-routes-'));
});
afterAll(async () => {
  await issuer.close();
  rmSync(dir, { recursive: true, force: true });
});

function publishing(): TrustedPublishing {
  const publishers = parseTrustedPublishers(
    JSON.stringify({
      publishers: [
        {
          issuer: issuer.url,
          kind: 'github',
          name: 'lib',
          repository: 'mycorp/mycorp-lib',
          workflow: 'release.yml',
          projects: ['mycorp-lib', 'mycorp-lib-*'],
        },
      ],
    }),
    'publishers.json',
  );
  return new TrustedPublishing({ verifier: new OidcVerifier({ audience: AUDIENCE, issuers: [issuer.url] }), keyring, publishers });
}

/** An app with nothing but the two routes, as the integration will register them. */
async function appWith(options: OidcRouteOptions, https?: { key: string; cert: string }): Promise<FastifyInstance> {
  const app = (https ? Fastify({ https }) : Fastify()) as FastifyInstance;
  await app.register(oidcRoutes, options);
  return app;
}

describe('GET /_/oidc/audience', () => {
  it("answers this server's audience as JSON", async () => {
    const app = await appWith({ audience: AUDIENCE, mint: () => Promise.reject(new Error('unused')) });
    const res = await app.inject({ method: 'GET', url: '/_/oidc/audience' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ audience: AUDIENCE });
  });
});

describe('POST /_/oidc/mint-token', () => {
  it('answers a minted token with success, token and expiry, never to be cached', async () => {
    const tp = publishing();
    const app = await appWith({ audience: AUDIENCE, mint: (jwt) => tp.mint(jwt) });
    const res = await app.inject({ method: 'POST', url: '/_/oidc/mint-token', payload: { token: await issuer.sign(issuer.github()) } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['expires', 'success', 'token']);
    expect(body.success).toBe(true);
    expect(body.expires).toBeGreaterThan(Date.now() / 1000 + 800);
    const verdict = await verifyToken(keyring, body.token, { revoked: new Set() });
    expect(verdict.ok && tokenAllows(verdict.token, 'upload', 'mycorp-lib-extra')).toBe(true);
  });

  it('answers the older GitHub-only path too', async () => {
    const tp = publishing();
    const app = await appWith({ audience: AUDIENCE, mint: (jwt) => tp.mint(jwt) });
    const res = await app.inject({
      method: 'POST',
      url: '/_/oidc/github/mint-token',
      payload: { token: await issuer.sign(issuer.github()) },
    });
    expect(res.statusCode).toBe(200);
  });

  it.each([
    ['a body that is not JSON', 'application/json', '{"token": ', /the body is not JSON/],
    ['an empty body', 'application/json', '', /expected a JSON object \{"token"/],
    ['JSON without a token', 'application/json', '{"jwt": "x"}', /expected a JSON object/],
    ['a token that is not a string', 'application/json', '{"token": 42}', /with the token as a string/],
    ['a JSON array', 'application/json', '[{"token": "x"}]', /expected a JSON object/],
    ['a form body', 'application/x-www-form-urlencoded', 'token=x', /the body is not JSON/],
    ['a body over 64 KiB', 'application/json', JSON.stringify({ token: 'x'.repeat(70_000) }), /larger than 65536 bytes/],
  ])('refuses %s with 422 and an invalid-payload error, without minting', async (_what, type, payload, description) => {
    let calls = 0;
    const app = await appWith({
      audience: AUDIENCE,
      mint: () => {
        calls++;
        return Promise.reject(new Error('must not be called'));
      },
    });
    const res = await app.inject({ method: 'POST', url: '/_/oidc/mint-token', headers: { 'content-type': type }, payload });
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json();
    expect(body.message).toBe('Token request failed');
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0].code).toBe('invalid-payload');
    expect(body.errors[0].description).toMatch(description);
    expect(calls).toBe(0);
  });

  it('passes on the status and errors of a refusal', async () => {
    const refusal: MintResult = {
      ok: false,
      status: 503,
      reason: 'issuer-unavailable',
      errors: [{ code: 'issuer-unavailable', description: 'down' }],
    };
    const app = await appWith({ audience: AUDIENCE, mint: () => Promise.resolve(refusal) });
    const res = await app.inject({ method: 'POST', url: '/_/oidc/mint-token', payload: { token: 'x' } });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ message: 'Token request failed', errors: [{ code: 'issuer-unavailable', description: 'down' }] });
  });

  it('answers a failure of its own as JSON with 500, hiding the cause', async () => {
    const app = await appWith({ audience: AUDIENCE, mint: () => Promise.reject(new Error('disk on fire')) });
    const res = await app.inject({ method: 'POST', url: '/_/oidc/mint-token', payload: { token: 'x' } });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      message: 'Token request failed',
      errors: [{ code: 'server-error', description: 'the index failed to mint a token; see its log' }],
    });
  });

  it('refuses each bad token with 422 and the code PyPI uses, and a replayed one once it was used', async () => {
    const tp = publishing();
    const app = await appWith({ audience: AUDIENCE, mint: (jwt) => tp.mint(jwt) });
    const mint = async (token: string) => {
      const res = await app.inject({ method: 'POST', url: '/_/oidc/mint-token', payload: { token } });
      return { status: res.statusCode, code: res.json<{ errors?: { code: string }[] }>().errors?.[0]?.code };
    };
    const now = Math.floor(Date.now() / 1000);
    expect(await mint(issuer.signNone(issuer.github()))).toEqual({ status: 422, code: 'invalid-token' });
    expect(await mint(await issuer.signHs256WithPublicKey(issuer.github()))).toEqual({ status: 422, code: 'invalid-token' });
    expect(await mint(await issuer.sign(issuer.github({ audience: 'pypi' })))).toEqual({ status: 422, code: 'invalid-token' });
    expect(await mint(await issuer.sign({ ...issuer.github(), iss: 'https://token.actions.githubusercontent.com' }))).toEqual({
      status: 422,
      code: 'invalid-payload',
    });
    expect(await mint(await issuer.sign(issuer.github({}, { exp: now - 120, iat: now - 600 })))).toEqual({
      status: 422,
      code: 'invalid-token',
    });
    expect(await mint(await issuer.sign(issuer.github({}, { nbf: now + 600 })))).toEqual({ status: 422, code: 'invalid-token' });
    expect(await mint(await issuer.sign(issuer.github({ repository: 'mycorp/other' })))).toEqual({
      status: 422,
      code: 'invalid-publisher',
    });
    expect(await mint(await issuer.sign(issuer.github({ workflow: 'test.yml' })))).toEqual({ status: 422, code: 'invalid-publisher' });
    expect(await mint(await issuer.sign(issuer.github(), { unpublished: true }))).toEqual({ status: 422, code: 'invalid-token' });
    const good = await issuer.sign(issuer.github());
    expect(await mint(good)).toEqual({ status: 200, code: undefined });
    expect(await mint(good)).toEqual({ status: 422, code: 'invalid-reuse-token' });
  });
});

describe('the publish action’s exchange, against a server with only these routes', () => {
  let tls: { key: string; cert: string; certFile: string };
  let server: FastifyInstance;
  let port: number;
  const seen: string[] = [];
  let audit: AuditLog;

  beforeAll(async () => {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-keyout', keyFile, '-out', certFile, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ], { stdio: 'ignore' }); // prettier-ignore
    tls = { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };

    const tp = publishing();
    audit = new AuditLog(join(dir, 'volume'), { host: 'test' });
    // What the integration will pass: mint, then record the mint in the audit trail.
    const mint: OidcRouteOptions['mint'] = async (jwt, client) => {
      const result = await tp.mint(jwt);
      if (result.ok && result.minted.oidc) {
        await audit.append({
          action: 'mint',
          token: result.minted.id,
          projects: result.minted.projects,
          actor: { type: 'oidc', oidc: result.minted.oidc },
          client: client.ip,
        });
      }
      return result;
    };
    server = await appWith({ audience: AUDIENCE, mint }, tls);
    server.addHook('onRequest', (request, _reply, done) => {
      seen.push(`${request.method} ${request.url}`);
      done();
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    port = (server.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await server.close();
    await audit.close();
  });

  const exchange = (repositoryUrl: string) => publishActionExchange({ repositoryUrl, issuer, certFile: tls.certFile, dir });

  it.each([
    ['the bare host', (p: number) => `https://127.0.0.1:${p}/`],
    ['the legacy upload URL', (p: number) => `https://127.0.0.1:${p}/legacy/`],
    ['an index under a path prefix', (p: number) => `https://localhost:${p}/pypi/mycorp/legacy/`],
    ['credentials in the URL', (p: number) => `https://ci:secret@127.0.0.1:${p}/legacy/`],
  ])('gets an upload token for the publisher’s projects, given %s as repository-url', async (_what, url) => {
    seen.length = 0;
    const r = await exchange(url(port));
    expect(r.code, r.stderr).toBe(0);
    // The action asks at the host's root, whatever path the upload URL has.
    expect(seen).toEqual(['GET /_/oidc/audience', 'POST /_/oidc/mint-token']);
    const verdict = await verifyToken(keyring, r.token, { revoked: new Set() });
    if (!verdict.ok) throw new Error(verdict.message);
    expect(verdict.token.actions).toEqual(['upload']);
    expect(tokenAllows(verdict.token, 'upload', 'mycorp-lib')).toBe(true);
    expect(tokenAllows(verdict.token, 'upload', 'othercorp')).toBe(false);
    expect(verdict.token.expiresAt! - verdict.token.issuedAt).toBe(900);
  });

  it('records each mint in the audit trail with the run and the client address', async () => {
    const r = await exchange(`https://127.0.0.1:${port}/legacy/`);
    expect(r.code, r.stderr).toBe(0);
    const id = (await verifyToken(keyring, r.token, { revoked: new Set() })) as { ok: true; token: { id: string } };
    const trail = await readAuditTrail(join(dir, 'volume'));
    expect(trail.events.find((e) => e.token === id.token.id)).toMatchObject({
      action: 'mint',
      projects: ['mycorp-lib', 'mycorp-lib-*'],
      client: '127.0.0.1',
      actor: { type: 'oidc', oidc: { publisher: 'lib', issuer: issuer.url, claims: { repository: 'mycorp/mycorp-lib', run_id: '9001' } } },
    });
  });

  it('fails the action with the server’s reasons when no publisher matches the run', async () => {
    const original = issuer.idTokenClaims;
    issuer.idTokenClaims = (audience) => issuer.github({ audience, repository: 'someone/else' });
    try {
      const r = await exchange(`https://127.0.0.1:${port}/legacy/`);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('the server refused the request for the following reasons');
      expect(r.stderr).toContain(
        '`invalid-publisher`: valid token, but no corresponding publisher (no publisher matches repository "someone/else"',
      );
      expect(r.stderr).toContain('* `repository`: `someone/else`');
    } finally {
      issuer.idTokenClaims = original;
    }
  });

  it('fails the action with "no trusted publishing support" on a server without these routes', async () => {
    const bare = Fastify({ https: { key: tls.key, cert: tls.cert } });
    await bare.listen({ port: 0, host: '127.0.0.1' });
    try {
      const r = await exchange(`https://127.0.0.1:${(bare.server.address() as AddressInfo).port}/legacy/`);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('does not indicate trusted publishing support');
    } finally {
      await bare.close();
    }
  });
});
