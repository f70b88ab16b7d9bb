import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { UpstreamPage } from '../../src/pypi/upstream-page.js';
import { Volume } from '../../src/store/volume.js';
import { UpstreamCache, UpstreamCacheError, type UpstreamCacheOptions } from '../../src/store/upstream-cache.js';
import { UpstreamClient, UpstreamError } from '../../src/upstream/client.js';
import { distFiles } from '../helpers/dists.js';
import { tempDir } from '../helpers/server.js';
import { startUpstream, type FakeFile, type FakeUpstream } from '../helpers/upstream-server.js';

const BASE_WHEEL = 'whtest_base-1.0-py2.py3-none-any.whl';

let root: string;
let cleanup: () => void;
let upstream: FakeUpstream;
let client: UpstreamClient;

beforeEach(async () => {
  const temp = tempDir();
  root = temp.dir;
  cleanup = () => {
    temp.cleanup();
  };
  upstream = await startUpstream({ files: distFiles('whtest?base-*') });
  client = new UpstreamClient({ url: upstream.indexUrl, timeoutMs: 2_000 });
});
afterEach(async () => {
  await upstream.stop();
  cleanup();
});

async function newCache(opts: Partial<UpstreamCacheOptions> = {}): Promise<UpstreamCache> {
  const cache = new UpstreamCache(root, { maxBytes: Infinity, ...opts });
  await cache.init();
  return cache;
}

/** Fills the cache from the upstream as the page lists the file (or as told). */
function fillFrom(cache: UpstreamCache, f: FakeFile, expected: { sha256?: string; size?: number | null } = {}) {
  return cache.fill(
    { sha256: expected.sha256 ?? f.sha256, size: expected.size === undefined ? f.size : expected.size },
    async () => (await client.openFile(f.url)).body,
  );
}

async function listAll(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix + e.name;
    if (e.isDirectory()) out.push(rel + '/', ...(await listAll(path.join(dir, e.name), rel + '/')));
    else out.push(rel);
  }
  return out.sort();
}

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Only the cache's own folders, and no file left in incoming/. */
async function expectNothingBut(files: string[]): Promise<void> {
  const all = await listAll(root);
  expect(all.filter((p) => !p.endsWith('/') && !p.startsWith('.wheelhouse/upstream/pages/'))).toEqual(
    files.map((sha) => `.wheelhouse/upstream/files/${sha}`).sort(),
  );
}

