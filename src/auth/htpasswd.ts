import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { LineError } from './line-error.js';

// CommonJS modules without ESM-usable typings.
const require = createRequire(import.meta.url);
const apacheMd5 = require('apache-md5') as (password: string, salt: string) => string;
const apacheCrypt = require('apache-crypt') as (password: string, salt: string) => string;

export type Scheme = 'bcrypt' | 'apr1' | 'md5-crypt' | 'sha1' | 'des-crypt' | 'plain';

/** A line of an htpasswd file (or body) that cannot be used, with where it is. */
export class HtpasswdError extends LineError {
  override name = 'HtpasswdError';
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

export interface ParsedHtpasswd {
  users: Map<string, string>;
  /** Lines that cannot be used, each naming its line; the rest of the file still counts. */
  problems: HtpasswdError[];
}

/**
 * Users and password hashes from htpasswd text. Pure: `source` only names the text in errors.
 * Like pypiserver (passlib): `#` comments and blank lines are skipped and a line is exactly
 * `user:hash`. A line that cannot be verified is reported with its line number and left out, and
 * every other line still applies: refusing the whole file would keep a removed user logged in
 * (on a reload) or keep a task from starting, because of one entry in another scheme. If a user
 * appears twice the first line wins, as in Apache.
 */
export function parseHtpasswd(text: string, source: string): ParsedHtpasswd {
  const users = new Map<string, string>();
  const problems: HtpasswdError[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] ?? '').trimEnd();
    const lineNo = i + 1;
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) continue;
    const problem = (message: string) => problems.push(new HtpasswdError(message, source, lineNo));
    const parts = raw.split(':');
    if (parts.length !== 2) {
      problem(`expected "user:hash" (found ${parts.length - 1} colons); ${FIX}`);
      continue;
    }
    const [user, hash] = parts as [string, string];
    if (user === '') {
      problem('empty user name');
      continue;
    }
    if (hash === '') {
      problem(`user "${user}" has an empty password hash; ${FIX}`);
      continue;
    }
    if (schemeOf(hash) === null) {
      const known = UNSUPPORTED.find(([re]) => re.test(hash));
      const what = known ? `unsupported password scheme ${known[1]}` : `unrecognised password hash "${hash.slice(0, 6)}..."`;
      problem(`${what} for user "${user}"; supported: bcrypt ($2y$/$2b$/$2a$), $apr1$, $1$, {SHA}, crypt, plaintext; ${FIX}`);
      continue;
    }
    if (!users.has(user)) users.set(user, hash);
  }
  return { users, problems };
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

/**
 * Whether `password` matches an htpasswd `hash` of a cheap scheme (apr1, MD5-crypt, SHA, DES
 * crypt, plaintext: microseconds to a couple of milliseconds). bcrypt is not checked here: it
 * costs tens of milliseconds of CPU and runs off the event loop (see password-checker.ts).
 */
export function verifyCheapHash(password: string, hash: string): boolean {
  switch (schemeOf(hash)) {
    case 'apr1':
    case 'md5-crypt':
      return constantTimeEqual(apacheMd5(asBytes(password), hash), hash);
    case 'sha1':
      return constantTimeEqual(`{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`, hash);
    case 'des-crypt':
      return constantTimeEqual(apacheCrypt(asBytes(password), hash), hash);
    case 'plain':
      return constantTimeEqual(password, hash);
    case 'bcrypt':
    case null:
      return false;
  }
}

/** The cost of a bcrypt hash (`$2y$10$...` -> 10), or null for other schemes. */
export function bcryptCost(hash: string): number | null {
  return schemeOf(hash) === 'bcrypt' ? Number(hash.slice(4, 6)) : null;
}
