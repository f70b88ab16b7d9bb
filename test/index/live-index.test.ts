import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LiveIndex } from '../../src/index/live-index.js';
import { PackageIndex } from '../../src/index/package-index.js';
import type { IndexSource } from '../../src/index/ports.js';
import { parseFilename } from '../../src/pypi/names.js';
import type { Change } from '../../src/store/change-notes.js';
import type { DistFile } from '../../src/store/dist-file.js';
import { GenerationFile } from '../../src/store/generation.js';
import type { ScanOptions, ScanResult, ScanStats } from '../../src/store/scanner.js';
import { Volume } from '../../src/store/volume.js';
import { tempDir } from '../helpers/server.js';
import { wheelBytes } from '../helpers/upload.js';

let root: string;
let cleanup: () => void;

beforeEach(() => {
  const temp = tempDir();
  root = temp.dir;
  cleanup = () => temp.cleanup();
});
afterEach(() => cleanup());

/** The volume as one process sees it, with what each of its scans cost. */
class Counted implements IndexSource {
  readonly scans: ScanStats[] = [];
  /** Scans that looked only at what change notes named. */
  readonly examined: ScanStats[] = [];
  /** Scans that listed the volume (the notes present were synced first). */
  listings = 0;
  failExamine = false;
  readonly warnings: string[] = [];
  readonly volume: Volume;

  constructor(opts: { verifyPerScan?: number } = {}) {
    this.volume = new Volume(root, { info() {}, warn: (_o, msg) => this.warnings.push(msg), error() {} }, opts);
  }

  init(): Promise<void> {
    return this.volume.init();
  }
  readGeneration(): Promise<string | null> {
    return this.volume.readGeneration();
  }
  stateDirExists(): Promise<boolean> {
    return this.volume.stateDirExists();
  }
  async scan(opts: ScanOptions): Promise<ScanResult> {
    const result = await this.volume.scan(opts);
    this.scans.push(result.stats);
    return result;
  }
  changesUpTo(token: string, previous: string | null) {
    return this.volume.changesUpTo(token, previous);
  }
  syncChanges() {
    this.listings++;
    return this.volume.syncChanges();
  }
  forgetChanges() {
    this.volume.forgetChanges();
  }
  async examine(change: Change, previous: ReadonlyMap<string, DistFile>) {
    const result = await this.volume.examine(change, previous);
    this.examined.push(result.stats);
    if (this.failExamine) throw new Error('the volume went away');
    return result;
  }
  readCatalog() {
    return this.volume.readCatalog();
  }
  writeCatalog(files: Iterable<DistFile>, tag: { generation: string | null; digest: string; count: number }, minAgeMs: number) {
    return this.volume.writeCatalog(files, tag, minAgeMs);
  }
}

const quiet = { info() {}, warn() {}, error() {} };

async function task(opts: { verifyPerScan?: number } = {}) {
  const source = new Counted(opts);
  const live = new LiveIndex(source, quiet);
  const index = new PackageIndex(live, source.volume, { pageCacheBytes: 1 << 20, fileCacheBytes: 1 << 20, fileCacheMaxFile: 1 << 16 });
  await live.load();
  return { source, live, index, loadScan: () => source.scans[0] };
}

async function put(name: string, version: string): Promise<string> {
  const w = wheelBytes(name, version);
  await writeFile(path.join(root, w.filename), w.bytes);
  return w.filename;
}

async function upload(index: PackageIndex, name: string, version: string, overwrite = false, payloadBytes = 0) {
  const w = wheelBytes(name, version, { payloadBytes });
  return index.publish(await index.stage(parseFilename(w.filename)!, Readable.from([w.bytes]), 1 << 20), overwrite);
}