describe('UpstreamCache.fill', () => {
  it('stores a checked download under its sha256, serves it back, and never as a local distribution', async () => {
    const cache = await newCache();
    const f = upstream.file(BASE_WHEEL);
    expect(await fillFrom(cache, f)).toEqual({ size: f.size, fetched: true });
    expect(cache.has(f.sha256)).toBe(true);
    const opened = await cache.open(f.sha256);
    expect(opened!.size).toBe(f.size);
    expect(sha256(await drain(opened!.stream))).toBe(f.sha256);
    const part = await cache.open(f.sha256, { start: 10, end: 19 });
    expect(await drain(part!.stream)).toEqual(f.bytes.subarray(10, 20));
    expect(sha256((await cache.read(f.sha256))!)).toBe(f.sha256);
    await expectNothingBut([f.sha256]);

    const store = new Volume(root);
    await store.init();
    expect((await store.scan({ full: true })).files).toEqual([]);
  });

  it('keeps nothing, not even a temp file, when the upstream page gives a wrong sha256', async () => {
    upstream.fault({ file: BASE_WHEEL }, { kind: 'wrong-hash' });
    const r = await client.fetchProject('whtest-base');
    if (r.kind !== 'page') throw new Error(r.kind);
    const listed = r.page.files.find((x) => x.filename === BASE_WHEEL)!;
    const cache = await newCache();
    const err = await fillFrom(cache, upstream.file(BASE_WHEEL), { sha256: listed.sha256 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamCacheError);
    expect((err as UpstreamCacheError).kind).toBe('hash-mismatch');
    expect(await cache.open(listed.sha256)).toBeNull();
    expect(cache.has(listed.sha256)).toBe(false);
    await expectNothingBut([]);
  });

  it('keeps nothing when the body is cut short, and passes the upstream error on', async () => {
    upstream.fault({ file: BASE_WHEEL }, { kind: 'truncate' });
    const cache = await newCache();
    const err = await fillFrom(cache, upstream.file(BASE_WHEEL)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).kind).toBe('bad-response');
    await expectNothingBut([]);
    // The next try, once the upstream behaves, succeeds.
    upstream.clearFaults();
    expect((await fillFrom(cache, upstream.file(BASE_WHEEL))).fetched).toBe(true);
  });

  it('refuses a body longer or shorter than the size the page gives, and one over the limit when no size is given', async () => {
    const cache = await newCache({ maxFileBytes: 100 });
    const f = upstream.file(BASE_WHEEL);
    const short = await fillFrom(cache, f, { size: f.size + 1 }).catch((e: unknown) => e);
    expect((short as UpstreamCacheError).kind).toBe('size-mismatch');
    const long = await fillFrom(cache, f, { size: f.size - 1 }).catch((e: unknown) => e);
    expect((long as UpstreamCacheError).kind).toBe('size-mismatch');
    const unknown = await fillFrom(cache, f, { size: null }).catch((e: unknown) => e);
    expect((unknown as UpstreamCacheError).kind).toBe('too-large');
    await expectNothingBut([]);
    expect(
      (await cache.fill({ sha256: f.sha256, size: null, maxBytes: f.size }, () => Promise.resolve(Readable.from([f.bytes])))).size,
    ).toBe(f.size);
  });

  it('downloads once for 50 concurrent fills of one file, and not at all once it is cached', async () => {
    upstream.fault({ file: BASE_WHEEL }, { kind: 'slow', delayMs: 10, chunkBytes: 256 });
    const cache = await newCache();
    const f = upstream.file(BASE_WHEEL);
    const results = await Promise.all(Array.from({ length: 50 }, () => fillFrom(cache, f)));
    expect(upstream.fileHits(BASE_WHEEL)).toBe(1);
    expect(results.every((r) => r.size === f.size)).toBe(true);
    expect(await fillFrom(cache, f)).toEqual({ size: f.size, fetched: false });
    expect(upstream.fileHits(BASE_WHEEL)).toBe(1);
  });

  it('rejects a sha256 that could name a path', async () => {
    const cache = await newCache();
    await expect(cache.fill({ sha256: '../../x', size: 1 }, () => Promise.resolve(Readable.from([])))).rejects.toThrow(TypeError);
    await expect(cache.open('A'.repeat(64))).rejects.toThrow(TypeError);
  });
});

