import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Credentials } from '../../src/auth/credentials.js';
import { PasswordChecker } from '../../src/auth/password-checker.js';
import { DEFAULT_THROTTLE, LocalThrottle, type ThrottleLimits } from '../../src/auth/throttle.js';
import { loadConfig } from '../../src/config.js';
import authPlugin from '../../src/plugins/auth.js';
import { basePathPlugin } from '../../src/plugins/base-path.js';
import { errorsPlugin } from '../../src/plugins/errors.js';
import { credentialOptions } from '../../src/server.js';
import { readFresh } from '../../src/store/fs-util.js';

const schemes = fileURLToPath(new URL('../fixtures/htpasswd/schemes.htpasswd', import.meta.url));
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
const silent = { info() {}, warn() {}, error() {} };

const apps: FastifyInstance[] = [];
const checker = new PasswordChecker({ threads: 1, maxQueued: 1000 });
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});
afterAll(() => checker.close());

/** A small app with one route per action, behind the real plugin and the fixture users. */
async function testApp(argv: string[], limits?: Partial<ThrottleLimits>) {
  const config = loadConfig(['--realm', 'team index', ...argv], {});
  const credentials = await Credentials.load(credentialOptions(config), { readFile: (f) => readFresh(f), checker, log: silent });
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      logs.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const app = Fastify({ logger: { level: 'warn', stream } });
  apps.push(app);
  await app.register(errorsPlugin);
  await app.register(basePathPlugin, { basePath: '', trustsPeer: () => false });
  const throttle = new LocalThrottle({ ...DEFAULT_THROTTLE, ...limits });
  await app.register(authPlugin, { policy: config.auth, realm: config.realm, credentials, throttle });
  const who = (request: { user?: string }) => ({ user: request.user ?? null });
  app.get('/simple/', { config: { action: 'list' } }, who);
  app.get('/packages/demo-1.0.tar.gz', { config: { action: 'download' } }, who);
  app.post('/', { config: { action: 'update' } }, who);
  app.get('/health', who);
  await app.ready();
  return { app, credentials, logs };
}

