import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { makeWheel } from '../helpers/dists.js';
import { tempDir } from '../helpers/server.js';

const PIP_MODERN = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';

let app: FastifyInstance;
let root: string;
let cleanup: () => void;
let wheel2: Buffer;

beforeAll(async () => {
  ({ dir: root, cleanup } = tempDir());
  const w1 = await makeWheel({ name: 'Demo_Pkg', version: '1.0' });
  const w2 = await makeWheel({ name: 'Demo_Pkg', version: '2.0', requiresPython: '>=3.8,<4' });
  const other = await makeWheel({ name: 'other', version: '0.1', requiresDist: ['demo-pkg'] });
  wheel2 = w2.bytes;
  await copyFile(w1.path, path.join(root, w1.filename));
  await copyFile(w2.path, path.join(root, w2.filename));
  // pypiserver volumes: files in subfolders, legacy names, dot-files.
  await mkdir(path.join(root, 'sub'));
  await copyFile(other.path, path.join(root, 'sub', other.filename));
  await writeFile(path.join(root, '.secret-1.0.tar.gz'), 'nope');
  await writeFile(path.join(root, 'notes.txt'), 'not a package');
  await mkdir(path.join(root, '.hidden'));
  await copyFile(w1.path, path.join(root, '.hidden', 'hidden_pkg-1.0-py3-none-any.whl'));
  ({ app } = await buildTestApp(root));
});

afterAll(async () => {
  await app?.close();
  cleanup?.();
});

