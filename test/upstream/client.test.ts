import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { UPSTREAM_ACCEPT, UpstreamPageError } from '../../src/pypi/upstream-page.js';
import { UpstreamClient, UpstreamError, type ProjectFetch, type UpstreamClientOptions } from '../../src/upstream/client.js';
import { distFiles } from '../helpers/dists.js';
import { startUpstream, type FakeUpstream, type FakeUpstreamOptions } from '../helpers/upstream-server.js';

const BASE_WHEEL = 'whtest_base-1.0-py2.py3-none-any.whl';

let upstream: FakeUpstream | null = null;
afterEach(async () => {
  await upstream?.stop();
  upstream = null;
});

async function start(opts: Partial<FakeUpstreamOptions> = {}): Promise<FakeUpstream> {
  upstream = await startUpstream({ files: distFiles('whtest?base-1.*'), ...opts });
  return upstream;
}

function client(u: FakeUpstream, opts: Partial<UpstreamClientOptions> = {}): UpstreamClient {
  return new UpstreamClient({ url: u.indexUrl, timeoutMs: 2_000, ...opts });
}

async function drain(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function failure(p: Promise<unknown>): Promise<UpstreamError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UpstreamError);
  return err as UpstreamError;
}

function page(r: ProjectFetch): Extract<ProjectFetch, { kind: 'page' }> {
  if (r.kind !== 'page') throw new Error(`expected a page, got ${r.kind}`);
  return r;
}

describe('UpstreamClient.fetchProject', () => {
  it('asks for the page as pip does, normalizes the name, and returns the parsed JSON page with its ETag', async () => {
    const u = await start();
    const before = Date.now();
    const r = page(await client(u).fetchProject('WHTest_Base'));
    expect(r.page.format).toBe('json');
    expect(r.page.files.map((f) => f.filename)).toContain(BASE_WHEEL);
    expect(r.page.files.find((f) => f.filename === BASE_WHEEL)!.sha256).toBe(u.file(BASE_WHEEL).sha256);
    expect(r.etag).toMatch(/^".+"$/);
    expect(r.fetchedAt).toBeGreaterThanOrEqual(before);
    const [req] = u.requests;
    expect(req!.path).toBe('/simple/whtest-base/');
    expect(req!.headers.accept).toBe(UPSTREAM_ACCEPT);
    expect(req!.headers['cache-control']).toBe('max-age=0');
  });

  it('reads an upstream that only serves PEP 503 HTML', async () => {
    const u = await start({ formats: ['html'] });
    const r = page(await client(u).fetchProject('whtest-base'));
    expect(r.page.format).toBe('html');
    expect(r.page.files).toHaveLength(4);
  });

  it('revalidates with If-None-Match: 304 while the page is unchanged, the new page once it changed', async () => {
    const u = await start();
    const c = client(u);
    const first = page(await c.fetchProject('whtest-base'));
    expect(await c.fetchProject('whtest-base', { etag: first.etag })).toMatchObject({ kind: 'not-modified' });
    expect(u.requests[1]!.headers['if-none-match']).toBe(first.etag);
    u.yank(BASE_WHEEL, 'broken build');
    const changed = page(await c.fetchProject('whtest-base', { etag: first.etag }));
    expect(changed.etag).not.toBe(first.etag);
    expect(changed.page.files.find((f) => f.filename === BASE_WHEEL)!.yanked).toBe('broken build');
  });

  it('reports an unknown project as not-found', async () => {
    const u = await start();
    expect(await client(u).fetchProject('no-such-project')).toMatchObject({ kind: 'not-found' });
    u.fault({ project: 'whtest-base' }, { kind: 'not-found' });
    expect(await client(u).fetchProject('whtest-base')).toMatchObject({ kind: 'not-found' });
  });

  it('makes one upstream request for 50 concurrent calls, and all of them get its result', async () => {
    const u = await start();
    u.fault({ project: 'whtest-base' }, { kind: 'slow', delayMs: 20, chunkBytes: 256 });
    const c = client(u);
    const results = await Promise.all(Array.from({ length: 50 }, () => c.fetchProject('whtest-base')));
    expect(u.pageHits('whtest-base')).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(page(results[0]!).page.files).toHaveLength(4);
    // Nothing is remembered once it settled: the next call asks again.
    await c.fetchProject('whtest-base');
    expect(u.pageHits('whtest-base')).toBe(2);
  });

  it('shares one failure among concurrent callers too', async () => {
    const u = await start();
    u.fault({ project: 'whtest-base' }, { kind: 'status', status: 500 });
    const c = client(u);
    const errors = await Promise.all(Array.from({ length: 50 }, () => failure(c.fetchProject('whtest-base'))));
    expect(u.pageHits('whtest-base')).toBe(1);
    expect(errors.every((e) => e.kind === 'status' && e.status === 500)).toBe(true);
  });

  it('does not coalesce calls for different projects or different ETags', async () => {
    const u = await start({ files: distFiles('whtest?base-1.0*').concat(distFiles('whtest?top-1.0*')) });
    const c = client(u);
    const etag = page(await c.fetchProject('whtest-base')).etag;
    u.resetCounts();
    await Promise.all([c.fetchProject('whtest-base'), c.fetchProject('whtest-base', { etag }), c.fetchProject('whtest-top')]);
    expect(u.pageHits('whtest-base')).toBe(2);
    expect(u.pageHits('whtest-top')).toBe(1);
  });
});

