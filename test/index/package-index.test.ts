import { copyFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LiveIndex } from '../../src/index/live-index.js';
import { PackageIndex } from '../../src/index/package-index.js';
import { parseFilename } from '../../src/pypi/names.js';
import { Volume } from '../../src/store/volume.js';
import { buildTestApp } from '../helpers/app.js';
import { makeWheel } from '../helpers/dists.js';
import { tempDir } from '../helpers/server.js';

const quiet = { info() {}, warn() {}, error() {} };
let root: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir: root, cleanup } = tempDir());
});
afterEach(() => cleanup());

/** One process's index over the test volume: the refresh protocol and what the routes see. */
interface Proc {
  live: LiveIndex;
  index: PackageIndex;
}

function newIndex(volume: Volume = new Volume(root)): Proc {
  const live = new LiveIndex(volume, quiet);
  const index = new PackageIndex(live, volume, { pageCacheBytes: 1 << 20, fileCacheBytes: 1 << 20, fileCacheMaxFile: 1 << 16 });
  return { live, index };
}

async function upload({ index }: Proc, name: string, version: string) {
  const w = await makeWheel({ name, version });
  return index.publish(await index.stage(parseFilename(w.filename)!, Readable.from([w.bytes]), 1 << 20), false);
}

describe('PackageIndex', () => {
  it('sees a write by another process at its next poll, and not before', async () => {
    const a = newIndex();
    const b = newIndex();
    await a.live.load();
    await b.live.load();
    await upload(a, 'alpha', '1.0');
    expect(a.index.project('alpha')).toBeDefined(); // read-your-writes
    expect(b.index.project('alpha')).toBeUndefined(); // b has not polled
    expect(await b.live.poll()).toBe(true);
    expect(b.index.project('alpha')?.versions).toEqual(['1.0']);
    expect(await b.live.poll()).toBe(false); // nothing new: no rescan
  });

  it('keeps its own upload visible when a rescan that listed the volume before it finishes after it', async () => {
    const index = newIndex();
    await index.live.load();
    const other = newIndex();
    await other.live.load();
    await upload(other, 'beta', '1.0'); // gives index a token change to chase
    const polling = index.live.poll(); // starts listing now
    await upload(index, 'alpha', '1.0'); // lands while the scan may still run
    await polling;
    expect(index.index.project('alpha')).toBeDefined();
    expect(index.index.project('beta')).toBeDefined();
  });

  it('applies removals and yanks at once, and another process follows at its poll', async () => {
    const a = newIndex();
    const b = newIndex();
    await a.live.load();
    await upload(a, 'alpha', '1.0');
    await upload(a, 'alpha', '2.0');
    await b.live.load();
    await a.index.yank('alpha', '2.0', 'broken');
    await a.index.remove(a.index.project('alpha')!.files.filter((f) => f.version === '1.0'));
    expect(a.index.project('alpha')!.versions).toEqual(['2.0']);
    expect(a.index.project('alpha')!.files[0]!.yanked).toBe('broken');
    await b.live.poll();
    expect(b.index.project('alpha')!.versions).toEqual(['2.0']);
    expect(b.index.project('alpha')!.files[0]!.yanked).toBe('broken');
    // Yanked releases are not "latest" unless nothing else is left.
    expect(b.index.project('alpha')!.latest).toBe('2.0');
  });

  it('shows a new generation token only once the snapshot holding its writes is in, and a poll meanwhile waits for it', async () => {
    let release: () => void = () => {};
    let hold = false;
    class SlowVolume extends Volume {
      override async scan(opts: Parameters<Volume['scan']>[0]) {
        if (hold) await new Promise<void>((r) => (release = r));
        return super.scan(opts);
      }
      // A poll after a noted upload looks at the noted paths only.
      override async examine(...args: Parameters<Volume['examine']>) {
        if (hold) await new Promise<void>((r) => (release = r));
        return super.examine(...args);
      }
    }
    const a = newIndex();
    const b = newIndex(new SlowVolume(root));
    await a.live.load();
    await b.live.load();
    const before = b.live.status().token;
    await upload(a, 'alpha', '1.0');
    hold = true;
    let firstDone = false;
    const first = b.live.poll().then((r) => ((firstDone = true), r));
    await new Promise((r) => setTimeout(r, 50));
    // The token was read but its rescan is held: /health must not claim it yet.
    expect(b.live.status().token).toBe(before);
    expect(b.index.project('alpha')).toBeUndefined();
    let secondDone = false;
    const second = b.live.poll().then((r) => ((secondDone = true), r));
    await new Promise((r) => setTimeout(r, 50));
    expect(firstDone || secondDone).toBe(false);
    hold = false;
    release();
    expect(await first).toBe(true);
    expect(await second).toBe(false);
    expect(b.live.status().token).not.toBe(before);
    expect(b.index.project('alpha')?.versions).toEqual(['1.0']);
  });

  it('keeps serving the old snapshot while the volume is unreadable, and reports the failure', async () => {
    const index = newIndex();
    const w = await makeWheel({ name: 'alpha', version: '1.0' });
    await copyFile(w.path, path.join(root, w.filename));
    await index.live.load();
    await rename(root, `${root}-away`);
    try {
      await index.live.poll();
      expect(index.live.status().pollFailingSince).not.toBeNull();
      expect(index.index.project('alpha')).toBeDefined();
    } finally {
      await rename(`${root}-away`, root);
    }
    await index.live.poll();
    expect(index.live.status().pollFailingSince).toBeNull();
  });
});

