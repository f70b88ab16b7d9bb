import { createHmac } from 'node:crypto';
import { SignJWT, base64url } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  TOKEN_PREFIX,
  TokenKeyring,
  createToken,
  decodeToken,
  recheckToken,
  tokenAllows,
  tokenAllowsAction,
  verifyToken,
} from '../../src/auth/api-tokens.js';

const KEY_A = 'a'.repeat(8) + 'first-key-for-tests-0123456789';
const KEY_B = 'b'.repeat(8) + 'second-key-for-tests-0123456789';
const keyring = TokenKeyring.parse(KEY_A, 'test');
const none = new Set<string>();

async function make(extra: Partial<Parameters<typeof createToken>[1]> = {}) {
  return createToken(keyring, { projects: ['mycorp-*'], actions: ['upload'], lifetime: 3600, description: 'ci', ...extra });
}

/** The JWT inside a token, split into its three parts. */
function parts(token: string): [string, string, string] {
  return token.slice(TOKEN_PREFIX.length).split('.') as [string, string, string];
}

describe('TokenKeyring.parse', () => {
  it('takes comma-separated keys, the first one signing', () => {
    const ring = TokenKeyring.parse(` ${KEY_B} , ${KEY_A} `, 'test');
    expect(ring.keys).toHaveLength(2);
    expect(ring.signing.id).toBe(TokenKeyring.parse(KEY_B, 'x').signing.id);
  });

  it('refuses a short key, naming the option and how to make a good one', () => {
    expect(() => TokenKeyring.parse(`${KEY_A},short`, '--token-key / WHEELHOUSE_TOKEN_KEY')).toThrow(
      /--token-key \/ WHEELHOUSE_TOKEN_KEY: key 2 is 5 characters long; use at least 32 .*openssl rand/,
    );
  });

  it('refuses an empty value and a key given twice', () => {
    expect(() => TokenKeyring.parse(' , ', 'opt')).toThrow(/opt: no key given/);
    expect(() => TokenKeyring.parse(`${KEY_A},${KEY_A}`, 'opt')).toThrow(/key 2 is given twice/);
  });
});