describe('UpstreamClient errors', () => {
  it('says timeout when the upstream holds the request past the timeout', async () => {
    const u = await start();
    u.fault({ project: 'whtest-base' }, { kind: 'hang' });
    const err = await failure(client(u, { timeoutMs: 200 }).fetchProject('whtest-base'));
    expect(err.kind).toBe('timeout');
    expect(err.url).toBe(`${u.indexUrl}whtest-base/`);
  });

  it('says timeout when a page body is still coming at the timeout', async () => {
    const u = await start();
    u.fault({ project: 'whtest-base' }, { kind: 'slow', delayMs: 100, chunkBytes: 64 });
    expect((await failure(client(u, { timeoutMs: 300 }).fetchProject('whtest-base'))).kind).toBe('timeout');
  });

  it('says unreachable when nothing listens', async () => {
    const u = await start();
    await u.stop();
    const err = await failure(client(u).fetchProject('whtest-base'));
    expect(err.kind).toBe('unreachable');
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('says status with the code for an error answer', async () => {
    const u = await start();
    u.fault({ project: 'whtest-base' }, { kind: 'status', status: 503 });
    const err = await failure(client(u).fetchProject('whtest-base'));
    expect([err.kind, err.status]).toEqual(['status', 503]);
  });

  it('says bad-response for a page cut short, a page over the size limit, or one that is not a simple-API page', async () => {
    const u = await start();
    u.fault({ project: 'whtest-base' }, { kind: 'truncate', times: 1 });
    expect((await failure(client(u).fetchProject('whtest-base'))).kind).toBe('bad-response');
    const tooBig = await failure(client(u, { maxPageBytes: 100 }).fetchProject('whtest-base'));
    expect(tooBig.kind).toBe('bad-response');
    expect(tooBig.message).toMatch(/over the limit/);
  });

  it('says bad-response for a 200 that is not a simple-API page ', async () => {
    const other = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"info": {}}'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = other.address() as { port: number };
      const err = await failure(new UpstreamClient({ url: `http://127.0.0.1:${port}/pypi/`, timeoutMs: 2_000 }).fetchProject('demo'));
      expect(err.kind).toBe('bad-response');
      expect(err.message).toMatch(/not a simple-API page/);
      expect(err.cause).toBeInstanceOf(UpstreamPageError);
    } finally {
      other.closeAllConnections();
      await new Promise((resolve) => other.close(resolve));
    }
  });
});

describe('UpstreamClient credentials', () => {
  it('moves credentials out of the URL into Basic auth for the index host, and never sends them to the file host', async () => {
    const u = await start({ auth: { username: 'ci@corp', password: 'p:ss/w' }, fileLinks: 'redirect' });
    const withCreds = u.indexUrl.replace('http://', `http://${encodeURIComponent('ci@corp')}:${encodeURIComponent('p:ss/w')}@`);
    const c = new UpstreamClient({ url: withCreds, timeoutMs: 2_000 });
    expect(c.indexUrl).toBe(u.indexUrl);
    const r = page(await c.fetchProject('whtest-base'));
    const wheel = r.page.files.find((f) => f.filename === BASE_WHEEL)!;
    // The link points at the index host, which redirects to the CDN port.
    const file = await c.openFile(wheel.url);
    expect(
      createHash('sha256')
        .update(await drain(file.body))
        .digest('hex'),
    ).toBe(wheel.sha256);
    expect(file.url.startsWith(u.filesUrl)).toBe(true);
    const expected = `Basic ${Buffer.from('ci@corp:p:ss/w').toString('base64')}`;
    const index = u.requests.filter((q) => q.server === 'index');
    const files = u.requests.filter((q) => q.server === 'files');
    expect(index.map((q) => q.status)).toEqual([200, 302]);
    expect(index.every((q) => q.headers.authorization === expected)).toBe(true);
    expect(files).toHaveLength(1);
    expect(files[0]!.headers.authorization).toBeUndefined();
  });

  it('takes user:password given apart from the URL, and fails with status 401 without them', async () => {
    const u = await start({ auth: { username: 'ci', password: 's3cret' } });
    expect(page(await client(u, { credentials: 'ci:s3cret' }).fetchProject('whtest-base')).page.files).toHaveLength(4);
    const err = await failure(client(u).fetchProject('whtest-base'));
    expect([err.kind, err.status]).toEqual(['status', 401]);
  });
});

