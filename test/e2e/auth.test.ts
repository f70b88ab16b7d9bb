// Logins through real server processes and real clients: pip, twine and poetry against a server
// that requires a login for everything, with password files made by Apache's htpasswd.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyDists, makeWheel } from '../helpers/dists.js';
import { makePublishableProject, pipByVersion, pipInstall, poetry, twine, type Pip } from '../helpers/python.js';
import { postForm, uploadBody } from '../helpers/forms.js';
import { startServer, tempDir, waitFor, type RunningServer } from '../helpers/server.js';

const USERS = { alice: 'alice-pw', bob: 'bob-pw', burst: 'burst-pw' } as const;
const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const READ_ALL = ['--authenticate', 'download,list,update'];

function htpasswdAdd(file: string, user: string, pass: string, opts: { create?: boolean; cost?: number } = {}): void {
  execFileSync('htpasswd', [...(opts.create ? ['-c'] : []), '-b', '-B', '-C', String(opts.cost ?? 5), file, user, pass], {
    stdio: 'ignore',
  });
}

async function rawUpload(
  url: string,
  file: { filename: string; bytes: Buffer },
  auth?: string,
): Promise<{ status: number; reason: string; text: string }> {
  return postForm(url, uploadBody(file), auth ? { authorization: auth } : {});
}

function withCreds(url: string, user: string, pass: string): string {
  return `http://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@${new URL(url).host}/simple/`;
}

const twineUpload = (url: string, user: string, pass: string, files: string[]) =>
  twine(['upload', '--repository-url', `${url}/`, '-u', user, '-p', pass, '--non-interactive', '--disable-progress-bar', ...files]);