describe('createToken and verifyToken', () => {
  it('makes a prefixed token that verifies and carries its restrictions', async () => {
    const now = Date.UTC(2030, 0, 1);
    const { token, claims } = await make({ projects: ['MyCorp_*', 'Tools.Lib'], actions: ['yank', 'upload'], now });
    expect(token.startsWith('wheelhouse_eyJ')).toBe(true);
    expect(claims.id).toMatch(/^[0-9a-f]{24}$/);
    const verdict = await verifyToken(keyring, token, { revoked: none, now: now + 1000 });
    expect(verdict).toEqual({
      ok: true,
      token: {
        id: claims.id,
        keyId: keyring.signing.id,
        projects: ['mycorp-*', 'tools-lib'],
        actions: ['upload', 'yank'],
        description: 'ci',
        issuedAt: now / 1000,
        notBefore: null,
        expiresAt: now / 1000 + 3600,
        oidc: null,
      },
    });
  });

  it('makes tokens that never expire when asked to', async () => {
    const { token } = await make({ lifetime: null, now: Date.UTC(2020, 0, 1) });
    const verdict = await verifyToken(keyring, token, { revoked: none, now: Date.UTC(2099, 0, 1) });
    expect(verdict.ok && verdict.token.expiresAt).toBeNull();
  });

  it('carries the identity of a trusted publisher', async () => {
    const oidc = { publisher: 'lib', issuer: 'https://token.actions.githubusercontent.com', subject: 'repo:o/r', claims: { sha: 'abc' } };
    const { token } = await make({ oidc, notBeforeNow: true });
    const verdict = await verifyToken(keyring, token, { revoked: none });
    expect(verdict.ok && verdict.token.oidc).toEqual(oidc);
    expect(verdict.ok && verdict.token.notBefore).toBe(verdict.ok && verdict.token.issuedAt);
  });

  it('refuses specs that make no sense, saying why', async () => {
    await expect(make({ projects: [] })).rejects.toThrow(/at least one project/);
    await expect(make({ projects: ['bad/name'] })).rejects.toThrow(/"bad\/name" is not a project name or pattern/);
    await expect(make({ actions: [] })).rejects.toThrow(/at least one action/);
    await expect(make({ actions: ['delete' as 'upload'] })).rejects.toThrow(/unknown action "delete"/);
    await expect(make({ lifetime: 0 })).rejects.toThrow(/positive number of seconds/);
    await expect(make({ description: 'x'.repeat(201) })).rejects.toThrow(/limited to 200/);
  });

  it('verifies a token signed with an older key still in the keyring after a rotation', async () => {
    const { token } = await make();
    const rotated = TokenKeyring.parse(`${KEY_B},${KEY_A}`, 'test');
    expect((await verifyToken(rotated, token, { revoked: none })).ok).toBe(true);
    const fresh = await createToken(rotated, { projects: ['x'], actions: ['download'], lifetime: 60 });
    expect(decodeToken(fresh.token)?.keyId).toBe(rotated.signing.id);
  });

  it('refuses a token whose key was rotated out (unknown key id)', async () => {
    const { token } = await make();
    const verdict = await verifyToken(TokenKeyring.parse(KEY_B, 'test'), token, { revoked: none });
    expect(verdict).toMatchObject({ ok: false, reason: 'unknown-key' });
  });

  it('refuses a token whose key id names a key of ours but whose signature was made with another', async () => {
    const [header, payload] = parts((await make()).token);
    const forged = createHmac('sha256', KEY_B).update(`${header}.${payload}`).digest('base64url');
    const verdict = await verifyToken(keyring, `${TOKEN_PREFIX}${header}.${payload}.${forged}`, { revoked: none });
    expect(verdict).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a tampered token: a project added to its claims', async () => {
    const [header, payload, signature] = parts((await make()).token);
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload)));
    claims.projects = ['*'];
    const tampered = base64url.encode(JSON.stringify(claims));
    const verdict = await verifyToken(keyring, `${TOKEN_PREFIX}${header}.${tampered}.${signature}`, { revoked: none });
    expect(verdict).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a token with alg none, even with our key id and claims', async () => {
    const [, payload] = parts((await make()).token);
    const header = base64url.encode(JSON.stringify({ alg: 'none', kid: keyring.signing.id, typ: 'wheelhouse+jwt' }));
    const verdict = await verifyToken(keyring, `${TOKEN_PREFIX}${header}.${payload}.`, { revoked: none });
    expect(verdict).toMatchObject({ ok: false, reason: 'bad-algorithm' });
  });

  it('refuses a token signed with another HMAC algorithm', async () => {
    const jwt = await new SignJWT({ projects: ['*'], actions: ['upload'] })
      .setProtectedHeader({ alg: 'HS512', kid: keyring.signing.id, typ: 'wheelhouse+jwt' })
      .setIssuer('wheelhouse')
      .setJti('0123456789abcdef')
      .setIssuedAt()
      .sign(new TextEncoder().encode(KEY_A + KEY_A));
    expect(await verifyToken(keyring, TOKEN_PREFIX + jwt, { revoked: none })).toMatchObject({ ok: false, reason: 'bad-algorithm' });
  });

  it('refuses a JWT of another kind signed with the same key (wrong issuer or type)', async () => {
    const secret = new TextEncoder().encode(KEY_A);
    const base = () => new SignJWT({ projects: ['*'], actions: ['upload'] }).setJti('0123456789abcdef').setIssuedAt();
    const kid = keyring.signing.id;
    const otherIssuer = await base().setProtectedHeader({ alg: 'HS256', kid, typ: 'wheelhouse+jwt' }).setIssuer('x').sign(secret);
    const otherType = await base().setProtectedHeader({ alg: 'HS256', kid }).setIssuer('wheelhouse').sign(secret);
    for (const jwt of [otherIssuer, otherType]) {
      expect(await verifyToken(keyring, TOKEN_PREFIX + jwt, { revoked: none })).toMatchObject({ ok: false, reason: 'malformed' });
    }
  });

  it('refuses an expired token, and accepts it within the clock tolerance', async () => {
    const now = Date.UTC(2030, 0, 1);
    const { token } = await make({ lifetime: 60, now });
    expect(await verifyToken(keyring, token, { revoked: none, now: now + 61_000 })).toMatchObject({ ok: true });
    expect(await verifyToken(keyring, token, { revoked: none, now: now + 91_000 })).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('refuses a minted token before its not-before time (beyond the clock tolerance)', async () => {
    const now = Date.UTC(2030, 0, 1);
    const { token } = await make({ notBeforeNow: true, now });
    expect(await verifyToken(keyring, token, { revoked: none, now: now - 120_000 })).toMatchObject({ ok: false, reason: 'not-yet-valid' });
    expect(await verifyToken(keyring, token, { revoked: none, now: now - 10_000 })).toMatchObject({ ok: true });
  });

  it('refuses a revoked token', async () => {
    const { token, claims } = await make();
    expect(await verifyToken(keyring, token, { revoked: new Set([claims.id]) })).toMatchObject({ ok: false, reason: 'revoked' });
  });

  it('refuses text that is not a token, or a damaged one', async () => {
    const { token } = await make();
    for (const bad of ['hunter2', 'wheelhouse_', `${TOKEN_PREFIX}abc`, token.slice(0, -10), token.replace('wheelhouse_', 'pypi-')]) {
      const verdict = await verifyToken(keyring, bad, { revoked: none });
      expect(verdict.ok, bad).toBe(false);
    }
  });
});

