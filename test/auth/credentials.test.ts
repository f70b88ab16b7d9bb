import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AuthLogger, Credentials } from '../../src/auth/credentials.js';
import { PasswordChecker } from '../../src/auth/password-checker.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createServer, credentialOptions } from '../../src/server.js';
import { readFresh } from '../../src/store/fs-util.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/htpasswd/${name}`, import.meta.url));
const config = (argv: string[], env: NodeJS.ProcessEnv = {}) => loadConfig(argv, env);
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

/** Keeps what was logged so tests can read it. */
function recordingLogger() {
  const lines: { level: string; obj: object; msg: string }[] = [];
  const logger: AuthLogger = {
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
  return { logger, lines };
}

let dir: string;
const open: Credentials[] = [];
const checker = new PasswordChecker({ threads: 1, maxQueued: 1000 });
afterAll(() => checker.close());
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'wh-auth-'));
});
afterEach(() => {
  for (const c of open.splice(0)) c.close();
  rmSync(dir, { recursive: true, force: true });
});

async function load(argv: string[], env: NodeJS.ProcessEnv = {}, logger: AuthLogger = recordingLogger().logger) {
  const credentials = await Credentials.load(credentialOptions(config(argv, env)), { readFile: (f) => readFresh(f), checker, log: logger });
  open.push(credentials);
  return new Checked(credentials);
}

/** Credentials checked as the auth plugin checks them: user and password from a Basic header. */
class Checked {
  readonly inner: Credentials;
  constructor(inner: Credentials) {
    this.inner = inner;
  }
  get stats() {
    return this.inner.stats;
  }
  check(header: string) {
    const text = Buffer.from(header.replace(/^Basic /, ''), 'base64').toString('utf8');
    const colon = text.indexOf(':');
    return this.inner.check(text.slice(0, colon), text.slice(colon + 1), header);
  }
  canUpdate(user: string) {
    return this.inner.canUpdate(user);
  }
  refresh() {
    return this.inner.refresh();
  }
  close() {
    this.inner.close();
  }
  get userCount() {
    return this.inner.userCount;
  }
}

describe('Credentials.load', () => {
  it('refuses at start a configuration where reads need a login but no user is configured', () => {
    expect(() => config(['-a', 'list,update'])).toThrow(ConfigError);
    expect(() => config(['-a', 'download'])).toThrow(/no users are configured: pass --passwords FILE/);
    expect(() => config(['-a', 'list'])).toThrow(/--authenticate . --passwords ./);
    // Uploads alone behind a login with no users: the default first start, uploads refused with a hint.
    expect(config(['-a', 'update']).auth).toMatchObject({ hasUsers: false, uploadsDisabled: true });
  });

  it('fails at start on a password file it cannot read, naming the file', async () => {
    const missing = path.join(dir, 'missing.htpasswd');
    await expect(load(['-P', missing])).rejects.toThrow(`cannot read the password file ${missing}`);
  });

  it('starts without a line in an unsupported scheme, logging it with its line number', async () => {
    const { logger, lines } = recordingLogger();
    const credentials = await load(['-P', fixture('sha512.htpasswd')], {}, logger);
    expect(credentials.userCount).toBeGreaterThan(0);
    expect((await credentials.check(basic('sha512', 'sha512 secret'))).ok).toBe(false);
    expect(lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
      expect.stringMatching(/sha512\.htpasswd line 4: unsupported password scheme SHA-512.*that line is ignored/),
    ]);
  });

  it('fails at start on an empty password file', async () => {
    writeFileSync(path.join(dir, 'empty'), '# nobody yet\n');
    await expect(load(['-P', path.join(dir, 'empty')])).rejects.toThrow(/no users/);
  });

  it('loads no user table when no action requires a login', async () => {
    const server = await createServer(config(['-a', '.', '-P', '.', '--root', dir]));
    expect(server.credentials).toBeNull();
    await server.close();
  });

  it('takes users from the file, an inline htpasswd body and --username together', async () => {
    const inline = `ann:${bcrypt.hashSync('inline secret', 4)}\nplain:from inline\n`;
    const credentials = await load([
      '-P',
      fixture('schemes.htpasswd'),
      '--htpasswd',
      inline,
      '--username',
      'ci',
      '--password',
      '$2y$looks-like-a-hash',
    ]);
    expect((await credentials.check(basic('apr1', 'apr1 secret'))).ok).toBe(true);
    expect(await credentials.check(basic('ann', 'inline secret'))).toEqual({ ok: true, user: 'ann' });
    // The single user's password is plaintext even when it looks like a hash.
    expect(await credentials.check(basic('ci', '$2y$looks-like-a-hash'))).toEqual({ ok: true, user: 'ci' });
    // The inline body wins over the file for a user named in both.
    expect((await credentials.check(basic('plain', 'from inline'))).ok).toBe(true);
    expect((await credentials.check(basic('plain', 'plain secret'))).ok).toBe(false);
  });

  it('refuses an unknown user and a wrong password, naming the user', async () => {
    const credentials = await load(['-P', fixture('schemes.htpasswd')]);
    expect(await credentials.check(basic('nobody', 'x'))).toEqual({ ok: false, user: 'nobody' });
    expect(await credentials.check(basic('bcrypt', 'correct horse'))).toEqual({ ok: false, user: 'bcrypt' });
    expect(credentials.stats.failures).toBe(2);
  });

  it('lets every user upload unless --uploaders names who may', async () => {
    const all = await load(['-P', fixture('schemes.htpasswd')]);
    expect(all.canUpdate('sha')).toBe(true);
    const some = await load(['-P', fixture('schemes.htpasswd'), '--uploaders', 'bcrypt,apr1']);
    expect(some.canUpdate('apr1')).toBe(true);
    expect(some.canUpdate('sha')).toBe(false);
  });
});