describe('UpstreamCache across tasks', () => {
  it('serves a file another task cached, without asking the upstream', async () => {
    const a = await newCache();
    const b = await newCache();
    const f = upstream.file(BASE_WHEEL);
    await fillFrom(a, f);
    expect(b.has(f.sha256)).toBe(false);
    expect(await fillFrom(b, f)).toEqual({ size: f.size, fetched: false });
    expect(sha256(await drain((await b.open(f.sha256))!.stream))).toBe(f.sha256);
    expect(upstream.fileHits(BASE_WHEEL)).toBe(1);
    expect(b.stats()).toMatchObject({ files: 1, bytes: f.size });
  });

  it('lets one task download while another waits for it, through a claim on the volume', async () => {
    upstream.fault({ file: BASE_WHEEL }, { kind: 'slow', delayMs: 20, chunkBytes: 128 });
    const a = await newCache({ claimPollMs: 10 });
    const b = await newCache({ claimPollMs: 10 });
    const f = upstream.file(BASE_WHEEL);
    const [ra, rb] = await Promise.all([fillFrom(a, f), fillFrom(b, f)]);
    expect(upstream.fileHits(BASE_WHEEL)).toBe(1);
    expect([ra.fetched, rb.fetched].sort()).toEqual([false, true]);
    await expectNothingBut([f.sha256]);
  });

  it('takes over the claim of a task that died mid-download', async () => {
    const f = upstream.file(BASE_WHEEL);
    await mkdir(path.join(root, '.wheelhouse/upstream/claims'), { recursive: true });
    await writeFile(path.join(root, '.wheelhouse/upstream/claims', f.sha256), 'a task that is gone');
    const cache = await newCache({ claimStaleMs: 150, claimPollMs: 10 });
    expect(await fillFrom(cache, f)).toEqual({ size: f.size, fetched: true });
    await expectNothingBut([f.sha256]);
  });

  it('keeps exactly one copy when two tasks download the same file at once without claims', async () => {
    upstream.fault({ file: BASE_WHEEL }, { kind: 'slow', delayMs: 10, chunkBytes: 256 });
    const a = await newCache({ claims: false });
    const b = await newCache({ claims: false });
    const f = upstream.file(BASE_WHEEL);
    const results = await Promise.all([fillFrom(a, f), fillFrom(b, f)]);
    expect(upstream.fileHits(BASE_WHEEL)).toBe(2);
    expect(results.every((r) => r.fetched && r.size === f.size)).toBe(true);
    await expectNothingBut([f.sha256]);
    expect(sha256(await readFile(path.join(root, '.wheelhouse/upstream/files', f.sha256)))).toBe(f.sha256);
  });
});

describe('UpstreamCache project records', () => {
  const page: UpstreamPage = {
    project: 'whtest-base',
    format: 'json',
    apiVersion: '1.4',
    files: [],
    versions: ['1.0'],
    droppedCount: 0,
    dropped: [],
  };

  it('keeps a page with its ETag and fetch time, and a 404, for every task to read', async () => {
    const a = await newCache();
    await a.writeProject({ kind: 'page', project: 'whtest-base', page, etag: '"abc"', fetchedAt: 1234 });
    await a.writeProject({ kind: 'not-found', project: 'no-such', fetchedAt: 99 });
    const b = await newCache();
    expect(await b.readProject('whtest-base')).toEqual({ kind: 'page', project: 'whtest-base', page, etag: '"abc"', fetchedAt: 1234 });
    expect(await b.readProject('no-such')).toEqual({ kind: 'not-found', project: 'no-such', fetchedAt: 99 });
    expect(await b.readProject('never-seen')).toBeNull();
    await b.writeProject({ kind: 'page', project: 'whtest-base', page, etag: '"abc"', fetchedAt: 5678 });
    expect((await a.readProject('whtest-base'))!.fetchedAt).toBe(5678);
    expect((await listAll(path.join(root, '.wheelhouse/upstream/pages'))).sort()).toEqual(['no-such.json', 'whtest-base.json']);
  });

  it('reads a damaged or foreign record as none, and refuses names that are not normalized', async () => {
    const cache = await newCache();
    await writeFile(path.join(root, '.wheelhouse/upstream/pages/whtest-base.json'), '{"v": 1, "kind": "page", "proj');
    expect(await cache.readProject('whtest-base')).toBeNull();
    await writeFile(
      path.join(root, '.wheelhouse/upstream/pages/whtest-base.json'),
      JSON.stringify({ v: 99, kind: 'not-found', project: 'whtest-base', fetchedAt: 1 }),
    );
    expect(await cache.readProject('whtest-base')).toBeNull();
    await expect(cache.readProject('../../etc/passwd')).rejects.toThrow(TypeError);
    await expect(cache.writeProject({ kind: 'not-found', project: 'WHTest_Base', fetchedAt: 1 })).rejects.toThrow(TypeError);
  });
});

