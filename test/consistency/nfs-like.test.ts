// The same protocol where it matters: each process on its own NFS-like mount of one backing
// directory (test/helpers/nfsfs.py: attributes and names cached 3 s like EFS's actimeo, open()
// fresh, a little latency per call). No FUSE here is a failure, never a skip: this file is the
// evidence that the bound holds on a network file system.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerationFile } from '../../src/store/generation.js';
import { mountNfsLike, type NfsMount } from '../helpers/nfs-mount.js';
import { startServer, tempDir, waitFor, type RunningServer } from '../helpers/server.js';
import { uploadWheel, wheelBytes } from '../helpers/upload.js';
import { health, listed, measureLagWithin, recordResult, sleep, summarize } from './probe.js';

const OPEN = ['--authenticate', '.', '--passwords', '.', '--log-level', 'warn'];
// EFS-like: attributes and names trusted for 3 s, about 1.5 ms per metadata call and 2 ms per read.
const MOUNT = { attrTimeout: 3, entryTimeout: 3, metaDelayMs: 1.5, readDelayMs: 2 };
const BOUND_MS = 2_000;

const mounts: NfsMount[] = [];
const servers: RunningServer[] = [];
const cleanups: (() => void)[] = [];
let backing: string;

beforeAll(() => {
  backing = freshDir();
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const m of mounts) await m.unmount();
  for (const c of cleanups) c();
});

function freshDir(): string {
  const { dir, cleanup } = tempDir('wh-nfs-backing-');
  cleanups.push(cleanup);
  return dir;
}

async function mount(dir = backing): Promise<NfsMount> {
  const m = await mountNfsLike(dir, MOUNT);
  mounts.push(m);
  return m;
}

describe('three processes, each on its own NFS-like mount of one directory', () => {
  it('50 uploads spread across the processes are each listed everywhere within 2 s of their 200', async () => {
    const own = [await mount(), await mount(), await mount()];
    // --watch stays at its default (auto): on a FUSE mount it turns itself off, as on EFS.
    for (const m of own) servers.push(await startServer({ root: m.path, args: OPEN }));
    const urls = servers.map((s) => s.url);
    // A volume's very first write is its own case (below); this one measures the steady state.
    expect((await uploadWheel(urls[0]!, wheelBytes('nfs-warmup', '1.0'))).status).toBe(200);
    await waitFor(async () => (await Promise.all(urls.map((u) => listed(u, 'nfs-warmup')))).every((n) => n.size === 1), 6_000);
    const runs = await measureLagWithin(urls, 'nfs-probe', 50, BOUND_MS, 'NFS-like mounts (actimeo 3 s), refresh 1s');
    for (const run of runs) {
      expect(run.lags.filter((l) => Number.isNaN(l))).toEqual([]);
      expect(run.readYourWrites.every(Boolean)).toBe(true);
    }
    const s = summarize(runs.at(-1)!.lags);
    recordResult('nfsLike_refresh1s', { ...s, attempts: runs.length, mount: MOUNT, lagsMs: runs.at(-1)!.lags.map(Math.round) });
    expect(s.worstMs).toBeLessThan(BOUND_MS);
    // Every process ends on the token the volume holds.
    const token = (await fs.readFile(path.join(backing, '.wheelhouse', 'generation'), 'utf8')).trim();
    const start = performance.now();
    while (!(await Promise.all(urls.map(health))).every((h) => h.generation === token)) {
      expect(performance.now() - start).toBeLessThan(BOUND_MS);
      await sleep(50);
    }
    // The processes used nothing but their own mount, and it really was the cached kind.
    for (const m of own) expect((await m.stats()).getattr ?? 0).toBeGreaterThan(0);
  });
});