describe('small files held in memory', () => {
  it('are read from the volume once for a burst of concurrent downloads', async () => {
    let reads = 0;
    class CountingVolume extends Volume {
      override readWhole(file: Parameters<Volume['readWhole']>[0]) {
        reads++;
        return super.readWhole(file);
      }
    }
    const w = await makeWheel({ name: 'alpha', version: '1.0' });
    await copyFile(w.path, path.join(root, w.filename));
    const index = newIndex(new CountingVolume(root));
    await index.live.load();
    const file = index.index.file(w.filename)!;
    const all = await Promise.all(Array.from({ length: 200 }, () => index.index.cachedBytes(file)));
    expect(reads).toBe(1);
    expect(all.every((b) => b !== null && b.equals(w.bytes))).toBe(true);
    await index.index.cachedBytes(file);
    expect(reads).toBe(1);
  });
});

describe('before the first scan is in', () => {
  it('answers 503 with Retry-After rather than a 404 for projects it has not read yet', async () => {
    const { buildApp } = await import('../../src/app.js');
    const { loadConfig } = await import('../../src/config.js');
    const index = newIndex();
    const { LocalThrottle } = await import('../../src/auth/throttle.js');
    const app = await buildApp(loadConfig(['--root', root, '-a', '.', '-P', '.'], {}), {
      index: index.index,
      credentials: null,
      throttle: new LocalThrottle(),
    });
    try {
      const page = await app.inject('/simple/alpha/');
      expect(page.statusCode).toBe(503);
      expect(page.headers['retry-after']).toBe('2');
      const health = await app.inject('/health');
      expect(health.statusCode).toBe(503);
      expect(health.json().status).toBe('loading');
      await index.live.load();
      expect((await app.inject('/simple/alpha/')).statusCode).toBe(404);
      expect((await app.inject('/health')).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('/health', () => {
  it('turns 503 once the volume has been unreadable longer than --health-fail-after', async () => {
    const { app, live } = await buildTestApp(root, ['--health-fail-after', '0ms', '--watch', 'off']);
    try {
      expect((await app.inject('/health')).statusCode).toBe(200);
      await rename(root, `${root}-away`);
      await live.poll();
      await new Promise((r) => setTimeout(r, 5));
      const res = await app.inject('/health');
      expect(res.statusCode).toBe(503);
      expect(res.json().status).toBe('volume-unreadable');
      await rename(`${root}-away`, root);
      await live.poll();
      expect((await app.inject('/health')).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});
