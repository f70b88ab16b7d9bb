// The HTTP shape of projects served from the upstream index (--upstream), in-process over a real
// volume and a real fake upstream on loopback: pages, files and metadata under this server's URLs,
// local always winning, denied names, failures of the upstream as 502/504 (never 404), checks on
// every download, offline mode, what /metrics and /health say, and a burst costing one request.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { copyFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { LiveIndex } from '../../src/index/live-index.js';
import type { PackageIndex } from '../../src/index/package-index.js';
import { buildTestApp } from '../helpers/app.js';
import { distFile, distFiles, makeWheel } from '../helpers/dists.js';
import { tempDir } from '../helpers/server.js';
import { startUpstream, type FakeUpstream, type FakeUpstreamOptions } from '../helpers/upstream-server.js';

const JSON_ACCEPT = 'application/vnd.pypi.simple.v1+json';
const PYREQ_WHEEL = 'whtest_pyreq-1.0-py2.py3-none-any.whl';
const BASE_WHEEL = 'whtest_base-1.0-py2.py3-none-any.whl';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Setup {
  app: FastifyInstance;
  index: PackageIndex;
  live: LiveIndex;
  up: FakeUpstream;
  root: string;
}

const undo: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of undo.splice(0).reverse()) await fn();
});

async function setup(
  opts: {
    files?: string[];
    local?: string[];
    args?: string[];
    /** Arguments that need the upstream's address (with --upstream among them, it replaces the plain one). */
    argsFor?: (up: FakeUpstream) => string[];
    upstream?: Partial<FakeUpstreamOptions>;
  } = {},
): Promise<Setup> {
  const temp = tempDir('wh-upstream-routes-');
  const root = temp.dir;
  undo.push(() => temp.cleanup());
  for (const f of opts.local ?? []) await copyFile(f, path.join(root, path.basename(f)));
  const up = await startUpstream({ files: opts.files ?? distFiles('whtest?pyreq-*'), ...opts.upstream });
  undo.push(() => up.stop());
  const upstreamArgs = opts.argsFor?.(up) ?? [];
  const { app, index, live } = await buildTestApp(root, [
    ...(upstreamArgs.includes('--upstream') ? [] : ['--upstream', up.indexUrl]),
    ...upstreamArgs,
    ...(opts.args ?? []),
  ]);
  undo.push(() => app.close());
  return { app, index, live, up, root };
}

/** Every file under the upstream cache's files/ and the volume's incoming/. */
async function cachedFiles(root: string): Promise<string[]> {
  const list = async (d: string) => (await readdir(path.join(root, d)).catch(() => [] as string[])).map((n) => `${d}/${n}`);
  return [...(await list('.wheelhouse/upstream/files')), ...(await list('.wheelhouse/incoming'))];
}