describe('recheckToken', () => {
  it('refuses a remembered token once it expires or is revoked', async () => {
    const now = Date.UTC(2030, 0, 1);
    const { claims } = await make({ lifetime: 60, now });
    expect(recheckToken(claims, { revoked: none, now: now + 10_000 }).ok).toBe(true);
    expect(recheckToken(claims, { revoked: none, now: now + 100_000 })).toMatchObject({ ok: false, reason: 'expired' });
    expect(recheckToken(claims, { revoked: new Set([claims.id]), now })).toMatchObject({ ok: false, reason: 'revoked' });
  });
});

describe('tokenAllows', () => {
  it('allows its actions on the projects its patterns match, under any spelling', async () => {
    const { claims } = await make({ projects: ['mycorp-*', 'Tools'], actions: ['upload', 'download'] });
    expect(tokenAllows(claims, 'upload', 'MyCorp_Lib')).toBe(true);
    expect(tokenAllows(claims, 'download', 'tools')).toBe(true);
    expect(tokenAllowsAction(claims, 'upload')).toBe(true);
  });

  it('refuses another project and another action', async () => {
    const { claims } = await make({ projects: ['mycorp-*'], actions: ['upload'] });
    expect(tokenAllows(claims, 'upload', 'othercorp-lib')).toBe(false);
    expect(tokenAllows(claims, 'upload', 'mycorp')).toBe(false);
    expect(tokenAllows(claims, 'remove', 'mycorp-lib')).toBe(false);
    expect(tokenAllows(claims, 'yank', 'mycorp-lib')).toBe(false);
    expect(tokenAllowsAction(claims, 'download')).toBe(false);
  });
});

describe('decodeToken', () => {
  it('reads the claims of a token without any key, and nothing from other text', async () => {
    const { token, claims } = await make();
    expect(decodeToken(token)).toEqual(claims);
    expect(decodeToken('pypi-AgEIcHlwaS5vcmc')).toBeNull();
    expect(decodeToken(`${TOKEN_PREFIX}x.y.z`)).toBeNull();
  });
});