describe('Credentials.check memo', () => {
  it('runs one bcrypt for 510 concurrent checks of the same header', async () => {
    const credentials = await load(['-P', fixture('schemes.htpasswd')]);
    const header = basic('bcrypt', 'correct:horse');
    const results = await Promise.all(Array.from({ length: 510 }, () => credentials.check(header)));
    expect(results.every((r) => r.ok && r.user === 'bcrypt')).toBe(true);
    expect(credentials.stats.verifications).toBe(1);
    expect(credentials.stats.shared).toBe(509);
    await credentials.check(header);
    expect(credentials.stats).toMatchObject({ verifications: 1, memoHits: 1, failures: 0 });
  });

  it('shares an in-flight failure too, and remembers it briefly so a repeated guess costs no hash', async () => {
    const credentials = await load(['-P', fixture('schemes.htpasswd')]);
    const header = basic('bcrypt', 'wrong');
    const results = await Promise.all(Array.from({ length: 50 }, () => credentials.check(header)));
    expect(results.every((r) => !r.ok)).toBe(true);
    expect(credentials.stats).toMatchObject({ verifications: 1, failures: 50 });
    expect((await credentials.check(header)).ok).toBe(false);
    expect(credentials.stats).toMatchObject({ verifications: 1, memoHits: 1, failures: 51 });
    // The right password is not shadowed by the remembered wrong one.
    expect((await credentials.check(basic('bcrypt', 'correct:horse'))).ok).toBe(true);
  });

  it('checks an unknown user against a decoy as costly as a real entry', async () => {
    const credentials = await load(['-P', fixture('schemes.htpasswd')]);
    const before = checker.verifications;
    expect((await credentials.check(basic('nobody', 'guess'))).ok).toBe(false);
    // The decoy is bcrypt like the file's costliest entry, so it ran in the hashing pool.
    expect(checker.verifications).toBe(before + 1);
    expect(credentials.stats.verifications).toBe(1);
  });

  it('verifies again once --credential-ttl has passed', async () => {
    const credentials = await load(['-P', fixture('schemes.htpasswd'), '--credential-ttl', '150ms']);
    const header = basic('apr1', 'apr1 secret');
    await credentials.check(header);
    await credentials.check(header);
    expect(credentials.stats).toMatchObject({ verifications: 1, memoHits: 1 });
    await sleep(250);
    await credentials.check(header);
    expect(credentials.stats.verifications).toBe(2);
  });

  it('remembers nothing with --credential-ttl 0', async () => {
    const credentials = await load(['-P', fixture('schemes.htpasswd'), '--credential-ttl', '0']);
    const header = basic('sha', 'sha secret');
    await credentials.check(header);
    await credentials.check(header);
    expect(credentials.stats).toMatchObject({ verifications: 2, memoHits: 0 });
  });
});

