import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AuthLogger, Credentials, assertAuthConfig, parseBasicAuth } from '../../src/auth/credentials.js';
import { loadConfig } from '../../src/config.js';

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
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'wh-auth-'));
});
afterEach(() => {
  for (const c of open.splice(0)) c.close();
  rmSync(dir, { recursive: true, force: true });
});

async function load(argv: string[], env: NodeJS.ProcessEnv = {}, logger: AuthLogger = recordingLogger().logger) {
  const credentials = await Credentials.load(config(argv, env), logger);
  open.push(credentials);
  return credentials;
}

describe('parseBasicAuth', () => {
  it('splits at the first colon so passwords may contain colons', () => {
    expect(parseBasicAuth(basic('ann', 'a:b:c'))).toEqual({ user: 'ann', password: 'a:b:c' });
  });

  it('reads UTF-8 credentials, and latin-1 ones as requests sends them', () => {
    expect(parseBasicAuth(basic('ann', 'pässwörd'))?.password).toBe('pässwörd');
    const latin1 = `Basic ${Buffer.from('ann:pässwörd', 'latin1').toString('base64')}`;
    expect(parseBasicAuth(latin1)?.password).toBe('pässwörd');
  });

  it('refuses other schemes and credentials without a colon', () => {
    expect(parseBasicAuth(undefined)).toBeNull();
    expect(parseBasicAuth('Bearer abc')).toBeNull();
    expect(parseBasicAuth(`Basic ${Buffer.from('nocolon').toString('base64')}`)).toBeNull();
  });
});

describe('Credentials.load', () => {
  it('fails at start when logins are required but no user is configured', async () => {
    const c = config(['-a', 'update']);
    expect(() => assertAuthConfig(c)).toThrow(/no users are configured: pass --passwords FILE/);
    await expect(Credentials.load(c, recordingLogger().logger)).rejects.toThrow(/--authenticate . --passwords ./);
  });

  it('fails at start on a password file it cannot read, naming the file', async () => {
    const missing = path.join(dir, 'missing.htpasswd');
    await expect(load(['-P', missing])).rejects.toThrow(`cannot read the password file ${missing}`);
  });

  it('fails at start on an unsupported scheme, with the line number', async () => {
    await expect(load(['-P', fixture('sha512.htpasswd')])).rejects.toThrow(/sha512\.htpasswd line 4: unsupported password scheme SHA-512/);
  });

  it('fails at start on an empty password file', async () => {
    writeFileSync(path.join(dir, 'empty'), '# nobody yet\n');
    await expect(load(['-P', path.join(dir, 'empty')])).rejects.toThrow(/no users/);
  });

  it('needs no user when no action requires a login', async () => {
    const credentials = await load(['-a', '.', '-P', '.']);
    expect(credentials.userCount).toBe(0);
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
    expect(await credentials.check(undefined)).toEqual({ ok: false });
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

  it('shares an in-flight failure too but never remembers one', async () => {
    const credentials = await load(['-P', fixture('schemes.htpasswd')]);
    const header = basic('bcrypt', 'wrong');
    const results = await Promise.all(Array.from({ length: 50 }, () => credentials.check(header)));
    expect(results.every((r) => !r.ok)).toBe(true);
    expect(credentials.stats).toMatchObject({ verifications: 1, failures: 50 });
    await credentials.check(header);
    expect(credentials.stats).toMatchObject({ verifications: 2, memoHits: 0, failures: 51 });
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

  it('keeps the last good table when the file turns invalid or unreadable, and logs it once', async () => {
    const file = path.join(dir, 'htpasswd');
    copyFileSync(fixture('schemes.htpasswd'), file);
    const { logger, lines } = recordingLogger();
    const credentials = await load(['-P', file, ...POLL], {}, logger);

    writeFileSync(file, `${readFileSync(fixture('schemes.htpasswd'), 'utf8')}${readFileSync(fixture('sha256.htpasswd'), 'utf8')}`);
    await sleep(2200);
    expect((await credentials.check(basic('sha', 'sha secret'))).ok).toBe(true);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(/line 13: unsupported password scheme SHA-256 crypt.*keeping the last good logins/);

    rmSync(file);
    expect(await credentials.refresh()).toBe(false);
    expect((await credentials.check(basic('crypt', 'crypt8ch'))).ok).toBe(true);
    expect(lines.filter((l) => l.level === 'error').at(-1)!.msg).toMatch(/cannot read the password file.*ENOENT/);

    writeFileSync(file, '');
    expect(await credentials.refresh()).toBe(false);
    expect((await credentials.check(basic('plain', 'plain secret'))).ok).toBe(true);

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
