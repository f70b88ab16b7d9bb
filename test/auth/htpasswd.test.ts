import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { HtpasswdError, parseHtpasswd, schemeOf, verifyPassword } from '../../src/auth/htpasswd.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/htpasswd/${name}`, import.meta.url));
const read = (name: string) => readFileSync(fixture(name), 'utf8');

/** Users and passwords of schemes.htpasswd (see its README). */
const PASSWORDS: Record<string, [scheme: string, password: string]> = {
  bcrypt: ['bcrypt', 'correct:horse'],
  apr1: ['apr1', 'apr1 secret'],
  sha: ['sha1', 'sha secret'],
  crypt: ['des-crypt', 'crypt8ch'],
  plain: ['plain', 'plain secret'],
  unicode: ['apr1', 'pässwörd'],
  bcrypt2b: ['bcrypt', 'two b'],
  bcrypt2a: ['bcrypt', 'two a'],
  md5crypt: ['md5-crypt', 'md5 crypt'],
};

describe('parseHtpasswd', () => {
  const users = parseHtpasswd(read('schemes.htpasswd'), 'schemes.htpasswd');

  it('reads every user of a file written by Apache htpasswd, openssl and python bcrypt', () => {
    expect([...users.keys()].sort()).toEqual(Object.keys(PASSWORDS).sort());
    expect(users.get('bcrypt')).toMatch(/^\$2y\$05\$/);
    expect(users.get('bcrypt2b')).toMatch(/^\$2b\$/);
    expect(users.get('bcrypt2a')).toMatch(/^\$2a\$/);
  });

  it('recognises the scheme of each entry', () => {
    for (const [user, [scheme]] of Object.entries(PASSWORDS)) expect(schemeOf(users.get(user)!), user).toBe(scheme);
  });

  it('skips comments and blank lines and tolerates CRLF line ends', () => {
    const text = '# team logins\r\n\r\n   \r\nann:{SHA}lS0vrzehCXIgQ2tOXSb4AWtTIEY=\r\n  # indented comment\nbob:plain\n';
    expect(parseHtpasswd(text, 'x')).toEqual(
      new Map([
        ['ann', '{SHA}lS0vrzehCXIgQ2tOXSb4AWtTIEY='],
        ['bob', 'plain'],
      ]),
    );
  });

  it.each([
    ['sha256.htpasswd', /sha256\.htpasswd line 4: unsupported password scheme SHA-256 crypt \(\$5\$, htpasswd -2\) for user "sha256"/],
    ['sha512.htpasswd', /sha512\.htpasswd line 4: unsupported password scheme SHA-512 crypt \(\$6\$, htpasswd -5\) for user "sha512"/],
  ])('refuses the SHA-crypt entries htpasswd writes in %s, naming the file and line', (name, message) => {
    let error: unknown;
    try {
      parseHtpasswd(read(name), name);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(HtpasswdError);
    expect((error as HtpasswdError).line).toBe(4);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain('htpasswd -B');
  });

  it.each([
    ['a line without a colon', 'ann:plain\njust-a-name\n', 2, /expected "user:hash"/],
    ['a line with two colons', '# c\nann:pa:ss\n', 2, /expected "user:hash"/],
    ['an empty user name', ':secret', 1, /empty user name/],
    ['an empty hash', 'ann:', 1, /empty password hash/],
    ['a damaged bcrypt hash', 'ann:$2y$05$tooShort', 1, /unrecognised password hash "\$2y\$05/],
    ['an unknown {scheme}', 'ann:{SSHA}abcdef', 1, /salted SHA/],
    ['a yescrypt hash', 'x:y\nann:$y$j9T$abc$def', 2, /yescrypt/],
  ])('refuses %s with its line number', (_what, text, line, message) => {
    expect(() => parseHtpasswd(text, 'inline')).toThrow(message);
    expect(() => parseHtpasswd(text, 'inline')).toThrow(`inline line ${line}:`);
  });

  it('keeps the first entry of a user named twice, as Apache does', () => {
    expect(parseHtpasswd('ann:first\nann:second\n', 'x').get('ann')).toBe('first');
  });
});

describe('verifyPassword', () => {
  const users = parseHtpasswd(read('schemes.htpasswd'), 'schemes.htpasswd');

  it.each(Object.entries(PASSWORDS))('accepts the right password and refuses wrong ones for %s', async (user, [, password]) => {
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
