// API tokens and per-project rights through real server processes and real clients: tokens made
// with `wheelhouse token create`, used by twine, poetry and pip as PyPI's are (user __token__),
// revoked with `wheelhouse token revoke` and refused by a second process on the same volume, htpasswd
// users under an ACL, and `wheelhouse audit` listing every write of the run with who made it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeToken } from '../../src/auth/api-tokens.js';
import { copyDists, makeWheel } from '../helpers/dists.js';
import { makePublishableProject, pipByVersion, pipInstall, poetry, run, twine } from '../helpers/python.js';
import { MAIN, type RunningServer, startServer, tempDir, waitFor } from '../helpers/server.js';

const KEY = 'tokens-e2e-key-0123456789-abcdefghijklmnopqrs';
const ALICE = 'alice pw';

let dir: string;
let cleanup: (() => void) | undefined;
let root: string;
let a: RunningServer;
let b: RunningServer;
const servers: RunningServer[] = [];

/** `wheelhouse ...` as a person types it, with the key in the environment. */
function wheelhouse(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WHEELHOUSE_')));
  return run(process.execPath, [MAIN, ...args], { env: { ...clean, WHEELHOUSE_TOKEN_KEY: KEY, ...env } });
}

async function createToken(project: string, action: string, extra: string[] = []): Promise<string> {
  const r = await wheelhouse(['token', 'create', '--project', project, '--action', action, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const asToken = (token: string) => basic('__token__', token);
const oneLine = (s: string) => s.replace(/\s+/g, ' ');
const distributions = () => readdirSync(root).filter((f) => !f.startsWith('.'));

const twineUpload = (url: string, user: string, pass: string, files: string[]) =>
  twine(['upload', '--repository-url', `${url}/`, '-u', user, '-p', pass, '--non-interactive', '--disable-progress-bar', ...files]);

async function metric(url: string, line: RegExp): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = line.exec(text);
  if (!m?.[1]) throw new Error(`${String(line)} is not in /metrics`);
  return Number(m[1]);
}

beforeAll(async () => {
  const t = tempDir('wh-e2e-tokens-');
  dir = t.dir;
  cleanup = () => {
    t.cleanup();
  };
  root = path.join(dir, 'root');
  mkdirSync(root);
  await copyDists(['whtest_base-*.whl', 'whtest-base-*.tar.gz'], root);
  const htpasswd = path.join(dir, 'htpasswd');
  execFileSync('htpasswd', ['-c', '-b', '-B', '-C', '5', htpasswd, 'alice', ALICE], { stdio: 'ignore' });
  const acl = path.join(dir, 'acl');
  writeFileSync(acl, '# alice releases the ACL test projects only\nwhtest-acl-*  upload,yank  alice\n');
  const args = ['--authenticate', 'download,list,update', '--passwords', htpasswd, '--acl', acl, '--refresh-interval', '250ms'];
  // Two processes on one volume: two tasks of one service.
  const start = () => startServer({ root, args, env: { WHEELHOUSE_TOKEN_KEY: KEY } });
  [a, b] = await Promise.all([start(), start()]);
  servers.push(a, b);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  cleanup?.();
});

describe('publishing with an API token', () => {
  it('twine uploads with a token from wheelhouse token create, and the other process lists the file', async () => {
    const token = await createToken('whtest-tok*', 'upload', ['--expires', '30d', '--description', 'ci release']);
    expect(token).toMatch(/^wheelhouse_eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    const wheel = await makeWheel({ name: 'whtest-tok', version: '1.0' });
    const up = await twineUpload(a.url, '__token__', token, [wheel.path]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const reader = asToken(await createToken('whtest-tok', 'download'));
    await waitFor(async () =>
      (await (await fetch(`${b.url}/simple/whtest-tok/`, { headers: { authorization: reader } })).text()).includes(wheel.filename),
    );
  });

  it('poetry publishes with __token__ and a token as its http-basic credentials', async () => {
    const token = await createToken('whtest-tokpoetry', 'upload');
    const proj = path.join(dir, 'poetry-token');
    makePublishableProject(proj, { name: 'whtest-tokpoetry', version: '0.3.0', description: 'Published with an API token' });
    const env = {
      POETRY_REPOSITORIES_PRIVATE_URL: `${a.url}/legacy/`,
      POETRY_HTTP_BASIC_PRIVATE_USERNAME: '__token__',
      POETRY_HTTP_BASIC_PRIVATE_PASSWORD: token,
    };
    expect((await poetry(['build'], { cwd: proj, env })).code).toBe(0);
    const ok = await poetry(['publish', '-r', 'private'], { cwd: proj, env });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(distributions()).toContain('whtest_tokpoetry-0.3.0-py3-none-any.whl');
  });

  it('twine is refused with 403 naming the project for a token of another project or another action, and nothing is stored', async () => {
    const wheel = await makeWheel({ name: 'whtest-elsewhere', version: '1.0' });
    const before = distributions();
    const otherProject = await twineUpload(a.url, '__token__', await createToken('whtest-tok*', 'upload'), [wheel.path]);
    expect(otherProject.code).not.toBe(0);
    expect(oneLine(otherProject.stdout + otherProject.stderr)).toContain('403');
    expect(oneLine(otherProject.stdout + otherProject.stderr)).toContain('may not upload to project "whtest-elsewhere"');
    const otherAction = await twineUpload(a.url, '__token__', await createToken('whtest-elsewhere', 'download,yank'), [wheel.path]);
    expect(otherAction.code).not.toBe(0);
    expect(oneLine(otherAction.stdout + otherAction.stderr)).toContain('may not upload or remove here');
    expect(distributions()).toEqual(before);
  });

  it('twine gets 401 for a tampered token', async () => {
    const token = await createToken('whtest-tok*', 'upload');
    const [head = '', payload = '', sig = ''] = token.slice('wheelhouse_'.length).split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `wheelhouse_${head}.${Buffer.from(JSON.stringify({ ...claims, projects: ['*'] })).toString('base64url')}.${sig}`;
    const wheel = await makeWheel({ name: 'whtest-elsewhere', version: '2.0' });
    const up = await twineUpload(a.url, '__token__', tampered, [wheel.path]);
    expect(up.code).not.toBe(0);
    expect(oneLine(up.stdout + up.stderr)).toContain('401');
    expect(oneLine(up.stdout + up.stderr)).toContain('API token refused: the token signature does not match');
    expect(distributions()).not.toContain(wheel.filename);
  });
});

describe('downloading with an API token', () => {
  it('pip installs with a download-scoped token in the index URL (newest pip and pip 18.1)', async () => {
    const token = await createToken('whtest-base', 'download');
    for (const pip of [pipByVersion('newest'), pipByVersion('18.1')]) {
      const res = await pipInstall(pip, `http://__token__:${token}@127.0.0.1:${a.port}/simple/`, ['whtest-base==1.1']);
      expect(res.result.code, `pip ${pip.pip}: ${res.result.stderr}`).toBe(0);
      expect(res.installed).toEqual({ 'whtest-base': '1.1' });
    }
  });

  it('pip cannot install a project outside the token scope: 403 naming it', async () => {
    const token = await createToken('whtest-tok', 'download');
    const res = await pipInstall(pipByVersion('newest'), `http://__token__:${token}@127.0.0.1:${a.port}/simple/`, ['whtest-base'], {
      args: ['-vv'],
    });
    expect(res.result.code).not.toBe(0);
    expect(res.installed).toEqual({});
    expect(res.result.stdout + res.result.stderr).toContain('may not download from project "whtest-base"');
  });

  it('costs one verification for a burst of 510 requests with one token', async () => {
    const auth = asToken(await createToken('whtest-*', 'download'));
    const verified = /^wheelhouse_token_verifications_total\{source="verified"\} (\d+)$/m;
    const before = await metric(a.url, verified);
    const urls = ['/simple/whtest-base/', '/whtest-base/', '/packages/whtest_base-2.0-py2.py3-none-any.whl'];
    const statuses = await Promise.all(
      Array.from({ length: 510 }, async (_, i) => {
        const res = await fetch(`${a.url}${urls[i % urls.length] ?? ''}`, { headers: { authorization: auth } });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect((await metric(a.url, verified)) - before).toBe(1);
  });
});

describe('revoking a token', () => {
  it('is honoured by every process on the volume within the refresh interval, remembered logins included', async () => {
    const token = await createToken('*', 'download', ['--description', 'leaked']);
    const id = decodeToken(token)?.id ?? '';
    const get = (s: RunningServer) => fetch(`${s.url}/simple/whtest-base/`, { headers: { authorization: asToken(token) } });
    for (const s of [a, b]) expect((await get(s)).status).toBe(200);

    const revoked = await wheelhouse(['token', 'revoke', id, '--root', root, '--reason', 'leaked in a log']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout.trim()).toBe(`revoked ${id}`);
    for (const s of [a, b]) await waitFor(async () => (await get(s)).status === 401, 3000, 50);
    const res = await get(b);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="wheelhouse"');
    expect(await res.text()).toContain(`the token ${id} has been revoked`);

    const inspect = await wheelhouse(['token', 'inspect', token, '--root', root]);
    expect(inspect.code).toBe(1);
    expect(inspect.stdout).toMatch(/revoked: +yes/);
  });
});

describe('users under an ACL', () => {
  it('twine uploads what the ACL grants and gets 403 naming the project elsewhere', async () => {
    const granted = await makeWheel({ name: 'whtest-acl-lib', version: '1.0' });
    const ok = await twineUpload(a.url, 'alice', ALICE, [granted.path]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const other = await makeWheel({ name: 'whtest-notgranted', version: '1.0' });
    const refused = await twineUpload(a.url, 'alice', ALICE, [other.path]);
    expect(refused.code).not.toBe(0);
    expect(oneLine(refused.stdout + refused.stderr)).toContain('User "alice" may not upload to project "whtest-notgranted"');
    expect(distributions()).not.toContain(other.filename);
  });
});

describe('wheelhouse audit', () => {
  it('lists every write of this run, each with who made it and from where', async () => {
    const yank = await fetch(`${b.url}/api/yank/whtest-acl-lib/1.0`, { method: 'PUT', headers: { authorization: basic('alice', ALICE) } });
    expect(yank.status).toBe(200);
    const r = await wheelhouse(['audit', '--root', root]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const line = (pattern: RegExp) => lines.find((l) => pattern.test(l));
    expect(
      line(/ upload +whtest-tok 1\.0 +whtest_tok-1\.0-py3-none-any\.whl .* by token [0-9a-f]+ "ci release" +from 127\.0\.0\.1$/),
      r.stdout,
    ).toBeDefined();
    expect(line(/ upload +whtest-tokpoetry 0\.3\.0 .*whl .* by token [0-9a-f]+ +from 127\.0\.0\.1$/), r.stdout).toBeDefined();
    expect(line(/ upload +whtest-acl-lib 1\.0 .* by user alice +from 127\.0\.0\.1$/), r.stdout).toBeDefined();
    expect(line(/ yank +whtest-acl-lib 1\.0 .* by user alice +from 127\.0\.0\.1$/), r.stdout).toBeDefined();
    expect(line(/ revoke +token [0-9a-f]+ +reason "leaked in a log" +by .+ \(command line\)$/), r.stdout).toBeDefined();
    // Refused writes left no line.
    expect(lines.filter((l) => /whtest-(elsewhere|notgranted)/.test(l))).toEqual([]);

    const json = await wheelhouse(['audit', '--root', root, '--project', 'whtest-acl-lib', '--json']);
    const events = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; actor: { type: string } });
    expect(events.map((e) => [e.action, e.actor.type])).toEqual([
      ['upload', 'user'],
      ['yank', 'user'],
    ]);
  });
});

describe('starting with these options', () => {
  const start = (args: string[], env: Record<string, string> = {}) =>
    wheelhouse(['--root', path.join(dir, 'start-root'), '--port', '0', '--workers', '2', ...args], env);

  it.each([
    [
      'publishers without a key',
      ['--trusted-publishers', 'tp.json'],
      { WHEELHOUSE_TOKEN_KEY: '' },
      '--trusted-publishers / WHEELHOUSE_TRUSTED_PUBLISHERS: trusted publishing mints API tokens',
    ],
    ['a key too short', [], { WHEELHOUSE_TOKEN_KEY: 'short' }, '--token-key / WHEELHOUSE_TOKEN_KEY: key 1 is 5 characters long'],
    [
      'an ACL file with a bad line',
      ['-P', 'ACL_HTPASSWD', '--acl', 'BAD_ACL'],
      {},
      '--acl / WHEELHOUSE_ACL: BAD_ACL line 2: unknown action "publish"',
    ],
    [
      'a publishers file that is not JSON',
      ['--trusted-publishers', 'BAD_TP'],
      {},
      '--trusted-publishers / WHEELHOUSE_TRUSTED_PUBLISHERS: BAD_TP: not valid JSON',
    ],
    ['a missing ACL file', ['-P', 'ACL_HTPASSWD', '--acl', 'NO_ACL'], {}, '--acl / WHEELHOUSE_ACL: cannot read the ACL file NO_ACL'],
  ])('stops with exit code 2 naming the option: %s', async (_what, rawArgs, env, message) => {
    const files: Record<string, string> = {
      ACL_HTPASSWD: path.join(dir, 'htpasswd'),
      BAD_ACL: path.join(dir, 'bad.acl'),
      BAD_TP: path.join(dir, 'bad-publishers.json'),
      NO_ACL: path.join(dir, 'missing.acl'),
    };
    writeFileSync(files.BAD_ACL ?? '', 'whtest-*  upload  alice\nwhtest-*  publish  alice\n');
    writeFileSync(files.BAD_TP ?? '', '{"publishers": [');
    const resolve = (s: string) => Object.entries(files).reduce((acc, [k, v]) => acc.replaceAll(k, v), s);
    const r = await start(rawArgs.map(resolve), env);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain(resolve(message));
  });
});