describe('UpstreamCache eviction', () => {
  const files = (): FakeFile[] =>
    ['whtest_base-1.0-py2.py3-none-any.whl', 'whtest_base-1.1-py2.py3-none-any.whl', 'whtest_base-2.0-py2.py3-none-any.whl'].map((n) =>
      upstream.file(n),
    );

  it('evicts the least recently used files to stay under the byte limit, keeping the most recently used', async () => {
    const [a, b, c] = files() as [FakeFile, FakeFile, FakeFile];
    const cache = await newCache({ maxBytes: a.size + b.size + 10 });
    await fillFrom(cache, a);
    await fillFrom(cache, b);
    await drain((await cache.open(a.sha256))!.stream); // a is now more recent than b
    await fillFrom(cache, c);
    expect(cache.has(a.sha256)).toBe(true);
    expect(cache.has(b.sha256)).toBe(false);
    expect(cache.has(c.sha256)).toBe(true);
    expect(await cache.open(b.sha256)).toBeNull();
    expect(cache.stats()).toEqual({ files: 2, bytes: a.size + c.size, maxBytes: a.size + b.size + 10, evictions: 1, evictedBytes: b.size });
    await expectNothingBut([a.sha256, c.sha256]);
  });

  it('does not evict a file while this task is still sending it', async () => {
    const [a, b] = files() as [FakeFile, FakeFile];
    const cache = await newCache({ maxBytes: a.size + 10 });
    await fillFrom(cache, a);
    const reading = (await cache.open(a.sha256))!;
    await fillFrom(cache, b);
    expect(cache.has(a.sha256)).toBe(true);
    expect(sha256(await drain(reading.stream))).toBe(a.sha256);
    await new Promise((r) => setImmediate(r));
    // Over the limit until the next fill, which may take a now.
    const [, , c] = files() as [FakeFile, FakeFile, FakeFile];
    await fillFrom(cache, c);
    expect(cache.has(a.sha256)).toBe(false);
  });

  it('learns the cache from one listing at start, oldest mtime first, and evicts down to a smaller limit', async () => {
    const [a, b, c] = files() as [FakeFile, FakeFile, FakeFile];
    const first = await newCache();
    for (const f of [a, b, c]) await fillFrom(first, f);
    const dir = path.join(root, '.wheelhouse/upstream/files');
    // b was used most recently, then c, then a (as written to mtimes by a previous run).
    await utimes(path.join(dir, a.sha256), new Date(1_000_000), new Date(1_000_000));
    await utimes(path.join(dir, c.sha256), new Date(2_000_000), new Date(2_000_000));
    await utimes(path.join(dir, b.sha256), new Date(3_000_000), new Date(3_000_000));
    const restarted = await newCache({ maxBytes: b.size + c.size + 10 });
    expect(restarted.stats()).toMatchObject({ files: 2, bytes: b.size + c.size, evictions: 1 });
    expect(restarted.has(a.sha256)).toBe(false);
    await expectNothingBut([b.sha256, c.sha256]);
  });

  it('catches up with files other tasks added or evicted when it rescans', async () => {
    const [a, b] = files() as [FakeFile, FakeFile];
    const mine = await newCache();
    const other = await newCache();
    await fillFrom(mine, a);
    await fillFrom(other, b);
    const dir = path.join(root, '.wheelhouse/upstream/files');
    await utimes(path.join(dir, a.sha256), new Date(1_000_000), new Date(1_000_000));
    await utimes(path.join(dir, b.sha256), new Date(2_000_000), new Date(2_000_000));
    expect(mine.stats().files).toBe(1);
    await mine.rescan();
    expect(mine.stats()).toMatchObject({ files: 2, bytes: a.size + b.size });
    const third = await newCache({ maxBytes: b.size + 10 }); // evicts a at start (older mtime)
    expect(third.has(a.sha256)).toBe(false);
    await mine.rescan();
    expect(mine.stats()).toMatchObject({ files: 1, bytes: b.size });
  });
});