describe('a project no local file claims', () => {
  it('is listed as PEP 691 JSON under /packages/ URLs, with hashes, requires-python, yanks, metadata, sizes, upload times', async () => {
    const { app, up } = await setup();
    up.yank('whtest-pyreq-1.0.tar.gz', 'broken sdist');
    const res = await app.inject({ url: '/simple/whtest-pyreq/', headers: { accept: JSON_ACCEPT } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(JSON_ACCEPT);
    expect(res.headers.etag).toMatch(/^".+"$/);
    const page = res.json<{ meta: unknown; name: string; versions: string[]; files: Record<string, unknown>[] }>();
    expect(page.meta).toEqual({ 'api-version': '1.1' });
    expect(page.name).toBe('whtest-pyreq');
    expect(page.versions).toEqual(['1.0', '2.0']);
    const wheel = up.file(PYREQ_WHEEL);
    expect(page.files.find((f) => f.filename === PYREQ_WHEEL)).toEqual({
      filename: PYREQ_WHEEL,
      url: `../../packages/${PYREQ_WHEEL}`,
      hashes: { sha256: wheel.sha256 },
      'requires-python': '>=2.7',
      'core-metadata': { sha256: wheel.metadataSha256 },
      yanked: false,
      size: wheel.size,
      'upload-time': wheel.uploadTime,
    });
    expect(page.files.find((f) => f.filename === 'whtest-pyreq-1.0.tar.gz')).toMatchObject({
      yanked: 'broken sdist',
      'core-metadata': false,
    });
    // Nothing of it is local.
    const root = await app.inject({ url: '/simple/', headers: { accept: JSON_ACCEPT } });
    expect(root.json()).toMatchObject({ projects: [] });
    expect((await app.inject({ url: '/packages/' })).body).not.toContain('whtest');
  });

  it('is listed as PEP 503 HTML for old pips, attributes escaped, and answers 304 to its ETag', async () => {
    const { app, up } = await setup();
    const res = await app.inject({ url: '/simple/whtest-pyreq/', headers: { accept: 'text/html' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const wheel = up.file('whtest_pyreq-2.0-py2.py3-none-any.whl');
    expect(res.body).toContain(
      `<a href="../../packages/${wheel.filename}#sha256=${wheel.sha256}" data-requires-python="&gt;=3.12" ` +
        `data-core-metadata="sha256=${wheel.metadataSha256}">${wheel.filename}</a>`,
    );
    expect(res.body).not.toContain('data-dist-info-metadata');
    const again = await app.inject({
      url: '/simple/whtest-pyreq/',
      headers: { accept: 'text/html', 'if-none-match': String(res.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    expect(up.pageHits('whtest-pyreq')).toBe(1);
  });

  it('is served as api-version 1.0 without sizes when the upstream speaks only HTML', async () => {
    const { app } = await setup({ upstream: { formats: ['html'] } });
    const page = (await app.inject({ url: '/simple/whtest-pyreq/', headers: { accept: JSON_ACCEPT } })).json<{
      meta: unknown;
      files: Record<string, unknown>[];
    }>();
    expect(page.meta).toEqual({ 'api-version': '1.0' });
    expect(page.files).toHaveLength(4);
    for (const f of page.files) expect(f).not.toHaveProperty('size');
  });

  it('serves a file and its PEP 658 metadata: fetched and checked once, then from the cache', async () => {
    const { app, up, root } = await setup();
    const wheel = up.file(PYREQ_WHEEL);
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({ url: `/packages/${PYREQ_WHEEL}` });
      expect(res.statusCode).toBe(200);
      expect(sha256(res.rawPayload)).toBe(wheel.sha256);
      expect(res.headers.etag).toBe(`"${wheel.sha256}"`);
      expect(res.headers['content-length']).toBe(String(wheel.size));
      const meta = await app.inject({ url: `/packages/${PYREQ_WHEEL}.metadata` });
      expect(meta.statusCode).toBe(200);
      expect(meta.rawPayload).toEqual(wheel.metadata);
    }
    expect(up.fileHits(PYREQ_WHEEL)).toBe(1);
    expect(up.metadataHits(PYREQ_WHEEL)).toBe(1);
    expect((await cachedFiles(root)).sort()).toEqual(
      [`.wheelhouse/upstream/files/${wheel.sha256}`, `.wheelhouse/upstream/files/${wheel.metadataSha256}`].sort(),
    );
    // HEAD and ranges, as for local files.
    const head = await app.inject({ method: 'HEAD', url: `/packages/${PYREQ_WHEEL}` });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(wheel.size));
    const part = await app.inject({ url: `/packages/${PYREQ_WHEEL}`, headers: { range: 'bytes=10-19' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 10-19/${wheel.size}`);
    expect(part.rawPayload).toEqual(wheel.bytes.subarray(10, 20));
    const notModified = await app.inject({ url: `/packages/${PYREQ_WHEEL}`, headers: { 'if-none-match': `"${wheel.sha256}"` } });
    expect(notModified.statusCode).toBe(304);
  });

  it('serves a file asked for without its page first (a lock file’s install), and 404s a name the upstream lacks', async () => {
    const { app, up } = await setup();
    const sdist = up.file('whtest-pyreq-2.0.tar.gz');
    const res = await app.inject({ url: '/packages/whtest-pyreq-2.0.tar.gz' });
    expect(res.statusCode).toBe(200);
    expect(sha256(res.rawPayload)).toBe(sdist.sha256);
    expect((await app.inject({ url: '/packages/whtest_pyreq-3.0-py3-none-any.whl' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/packages/whtest-pyreq-2.0.tar.gz.metadata' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/packages/team/whtest-pyreq-2.0.tar.gz' })).statusCode).toBe(404);
  });

  it('has the warehouse JSON API, from the upstream page', async () => {
    const { app, up } = await setup();
    const res = await app.inject({ url: '/pypi/whtest-pyreq/json' });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ info: { version: string }; releases: Record<string, { filename: string; url: string; digests: unknown }[]> }>();
    expect(body.info.version).toBe('2.0');
    expect(Object.keys(body.releases)).toEqual(['1.0', '2.0']);
    const wheel = up.file(PYREQ_WHEEL);
    expect(body.releases['1.0']).toContainEqual(
      expect.objectContaining({
        filename: PYREQ_WHEEL,
        url: `http://localhost:80/packages/${PYREQ_WHEEL}`,
        digests: { sha256: wheel.sha256 },
      }),
    );
    expect((await app.inject({ url: '/pypi/whtest-pyreq/1.0/json' })).json()).toMatchObject({ info: { version: '1.0' } });
    expect((await app.inject({ url: '/pypi/whtest-pyreq/7.0/json' })).statusCode).toBe(404);
  });

  it('is served below --base-path: relative links on its pages, the prefix in its JSON API URLs, its files there', async () => {
    const { app, up } = await setup({ args: ['--base-path', '/pypi'] });
    const wheel = up.file(PYREQ_WHEEL);
    const page = await app.inject({ url: '/pypi/simple/whtest-pyreq/', headers: { accept: 'text/html' } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(`<a href="../../packages/${PYREQ_WHEEL}#sha256=${wheel.sha256}"`);
    const json = await app.inject({ url: '/pypi/pypi/whtest-pyreq/json', headers: { host: 'tools.example.com' } });
    const body = json.json<{ releases: Record<string, { filename: string; url: string }[]> }>();
    const url = body.releases['1.0']?.find((f) => f.filename === PYREQ_WHEEL)?.url;
    expect(url).toBe(`http://tools.example.com/pypi/packages/${PYREQ_WHEEL}`);
    const file = await app.inject({ url: new URL(url ?? '').pathname });
    expect(file.statusCode).toBe(200);
    expect(sha256(file.rawPayload)).toBe(wheel.sha256);
    expect((await app.inject({ url: '/simple/whtest-pyreq/' })).statusCode).toBe(404);
  });

  it('can never be removed with upload credentials, nor listed as local', async () => {
    const { app, index } = await setup();
    expect((await app.inject({ url: `/packages/${PYREQ_WHEEL}` })).statusCode).toBe(200);
    const del = await app.inject({ method: 'DELETE', url: `/packages/${PYREQ_WHEEL}` });
    expect(del.statusCode).toBe(404);
    const remove = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: ':action=remove_pkg&name=whtest-pyreq&version=1.0',
    });
    expect(remove.statusCode).toBe(404);
    expect(index.project('whtest-pyreq')).toBeUndefined();
    expect(index.status().files).toBe(0);
    expect((await app.inject({ url: `/packages/${PYREQ_WHEEL}` })).statusCode).toBe(200);
  });
});

describe('an upstream that asks for a login', () => {
  it.each([
    ['--upstream-credentials', () => ['--upstream-credentials', 'ci:s3cr:et']],
    ['credentials in the URL', (u: FakeUpstream) => ['--upstream', u.indexUrl.replace('http://', 'http://ci:s3cr%3Aet@')]],
  ])('gets them from %s, and sends them to the index host only, never to the file host', async (_how, args) => {
    const { app, up } = await setup({ upstream: { auth: { username: 'ci', password: 's3cr:et' } }, argsFor: args });
    expect((await app.inject({ url: '/simple/whtest-pyreq/' })).statusCode).toBe(200);
    expect((await app.inject({ url: `/packages/${PYREQ_WHEEL}` })).statusCode).toBe(200);
    const byServer = (server: string) => up.requests.filter((r) => r.server === server);
    expect(byServer('index').every((r) => r.status === 200 && r.headers.authorization !== undefined)).toBe(true);
    expect(byServer('files').length).toBeGreaterThan(0);
    expect(byServer('files').every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it('answers 502 naming the upstream when the login is refused', async () => {
    const { app, up } = await setup({
      upstream: { auth: { username: 'ci', password: 's3cret' } },
      args: ['--upstream-credentials', 'ci:wrong'],
    });
    const res = await app.inject({ url: '/simple/whtest-pyreq/' });
    expect(res.statusCode).toBe(502);
    expect(res.body).toContain('401');
    expect(res.body).toContain(up.indexUrl);
    expect(res.body).not.toContain('wrong');
  });
});

describe('downloads from the cache', () => {
  /** Counts calls into the file system (fs.promises and open file handles) while fn runs. */
  async function fsCalls(fn: () => Promise<unknown>): Promise<Record<string, number>> {
    const probe = await fsp.open(__filename, 'r');
    const handleProto = Object.getPrototypeOf(probe) as Record<string, unknown>;
    await probe.close();
    const counts: Record<string, number> = {};
    const restore: (() => void)[] = [];
    const wrap = (target: Record<string, unknown>, names: string[], prefix: string) => {
      for (const name of names) {
        const original = target[name] as (...a: unknown[]) => unknown;
        target[name] = function (this: unknown, ...args: unknown[]) {
          counts[prefix + name] = (counts[prefix + name] ?? 0) + 1;
          return original.apply(this, args);
        };
        restore.push(() => (target[name] = original));
      }
    };
    wrap(fsp, ['open', 'stat', 'lstat', 'readdir', 'readFile', 'access', 'utimes', 'realpath'], '');
    wrap(handleProto, ['stat', 'read'], 'handle.');
    try {
      await fn();
    } finally {
      for (const r of restore) r();
    }
    return counts;
  }

  it('costs no more file-system calls per download than a local file of the same size', async () => {
    // Above --file-cache-max-file (256 KiB here): streamed from the volume each time, local and upstream alike.
    const payload = { 'big/data.txt': randomBytes(300_000).toString('base64') };
    const own = await makeWheel({ name: 'whtest-own', version: '1.0', extraFiles: payload });
    const theirs = await makeWheel({ name: 'whtest-theirs', version: '1.0', extraFiles: payload });
    const smallOwn = await makeWheel({ name: 'whtest-own-small', version: '1.0' });
    const smallTheirs = await makeWheel({ name: 'whtest-theirs-small', version: '1.0' });
    const { app } = await setup({
      files: [theirs.path, smallTheirs.path],
      local: [own.path, smallOwn.path],
      args: ['--file-cache-max-file', '256KiB'],
    });
    const download = async (filename: string) => {
      const res = await app.inject({ url: `/packages/${filename}` });
      expect(res.statusCode).toBe(200);
    };
    for (const w of [own, theirs, smallOwn, smallTheirs]) await download(w.filename);
    const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
    for (const [local, remote] of [
      [own, theirs],
      [smallOwn, smallTheirs],
    ] as const) {
      const localCalls = await fsCalls(async () => {
        for (let i = 0; i < 20; i++) await download(local.filename);
      });
      const remoteCalls = await fsCalls(async () => {
        for (let i = 0; i < 20; i++) await download(remote.filename);
      });
      expect(total(remoteCalls), `${JSON.stringify(remoteCalls)} against ${JSON.stringify(localCalls)}`).toBeLessThanOrEqual(
        total(localCalls),
      );
      expect(remoteCalls.stat ?? 0).toBe(0);
      expect(remoteCalls['handle.stat'] ?? 0).toBe(0);
    }
  });
});

describe('local always wins', () => {
  it('never asks the upstream about a project with a local file, even for a higher version it offers', async () => {
    const higher = await makeWheel({ name: 'whtest-chain-a', version: '9.0' });
    const { app, up } = await setup({
      files: [higher.path, ...distFiles('whtest?chain?b-*')],
      local: [distFile('whtest_chain_a-1.0-*.whl')],
    });
    const html = (await app.inject({ url: '/simple/whtest-chain-a/' })).body;
    expect(html).toContain('whtest_chain_a-1.0-py2.py3-none-any.whl');
    expect(html).not.toContain('9.0');
    expect((await app.inject({ url: `/packages/${higher.filename}` })).statusCode).toBe(404);
    expect((await app.inject({ url: '/pypi/whtest-chain-a/json' })).json()).toMatchObject({ info: { version: '1.0' } });
    expect(up.pageHits('whtest-chain-a')).toBe(0);
    expect(up.fileHits(higher.filename)).toBe(0);
    // Another project comes through.
    expect((await app.inject({ url: '/simple/whtest-chain-b/' })).statusCode).toBe(200);
  });

  it('turns a project local at its first local file: the upstream’s files are no longer listed or served', async () => {
    const { app, up, live, root } = await setup();
    expect((await app.inject({ url: `/packages/${PYREQ_WHEEL}` })).statusCode).toBe(200);
    const own = await makeWheel({ name: 'whtest-pyreq', version: '0.1' });
    await copyFile(own.path, path.join(root, own.filename));
    await live.rescan({ full: true });
    up.resetCounts();
    const page = (await app.inject({ url: '/simple/whtest-pyreq/', headers: { accept: JSON_ACCEPT } })).json<{
      files: { filename: string }[];
    }>();
    expect(page.files.map((f) => f.filename)).toEqual([own.filename]);
    expect((await app.inject({ url: `/packages/${PYREQ_WHEEL}` })).statusCode).toBe(404);
    expect((await app.inject({ url: `/packages/${PYREQ_WHEEL}.metadata` })).statusCode).toBe(404);
    expect(up.requests).toHaveLength(0);
  });

  it('never fetches a denied name, whatever the upstream offers', async () => {
    const denied = await makeWheel({ name: 'mycorp-secret', version: '1.0' });
    const { app, up } = await setup({ files: [denied.path], args: ['--upstream-deny', 'MyCorp_*, other'] });
    expect((await app.inject({ url: '/simple/mycorp-secret/' })).statusCode).toBe(404);
    expect((await app.inject({ url: `/packages/${denied.filename}` })).statusCode).toBe(404);
    expect((await app.inject({ url: '/pypi/mycorp-secret/json' })).statusCode).toBe(404);
    expect(up.requests).toHaveLength(0);
  });
});

describe('when the upstream fails', () => {
  it('answers 502 naming the upstream for a project never fetched, never 404, and remembers nothing of the failure', async () => {
    const { app, up } = await setup();
    up.fault({ project: 'whtest-pyreq' }, { kind: 'status', status: 503 });
    const res = await app.inject({ url: '/simple/whtest-pyreq/' });
    expect(res.statusCode).toBe(502);
    expect(res.body).toContain(up.indexUrl);
    expect(res.body).toContain('whtest-pyreq');
    // pip reads the status line too.
    expect(res.statusMessage).toContain('upstream index');
    // Nothing was remembered of the failure: the next request asks again, and gets the page.
    up.clearFaults();
    expect((await app.inject({ url: '/simple/whtest-pyreq/' })).statusCode).toBe(200);
  });

  it('answers 504 when the upstream does not answer within --upstream-timeout, and 502 when it cannot be reached', async () => {
    const { app, up } = await setup({ args: ['--upstream-timeout', '300ms'] });
    up.fault({ project: 'whtest-pyreq' }, { kind: 'hang' });
    const res = await app.inject({ url: '/simple/whtest-pyreq/' });
    expect(res.statusCode).toBe(504);
    expect(res.body).toContain(up.indexUrl);
    await up.stop();
    const down = await app.inject({ url: '/simple/whtest-pyreq/' });
    expect(down.statusCode).toBe(502);
    expect(down.body).toContain('unreachable');
  });

  it('keeps serving a project it fetched before, and its cached files, while the upstream is down; /health stays 200', async () => {
    const { app, up } = await setup();
    const page = await app.inject({ url: '/simple/whtest-pyreq/' });
    expect((await app.inject({ url: `/packages/${PYREQ_WHEEL}` })).statusCode).toBe(200);
    await up.stop();
    const again = await app.inject({ url: '/simple/whtest-pyreq/' });
    expect(again.statusCode).toBe(200);
    expect(again.body).toBe(page.body);
    expect((await app.inject({ url: `/packages/${PYREQ_WHEEL}` })).statusCode).toBe(200);
    // A file never fetched cannot be: 502, not 404.
    const missing = await app.inject({ url: '/packages/whtest_pyreq-2.0-py2.py3-none-any.whl' });
    expect(missing.statusCode).toBe(502);
    const health = await app.inject({ url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({ status: 'ok', upstream: { url: up.indexUrl, offline: false } });
    expect(health.json<{ upstream: { lastError: string } }>().upstream.lastError).toContain('unreachable');
  });

  it('holds up only the clients of a project whose upstream page is slow, never other projects or local ones', async () => {
    const { app, up } = await setup({
      files: distFiles('whtest?*-*'),
      local: [distFile('whtest_top-1.0-*.whl')],
      args: ['--upstream-timeout', '5s'],
    });
    up.fault({ project: 'whtest-base' }, { kind: 'hang' });
    let slowDone = false;
    const slow = app.inject({ url: '/simple/whtest-base/' }).then((r) => {
      slowDone = true;
      return r;
    });
    const [other, local, file] = await Promise.all([
      app.inject({ url: '/simple/whtest-left/' }),
      app.inject({ url: '/simple/whtest-top/' }),
      app.inject({ url: '/packages/whtest_right-1.0-py2.py3-none-any.whl' }),
    ]);
    expect([other.statusCode, local.statusCode, file.statusCode]).toEqual([200, 200, 200]);
    expect(slowDone).toBe(false);
    await up.stop();
    expect((await slow).statusCode).toBe(502);
  });

  it('remembers an upstream 404 for a while: a burst for a missing name costs one upstream request', async () => {
    const { app, up } = await setup();
    const answers = await Promise.all(Array.from({ length: 50 }, () => app.inject({ url: '/simple/no-such-project/' })));
    expect(answers.map((r) => r.statusCode)).toEqual(Array(50).fill(404));
    expect((await app.inject({ url: '/simple/no-such-project/' })).statusCode).toBe(404);
    expect(up.pageHits('no-such-project')).toBe(1);
  });
});

describe('every download is checked', () => {
  it('answers 502 for a file whose bytes do not match the sha256 of the page, and keeps nothing on the volume', async () => {
    const { app, up, root } = await setup();
    up.fault({ file: PYREQ_WHEEL }, { kind: 'wrong-hash' });
    const res = await app.inject({ url: `/packages/${PYREQ_WHEEL}` });
    expect(res.statusCode).toBe(502);
    expect(res.body).toContain(PYREQ_WHEEL);
    expect(await cachedFiles(root)).toEqual([]);
    // Asked again, it is fetched again (and still refused): nothing wrong was remembered.
    expect((await app.inject({ url: `/packages/${PYREQ_WHEEL}` })).statusCode).toBe(502);
    expect(up.fileHits(PYREQ_WHEEL)).toBe(2);
    expect(await cachedFiles(root)).toEqual([]);
  });

  it('answers 502 for a body cut short, and for metadata that does not match its hash, keeping nothing', async () => {
    const { app, up, root } = await setup();
    // Both before the page is read: the page lists the wrong metadata hash.
    up.fault({ file: PYREQ_WHEEL }, { kind: 'truncate' });
    up.fault({ metadata: PYREQ_WHEEL }, { kind: 'wrong-hash' });
    expect((await app.inject({ url: `/packages/${PYREQ_WHEEL}` })).statusCode).toBe(502);
    expect((await app.inject({ url: `/packages/${PYREQ_WHEEL}.metadata` })).statusCode).toBe(502);
    expect(await cachedFiles(root)).toEqual([]);
  });
});

describe('--upstream-offline', () => {
  it('never asks the upstream, lists only the files the cache holds, and 404s what it does not hold', async () => {
    const temp = tempDir('wh-upstream-offline-');
    const root = temp.dir;
    undo.push(() => temp.cleanup());
    const up = await startUpstream({ files: distFiles('whtest?pyreq-*') });
    undo.push(() => up.stop());
    // Online first: one page and one wheel with its metadata get cached.
    const online = await buildTestApp(root, ['--upstream', up.indexUrl]);
    expect((await online.app.inject({ url: '/simple/whtest-pyreq/' })).statusCode).toBe(200);
    expect((await online.app.inject({ url: `/packages/${PYREQ_WHEEL}` })).statusCode).toBe(200);
    expect((await online.app.inject({ url: `/packages/${PYREQ_WHEEL}.metadata` })).statusCode).toBe(200);
    await online.app.close();
    up.resetCounts();

    const { app } = await buildTestApp(root, ['--upstream', up.indexUrl, '--upstream-offline', '--upstream-ttl', '1s']);
    undo.push(() => app.close());
    const page = (await app.inject({ url: '/simple/whtest-pyreq/', headers: { accept: JSON_ACCEPT } })).json<{
      versions: string[];
      files: { filename: string; 'core-metadata': unknown }[];
    }>();
    expect(page.files.map((f) => f.filename)).toEqual([PYREQ_WHEEL]);
    expect(page.versions).toEqual(['1.0']);
    expect(page.files[0]!['core-metadata']).toEqual({ sha256: up.file(PYREQ_WHEEL).metadataSha256 });
    expect((await app.inject({ url: `/packages/${PYREQ_WHEEL}` })).statusCode).toBe(200);
    const notCached = await app.inject({ url: '/packages/whtest-pyreq-2.0.tar.gz' });
    expect(notCached.statusCode).toBe(404);
    expect(notCached.body).toContain('--upstream-offline');
    const never = await app.inject({ url: '/simple/whtest-base/' });
    expect(never.statusCode).toBe(404);
    expect(never.body).toContain('--upstream-offline');
    expect(up.requests).toHaveLength(0);
  });
});

describe('a burst on an uncached project and file', () => {
  it('costs one upstream request for the page and one for the file, however many clients ask at once', async () => {
    const { app, up } = await setup({ files: distFiles('whtest?base-*') });
    up.fault({ project: 'whtest-base' }, { kind: 'slow', delayMs: 20, chunkBytes: 256 });
    up.fault({ file: BASE_WHEEL }, { kind: 'slow', delayMs: 20, chunkBytes: 256 });
    const pages = await Promise.all(
      Array.from({ length: 510 }, (_, i) =>
        app.inject({ url: '/simple/whtest-base/', headers: { accept: i % 2 ? JSON_ACCEPT : 'text/html' } }),
      ),
    );
    expect(pages.every((r) => r.statusCode === 200)).toBe(true);
    const files = await Promise.all(Array.from({ length: 510 }, () => app.inject({ url: `/packages/${BASE_WHEEL}` })));
    expect(files.every((r) => r.statusCode === 200 && sha256(r.rawPayload) === up.file(BASE_WHEEL).sha256)).toBe(true);
    expect(up.pageHits('whtest-base')).toBe(1);
    expect(up.fileHits(BASE_WHEEL)).toBe(1);

    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toContain('wheelhouse_upstream_requests_total{kind="page",outcome="ok"} 1');
    expect(metrics).toContain('wheelhouse_upstream_requests_total{kind="file",outcome="ok"} 1');
    expect(metrics).toMatch(/wheelhouse_upstream_cache_misses_total\{kind="file"\} 510/);
    expect(metrics).toContain(`wheelhouse_upstream_fetched_bytes_total ${up.file(BASE_WHEEL).size}`);
    expect(metrics).toContain('wheelhouse_upstream_request_duration_seconds_count{kind="page"} 1');
  });
});
