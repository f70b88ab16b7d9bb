import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { parseUpstreamPage } from '../../src/pypi/upstream-page.js';
import { distFiles } from './dists.js';
import { startUpstream, type FakeUpstream, type FakeUpstreamOptions } from './upstream-server.js';

const PIP_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';
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

const sha256 = (b: Buffer | Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function page(u: FakeUpstream, project: string, accept = PIP_ACCEPT, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${u.indexUrl}${project}/`, { headers: { accept, ...headers } });
}

describe('the fake upstream index', () => {
  it('serves PEP 691 JSON to pip and PEP 503 HTML to old pips, listing the same real files on a second port', async () => {
    const u = await start();
    const jsonRes = await page(u, 'whtest-base');
    expect(jsonRes.headers.get('content-type')).toBe('application/vnd.pypi.simple.v1+json');
    const htmlRes = await page(u, 'whtest-base', 'text/html');
    expect(htmlRes.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const url = `${u.indexUrl}whtest-base/`;
    const fromJson = parseUpstreamPage({
      body: await jsonRes.text(),
      contentType: jsonRes.headers.get('content-type'),
      url,
      project: 'whtest-base',
    });
    const fromHtml = parseUpstreamPage({
      body: await htmlRes.text(),
      contentType: htmlRes.headers.get('content-type'),
      url,
      project: 'whtest-base',
    });
    expect(fromJson.files.map((f) => f.filename).sort()).toEqual([
      'whtest-base-1.0.tar.gz',
      'whtest-base-1.1.tar.gz',
      BASE_WHEEL,
      'whtest_base-1.1-py2.py3-none-any.whl',
    ]);
    expect(fromHtml.files).toEqual(fromJson.files.map((f) => ({ ...f, size: null, uploadTime: null })));
    const wheel = fromJson.files.find((f) => f.filename === BASE_WHEEL)!;
    expect(new URL(wheel.url).origin).toBe(new URL(u.filesUrl).origin);
    expect(new URL(wheel.url).origin).not.toBe(new URL(u.indexUrl).origin);

    const bytes = Buffer.from(await (await fetch(wheel.url)).arrayBuffer());
    expect(sha256(bytes)).toBe(wheel.sha256);
    expect(bytes.length).toBe(wheel.size);
    const metadata = Buffer.from(await (await fetch(`${wheel.url}.metadata`)).arrayBuffer());
    expect(sha256(metadata)).toBe(wheel.coreMetadata);
    expect(metadata.toString()).toMatch(/^Name: whtest[-_]base$/im);
  });

  it('answers 304 to a matching If-None-Match, and a new ETag once the page changes', async () => {
    const u = await start();
    const first = await page(u, 'whtest-base');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);
    expect((await page(u, 'whtest-base', PIP_ACCEPT, { 'if-none-match': etag })).status).toBe(304);
    // Another representation is another entity: the HTML page does not match the JSON ETag.
    expect((await page(u, 'whtest-base', 'text/html', { 'if-none-match': etag })).status).toBe(200);
    u.yank(BASE_WHEEL, 'broken');
    const changed = await page(u, 'whtest-base', PIP_ACCEPT, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    const yanked = ((await changed.json()) as { files: { filename: string; yanked: unknown }[] }).files.find(
      (f) => f.filename === BASE_WHEEL,
    );
    expect(yanked!.yanked).toBe('broken');
  });

  it('redirects a non-normalized project name and answers 404 for an unknown one', async () => {
    const u = await start();
    const res = await fetch(`${u.indexUrl}WHTest_Base/`, { redirect: 'manual' });
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/simple/whtest-base/');
    expect((await page(u, 'no-such-project')).status).toBe(404);
  });

  it('counts requests per path, on both ports, until reset', async () => {
    const u = await start();
    await page(u, 'whtest-base');
    await page(u, 'whtest-base');
    await (await fetch(u.file(BASE_WHEEL).url)).arrayBuffer();
    expect(u.pageHits('whtest-base')).toBe(2);
    expect(u.fileHits(BASE_WHEEL)).toBe(1);
    expect(u.requests.map((r) => [r.server, r.status])).toEqual([
      ['index', 200],
      ['index', 200],
      ['files', 200],
    ]);
    u.resetCounts();
    expect(u.pageHits('whtest-base')).toBe(0);
  });

  it('serves only HTML when it is an index without JSON, whatever the client asks for', async () => {
    const u = await start({ formats: ['html'] });
    const res = await page(u, 'whtest-base');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  });
});

describe('fault injection', () => {
  it('answers a status fault the given number of times, then recovers', async () => {
    const u = await start();
    u.fault({ project: 'whtest-base' }, { kind: 'status', status: 503, times: 2 });
    expect((await page(u, 'whtest-base')).status).toBe(503);
    expect((await page(u, 'whtest-base')).status).toBe(503);
    expect((await page(u, 'whtest-base')).status).toBe(200);
  });

  it('holds a hanging request until the client gives up', async () => {
    const u = await start();
    u.fault({ project: '*' }, { kind: 'hang' });
    const err = await fetch(`${u.indexUrl}whtest-base/`, { signal: AbortSignal.timeout(300) }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('TimeoutError');
  });

  it('cuts a truncated body after half of it, with the full length announced', async () => {
    const u = await start();
    u.fault({ file: BASE_WHEEL }, { kind: 'truncate' });
    const res = await fetch(u.file(BASE_WHEEL).url);
    expect(Number(res.headers.get('content-length'))).toBe(u.file(BASE_WHEEL).size);
    await expect(res.arrayBuffer()).rejects.toThrow(/terminated/);
  });

  it('lists a wrong sha256 for a file or its metadata while the bytes stay the same', async () => {
    const u = await start();
    u.fault({ file: BASE_WHEEL }, { kind: 'wrong-hash' });
    u.fault({ metadata: BASE_WHEEL }, { kind: 'wrong-hash' });
    const body = (await (await page(u, 'whtest-base')).json()) as {
      files: { filename: string; hashes: { sha256: string }; 'core-metadata': { sha256: string } }[];
    };
    const listed = body.files.find((f) => f.filename === BASE_WHEEL)!;
    const real = u.file(BASE_WHEEL);
    expect(listed.hashes.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(listed.hashes.sha256).not.toBe(real.sha256);
    expect(listed['core-metadata'].sha256).not.toBe(real.metadataSha256);
    expect(sha256(Buffer.from(await (await fetch(real.url)).arrayBuffer()))).toBe(real.sha256);
    // Other files of the page are listed truthfully.
    expect(body.files.find((f) => f.filename === 'whtest-base-1.0.tar.gz')!.hashes.sha256).toBe(u.file('whtest-base-1.0.tar.gz').sha256);
  });

  it('sends a slow body in small pieces and still whole', async () => {
    const u = await start();
    u.fault({ file: BASE_WHEEL }, { kind: 'slow', delayMs: 5, chunkBytes: 512 });
    const res = await fetch(u.file(BASE_WHEEL).url);
    let pieces = 0;
    const chunks: Uint8Array[] = [];
    const reader = res.body!.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      pieces++;
      chunks.push(r.value);
    }
    expect(sha256(Buffer.concat(chunks))).toBe(u.file(BASE_WHEEL).sha256);
    expect(pieces).toBeGreaterThanOrEqual(Math.floor(u.file(BASE_WHEEL).size / 512));
  });

  it('answers 404 for a page or a file on demand', async () => {
    const u = await start();
    u.fault({ project: 'whtest-base' }, { kind: 'not-found' });
    u.fault({ file: BASE_WHEEL }, { kind: 'not-found' });
    expect((await page(u, 'whtest-base')).status).toBe(404);
    expect((await fetch(u.file(BASE_WHEEL).url)).status).toBe(404);
    u.clearFaults();
    expect((await page(u, 'whtest-base')).status).toBe(200);
  });
});

describe('outages, auth and redirects', () => {
  it('refuses connections while stopped, cuts held requests, and serves again on the same ports after start', async () => {
    const u = await start();
    u.fault({ project: '*' }, { kind: 'hang' });
    const held = fetch(`${u.indexUrl}whtest-base/`).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const indexUrl = u.indexUrl;
    await u.stop();
    expect(((await held) as Error).message).toBe('fetch failed');
    const refused = (await fetch(`${indexUrl}whtest-base/`).catch((e: unknown) => e)) as Error & { cause: { code: string } };
    expect(refused.cause.code).toBe('ECONNREFUSED');
    u.clearFaults();
    await u.start();
    expect(u.indexUrl).toBe(indexUrl);
    expect((await page(u, 'whtest-base')).status).toBe(200);
  });

  it('asks for Basic auth on the index host only', async () => {
    const u = await start({ auth: { username: 'ci', password: 's3cret' } });
    expect((await page(u, 'whtest-base')).status).toBe(401);
    const auth = `Basic ${Buffer.from('ci:s3cret').toString('base64')}`;
    expect((await page(u, 'whtest-base', PIP_ACCEPT, { authorization: auth })).status).toBe(200);
    expect((await fetch(u.file(BASE_WHEEL).url)).status).toBe(200);
  });

  it('can link files through the index host, which redirects to the CDN port', async () => {
    const u = await start({ fileLinks: 'redirect' });
    const link = u.file(BASE_WHEEL).url;
    expect(new URL(link).origin).toBe(new URL(u.indexUrl).origin);
    const res = await fetch(link);
    expect(res.url.startsWith(u.filesUrl)).toBe(true);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(u.file(BASE_WHEEL).sha256);
    expect(u.fileHits(BASE_WHEEL)).toBe(2);
  });
});
