// The page lifecycle of projects served from upstream, on a clock the test moves: fresh within the
// TTL, served stale while one request revalidates with the ETag, served stale (cached files only)
// when the upstream fails and asked again only after --upstream-retry-after, 404s remembered for
// the negative TTL, and records on the volume shared with another process.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobCache } from '../../src/index/blob-cache.js';
import { PageCache } from '../../src/index/page-cache.js';
import { UpstreamProjects, type UpstreamProjectsOptions } from '../../src/index/upstream-projects.js';
import { ProjectMatcher } from '../../src/pypi/project-patterns.js';
import { UpstreamCache } from '../../src/store/upstream-cache.js';
import { UpstreamClient } from '../../src/upstream/client.js';
import { distFiles, makeWheel } from '../helpers/dists.js';
import { tempDir, waitFor } from '../helpers/server.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream-server.js';

const TTL = 600_000;
const NEGATIVE_TTL = 60_000;
const RETRY = 30_000;
const BASE_WHEEL = 'whtest_base-1.0-py2.py3-none-any.whl';

let root: string;
let cleanup: () => void;
let up: FakeUpstream;
let clock: number;
const silent = { info() {}, warn() {}, error() {} };

beforeEach(async () => {
  const temp = tempDir('wh-upstream-projects-');
  root = temp.dir;
  cleanup = () => {
    temp.cleanup();
  };
  up = await startUpstream({ files: distFiles('whtest?base-*') });
  clock = Date.now();
});
afterEach(async () => {
  await up.stop();
  cleanup();
});

async function projects(opts: Partial<UpstreamProjectsOptions> = {}): Promise<{ projects: UpstreamProjects; cache: UpstreamCache }> {
  const cache = new UpstreamCache(root, { maxBytes: Infinity });
  await cache.init();
  const blobs = new BlobCache(1024 * 1024);
  const projects = new UpstreamProjects({
    source: new UpstreamClient({ url: up.indexUrl, timeoutMs: 2_000 }),
    store: cache,
    pages: new PageCache(1024 * 1024),
    isLocal: () => false,
    deny: new ProjectMatcher([]),
    ttlMs: TTL,
    negativeTtlMs: NEGATIVE_TTL,
    retryAfterMs: RETRY,
    offline: false,
    held: (key, load) => blobs.get(key, load),
    heldMaxBytes: 256 * 1024,
    memoryBytes: 8 * 1024 * 1024,
    log: silent,
    now: () => clock,
    ...opts,
  });
  return { projects, cache };
}

/** Waits for a background revalidation to show. */
const until = (cond: () => boolean) => waitFor(() => Promise.resolve(cond()));

/** Whether a lookup of whtest-base is answered without revalidating (its background revalidation is in). */
async function freshIn(p: UpstreamProjects): Promise<boolean> {
  const before = p.stats.stale.revalidating;
  await p.project('whtest-base');
  return p.stats.stale.revalidating === before;
}

const versionsOf = async (p: UpstreamProjects, name = 'whtest-base') => (await p.project(name))?.versions;