const oneLine = (s: string): string => s.replace(/\s+/g, ' ');

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+(?:\\.\\d+)?)$`, 'm').exec(text);
  if (!m) throw new Error(`${name} is not in /metrics`);
  return Number(m[1]);
}

let dir: string;
let cleanup: () => void;
let seeded: string; // a volume with whtest-base
let passwords: string;
let srv: RunningServer;
const servers: RunningServer[] = [];
let newest: Pip;

async function start(root: string, args: string[], env?: Record<string, string>): Promise<RunningServer> {
  const s = await startServer({ root, args, env });
  servers.push(s);
  return s;
}

function seedVolume(name: string): Promise<string> {
  const root = path.join(dir, name);
  mkdirSync(root);
  return copyDists(['whtest_base-*.whl', 'whtest-base-*.tar.gz'], root).then(() => root);
}

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('wh-e2e-auth-'));
  newest = pipByVersion('newest');
  passwords = path.join(dir, 'htpasswd');
  htpasswdAdd(passwords, 'alice', USERS.alice, { create: true });
  htpasswdAdd(passwords, 'bob', USERS.bob);
  // Cost 10, as a real deployment would have: slow enough that a burst would overlap many checks.
  htpasswdAdd(passwords, 'burst', USERS.burst, { cost: 10 });
  seeded = await seedVolume('main');
  srv = await start(seeded, [...READ_ALL, '--passwords', passwords, '--uploaders', 'alice,burst']);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  cleanup?.();
});

describe('reading with pip', () => {
  it('installs with the credentials in the index URL (newest pip and pip 18.1)', async () => {
    for (const pip of [newest, pipByVersion('18.1')]) {
      const res = await pipInstall(pip, withCreds(srv.url, 'alice', USERS.alice), ['whtest-base==1.1']);
      expect(res.result.code, `pip ${pip.pip}: ${res.result.stderr}`).toBe(0);
      expect(res.installed).toEqual({ 'whtest-base': '1.1' });
    }
  });

  // pip names the status of an index page it could not read only at -vv (where it also logs tracebacks).
  it('fails without credentials, and says 401 and why at -vv', async () => {
    const plain = await pipInstall(newest, `${srv.url}/simple/`, ['whtest-base']);
    expect(plain.result.code).not.toBe(0);
    expect(plain.result.stderr).toContain('No matching distribution found for whtest-base');
    expect(plain.result.stdout + plain.result.stderr).not.toContain('Traceback');
    expect(plain.installed).toEqual({});
    const verbose = await pipInstall(newest, `${srv.url}/simple/`, ['whtest-base'], { args: ['-vv'] });
    expect(verbose.result.code).not.toBe(0);
    expect(verbose.result.stdout + verbose.result.stderr).toMatch(/"GET \/simple\/whtest-base\/ HTTP\/1\.1" 401/);
    expect(verbose.result.stdout + verbose.result.stderr).toContain('401 Client Error: Login required to read this index');
  });

  it('fails cleanly when pip, configured by PIP_INDEX_URL, cannot prompt for a password', async () => {
    const target = mkdtempSync(path.join(tmpdir(), 'wh-pip-'));
    const run = (verbosity: string[]) =>
      newest.run(['install', ...verbosity, '--target', target, '--no-input', '--no-cache-dir', 'whtest-base'], {
        env: { PIP_INDEX_URL: `${srv.url}/simple/` },
      });
    try {
      const plain = await run([]);
      expect(plain.code).not.toBe(0);
      expect(plain.stderr).toContain('No matching distribution found for whtest-base');
      expect(plain.stdout + plain.stderr).not.toContain('Traceback');
      const verbose = await run(['-vv']);
      expect(verbose.stdout + verbose.stderr).toContain('401 Client Error: Login required to read this index');
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  });

  it('answers 401 with a Basic challenge to a request without a login, and 401 to a wrong password', async () => {
    const none = await fetch(`${srv.url}/simple/whtest-base/`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="wheelhouse"');
    const wrong = await fetch(`${srv.url}/simple/whtest-base/`, { headers: { authorization: basic('alice', 'nope') } });
    expect(wrong.status).toBe(401);
    const file = await fetch(`${srv.url}/packages/whtest_base-1.0-py2.py3-none-any.whl`);
    expect(file.status).toBe(401);
  });
});

describe('uploading with twine and poetry', () => {
  it('twine uploads with the right password and fails with 401 on a wrong one', async () => {
    const ok = await makeWheel({ name: 'whtest-authed', version: '1.0' });
    const res = await twineUpload(srv.url, 'alice', USERS.alice, [ok.path]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    const listed = await fetch(`${srv.url}/simple/whtest-authed/`, { headers: { authorization: basic('alice', USERS.alice) } });
    expect(await listed.text()).toContain(ok.filename);

    const other = await makeWheel({ name: 'whtest-authed', version: '2.0' });
    const bad = await twineUpload(srv.url, 'alice', 'wrong', [other.path]);
    expect(bad.code).not.toBe(0);
    expect(oneLine(bad.stdout + bad.stderr)).toContain('401');
    expect(oneLine(bad.stdout + bad.stderr)).toContain('Invalid user name or password');
  });

  it('refuses an upload by a user not in --uploaders with 403, who may still read', async () => {
    const wheel = await makeWheel({ name: 'whtest-bobs', version: '1.0' });
    const res = await twineUpload(srv.url, 'bob', USERS.bob, [wheel.path]);
    expect(res.code).not.toBe(0);
    expect(oneLine(res.stdout + res.stderr)).toContain('403');
    expect(oneLine(res.stdout + res.stderr)).toContain('User "bob" may not upload or remove packages here (not in --uploaders)');
    const raw = await rawUpload(srv.url, wheel, basic('bob', USERS.bob));
    expect(raw.status).toBe(403);
    expect(raw.reason).toContain('not in --uploaders');
    const read = await pipInstall(newest, withCreds(srv.url, 'bob', USERS.bob), ['whtest-base==1.0']);
    expect(read.result.code, read.result.stderr).toBe(0);
  });

  it('poetry publishes with http-basic credentials and fails with 401 on a wrong password', async () => {
    const proj = path.join(dir, 'poetry-auth');
    makePublishableProject(proj, { name: 'whtest-poetryauth', version: '0.2.0', description: 'Published with a login' });
    const env = (pass: string) => ({
      POETRY_REPOSITORIES_PRIVATE_URL: `${srv.url}/legacy/`,
      POETRY_HTTP_BASIC_PRIVATE_USERNAME: 'alice',
      POETRY_HTTP_BASIC_PRIVATE_PASSWORD: pass,
    });
    expect((await poetry(['build'], { cwd: proj, env: env(USERS.alice) })).code).toBe(0);

    const bad = await poetry(['publish', '-r', 'private'], { cwd: proj, env: env('wrong') });
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toContain('401');
    const page = () => fetch(`${srv.url}/simple/whtest-poetryauth/`, { headers: { authorization: basic('alice', USERS.alice) } });
    expect((await page()).status).toBe(404);

    const ok = await poetry(['publish', '-r', 'private'], { cwd: proj, env: env(USERS.alice) });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(await (await page()).text()).toContain('whtest_poetryauth-0.2.0-py3-none-any.whl');
  });
});

describe('other sources of logins', () => {
  it('takes one user from WHEELHOUSE_USERNAME / WHEELHOUSE_PASSWORD', async () => {
    const s = await start(await seedVolume('env-user'), [], {
      WHEELHOUSE_AUTHENTICATE: 'download,list,update',
      WHEELHOUSE_USERNAME: 'ci',
      WHEELHOUSE_PASSWORD: 'ci secret',
    });
    expect((await fetch(`${s.url}/simple/whtest-base/`)).status).toBe(401);
    const pip = await pipInstall(newest, withCreds(s.url, 'ci', 'ci secret'), ['whtest-base==2.0']);
    expect(pip.result.code, pip.result.stderr).toBe(0);
    const wheel = await makeWheel({ name: 'whtest-envuser', version: '1.0' });
    const up = await twineUpload(s.url, 'ci', 'ci secret', [wheel.path]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect((await twineUpload(s.url, 'ci', 'nope', [wheel.path])).code).not.toBe(0);
  });

  it('takes an htpasswd body from WHEELHOUSE_HTPASSWD', async () => {
    const body = execFileSync('htpasswd', ['-n', '-b', '-B', '-C', '5', 'inline', 'inline pw'], { encoding: 'utf8' });
    const s = await start(await seedVolume('inline'), [], { WHEELHOUSE_AUTHENTICATE: 'download,list,update', WHEELHOUSE_HTPASSWD: body });
    expect((await fetch(`${s.url}/simple/whtest-base/`)).status).toBe(401);
    expect((await fetch(`${s.url}/simple/whtest-base/`, { headers: { authorization: basic('inline', 'inline pw') } })).status).toBe(200);
    const pip = await pipInstall(newest, withCreds(s.url, 'inline', 'inline pw'), ['whtest-base==1.0']);
    expect(pip.result.code, pip.result.stderr).toBe(0);
  });
});

describe('the password file', () => {
  it('is re-read when it changes: a user added with htpasswd logs in within 2 s, one deleted is refused', async () => {
    const file = path.join(dir, 'reloaded.htpasswd');
    htpasswdAdd(file, 'first', 'first pw', { create: true });
    const s = await start(await seedVolume('reload'), [...READ_ALL, '--passwords', file]);
    const get = (user: string, pass: string) => fetch(`${s.url}/simple/whtest-base/`, { headers: { authorization: basic(user, pass) } });
    expect((await get('carol', 'carol pw')).status).toBe(401);

    htpasswdAdd(file, 'carol', 'carol pw');
    const added = Date.now();
    // Polled gently: ten failed logins of one user from one address within a minute are throttled.
    const seen: number[] = [];
    await waitFor(
      async () => {
        seen.push((await get('carol', 'carol pw')).status);
        return seen.at(-1) === 200;
      },
      5000,
      300,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; statuses: ${seen.join(' ')}`);
    });
    expect(Date.now() - added).toBeLessThan(2500);

    execFileSync('htpasswd', ['-D', file, 'carol'], { stdio: 'ignore' });
    const deleted = Date.now();
    // A remembered login must not outlive the entry it was checked against.
    await waitFor(async () => (await get('carol', 'carol pw')).status === 401, 5000, 100);
    expect(Date.now() - deleted).toBeLessThan(2500);
    expect((await get('first', 'first pw')).status).toBe(200);
  });

  it('with an unsupported scheme (htpasswd -5) starts without that line, logs it, and lets the other users in', async () => {
    const file = path.join(dir, 'sha512.htpasswd');
    htpasswdAdd(file, 'fine', 'fine pw', { create: true });
    writeFileSync(
      file,
      readFileSync(file, 'utf8') + execFileSync('htpasswd', ['-n', '-b', '-5', 'legacy', 'legacy pw'], { encoding: 'utf8' }),
    );
    const root = path.join(dir, 'partly-usable');
    mkdirSync(root);
    const s = await startServer({ root, args: [...READ_ALL, '--passwords', file] });
    servers.push(s);
    expect((await fetch(`${s.url}/simple/`, { headers: { authorization: basic('fine', 'fine pw') } })).status).toBe(200);
    expect((await fetch(`${s.url}/simple/`, { headers: { authorization: basic('legacy', 'legacy pw') } })).status).toBe(401);
    expect(s.output()).toContain(`${file} line 2: unsupported password scheme SHA-512 crypt`);
  });
});