describe('GET /simple/', () => {
  it('lists every project once, normalized, with the PEP 629 version meta', async () => {
    const res = await app.inject('/simple/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('<meta name="pypi:repository-version" content="1.1">');
    expect(res.body).toContain('<a href="demo-pkg/">demo-pkg</a>');
    expect(res.body).toContain('<a href="other/">other</a>');
    expect(res.body).not.toContain('hidden');
    expect(res.body).not.toContain('secret');
  });

  it('answers PEP 691 JSON to a modern pip', async () => {
    const res = await app.inject({ url: '/simple/', headers: { accept: PIP_MODERN } });
    expect(res.headers['content-type']).toBe('application/vnd.pypi.simple.v1+json');
    expect(res.json()).toEqual({ meta: { 'api-version': '1.1' }, projects: [{ name: 'Demo_Pkg' }, { name: 'other' }] });
  });

  it('redirects /simple to /simple/', async () => {
    const res = await app.inject('/simple');
    expect(res.statusCode).toBe(301);
    expect(res.headers.location).toBe('/simple/');
  });
});

describe('GET /simple/<project>/', () => {
  it('serves text/html to old pips, with hashes, requires-python escaped and PEP 658 metadata', async () => {
    const res = await app.inject({ url: '/simple/demo-pkg/', headers: { accept: 'text/html' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers.vary).toContain('Accept');
    expect(res.headers['cache-control']).toBe('max-age=0, must-revalidate');
    expect(res.body).toMatch(
      /<a href="\.\.\/\.\.\/packages\/Demo_Pkg-2\.0-py3-none-any\.whl#sha256=[0-9a-f]{64}" data-requires-python="&gt;=3\.8,&lt;4" data-core-metadata="sha256=[0-9a-f]{64}">Demo_Pkg-2\.0-py3-none-any\.whl<\/a>/,
    );
    expect(res.body).not.toContain('data-dist-info-metadata');
  });

  it('serves PEP 691 + 700 JSON with versions, size and upload-time, and no legacy metadata key', async () => {
    const res = await app.inject({ url: '/simple/demo-pkg/', headers: { accept: PIP_MODERN } });
    const body = res.json();
    expect(body.meta).toEqual({ 'api-version': '1.1' });
    expect(body.name).toBe('demo-pkg');
    expect(body.versions).toEqual(['1.0', '2.0']);
    const f = body.files.find((x: { filename: string }) => x.filename === 'Demo_Pkg-2.0-py3-none-any.whl');
    expect(f).toMatchObject({
      url: '../../packages/Demo_Pkg-2.0-py3-none-any.whl',
      'requires-python': '>=3.8,<4',
      yanked: false,
      size: wheel2.length,
    });
    expect(f.hashes.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(f['core-metadata'].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(f['upload-time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(JSON.stringify(body)).not.toContain('dist-info-metadata');
  });

  it('honours ?format= over Accept', async () => {
    for (const format of ['application/vnd.pypi.simple.v1+json', 'application/vnd.pypi.simple.v1%2Bjson']) {
      const res = await app.inject({ url: `/simple/demo-pkg/?format=${format}`, headers: { accept: 'text/html' } });
      expect(res.headers['content-type']).toBe('application/vnd.pypi.simple.v1+json');
    }
  });

  it('answers 406 when nothing acceptable is offered', async () => {
    const res = await app.inject({ url: '/simple/demo-pkg/', headers: { accept: 'application/xml' } });
    expect(res.statusCode).toBe(406);
    expect(res.body).toContain('application/vnd.pypi.simple.v1+json');
  });

  it('redirects non-normalized names and a missing slash to the canonical URL in one hop', async () => {
    for (const url of ['/simple/Demo_Pkg/', '/simple/Demo_Pkg', '/simple/demo-pkg', '/simple/DEMO.pkg/']) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(301);
      expect(res.headers.location, url).toBe('/simple/demo-pkg/');
    }
  });

  it('keeps the query string across the redirect', async () => {
    const res = await app.inject('/simple/Demo_Pkg/?format=application/vnd.pypi.simple.v1+json');
    expect(res.headers.location).toBe('/simple/demo-pkg/?format=application/vnd.pypi.simple.v1+json');
  });

  it('answers 404 for an unknown project, with no redirect elsewhere', async () => {
    const res = await app.inject('/simple/no-such-thing/');
    expect(res.statusCode).toBe(404);
    expect(res.body).toContain('no-such-thing');
  });

  it('sends unknown projects to the operator fallback index only when one is configured', async () => {
    const { dir, cleanup: done } = tempDir();
    const { app: withFallback } = await buildTestApp(dir, ['--fallback-url', 'https://pypi.org/simple/', '--watch', 'off']);
    try {
      const res = await withFallback.inject('/simple/requests/');
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe('https://pypi.org/simple/requests/');
    } finally {
      await withFallback.close();
      done();
    }
  });

  it('lists files of subfolders with their path', async () => {
    const res = await app.inject('/simple/other/');
    expect(res.body).toContain('href="../../packages/sub/other-0.1-py3-none-any.whl#sha256=');
  });

  it('revalidates with ETag: 304 on a match, and a different ETag for JSON and HTML', async () => {
    const html = await app.inject('/simple/demo-pkg/');
    const json = await app.inject({ url: '/simple/demo-pkg/', headers: { accept: PIP_MODERN } });
    expect(html.headers.etag).toMatch(/^"[^"]+"$/);
    expect(html.headers.etag).not.toBe(json.headers.etag);
    const again = await app.inject({ url: '/simple/demo-pkg/', headers: { 'if-none-match': html.headers.etag as string } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it('sends a pre-compressed body to gzip clients, with its own ETag', async () => {
    const res = await app.inject({ url: '/simple/', headers: { 'accept-encoding': 'gzip, deflate' } });
    // The root page is small here; a project page with several files is above the threshold.
    const big = await app.inject({ url: '/simple/demo-pkg/', headers: { 'accept-encoding': 'gzip, deflate' } });
    for (const r of [res, big]) {
      if (r.headers['content-encoding'] === 'gzip') {
        expect(gunzipSync(r.rawPayload).toString()).toContain('<!DOCTYPE html>');
        expect(r.headers.etag).toMatch(/-gz"$/);
      }
    }
    expect(big.headers['content-encoding']).toBe('gzip');
  });
});

describe('GET /<project>/ (pypiserver redirect)', () => {
  it('answers 303 to the normalized simple page', async () => {
    const res = await app.inject('/Demo_Pkg/');
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/simple/demo-pkg/');
  });
});

describe('GET /packages/<file>', () => {
  const url = '/packages/Demo_Pkg-2.0-py3-none-any.whl';

  it('serves the bytes with a strong ETag, Last-Modified and a Cache-Control that lets a re-used name be revalidated', async () => {
    const res = await app.inject(url);
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(wheel2)).toBe(true);
    expect(res.headers.etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(res.headers['last-modified']).toBeTruthy();
    // Not immutable: a file name can be used again after a removal, and a cache must then revalidate.
    expect(res.headers['cache-control']).toBe('public, max-age=600');
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['content-encoding']).toBeUndefined();
  });

  it('answers HEAD with the length and no body', async () => {
    const res = await app.inject({ method: 'HEAD', url });
    expect(res.statusCode).toBe(200);
    expect(Number(res.headers['content-length'])).toBe(wheel2.length);
    expect(res.body).toBe('');
  });

  it('serves ranges (206), honours If-Range, and refuses unsatisfiable ones (416)', async () => {
    const part = await app.inject({ url, headers: { range: 'bytes=10-19' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 10-19/${wheel2.length}`);
    expect(part.rawPayload.equals(wheel2.subarray(10, 20))).toBe(true);
    const suffix = await app.inject({ url, headers: { range: 'bytes=-5' } });
    expect(suffix.rawPayload.equals(wheel2.subarray(wheel2.length - 5))).toBe(true);
    const etag = part.headers.etag as string;
    const resumed = await app.inject({ url, headers: { range: 'bytes=100-', 'if-range': etag } });
    expect(resumed.statusCode).toBe(206);
    const stale = await app.inject({ url, headers: { range: 'bytes=100-', 'if-range': '"something-else"' } });
    expect(stale.statusCode).toBe(200);
    expect(stale.rawPayload.length).toBe(wheel2.length);
    const bad = await app.inject({ url, headers: { range: `bytes=${wheel2.length + 10}-` } });
    expect(bad.statusCode).toBe(416);
    expect(bad.headers['content-range']).toBe(`bytes */${wheel2.length}`);
  });

  it('answers If-None-Match with 304', async () => {
    const first = await app.inject(url);
    const res = await app.inject({ url, headers: { 'if-none-match': first.headers.etag as string } });
    expect(res.statusCode).toBe(304);
  });

  it('serves the PEP 658 metadata file whose hash the page advertises', async () => {
    const page = (await app.inject({ url: '/simple/demo-pkg/', headers: { accept: PIP_MODERN } })).json();
    const f = page.files.find((x: { filename: string }) => x.filename === 'Demo_Pkg-2.0-py3-none-any.whl');
    const res = await app.inject(`${url}.metadata`);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Name: Demo_Pkg');
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(res.rawPayload).digest('hex')).toBe(f['core-metadata'].sha256);
  });

  it('never serves a file outside the index, even where a client normalizes the dots away', async () => {
    const res = await app.inject('/packages/../package.json');
    expect(res.statusCode).not.toBe(200);
    expect(res.body).not.toContain('"name"');
  });

  it.each([
    '/packages/..%2F..%2Fpackage.json',
    '/packages/..%2F..%2Fetc%2Fpasswd',
    '/packages/%2e%2e/%2e%2e/etc/passwd',
    '/packages/..\\..\\etc\\passwd',
    '/packages//etc/passwd',
    '/packages/%2Fetc%2Fpasswd',
    '/packages/.secret-1.0.tar.gz',
    '/packages/.hidden/hidden_pkg-1.0-py3-none-any.whl',
    '/packages/notes.txt',
    '/packages/sub/..%2FDemo_Pkg-1.0-py3-none-any.whl',
    '/packages/sub%2Fother-0.1-py3-none-any.whl%00',
  ])('answers 404 to %s and reads nothing outside the index', async (u) => {
    const res = await app.inject(u);
    expect(res.statusCode).toBe(404);
  });

  it('lists every file at /packages/', async () => {
    const res = await app.inject('/packages/');
    expect(res.body).toContain('>sub/other-0.1-py3-none-any.whl<');
    expect(res.body).toContain('>Demo_Pkg-1.0-py3-none-any.whl<');
  });
});

describe('GET /pypi/<project>/json', () => {
  it('has warehouse shape: info, releases, urls of the latest version with digests', async () => {
    const res = await app.inject('/pypi/demo-pkg/json');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.info).toMatchObject({
      name: 'Demo_Pkg',
      version: '2.0',
      requires_python: '>=3.8,<4',
      summary: 'Hand-made wheel for wheelhouse tests',
    });
    expect(Object.keys(body.releases)).toEqual(['1.0', '2.0']);
    expect(body.urls).toHaveLength(1);
    expect(body.urls[0]).toMatchObject({
      filename: 'Demo_Pkg-2.0-py3-none-any.whl',
      packagetype: 'bdist_wheel',
      python_version: 'py3',
      size: wheel2.length,
    });
    expect(body.urls[0].digests.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(body.urls[0].digests.blake2b_256).toMatch(/^[0-9a-f]{64}$/);
    expect(body.urls[0].url).toBe('http://localhost:80/packages/Demo_Pkg-2.0-py3-none-any.whl');
    expect(body.urls[0].upload_time_iso_8601).toMatch(/Z$/);
  });

  it('serves one version without releases, and redirects non-normalized names', async () => {
    const one = (await app.inject('/pypi/demo-pkg/1.0/json')).json();
    expect(one.info.version).toBe('1.0');
    expect(one.releases).toBeUndefined();
    expect((await app.inject('/pypi/Demo_Pkg/json')).headers.location).toBe('/pypi/demo-pkg/json');
    expect((await app.inject('/pypi/demo-pkg/9.9/json')).statusCode).toBe(404);
  });

  it("keeps pypiserver's /<project>/json", async () => {
    const body = (await app.inject('/demo-pkg/json')).json();
    expect(body.info.version).toBe('2.0');
    expect(body.releases['1.0'][0].url).toContain('/packages/Demo_Pkg-1.0-py3-none-any.whl');
  });
});

describe('GET / and /health', () => {
  it('shows people the projects and how to use pip and twine here', async () => {
    const res = await app.inject('/');
    expect(res.body).toContain('pip install --index-url http://localhost:80/simple/');
    expect(res.body).toContain('twine upload --repository-url http://localhost:80/');
    expect(res.body).toContain('Demo_Pkg');
  });

  it('reports health from memory', async () => {
    const res = await app.inject('/health');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', projects: 2, files: 3 });
  });
});

describe('an index request', () => {
  it('touches no file: pages are still served after the volume has vanished', async () => {
    const { dir, cleanup: done } = tempDir();
    const w = await makeWheel({ name: 'ghost', version: '1.0' });
    await copyFile(w.path, path.join(dir, w.filename));
    const { app: own } = await buildTestApp(dir, ['--watch', 'off']);
    try {
      await own.inject('/simple/ghost/'); // warm the page cache
      await rename(dir, `${dir}-gone`);
      const res = await own.inject('/simple/ghost/');
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('ghost-1.0-py3-none-any.whl');
      expect((await own.inject('/simple/')).statusCode).toBe(200);
      expect((await own.inject({ url: '/simple/ghost/', headers: { accept: PIP_MODERN } })).statusCode).toBe(200);
      // A download does need the volume, and fails cleanly without it.
      expect((await own.inject('/packages/ghost-1.0-py3-none-any.whl')).statusCode).toBeLessThan(500);
    } finally {
      await own.close();
      await rm(`${dir}-gone`, { recursive: true, force: true });
      done();
    }
  });
});