describe('a process starting on an indexed volume', () => {
  it('reads the catalog instead of a sidecar per file, and serves exactly what a process that read every sidecar serves', async () => {
    for (let i = 0; i < 12; i++) await put(`pkg-${i % 4}`, `1.${i}`);
    const first = await task();
    expect(first.loadScan()).toMatchObject({ listed: 12, hashed: 12 });
    expect(await first.live.saveCatalog(0)).toBe('written');

    const second = await task();
    expect(second.loadScan()).toMatchObject({ listed: 12, statted: 0, sidecarsRead: 0, hashed: 0 });
    expect(second.live.snapshot.fingerprint).toBe(first.live.snapshot.fingerprint);
    expect(second.live.snapshot.projectNames).toEqual(['pkg-0', 'pkg-1', 'pkg-2', 'pkg-3']);
    // The catalog already says what this process holds: nothing to write.
    expect(await second.live.saveCatalog(0)).toBe('current');
  });

  it('trusts a catalog record only while its sidecar is listed: what was uploaded, replaced or removed since is read anew', async () => {
    for (let i = 0; i < 6; i++) await put('steady', `1.${i}`);
    const writer = await task();
    await upload(writer.index, 'changing', '1.0');
    const gone = (await upload(writer.index, 'leaving', '1.0')).file;
    await writer.live.saveCatalog(0);

    await upload(writer.index, 'arriving', '1.0');
    const replaced = (await upload(writer.index, 'changing', '1.0', true, 100)).file;
    await writer.index.remove([writer.index.file(gone.relpath)!]);

    const starting = await task();
    // Two files whose sidecars the catalog does not name: read from their sidecars, hashed by nobody.
    expect(starting.loadScan()).toMatchObject({ listed: 8, statted: 2, sidecarsRead: 2, hashed: 0 });
    expect(starting.index.project('arriving')?.versions).toEqual(['1.0']);
    expect(starting.index.project('changing')?.files[0]?.sha256).toBe(replaced.sha256);
    expect(starting.index.project('leaving')).toBeUndefined();
    expect(starting.live.snapshot.fingerprint).toBe(writer.live.snapshot.fingerprint);
  });

  it('reads every sidecar, as before there were catalogs, when the catalog cannot be used', async () => {
    for (let i = 0; i < 5; i++) await put('pkg', `1.${i}`);
    const first = await task();
    await first.live.saveCatalog(0);
    await writeFile(path.join(root, '.wheelhouse', 'catalog.ndjson.gz'), 'not a catalog');
    const second = await task();
    expect(second.loadScan()).toMatchObject({ listed: 5, sidecarsRead: 5, hashed: 0 });
    expect(second.source.warnings).toContain('ignoring the catalog: it cannot be read whole');
    expect(second.live.snapshot.fingerprint).toBe(first.live.snapshot.fingerprint);
    // This one puts a good catalog back.
    expect(await second.live.saveCatalog(0)).toBe('written');
    expect((await task()).loadScan()).toMatchObject({ sidecarsRead: 0 });
  });
});

describe('rescans of a volume whose files did not change', () => {
  it('list the volume and touch no file but a full rescan’s slice, which moves on each time and covers every file', async () => {
    const names: string[] = [];
    for (let i = 0; i < 5; i++) names.push(await put('pkg', `1.${i}`));
    const p = await task({ verifyPerScan: 2 });
    await p.live.rescan({ full: false });
    expect(p.source.scans.at(-1)).toMatchObject({ listed: 5, statted: 0, sidecarsRead: 0, hashed: 0 });
    for (let i = 0; i < 3; i++) await p.live.rescan({ full: true });
    expect(p.source.scans.slice(-3).map((s) => s.verified)).toEqual([2, 2, 2]);
    expect(p.source.scans.slice(-3).map((s) => s.statted)).toEqual([2, 2, 2]);
  });

  it('notice a file rewritten in place by hand within a turn of the slices, and drop its stale sidecar for the others', async () => {
    const names: string[] = [];
    for (let i = 0; i < 5; i++) names.push(await put('pkg', `1.${i}`));
    const noticing = await task({ verifyPerScan: 2 });
    const other = await task();
    // Same name, other bytes and size, mtime moved on: what `cp` over the file does.
    const target = names[2]!;
    const before = noticing.index.file(target)!.sha256;
    const w = wheelBytes('pkg', '1.2', { payloadBytes: 500 });
    await writeFile(path.join(root, target), w.bytes);
    const { utimes } = await import('node:fs/promises');
    await utimes(path.join(root, target), new Date(), new Date(Date.now() + 10_000));

    let rescans = 0;
    while (noticing.index.file(target)?.sha256 === before && rescans < 3) {
      await noticing.live.rescan({ full: true });
      rescans++;
    }
    expect(noticing.index.file(target)?.sha256).not.toBe(before);
    expect(rescans).toBeLessThanOrEqual(3);
    const sidecars = (await readdir(path.join(root, '.wheelhouse', 'meta'))).filter((n) => n.startsWith(encodeURIComponent(target)));
    expect(sidecars.filter((n) => n.endsWith('.json'))).toHaveLength(1);

    // Another process's scan after any bump (here: asked directly) reads the new sidecar; nobody hashes twice.
    await other.live.rescan({ full: false });
    expect(other.source.scans.at(-1)).toMatchObject({ sidecarsRead: 1, hashed: 0 });
    expect(other.index.file(target)?.sha256).toBe(noticing.index.file(target)?.sha256);
  });

  it('apply an upload found by a poll to its project alone, and leave every other project as it was', async () => {
    for (let i = 0; i < 6; i++) await put(`pkg-${i}`, '1.0');
    const reader = await task();
    const writer = await task();
    const before = reader.live.snapshot;
    await upload(writer.index, 'pkg-3', '2.0');
    expect(await reader.live.poll()).toBe(true);
    const after = reader.live.snapshot;
    expect(after.projects.get('pkg-3')?.versions).toEqual(['1.0', '2.0']);
    for (const name of ['pkg-0', 'pkg-1', 'pkg-2', 'pkg-4', 'pkg-5']) expect(after.projects.get(name)).toBe(before.projects.get(name));
    expect(after.projectNames).toBe(before.projectNames);
    await rm(path.join(root, 'pkg_5-1.0-py3-none-any.whl'));
    await reader.live.rescan({ full: false });
    expect(reader.live.snapshot.projectNames).not.toContain('pkg-5');
  });
});