describe('UpstreamProjects pages', () => {
  it('serves a page from memory within the TTL, without asking the upstream again', async () => {
    const { projects: p } = await projects();
    expect(await versionsOf(p)).toEqual(['1.0', '1.1', '2.0']);
    clock += TTL - 1;
    expect(await versionsOf(p)).toEqual(['1.0', '1.1', '2.0']);
    expect(up.pageHits('whtest-base')).toBe(1);
    expect(p.stats.hits.page).toBe(1);
    expect(p.stats.misses.page).toBe(1);
  });

  it('past the TTL serves the cached page at once and revalidates it once with If-None-Match', async () => {
    const { projects: p } = await projects();
    await p.project('whtest-base');
    const etag = up.requests[0]!.headers['if-none-match'];
    expect(etag).toBeUndefined();
    clock += TTL;
    // Many requests past the TTL: each is answered from the cache, one revalidation runs.
    const served = await Promise.all(Array.from({ length: 20 }, () => versionsOf(p)));
    expect(served.every((v) => v?.length === 3)).toBe(true);
    await until(() => up.requests[1]?.status === 304);
    expect(up.requests[1]!.headers['if-none-match']).toMatch(/^".+"$/);
    expect(up.requests[1]!.status).toBe(304);
    expect(p.stats.stale.revalidating).toBe(20);
    // Confirmed fresh again: no further request within the next TTL.
    clock += TTL - 1;
    await p.project('whtest-base');
    await new Promise((r) => setTimeout(r, 50));
    expect(up.pageHits('whtest-base')).toBe(2);
  });

  it('takes a changed upstream page at the revalidation after the TTL', async () => {
    const { projects: p } = await projects();
    await p.project('whtest-base');
    up.removeFile('whtest_base-2.0-py2.py3-none-any.whl');
    up.removeFile('whtest-base-2.0.tar.gz');
    clock += TTL;
    expect(await versionsOf(p)).toEqual(['1.0', '1.1', '2.0']);
    await waitFor(async () => (await versionsOf(p))?.length === 2);
    expect(await versionsOf(p)).toEqual(['1.0', '1.1']);
  });

  it('when the upstream fails past the TTL, serves the cached page (cached files only), asking again after the retry delay', async () => {
    const { projects: p, cache } = await projects();
    const project = (await p.project('whtest-base'))!;
    const wheel = project.byFilename.get(BASE_WHEEL)!;
    await p.ensure(wheel, 'file');
    expect(cache.has(wheel.sha256)).toBe(true);
    up.fault({ project: 'whtest-base' }, { kind: 'status', status: 500 });
    clock += TTL;
    await p.project('whtest-base');
    await until(() => up.pageHits('whtest-base') === 2 && p.status().failingSince !== null);
    const page = p.page((await p.project('whtest-base'))!, 'json');
    const listed = JSON.parse(page.body.toString()) as { files: { filename: string }[]; versions: string[] };
    expect(listed.files.map((f) => f.filename)).toEqual([BASE_WHEEL]);
    expect(listed.versions).toEqual(['1.0']);
    expect(p.stats.stale.error).toBeGreaterThan(0);
    // Within the retry delay nothing is asked; after it, once; the upstream recovered.
    clock += RETRY - 1;
    await p.project('whtest-base');
    expect(up.pageHits('whtest-base')).toBe(2);
    up.clearFaults();
    clock += 1;
    await p.project('whtest-base');
    const listedNow = async () =>
      (JSON.parse(p.page((await p.project('whtest-base'))!, 'json').body.toString()) as { files: unknown[] }).files;
    await waitFor(async () => (await listedNow()).length === 6);
    expect(up.pageHits('whtest-base')).toBe(3);
    expect(p.status().failingSince).toBeNull();
  });

  it('remembers an upstream 404 for the negative TTL, then asks again and finds a project published since', async () => {
    const { projects: p } = await projects();
    expect(await p.project('whtest-late')).toBeNull();
    await up.addFiles([(await makeWheel({ name: 'whtest-late', version: '1.0' })).path]);
    clock += NEGATIVE_TTL - 1;
    expect(await p.project('whtest-late')).toBeNull();
    expect(up.pageHits('whtest-late')).toBe(1);
    clock += 1;
    expect((await p.project('whtest-late'))?.versions).toEqual(['1.0']);
    expect(up.pageHits('whtest-late')).toBe(2);
  });

  it('shares pages with another process through the volume: one upstream request between them, revalidations included', async () => {
    const a = (await projects()).projects;
    const b = (await projects()).projects;
    await a.project('whtest-base');
    expect((await b.project('whtest-base'))?.versions).toEqual(['1.0', '1.1', '2.0']);
    expect(up.pageHits('whtest-base')).toBe(1);
    expect(b.stats.misses.page).toBe(1);
    // Past the TTL, a revalidates; b, past its own TTL, finds a's fresh record and asks nobody.
    const cacheA = new UpstreamCache(root, { maxBytes: Infinity });
    clock += TTL;
    await a.project('whtest-base');
    await waitFor(async () => ((await cacheA.readProject('whtest-base'))?.fetchedAt ?? 0) >= clock);
    clock += 1;
    await b.project('whtest-base');
    await waitFor(() => freshIn(b));
    expect(up.pageHits('whtest-base')).toBe(2);
  });

  it('offline, serves records of any age and never asks the upstream', async () => {
    await (await projects()).projects.project('whtest-base');
    up.resetCounts();
    const { projects: p } = await projects({ offline: true });
    clock += 10 * TTL;
    expect(await versionsOf(p)).toEqual(['1.0', '1.1', '2.0']);
    await expect(p.project('whtest-left')).rejects.toMatchObject({ code: 'WH_ERR_UPSTREAM_NOT_CACHED', statusCode: 404 });
    expect(p.stats.stale.offline).toBeGreaterThan(0);
    expect(up.requests).toHaveLength(0);
  });

  it('never looks up a denied or local name', async () => {
    const { projects: p } = await projects({ deny: new ProjectMatcher(['whtest-*']), isLocal: (n) => n === 'other' });
    expect(await p.project('whtest-base')).toBeNull();
    expect(await p.project('other')).toBeNull();
    expect(await p.file(BASE_WHEEL)).toBeNull();
    expect(up.requests).toHaveLength(0);
  });
});
