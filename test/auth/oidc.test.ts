import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OidcVerifier, type OidcVerifierOptions, checkIssuerUrl } from '../../src/auth/oidc.js';
import { type TestIssuer, startOidcIssuer } from '../helpers/oidc-issuer.js';

const AUDIENCE = 'wheelhouse-test';

let issuer: TestIssuer;
let other: TestIssuer;

beforeAll(async () => {
  issuer = await startOidcIssuer();
  other = await startOidcIssuer();
});
afterAll(async () => {
  await issuer.close();
  await other.close();
});

function verifier(opts: Partial<OidcVerifierOptions> = {}): OidcVerifier {
  return new OidcVerifier({ audience: AUDIENCE, issuers: [issuer.url], ...opts });
}

describe('OidcVerifier', () => {
  it('accepts a GitHub-shaped RS256 token from a trusted issuer, found through its discovery document', async () => {
    const v = verifier();
    const claims = issuer.github({ repository: 'mycorp/lib' });
    const verdict = await v.verify(await issuer.sign(claims));
    expect(verdict).toEqual({ ok: true, claims });
    expect(v.stats).toMatchObject({ verified: 1, discoveryFetches: 1, keySetFetches: 1 });
  });

  it('accepts a GitLab-shaped ES256 token', async () => {
    const claims = issuer.gitlab();
    expect(await verifier().verify(await issuer.sign(claims, { alg: 'ES256' }))).toEqual({ ok: true, claims });
  });

  it('fetches the discovery document and the keys once for many tokens', async () => {
    const before = { ...issuer.requests };
    const v = verifier();
    for (let i = 0; i < 5; i++) expect((await v.verify(await issuer.sign(issuer.github()))).ok).toBe(true);
    expect(issuer.requests.discovery - before.discovery).toBe(1);
    expect(issuer.requests.jwks - before.jwks).toBe(1);
  });

  it('works with an issuer whose URL has a path (GitHub Enterprise Server, self-managed GitLab)', async () => {
    const sub = await startOidcIssuer({ path: '/_services/token' });
    try {
      const v = new OidcVerifier({ audience: AUDIENCE, issuers: [sub.url] });
      expect((await v.verify(await sub.sign(sub.github()))).ok).toBe(true);
    } finally {
      await sub.close();
    }
  });

  it('refuses alg none', async () => {
    expect(await verifier().verify(issuer.signNone(issuer.github()))).toMatchObject({ ok: false, reason: 'bad-algorithm' });
  });

  it("refuses an HS256 token signed with the issuer's public key, before fetching any key", async () => {
    const v = verifier();
    const verdict = await v.verify(await issuer.signHs256WithPublicKey(issuer.github()));
    expect(verdict).toMatchObject({ ok: false, reason: 'bad-algorithm' });
    expect(v.stats.keySetFetches).toBe(0);
  });

  it('refuses a token for another audience, or for several audiences', async () => {
    const v = verifier();
    const wrong = await issuer.sign(issuer.github({ audience: 'pypi' }));
    expect(await v.verify(wrong)).toMatchObject({ ok: false, reason: 'wrong-audience' });
    const several = await issuer.sign(issuer.github({}, { aud: [AUDIENCE, 'pypi'] }));
    expect(await v.verify(several)).toMatchObject({ ok: false, reason: 'wrong-audience' });
  });

  it('refuses a token from an issuer that is not trusted, without contacting it', async () => {
    const v = verifier();
    const verdict = await v.verify(await other.sign(other.github()));
    expect(verdict).toMatchObject({ ok: false, reason: 'unknown-issuer' });
    expect(v.stats.discoveryFetches).toBe(0);
  });

  it("refuses a token that names a trusted issuer but is signed with another issuer's key", async () => {
    const forged = await other.sign(issuer.github());
    expect(await verifier().verify(forged)).toMatchObject({ ok: false, reason: 'unknown-key' });
  });

  it("refuses a token signed with a key the issuer does not publish, even with a published key's id", async () => {
    const v = verifier();
    expect(await v.verify(await issuer.sign(issuer.github(), { unpublished: true }))).toMatchObject({ ok: false, reason: 'unknown-key' });
    const published = (await issuer.sign(issuer.github())).split('.')[0]!;
    const kid = JSON.parse(Buffer.from(published, 'base64url').toString()).kid as string;
    const impostor = await issuer.sign(issuer.github(), { unpublished: true, kid });
    expect(await v.verify(impostor)).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('refuses an expired token and one not yet valid, beyond the clock tolerance', async () => {
    const now = Math.floor(Date.now() / 1000);
    const v = verifier();
    const expired = await issuer.sign(issuer.github({}, { iat: now - 600, nbf: now - 600, exp: now - 60 }));
    expect(await v.verify(expired)).toMatchObject({ ok: false, reason: 'expired' });
    const early = await issuer.sign(issuer.github({}, { iat: now, nbf: now + 120, exp: now + 600 }));
    expect(await v.verify(early)).toMatchObject({ ok: false, reason: 'not-yet-valid' });
    const future = await issuer.sign(issuer.github({}, { iat: now + 120, nbf: now - 5, exp: now + 600 }));
    expect(await v.verify(future)).toMatchObject({ ok: false, reason: 'issued-in-future' });
  });

  it('accepts a token whose times are off by less than the clock tolerance', async () => {
    const now = Math.floor(Date.now() / 1000);
    const skewed = await issuer.sign(issuer.github({}, { iat: now + 10, nbf: now + 10, exp: now + 300 }));
    expect((await verifier().verify(skewed)).ok).toBe(true);
  });

  it('refuses a replayed token id, and accepts it again in another process (a new verifier)', async () => {
    const v = verifier();
    const token = await issuer.sign(issuer.github());
    expect((await v.verify(token)).ok).toBe(true);
    expect(await v.verify(token)).toMatchObject({ ok: false, reason: 'replayed', message: 'invalid token: already used' });
    const again = await issuer.sign({ ...issuer.github(), jti: JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti });
    expect(await v.verify(again)).toMatchObject({ ok: false, reason: 'replayed' });
    expect((await verifier().verify(token)).ok).toBe(true);
    expect(v.usedIds).toBe(1);
  });

  it('accepts one of two concurrent presentations of the same token', async () => {
    const v = verifier();
    const token = await issuer.sign(issuer.github());
    const verdicts = await Promise.all([v.verify(token), v.verify(token), v.verify(token)]);
    expect(verdicts.filter((x) => x.ok)).toHaveLength(1);
  });

  it('refuses a token without a token id, expiry or issue time', async () => {
    const v = verifier();
    for (const drop of ['jti', 'exp', 'iat']) {
      const claims = Object.fromEntries(Object.entries(issuer.github()).filter(([k]) => k !== drop));
      expect(await v.verify(await issuer.sign(claims)), drop).toMatchObject({ ok: false, reason: 'missing-claim' });
    }
  });

  it('refuses text that is not a JWT', async () => {
    for (const bad of ['', 'abc', 'a.b.c', 'eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.sig']) {
      expect(await verifier().verify(bad), bad).toMatchObject({ ok: false, reason: 'malformed' });
    }
  });

  it('fetches the keys again for an unknown key id after a rotation', async () => {
    const v = verifier({ refreshCooldown: 0 });
    expect((await v.verify(await issuer.sign(issuer.github()))).ok).toBe(true);
    await issuer.rotate('RS256');
    expect((await v.verify(await issuer.sign(issuer.github()))).ok).toBe(true);
    expect(v.stats.keySetFetches).toBe(2);
  });

  it('fetches the keys at most once per cooldown however many unknown key ids arrive', async () => {
    const v = verifier({ refreshCooldown: 3_600_000 });
    expect((await v.verify(await issuer.sign(issuer.github()))).ok).toBe(true);
    for (let i = 0; i < 10; i++) {
      const verdict = await v.verify(await issuer.sign(issuer.github(), { unpublished: true, kid: `made-up-${i}` }));
      expect(verdict).toMatchObject({ ok: false, reason: 'unknown-key' });
    }
    expect(v.stats.keySetFetches).toBe(1);
  });

  it('says the issuer is unavailable when its discovery fails, and does not ask again within the cooldown', async () => {
    const flaky = await startOidcIssuer();
    try {
      flaky.setDown(true);
      const v = new OidcVerifier({ audience: AUDIENCE, issuers: [flaky.url], refreshCooldown: 3_600_000 });
      for (let i = 0; i < 3; i++) {
        expect(await v.verify(await flaky.sign(flaky.github()))).toMatchObject({ ok: false, reason: 'issuer-unavailable' });
      }
      expect(flaky.requests.discovery).toBe(1);
      flaky.setDown(false);
      const eager = new OidcVerifier({ audience: AUDIENCE, issuers: [flaky.url], refreshCooldown: 0 });
      expect((await eager.verify(await flaky.sign(flaky.github()))).ok).toBe(true);
    } finally {
      await flaky.close();
    }
  });

  it('keeps verifying with the keys it has while the key set cannot be refreshed, asking once per cooldown', async () => {
    const flaky = await startOidcIssuer();
    try {
      // keysMaxAge 0: every verification wants a fresh key set.
      const v = new OidcVerifier({ audience: AUDIENCE, issuers: [flaky.url], refreshCooldown: 3_600_000, keysMaxAge: 0 });
      expect((await v.verify(await flaky.sign(flaky.github()))).ok).toBe(true);
      flaky.setDown(true);
      const before = flaky.requests.jwks;
      for (let i = 0; i < 3; i++) expect((await v.verify(await flaky.sign(flaky.github()))).ok).toBe(true);
      expect(flaky.requests.jwks - before).toBe(1);
    } finally {
      await flaky.close();
    }
  });
});

describe('checkIssuerUrl', () => {
  it('takes https anywhere and plain http on the loopback interface only', () => {
    expect(checkIssuerUrl('https://token.actions.githubusercontent.com')).toBeNull();
    expect(checkIssuerUrl('http://127.0.0.1:8080')).toBeNull();
    expect(checkIssuerUrl('http://localhost/x')).toBeNull();
    expect(checkIssuerUrl('http://gitlab.mycorp.example')).toMatch(/must be an https:\/\/ URL/);
    expect(checkIssuerUrl('gitlab')).toMatch(/is not a URL/);
  });

  it('is enforced when a verifier is made', () => {
    expect(() => new OidcVerifier({ audience: 'a', issuers: ['http://ci.example'] })).toThrow(/must be an https:\/\/ URL/);
    expect(() => new OidcVerifier({ audience: ' ', issuers: [] })).toThrow(/audience must not be empty/);
  });
});
