import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import bcrypt from 'bcryptjs';

// CommonJS modules without ESM-usable typings.
const require = createRequire(import.meta.url);
const apacheMd5 = require('apache-md5') as (password: string, salt: string) => string;
const apacheCrypt = require('apache-crypt') as (password: string, salt: string) => string;

export type Scheme = 'bcrypt' | 'apr1' | 'md5-crypt' | 'sha1' | 'des-crypt' | 'plain';

/** A line of an htpasswd file (or body) that cannot be used, with where it is. */
export class HtpasswdError extends Error {
  override name = 'HtpasswdError';
  readonly source: string;
  readonly line: number;
  constructor(message: string, source: string, line: number) {
    super(`${source} line ${line}: ${message}`);
    this.source = source;
    this.line = line;
  }
}

const B64 = '[./0-9A-Za-z]';
const SCHEMES: [Scheme, RegExp][] = [
  ['bcrypt', new RegExp(`^\\$2[aby]\\$\\d\\d\\$${B64}{53}$`)],
  ['apr1', new RegExp(`^\\$apr1\\$${B64}{1,8}\\$${B64}{22}$`)],
  ['md5-crypt', new RegExp(`^\\$1\\$${B64}{1,8}\\$${B64}{22}$`)],
  ['sha1', /^\{SHA\}[A-Za-z0-9+/]{27}=$/],
  // passlib (pypiserver) reads any 13-character string of this alphabet as DES, never as plaintext.
  ['des-crypt', new RegExp(`^${B64}{13}$`)],
];

/** Names of prefixes htpasswd and other tools write that cannot be verified here. */
const UNSUPPORTED: [RegExp, string][] = [
  [/^\$5\$/, 'SHA-256 crypt ($5$, htpasswd -2)'],
  [/^\$6\$/, 'SHA-512 crypt ($6$, htpasswd -5)'],
  [/^\$y\$/, 'yescrypt ($y$)'],
  [/^\$argon2/, 'Argon2'],
  [/^\{SSHA\}/i, 'salted SHA ({SSHA})'],
];

export function schemeOf(hash: string): Scheme | null {
  for (const [scheme, re] of SCHEMES) if (re.test(hash)) return scheme;
  // A '$' or '{' prefix is some scheme, maybe a damaged one: never take it for a plaintext password.
  if (hash.startsWith('$') || hash.startsWith('{')) return null;
  return 'plain';
}

const FIX = 'create the entry again with htpasswd -B (bcrypt)';

/**
 * Users and password hashes from htpasswd text. Pure: `source` only names the text in errors.
 * Like pypiserver (passlib): `#` comments and blank lines are skipped, a line is exactly
 * `user:hash`, and a line that cannot be verified is an error with its line number rather than
 * a user who silently can never log in. If a user appears twice the first line wins, as in Apache.
 */
export function parseHtpasswd(text: string, source: string): Map<string, string> {
  const users = new Map<string, string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] ?? '').trimEnd();
    const lineNo = i + 1;
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) continue;
    const parts = raw.split(':');
    if (parts.length !== 2) {
      throw new HtpasswdError(`expected "user:hash" (found ${parts.length - 1} colons); ${FIX}`, source, lineNo);
    }
    const [user, hash] = parts as [string, string];
    if (user === '') throw new HtpasswdError('empty user name', source, lineNo);
    if (hash === '') throw new HtpasswdError(`user "${user}" has an empty password hash; ${FIX}`, source, lineNo);
    if (schemeOf(hash) === null) {
      const known = UNSUPPORTED.find(([re]) => re.test(hash));
      const what = known ? `unsupported password scheme ${known[1]}` : `unrecognised password hash "${hash.slice(0, 6)}..."`;
      throw new HtpasswdError(
        `${what} for user "${user}"; supported: bcrypt ($2y$/$2b$/$2a$), $apr1$, $1$, {SHA}, crypt, plaintext; ${FIX}`,
        source,
        lineNo,
      );
    }
    if (!users.has(user)) users.set(user, hash);
  }
  return users;
}

/** Equal-length digests first, so neither the content nor the length of the secret leaks through timing. */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/** apache-md5 and the DES code hash the low byte of each character: hand them UTF-8 bytes, as htpasswd hashes. */
function asBytes(password: string): string {
  return Buffer.from(password, 'utf8').toString('latin1');
}

/** Whether `password` matches an htpasswd `hash` (any scheme `parseHtpasswd` accepts). */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  switch (schemeOf(hash)) {
    case 'bcrypt':
      // bcryptjs compares in constant time and reads $2y$ like $2b$ (native bcrypt does not).
      return bcrypt.compare(password, hash);
    case 'apr1':
    case 'md5-crypt':
      return constantTimeEqual(apacheMd5(asBytes(password), hash), hash);
    case 'sha1':
      return constantTimeEqual(`{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`, hash);
    case 'des-crypt':
      return constantTimeEqual(apacheCrypt(asBytes(password), hash), hash);
    case 'plain':
      return constantTimeEqual(password, hash);
    case null:
      return false;
  }
}
