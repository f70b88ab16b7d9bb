import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HtpasswdError, parseHtpasswd, schemeOf } from '../../src/auth/htpasswd.js';

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
  const { users, problems } = parseHtpasswd(read('schemes.htpasswd'), 'schemes.htpasswd');

  it('reads every user of a file written by Apache htpasswd, openssl and python bcrypt', () => {
    expect([...users.keys()].sort()).toEqual(Object.keys(PASSWORDS).sort());
    expect(problems).toEqual([]);
    expect(users.get('bcrypt')).toMatch(/^\$2y\$05\$/);
    expect(users.get('bcrypt2b')).toMatch(/^\$2b\$/);
    expect(users.get('bcrypt2a')).toMatch(/^\$2a\$/);
  });

  it('recognises the scheme of each entry', () => {
    for (const [user, [scheme]] of Object.entries(PASSWORDS)) expect(schemeOf(users.get(user)!), user).toBe(scheme);
  });

  it('skips comments and blank lines and tolerates CRLF line ends', () => {
    const text = '# team logins\r\n\r\n   \r\nann:{SHA}lS0vrzehCXIgQ2tOXSb4AWtTIEY=\r\n  # indented comment\nbob:plain\n';
    expect(parseHtpasswd(text, 'x').users).toEqual(
      new Map([
        ['ann', '{SHA}lS0vrzehCXIgQ2tOXSb4AWtTIEY='],
        ['bob', 'plain'],
      ]),
    );
  });

  it.each([
    ['sha256.htpasswd', /sha256\.htpasswd line 4: unsupported password scheme SHA-256 crypt \(\$5\$, htpasswd -2\) for user "sha256"/],
    ['sha512.htpasswd', /sha512\.htpasswd line 4: unsupported password scheme SHA-512 crypt \(\$6\$, htpasswd -5\) for user "sha512"/],
  ])('reports the SHA-crypt entry htpasswd writes in %s, naming the file and line, and keeps the other users', (name, message) => {
    const { users, problems } = parseHtpasswd(read(name), name);
    expect(problems).toHaveLength(1);
    const [error] = problems;
    expect(error).toBeInstanceOf(HtpasswdError);
    expect(error!.line).toBe(4);
    expect(error!.message).toMatch(message);
    expect(error!.message).toContain('htpasswd -B');
    expect(users.size).toBeGreaterThan(0);
    expect([...users.keys()]).not.toContain(name.replace('.htpasswd', ''));
  });

  it.each([
    ['a line without a colon', 'ann:plain\njust-a-name\n', 2, /expected "user:hash"/, ['ann']],
    ['a line with two colons', '# c\nann:pa:ss\n', 2, /expected "user:hash"/, []],
    ['an empty user name', ':secret', 1, /empty user name/, []],
    ['an empty hash', 'ann:', 1, /empty password hash/, []],
    ['a damaged bcrypt hash', 'ann:$2y$05$tooShort', 1, /unrecognised password hash "\$2y\$05/, []],
    ['an unknown {scheme}', 'ann:{SSHA}abcdef', 1, /salted SHA/, []],
    ['a yescrypt hash', 'x:y\nann:$y$j9T$abc$def', 2, /yescrypt/, ['x']],
  ])('leaves out %s, reporting its line number, and keeps the other lines', (_what, text, line, message, kept) => {
    const { users, problems } = parseHtpasswd(text, 'inline');
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toMatch(message);
    expect(problems[0]!.message).toContain(`inline line ${line}:`);
    expect([...users.keys()]).toEqual(kept);
  });

  it('keeps the first entry of a user named twice, as Apache does', () => {
    expect(parseHtpasswd('ann:first\nann:second\n', 'x').users.get('ann')).toBe('first');
  });
});