/** Two processes on two mounts of a new volume; ms from the writer's 200 to the reader listing the file, or null (8 s). */
async function firstWriteLag(): Promise<number | null> {
  const dir = freshDir();
  const [a, b] = [await mount(dir), await mount(dir)];
  const writer = await startServer({ root: a.path, args: OPEN });
  const reader = await startServer({ root: b.path, args: OPEN });
  servers.push(writer, reader);
  // Had the name been missing, the reader's polls would have made its mount remember "no such
  // file" (as an NFS client caches a failed lookup) and miss the first bump for that long.
  expect((await health(reader.url)).generation).toEqual(expect.any(String));
  await fs.access(path.join(b.path, '.wheelhouse', 'generation'));
  const wheel = wheelBytes('first-probe', '1.0');
  expect((await uploadWheel(writer.url, wheel)).status).toBe(200);
  const ok = performance.now();
  while (performance.now() - ok < 8_000) {
    if ((await listed(reader.url, 'first-probe')).has(wheel.filename)) return performance.now() - ok;
    await sleep(20);
  }
  return null;
}

describe('the first write to a fresh volume', () => {
  // The generation file exists from the first start, so no mount caches its absence.
  it('reaches the other processes within the bound', async () => {
    // As for the 50 uploads: a missed bound is measured once more, on another fresh volume.
    const lags: (number | null)[] = [];
    for (let attempt = 1; attempt <= 2; attempt++) {
      const lag = await firstWriteLag();
      lags.push(lag);
      console.log(
        `first write to a fresh volume${attempt > 1 ? ' (measured again)' : ''}: ` +
          `listed by the other process ${lag === null ? 'never (8 s)' : `after ${Math.round(lag)} ms`}`,
      );
      expect(lag).not.toBeNull();
      if (lag! < BOUND_MS) break;
    }
    recordResult('nfsLike_firstWrite', { lagMs: Math.round(lags.at(-1)!), attempts: lags.length });
    expect(lags.at(-1)!).toBeLessThan(BOUND_MS);
  });
});

describe('why the poll reads the generation file instead of stat()-ing it', () => {
  it('after a bump through one mount, stat() through another shows the old file past the bound; open+read sees the new token', async () => {
    // Two readers, as two tasks: one that would poll by stat() (B), one that polls by open+read (C).
    // They need their own mounts because a read through a mount refreshes its cached attributes.
    const [a, b, c] = [await mount(), await mount(), await mount()];
    const genA = new GenerationFile(path.join(a.path, '.wheelhouse'));
    const genB = new GenerationFile(path.join(b.path, '.wheelhouse'));
    const genC = new GenerationFile(path.join(c.path, '.wheelhouse'));
    await fs.mkdir(path.join(a.path, '.wheelhouse'), { recursive: true });
    const first = await genA.bump();
    // Wait out the caches so both readers start from the truth, then let B cache it.
    await sleep(MOUNT.attrTimeout * 1000 + 200);
    expect(await genC.read()).toBe(first);
    const cached = await fs.stat(genB.file);

    const second = await genA.bump();
    const bumped = performance.now();
    const readSees = await genC.read();
    const readMs = performance.now() - bumped;
    expect(readSees).toBe(second);

    // A stat()-based poll would look at mtime, size and inode: how long do they stay as cached?
    let staleMs = 0;
    for (;;) {
      const st = await fs.stat(genB.file);
      const now = performance.now() - bumped;
      if (st.mtimeMs !== cached.mtimeMs || st.ino !== cached.ino || st.size !== cached.size) break;
      staleMs = now;
      if (now > 10_000) break;
      await sleep(50);
    }
    console.log(
      `generation bumped through mount A: open+read through mount C saw it after ${Math.round(readMs)} ms; ` +
        `stat() through B still showed the old file for ${Math.round(staleMs)} ms`,
    );
    recordResult('nfsLike_statHazard', {
      attrTimeoutS: MOUNT.attrTimeout,
      openReadMs: Math.round(readMs),
      statStaleMs: Math.round(staleMs),
    });
    expect(readMs).toBeLessThan(200);
    expect(staleMs).toBeGreaterThan(BOUND_MS);
    // ...and then it does catch up: the mount is stale, not broken.
    expect(staleMs).toBeLessThan(MOUNT.attrTimeout * 1000 + 1_000);
  });
});
