import { describe, expect, it } from 'vitest';
import { TokenKeyring, createToken } from '../../src/auth/api-tokens.js';
import { TokenLogins } from '../../src/auth/token-logins.js';

const keyring = TokenKeyring.parse('token-logins-test-key-0123456789abcdefgh', 'test');
const header = (token: string) => `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}`;

function logins(opts: { ttl?: number; revoked?: () => Promise<ReadonlySet<string>> } = {}) {
  const errors: string[] = [];
  const log = { info() {}, warn() {}, error: (_o: object, msg: string) => errors.push(msg) };
  const t = new TokenLogins({
    keyring,
    credentialTtl: opts.ttl ?? 60_000,
    readRevoked: opts.revoked ?? (() => Promise.resolve(new Set<string>())),
    log,
  });
  return { t, errors };
}

async function make(lifetime = 3600, now?: number) {
  return createToken(keyring, { projects: ['demo'], actions: ['download'], lifetime, ...(now ? { now } : {}) });
}

describe('TokenLogins', () => {
  it('verifies a token once per header and answers again from memory, without a promise', async () => {
    const { t } = logins();
    const { token } = await make();
    expect(t.remembered(header(token))).toBeUndefined();
    const verdicts = await Promise.all(Array.from({ length: 20 }, () => t.check(token, header(token))));
    expect(verdicts.every((v) => v.ok)).toBe(true);
    expect(t.remembered(header(token))).toMatchObject({ ok: true, token: { projects: ['demo'] } });
    expect(t.stats.verifications).toBe(1);
    expect(t.stats.results.ok).toBe(21);
  });

  it('remembers nothing with a zero TTL', async () => {
    const { t } = logins({ ttl: 0 });
    const { token } = await make();
    await t.check(token, header(token));
    await t.check(token, header(token));
    expect(t.remembered(header(token))).toBeUndefined();
    expect(t.stats.verifications).toBe(2);
  });

  it('refuses a remembered token once the revocation list read names it', async () => {
    let revoked = new Set<string>();
    const { t } = logins({ revoked: () => Promise.resolve(revoked) });
    const { token, claims } = await make();
    expect((await t.check(token, header(token))).ok).toBe(true);
    revoked = new Set([claims.id]);
    expect(t.remembered(header(token))?.ok).toBe(true);
    await t.refreshRevocations();
    expect(t.remembered(header(token))).toMatchObject({ ok: false, reason: 'revoked' });
    expect(t.revokedCount).toBe(1);
    expect(t.stats.results.revoked).toBe(1);
  });

  it('refuses a remembered token once it expires', async () => {
    const { t } = logins();
    // Expired 29 s ago: still inside the 30 s clock tolerance, for about one more second.
    const { token } = await make(71, Date.now() - 100_000);
    expect((await t.check(token, header(token))).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect(t.remembered(header(token))).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('keeps the last revocation list while the volume cannot be read, and says so once', async () => {
    let fail = false;
    const { t, errors } = logins({ revoked: () => (fail ? Promise.reject(new Error('EIO')) : Promise.resolve(new Set(['a1b2c3d4']))) });
    await t.refreshRevocations();
    fail = true;
    await t.refreshRevocations();
    await t.refreshRevocations();
    expect(t.revokedCount).toBe(1);
    expect(errors).toEqual(['cannot read the token revocation list: EIO; keeping the last one read']);
  });

  it('folds reads asked for while one runs into one more read', async () => {
    let reads = 0;
    const { t } = logins({
      revoked: async () => {
        reads++;
        await new Promise((r) => setTimeout(r, 20));
        return new Set<string>();
      },
    });
    await Promise.all([t.refreshRevocations(), t.refreshRevocations(), t.refreshRevocations(), t.refreshRevocations()]);
    await new Promise((r) => setTimeout(r, 60));
    expect(reads).toBe(2);
  });
});