describe('a burst of clients sharing one bcrypt login', () => {
  it('costs one password verification for 510 concurrent requests', async () => {
    const auth = basic('burst', USERS.burst);
    const before = await metric(srv.url, 'wheelhouse_auth_verifications_total');
    const hitsBefore = await metric(srv.url, 'wheelhouse_auth_memo_hits_total');
    const urls = ['/simple/whtest-base/', '/whtest-base/', '/packages/whtest_base-2.0-py2.py3-none-any.whl'];
    const started = performance.now();
    const statuses = await Promise.all(
      Array.from({ length: 510 }, async (_, i) => {
        const res = await fetch(`${srv.url}${urls[i % urls.length]}`, { headers: { authorization: auth } });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    const ms = performance.now() - started;
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const after = await metric(srv.url, 'wheelhouse_auth_verifications_total');
    const hits = (await metric(srv.url, 'wheelhouse_auth_memo_hits_total')) - hitsBefore;
    console.log(`510 requests, one bcrypt (cost 10) login, ${Math.round(ms)} ms: ${after - before} verification(s), ${hits} remembered`);
    expect(after - before).toBe(1);
  });
});

describe('the default policy without users', () => {
  it('starts, serves reads, and refuses uploads with 403 and how to add users', async () => {
    const s = await start(await seedVolume('default'), []);
    const pip = await pipInstall(newest, `${s.url}/simple/`, ['whtest-base']);
    expect(pip.result.code, pip.result.stderr).toBe(0);

    const wheel = await makeWheel({ name: 'whtest-nousers', version: '1.0' });
    for (const auth of [undefined, basic('anyone', 'anything')]) {
      const res = await rawUpload(s.url, wheel, auth);
      expect(res.status).toBe(403);
      expect(res.reason).toContain('Uploads are disabled: this server has no users');
      expect(res.text).toContain('--passwords FILE (WHEELHOUSE_PASSWORDS) or WHEELHOUSE_USERNAME/WHEELHOUSE_PASSWORD');
    }
    const tw = await twineUpload(s.url, 'anyone', 'anything', [wheel.path]);
    expect(tw.code).not.toBe(0);
    expect(oneLine(tw.stdout + tw.stderr)).toContain('403');
    expect(oneLine(tw.stdout + tw.stderr)).toContain('Uploads are disabled');
    expect((await fetch(`${s.url}/simple/whtest-nousers/`)).status).toBe(404);
  });
});