describe('password file reload', () => {
  const POLL = ['--refresh-interval', '1s'];

  it('serves a user added to the file within two poll intervals, and forgets a changed password', async () => {
    const file = path.join(dir, 'htpasswd');
    copyFileSync(fixture('schemes.htpasswd'), file);
    const { logger, lines } = recordingLogger();
    const credentials = await load(['-P', file, ...POLL], {}, logger);
    const oldApr1 = basic('apr1', 'apr1 secret');
    expect((await credentials.check(oldApr1)).ok).toBe(true);
    expect((await credentials.check(oldApr1)).ok).toBe(true);
    expect(credentials.stats.memoHits).toBe(1);
    expect((await credentials.check(basic('newbie', 'new secret'))).ok).toBe(false);

    const text = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('apr1:'))
      .join('\n');
    writeFileSync(file, `${text}apr1:${bcrypt.hashSync('apr1 changed', 4)}\nnewbie:${bcrypt.hashSync('new secret', 4)}\n`);
    await sleep(2200);

    expect(await credentials.check(basic('newbie', 'new secret'))).toEqual({ ok: true, user: 'newbie' });
    expect((await credentials.check(oldApr1)).ok).toBe(false);
    expect((await credentials.check(basic('apr1', 'apr1 changed'))).ok).toBe(true);
    expect(lines.some((l) => l.msg.includes('logins reloaded'))).toBe(true);
  });

  it('applies a changed file without its bad lines at once, keeps the last logins only while the file is unreadable', async () => {
    const file = path.join(dir, 'htpasswd');
    copyFileSync(fixture('schemes.htpasswd'), file);
    const { logger, lines } = recordingLogger();
    const credentials = await load(['-P', file, ...POLL], {}, logger);
    expect((await credentials.check(basic('apr1', 'apr1 secret'))).ok).toBe(true);

    // A user removed while another line uses an unsupported scheme: the removal applies.
    const without = readFileSync(fixture('schemes.htpasswd'), 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('apr1:'))
      .join('\n');
    writeFileSync(file, `${without}\n${readFileSync(fixture('sha256.htpasswd'), 'utf8')}`);
    await sleep(2200);
    expect((await credentials.check(basic('apr1', 'apr1 secret'))).ok).toBe(false);
    expect((await credentials.check(basic('sha', 'sha secret'))).ok).toBe(true);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.msg)).toEqual([
      expect.stringMatching(/line \d+: unsupported password scheme SHA-256 crypt.*that line is ignored/),
    ]);

    rmSync(file);
    expect(await credentials.refresh()).toBe(false);
    expect((await credentials.check(basic('crypt', 'crypt8ch'))).ok).toBe(true);
    expect(lines.filter((l) => l.level === 'error').at(-1)!.msg).toMatch(
      /cannot read the password file.*ENOENT.*keeping the last logins read/,
    );

    // Emptied: nobody from the file logs in (a half-written file fails closed until the next poll).
    writeFileSync(file, '');
    expect(await credentials.refresh()).toBe(true);
    expect((await credentials.check(basic('plain', 'plain secret'))).ok).toBe(false);

    writeFileSync(file, `solo:${bcrypt.hashSync('solo', 4)}\n`);
    expect(await credentials.refresh()).toBe(true);
    expect((await credentials.check(basic('plain', 'plain secret'))).ok).toBe(false);
    expect((await credentials.check(basic('solo', 'solo'))).ok).toBe(true);
  });

  it('stops polling on close', async () => {
    const file = path.join(dir, 'htpasswd');
    copyFileSync(fixture('schemes.htpasswd'), file);
    const credentials = await load(['-P', file, ...POLL]);
    credentials.close();
    writeFileSync(file, `late:${bcrypt.hashSync('late', 4)}\n`);
    await sleep(1500);
    expect((await credentials.check(basic('late', 'late'))).ok).toBe(false);
  });
});