describe('UpstreamClient.openFile', () => {
  it('streams a file from the other host with its length', async () => {
    const u = await start();
    const f = u.file(BASE_WHEEL);
    const got = await client(u).openFile(f.url);
    expect(got.length).toBe(f.size);
    expect(got.url).toBe(f.url);
    expect(
      createHash('sha256')
        .update(await drain(got.body))
        .digest('hex'),
    ).toBe(f.sha256);
    expect(u.requests[0]!.headers['accept-encoding']).toBe('identity');
  });

  it('throws status for a missing file and timeout for one whose headers never come', async () => {
    const u = await start();
    u.fault({ file: BASE_WHEEL }, { kind: 'not-found', times: 1 });
    const missing = await failure(client(u).openFile(u.file(BASE_WHEEL).url));
    expect([missing.kind, missing.status]).toEqual(['status', 404]);
    u.fault({ file: BASE_WHEEL }, { kind: 'hang' });
    expect((await failure(client(u, { timeoutMs: 200 }).openFile(u.file(BASE_WHEEL).url))).kind).toBe('timeout');
  });

  it('fails the body stream with bad-response when the upstream cuts it short', async () => {
    const u = await start();
    u.fault({ file: BASE_WHEEL }, { kind: 'truncate' });
    const got = await client(u).openFile(u.file(BASE_WHEEL).url);
    const err = await failure(drain(got.body));
    expect(err.kind).toBe('bad-response');
  });

  it('lets a slow body run past the timeout as long as data keeps coming', async () => {
    const u = await start();
    // About 10 pieces 150 ms apart: the whole body takes three times the 500 ms timeout.
    u.fault({ file: BASE_WHEEL }, { kind: 'slow', delayMs: 150, chunkBytes: 128 });
    const got = await client(u, { timeoutMs: 500, idleTimeoutMs: 5_000 }).openFile(u.file(BASE_WHEEL).url);
    expect(
      createHash('sha256')
        .update(await drain(got.body))
        .digest('hex'),
    ).toBe(u.file(BASE_WHEEL).sha256);
  });

  it('fails the body stream with timeout when the upstream stalls longer than the idle timeout', async () => {
    const u = await start();
    u.fault({ file: BASE_WHEEL }, { kind: 'slow', delayMs: 2_000, chunkBytes: 128 });
    const got = await client(u, { idleTimeoutMs: 150 }).openFile(u.file(BASE_WHEEL).url);
    const err = await failure(drain(got.body));
    expect(err.kind).toBe('timeout');
    expect(err.message).toMatch(/stalled/);
  });
});

describe('UpstreamClient configuration', () => {
  it('refuses an index URL that is not absolute http(s)', () => {
    expect(() => new UpstreamClient({ url: 'pypi.org/simple', timeoutMs: 1 })).toThrow(/not an absolute URL/);
    expect(() => new UpstreamClient({ url: 'ftp://pypi.org/simple/', timeoutMs: 1 })).toThrow(/must be http/);
  });

  it('builds project URLs under the index URL, adding the trailing slash it lacks', () => {
    const c = new UpstreamClient({ url: 'https://user:pw@artifactory.example/api/pypi/pypi-remote/simple', timeoutMs: 1 });
    expect(c.indexUrl).toBe('https://artifactory.example/api/pypi/pypi-remote/simple/');
    expect(c.projectUrl('Foo.Bar_baz')).toBe('https://artifactory.example/api/pypi/pypi-remote/simple/foo-bar-baz/');
    expect(() => c.projectUrl('../etc')).toThrow(TypeError);
  });
});