describe('auth plugin', () => {
  it('asks for a login with 401 and WWW-Authenticate when no credentials are sent', async () => {
    const { app } = await testApp(['-P', schemes, '-a', 'list,update']);
    const res = await app.inject({ url: '/simple/', headers: { host: 'pypi.example:8080' } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="team index"');
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toContain('pip install --index-url http://USER:PASS@pypi.example:8080/simple/');
    expect(res.statusMessage).toMatch(/^Login required/);
  });

  it('answers 401 with the challenge on a wrong password, so pip asks again', async () => {
    const { app } = await testApp(['-P', schemes, '-a', 'list']);
    const res = await app.inject({ url: '/simple/', headers: { authorization: basic('bcrypt', 'wrong') } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="team index"');
    expect(res.body).toContain('Invalid user name or password');
  });

  it('answers 401 to an Authorization header that is not Basic', async () => {
    const { app } = await testApp(['-P', schemes, '-a', 'list']);
    const res = await app.inject({ url: '/simple/', headers: { authorization: 'Bearer abc' } });
    expect(res.statusCode).toBe(401);
    expect(res.body).toContain('not HTTP Basic');
  });

  it('lets a right password through and names the user on the request', async () => {
    const { app } = await testApp(['-P', schemes, '-a', 'list,download']);
    for (const url of ['/simple/', '/packages/demo-1.0.tar.gz']) {
      const res = await app.inject({ url, headers: { authorization: basic('bcrypt', 'correct:horse') } });
      expect(res.statusCode, url).toBe(200);
      expect(res.json()).toEqual({ user: 'bcrypt' });
    }
  });

  it('refuses an upload with 403 from a user not in --uploaders, without a challenge', async () => {
    const { app } = await testApp(['-P', schemes, '-a', 'update', '--uploaders', 'apr1']);
    const denied = await app.inject({ method: 'POST', url: '/', headers: { authorization: basic('sha', 'sha secret') } });
    expect(denied.statusCode).toBe(403);
    expect(denied.headers['www-authenticate']).toBeUndefined();
    expect(denied.body).toContain('User "sha" may not upload');
    // twine prints the reason phrase.
    expect(denied.statusMessage).toContain('may not upload');
    // Once verified the header is remembered: the remembered path still applies --uploaders.
    const again = await app.inject({ method: 'POST', url: '/', headers: { authorization: basic('sha', 'sha secret') } });
    expect(again.statusCode).toBe(403);
    const allowed = await app.inject({ method: 'POST', url: '/', headers: { authorization: basic('apr1', 'apr1 secret') } });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json()).toEqual({ user: 'apr1' });
  });

  it('asks for no login on an action not in --authenticate, nor on routes without an action', async () => {
    const { app, credentials } = await testApp(['-P', schemes, '-a', 'update']);
    for (const url of ['/simple/', '/packages/demo-1.0.tar.gz', '/health']) {
      const res = await app.inject({ url, headers: { authorization: basic('bcrypt', 'wrong') } });
      expect(res.statusCode, url).toBe(200);
      expect(res.json()).toEqual({ user: null });
    }
    expect(credentials.stats.verifications).toBe(0);
    expect((await app.inject({ method: 'POST', url: '/' })).statusCode).toBe(401);
  });

  it('serves everything without a login when --authenticate is "."', async () => {
    const config = loadConfig(['-a', '.', '-P', '.'], {});
    const app = Fastify();
    apps.push(app);
    await app.register(basePathPlugin, { basePath: '', trustsPeer: () => false });
    await app.register(authPlugin, { policy: config.auth, realm: config.realm, credentials: null, throttle: new LocalThrottle() });
    app.post('/', { config: { action: 'update' } }, () => 'ok');
    expect((await app.inject({ method: 'POST', url: '/' })).statusCode).toBe(200);
  });

  it('refuses uploads with 403 and a hint when uploads need a login but no user exists, and serves reads', async () => {
    const config = loadConfig(['-a', 'update'], {});
    const app = Fastify();
    apps.push(app);
    await app.register(errorsPlugin);
    await app.register(basePathPlugin, { basePath: '', trustsPeer: () => false });
    await app.register(authPlugin, { policy: config.auth, realm: config.realm, credentials: null, throttle: new LocalThrottle() });
    app.post('/', { config: { action: 'update' } }, () => 'ok');
    app.get('/simple/', { config: { action: 'list' } }, () => 'ok');
    const res = await app.inject({ method: 'POST', url: '/' });
    expect(res.statusCode).toBe(403);
    expect(res.body).toMatch(/Uploads are disabled: this server has no users/);
    expect((await app.inject('/simple/')).statusCode).toBe(200);
  });

  it('reads UTF-8 credentials, and latin-1 ones as requests sends them', async () => {
    const inline = `ann:${bcrypt.hashSync('pässwörd', 4)}\n`;
    const config = loadConfig(['-a', 'list', '--htpasswd', inline], {});
    const credentials = await Credentials.load(credentialOptions(config), { readFile: (f) => readFresh(f), checker, log: silent });
    const app = Fastify();
    apps.push(app);
    await app.register(errorsPlugin);
    await app.register(basePathPlugin, { basePath: '', trustsPeer: () => false });
    await app.register(authPlugin, { policy: config.auth, realm: config.realm, credentials, throttle: new LocalThrottle() });
    app.get('/simple/', { config: { action: 'list' } }, (request) => ({ user: request.user }));
    const utf8 = `Basic ${Buffer.from('ann:pässwörd', 'utf8').toString('base64')}`;
    const latin1 = `Basic ${Buffer.from('ann:pässwörd', 'latin1').toString('base64')}`;
    expect((await app.inject({ url: '/simple/', headers: { authorization: utf8 } })).json()).toEqual({ user: 'ann' });
    expect((await app.inject({ url: '/simple/', headers: { authorization: latin1 } })).json()).toEqual({ user: 'ann' });
    expect((await app.inject({ url: '/simple/', headers: { authorization: basic('ann', 'a:b:c') } })).statusCode).toBe(401);
  });

  it('throttles with 429 and Retry-After after 10 failed logins of a user from one address', async () => {
    const { app, credentials } = await testApp(['-P', schemes, '-a', 'list']);
    const from = (ip: string, authorization: string) => app.inject({ url: '/simple/', remoteAddress: ip, headers: { authorization } });
    // The right password, verified once and remembered before the guessing starts.
    expect((await from('10.0.0.1', basic('apr1', 'apr1 secret'))).statusCode).toBe(200);
    for (let i = 0; i < 10; i++) expect((await from('10.0.0.1', basic('apr1', `guess ${i}`))).statusCode).toBe(401);
    const verificationsBefore = credentials.stats.verifications;

    const throttled = await from('10.0.0.1', basic('apr1', 'guess 11'));
    expect(throttled.statusCode).toBe(429);
    const retryAfter = Number(throttled.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(throttled.body).toContain(`try again in ${retryAfter} seconds`);
    // Even the right password waits: otherwise the throttle would not slow guessing.
    expect((await from('10.0.0.1', basic('apr1', 'apr1 secret'))).statusCode).toBe(429);
    expect(credentials.stats.verifications).toBe(verificationsBefore);

    // Other users behind the same NAT address, and the same user elsewhere, are not punished.
    expect((await from('10.0.0.1', basic('sha', 'sha secret'))).statusCode).toBe(200);
    expect((await from('10.0.0.2', basic('apr1', 'apr1 secret'))).statusCode).toBe(200);
  });

  it('counts only failures: many correct logins from one address never throttle it', async () => {
    const { app } = await testApp(['-P', schemes, '-a', 'list']);
    const from = (authorization: string) => app.inject({ url: '/simple/', remoteAddress: '10.0.0.9', headers: { authorization } });
    for (let i = 0; i < 100; i++) expect((await from(basic('sha', 'sha secret'))).statusCode).toBe(200);
    for (let i = 0; i < 9; i++) expect((await from(basic('sha', 'nope'))).statusCode).toBe(401);
    expect((await from(basic('sha', 'sha secret'))).statusCode).toBe(200);
  });

  it('bounds guessing across user names from one address', async () => {
    const { app } = await testApp(['-P', schemes, '-a', 'list'], { maxFailuresPerAddress: 20 });
    const from = (authorization: string) => app.inject({ url: '/simple/', remoteAddress: '10.0.0.5', headers: { authorization } });
    for (let i = 0; i < 20; i++) expect((await from(basic(`user${i}`, 'x'))).statusCode).toBe(401);
    expect((await from(basic('sha', 'sha secret'))).statusCode).toBe(429);
  });

  it('lets a throttled address in again when the window ends', async () => {
    const { app } = await testApp(['-P', schemes, '-a', 'list'], { maxFailures: 2, windowMs: 300 });
    const send = (authorization: string) => app.inject({ url: '/simple/', headers: { authorization } });
    await send(basic('sha', 'a'));
    await send(basic('sha', 'b'));
    const throttled = await send(basic('sha', 'sha secret'));
    expect(throttled.statusCode).toBe(429);
    expect(throttled.headers['retry-after']).toBe('1');
    await new Promise((r) => setTimeout(r, 400));
    expect((await send(basic('sha', 'sha secret'))).statusCode).toBe(200);
  });

  it('logs failed logins with user, address and reason, never the password or header', async () => {
    const { app, logs } = await testApp(['-P', schemes, '-a', 'list']);
    const authorization = basic('bcrypt', 'S3cret-guess');
    await app.inject({ url: '/simple/', remoteAddress: '10.1.2.3', headers: { authorization } });
    await app.inject({ url: '/simple/', remoteAddress: '10.1.2.3', headers: { authorization: basic('ghost', 'S3cret-guess') } });
    const failures = logs.filter((l) => l.msg === 'login failed');
    expect(failures).toMatchObject([
      { user: 'bcrypt', ip: '10.1.2.3', reason: 'wrong password' },
      { user: 'ghost', ip: '10.1.2.3', reason: 'unknown user' },
    ]);
    const all = JSON.stringify(logs);
    expect(all).not.toContain('S3cret-guess');
    expect(all).not.toContain(authorization.slice(6));
  });

  it('costs one verification for a burst of 510 requests with the same credential', async () => {
    const { app, credentials } = await testApp(['-P', schemes, '-a', 'list,download']);
    const authorization = basic('bcrypt', 'correct:horse');
    const responses = await Promise.all(Array.from({ length: 510 }, () => app.inject({ url: '/simple/', headers: { authorization } })));
    expect(responses.every((r) => r.statusCode === 200)).toBe(true);
    expect(credentials.stats.verifications).toBe(1);
  });
});

describe('the client address behind a load balancer', () => {
  /** The whole app (trust-proxy 1: one ALB in front), its users from the fixture. */
  async function behindAlb(extra: string[] = []) {
    const { buildTestApp } = await import('../helpers/app.js');
    const { tempDir } = await import('../helpers/server.js');
    const t = tempDir('wh-xff-');
    const built = await buildTestApp(t.dir, ['-a', 'list', '-P', schemes, ...extra]);
    apps.push(built.app);
    return { ...built, cleanup: t.cleanup };
  }
  /** A request as the ALB forwards it: from the ALB's address, the client's own X-Forwarded-For with the real address appended. */
  const viaAlb = (clientSent: string | null, realClient: string, authorization: string) => ({
    url: '/simple/',
    remoteAddress: '10.0.0.2',
    headers: { authorization, 'x-forwarded-for': clientSent === null ? realClient : `${clientSent}, ${realClient}` },
  });

  it('throttles a guesser who sends a new X-Forwarded-For with each guess', async () => {
    const { app, cleanup } = await behindAlb();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) {
        statuses.push((await app.inject(viaAlb(`198.51.100.${i}`, '203.0.113.7', basic('apr1', `guess ${i}`)))).statusCode);
      }
      expect(statuses.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => 401));
      expect(statuses.slice(10).every((s) => s === 429)).toBe(true);
    } finally {
      cleanup();
    }
  });

  it('never throttles a real user because someone else claimed their address', async () => {
    const { app, cleanup } = await behindAlb();
    try {
      for (let i = 0; i < 15; i++) await app.inject(viaAlb('203.0.113.50', '198.51.100.66', basic('apr1', `guess ${i}`)));
      // The real user at 203.0.113.50, through the same ALB, with the right password.
      expect((await app.inject(viaAlb(null, '203.0.113.50', basic('apr1', 'apr1 secret')))).statusCode).toBe(200);
    } finally {
      cleanup();
    }
  });

  it('counts guesses sent at once before they are checked: 200 at once get no more checks than the limit', async () => {
    const { app, server, cleanup } = await behindAlb();
    try {
      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, i) => app.inject(viaAlb(null, '203.0.113.9', basic('bcrypt', `guess ${i}`)))),
      );
      const count = (s: number) => responses.filter((r) => r.statusCode === s).length;
      expect(count(401)).toBe(10);
      expect(count(429)).toBe(190);
      expect(server.credentials!.stats.verifications).toBe(10);
    } finally {
      cleanup();
    }
  });

  it('ignores X-Forwarded-For when told there is no proxy', async () => {
    const { app, cleanup } = await behindAlb(['--trust-proxy', 'false']);
    try {
      for (let i = 0; i < 10; i++) await app.inject(viaAlb(`198.51.100.${i}`, '203.0.113.7', basic('apr1', `guess ${i}`)));
      // Every guess came from the socket address, whatever the header said.
      expect((await app.inject({ ...viaAlb('1.2.3.4', '5.6.7.8', basic('apr1', 'x')) })).statusCode).toBe(429);
    } finally {
      cleanup();
    }
  });
});

describe('wrong passwords in a wave', () => {
  it('answer 503 with Retry-After once the check queue is full, and never stall the routes that need no login', async () => {
    const { buildTestApp } = await import('../helpers/app.js');
    const { tempDir } = await import('../helpers/server.js');
    const t = tempDir('wh-wave-');
    const { app } = await buildTestApp(t.dir, ['-a', 'list', '-P', schemes]);
    apps.push(app);
    try {
      const wave = Array.from({ length: 300 }, (_, i) =>
        app.inject({
          url: '/simple/',
          remoteAddress: `10.9.${Math.floor(i / 250)}.${i % 250}`,
          headers: { authorization: basic('bcrypt', `w${i}`) },
        }),
      );
      const health = await app.inject('/health');
      expect(health.statusCode).toBe(200);
      const responses = await Promise.all(wave);
      const busy = responses.filter((r) => r.statusCode === 503);
      expect(busy.length).toBeGreaterThan(0);
      expect(busy[0]!.headers['retry-after']).toBe('1');
      expect(busy[0]!.body).toContain('Too many logins being checked at once');
      expect(responses.every((r) => r.statusCode === 401 || r.statusCode === 503)).toBe(true);
    } finally {
      t.cleanup();
    }
  });
});