describe('a poll after another process wrote, with its change notes', () => {
  it('looks only at the paths the notes name (uploaded, replaced, removed, yanked) and lists nothing', async () => {
    for (let i = 0; i < 6; i++) await put(`pkg-${i}`, '1.0');
    const reader = await task();
    const writer = await task();
    const listings = reader.source.listings;

    const added = (await upload(writer.index, 'pkg-3', '2.0')).file;
    expect(await reader.live.poll()).toBe(true);
    expect(reader.index.project('pkg-3')?.versions).toEqual(['1.0', '2.0']);
    // One stat and the sidecar the writer left: nothing hashed, nothing listed.
    expect(reader.source.examined.at(-1)).toMatchObject({ statted: 1, sidecarsRead: 1, hashed: 0 });

    const replaced = (await upload(writer.index, 'pkg-3', '2.0', true, 200)).file;
    expect(replaced.sha256).not.toBe(added.sha256);
    await reader.live.poll();
    expect(reader.index.file(added.relpath)?.sha256).toBe(replaced.sha256);

    await writer.index.remove([writer.index.file('pkg_4-1.0-py3-none-any.whl')!]);
    await reader.live.poll();
    expect(reader.index.project('pkg-4')).toBeUndefined();

    await writer.index.yank('pkg-3', '2.0', 'broken');
    await reader.live.poll();
    expect(reader.index.file(added.relpath)?.yanked).toBe('broken');

    expect(reader.source.listings).toBe(listings);
    expect(reader.source.examined).toHaveLength(4);
    expect(reader.live.snapshot.fingerprint).toBe(writer.live.snapshot.fingerprint);
  });

  it('lists the volume when the new token has no note (a writer of an older version, the token command)', async () => {
    await put('pkg', '1.0');
    const reader = await task();
    const listings = reader.source.listings;
    const byHand = await put('pkg', '2.0');
    await new GenerationFile(path.join(root, '.wheelhouse')).bump();
    await reader.live.poll();
    expect(reader.source.listings).toBe(listings + 1);
    expect(reader.index.file(byHand)).toBeDefined();
  });

  it('lists the volume at the next poll after a look at noted paths failed, so the change is not lost', async () => {
    await put('pkg', '1.0');
    const reader = await task();
    const writer = await task();
    const up = (await upload(writer.index, 'pkg', '2.0')).file;
    reader.source.failExamine = true;
    await expect(reader.live.poll()).rejects.toThrow('the volume went away');
    reader.source.failExamine = false;
    const listings = reader.source.listings;
    await reader.live.poll();
    expect(reader.source.listings).toBe(listings + 1);
    expect(reader.index.file(up.relpath)).toBeDefined();
  });

  it('applies the notes of every writer since its last poll, whichever token it reads', async () => {
    const reader = await task();
    const writers = [await task(), await task(), await task()];
    const files = [];
    for (const [i, w] of writers.entries()) files.push((await upload(w.index, `from-${i}`, '1.0')).file);
    await reader.live.poll();
    for (const f of files) expect(reader.index.file(f.relpath)).toBeDefined();
    expect(reader.source.examined.at(-1)).toMatchObject({ statted: 3, hashed: 0 });
  });
});

describe('a volume whose change notes cannot be written', () => {
  it('still takes the upload, says so in the log, and the other processes find it by listing', async () => {
    await put('pkg', '1.0');
    const reader = await task();
    const writer = await task();
    // The notes folder replaced by a file: every note write fails (as on a full or damaged volume).
    await rm(path.join(root, '.wheelhouse', 'changes'), { recursive: true });
    await writeFile(path.join(root, '.wheelhouse', 'changes'), 'not a folder');
    const up = (await upload(writer.index, 'pkg', '2.0')).file;
    expect(writer.source.warnings).toContain('could not write a change note; other tasks list the volume to find this change');
    const listings = reader.source.listings;
    await reader.live.poll();
    expect(reader.source.listings).toBe(listings + 1);
    expect(reader.index.file(up.relpath)).toBeDefined();
  });
});
