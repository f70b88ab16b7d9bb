import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHtpasswd, schemeOf } from '../../src/auth/htpasswd.js';
import { PasswordChecker } from '../../src/auth/password-checker.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/htpasswd/${name}`, import.meta.url));
const read = (name: string) => readFileSync(fixture(name), 'utf8');

/** Users and passwords of schemes.htpasswd (see its README). */
const PASSWORDS: Record<string, string> = {
  bcrypt: 'correct:horse',
  apr1: 'apr1 secret',
  sha: 'sha secret',
  crypt: 'crypt8ch',
  plain: 'plain secret',
  unicode: 'pässwörd',
  bcrypt2b: 'two b',
  bcrypt2a: 'two a',
  md5crypt: 'md5 crypt',
};

describe('PasswordChecker.verify', () => {
  const { users } = parseHtpasswd(read('schemes.htpasswd'), 'schemes.htpasswd');
  const checker = new PasswordChecker({ threads: 1, maxQueued: 64 });
  afterAll(() => checker.close());
  const verifyPassword = (password: string, hash: string) => checker.verify(password, hash);

  it.each(Object.entries(PASSWORDS))('accepts the right password and refuses wrong ones for %s', async (user, password) => {
    const hash = users.get(user)!;
    expect(await verifyPassword(password, hash)).toBe(true);
    expect(await verifyPassword(`x${password.slice(1)}`, hash)).toBe(false);
    expect(await verifyPassword(`${password} `, hash)).toBe(user === 'crypt');
    expect(await verifyPassword('', hash)).toBe(false);
    expect(await verifyPassword(password.toUpperCase(), hash)).toBe(false);
  });

  it('hashes non-ASCII passwords as UTF-8 bytes, like htpasswd', async () => {
    const hash = users.get('unicode')!;
    expect(await verifyPassword('pässwörd', hash)).toBe(true);
    expect(await verifyPassword('passwort', hash)).toBe(false);
  });

  it('compares DES crypt on the first 8 characters only, as crypt(3) does', async () => {
    expect(await verifyPassword('crypt8ch and more', users.get('crypt')!)).toBe(true);
  });

  it('verifies bcrypt hashes made by bcryptjs with each minor version', async () => {
    const hash = bcrypt.hashSync('fresh', 4);
    for (const minor of ['2a', '2b', '2y']) {
      const variant = hash.replace(/^\$2[aby]\$/, `$${minor}$`);
      expect(await verifyPassword('fresh', variant), minor).toBe(true);
      expect(await verifyPassword('stale', variant), minor).toBe(false);
    }
  });

  it('never takes an unsupported hash for a plaintext password', async () => {
    const hash = read('sha512.htpasswd').split('\n')[3]!.split(':')[1]!;
    expect(schemeOf(hash)).toBeNull();
    expect(await verifyPassword(hash, hash)).toBe(false);
    expect(await verifyPassword('sha512 secret', hash)).toBe(false);
  });
});

describe('PasswordChecker under load', () => {
  it('refuses checks past its queue with 503 instead of queueing without bound', async () => {
    const checker = new PasswordChecker({ threads: 1, maxQueued: 2 });
    try {
      const hash = bcrypt.hashSync('pw', 8);
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => checker.verify('guess', hash)));
      const refused = results.filter((r) => r.status === 'rejected');
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
      expect(refused.map((r) => r.reason)).toEqual(
        Array.from({ length: 5 }, () => expect.objectContaining({ code: 'WH_ERR_LOGINS_BUSY', statusCode: 503 })),
      );
    } finally {
      await checker.close();
    }
  });

  it('keeps the event loop free while bcrypt runs', async () => {
    const checker = new PasswordChecker({ threads: 1, maxQueued: 64 });
    try {
      const hash = bcrypt.hashSync('pw', 10);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      await Promise.all(Array.from({ length: 4 }, () => checker.verify('guess', hash)));
      clearInterval(timer);
      // Four cost-10 checks take hundreds of milliseconds of CPU; on the event loop no tick would run.
      expect(ticks).toBeGreaterThan(20);
    } finally {
      await checker.close();
    }
  });

  it('makes a decoy hash as costly as the costliest bcrypt entry, matched by no password', async () => {
    const checker = new PasswordChecker({ threads: 1, maxQueued: 4 });
    try {
      const decoy = PasswordChecker.decoyFor([bcrypt.hashSync('a', 4), bcrypt.hashSync('b', 6), '{SHA}x']);
      expect(decoy).toMatch(/^\$2b\$06\$[./A-Za-z0-9]{53}$/);
      expect(schemeOf(decoy)).toBe('bcrypt');
      expect(await checker.verify('a', decoy)).toBe(false);
      expect(PasswordChecker.decoyFor(['{SHA}lS0vrzehCXIgQ2tOXSb4AWtTIEY='])).toMatch(/^\{SHA\}/);
    } finally {
      await checker.close();
    }
  });
});
