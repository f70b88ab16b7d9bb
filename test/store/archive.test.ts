import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveError, readWheelMetadata } from '../../src/store/archive.js';
import { Volume } from '../../src/store/volume.js';
import { mountNfsLike, type NfsMount } from '../helpers/nfs-mount.js';
import { tempDir } from '../helpers/server.js';
import { wheelBytes } from '../helpers/upload.js';

let root: string;
let cleanup: () => void;

beforeAll(() => {
  ({ dir: root, cleanup } = tempDir('wh-archive-'));
});
afterAll(() => cleanup());

/** The METADATA member as wheelBytes writes it. */
const metadataOf = (name: string, version: string) =>
  `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: consistency probe\n\n`;

describe('reading a wheel METADATA', () => {
  it('finds it past a central directory longer than a read block and a payload spanning several blocks', async () => {
    // 6,000 members: the central directory alone is over 400 KiB; the payload pushes it past 1 MiB.
    const wheel = wheelBytes('many-members', '1.0', { modules: 6_000, payloadBytes: 700 * 1024 });
    const file = path.join(root, wheel.filename);
    await writeFile(file, wheel.bytes);
    const metadata = await readWheelMetadata(file, wheel.bytes.length, 'many-members');
    expect(metadata.toString('utf8')).toBe(metadataOf('many-members', '1.0'));
  });

  it('refuses a truncated wheel and one shorter than the size it was listed with, with an ArchiveError', async () => {
    const wheel = wheelBytes('cut-short', '1.0', { modules: 50 });
    const file = path.join(root, wheel.filename);
    await writeFile(file, wheel.bytes.subarray(0, wheel.bytes.length - 200));
    await expect(readWheelMetadata(file, wheel.bytes.length - 200, 'cut-short')).rejects.toBeInstanceOf(ArchiveError);
    // A stale size from a network file system's attribute cache: never a hang or a wrong answer.
    await expect(readWheelMetadata(file, wheel.bytes.length, 'cut-short')).rejects.toBeInstanceOf(ArchiveError);
  });
});

describe('describing a wheel on an NFS-like mount', () => {
  let mount: NfsMount;
  let backing: { dir: string; cleanup(): void };

  beforeAll(async () => {
    backing = tempDir('wh-archive-nfs-');
    mount = await mountNfsLike(backing.dir, { attrTimeout: 3, entryTimeout: 3 });
  });
  afterAll(async () => {
    await mount.unmount();
    backing.cleanup();
  });

  it('costs a handful of reads for a wheel of 3,000 members, not a few per member (each is a round trip on EFS)', async () => {
    const wheel = wheelBytes('wide-wheel', '2.0', { modules: 3_000 });
    await writeFile(path.join(backing.dir, wheel.filename), wheel.bytes);
    const store = new Volume(mount.path);
    await store.init();
    const before = (await mount.stats()).read ?? 0;
    const { files, stats } = await store.scan({ full: true });
    const reads = ((await mount.stats()).read ?? 0) - before;
    console.log(`a ${Math.round(wheel.bytes.length / 1024)} KiB wheel of 3,000 members described with ${reads} reads through the mount`);
    expect(stats.hashed).toBe(1);
    expect(files.map((f) => [f.filename, f.requiresPython, f.metadataSha256 !== null])).toEqual([[wheel.filename, null, true]]);
    expect((await store.readMetadata(files[0]!)).toString('utf8')).toBe(metadataOf('wide-wheel', '2.0'));
    expect(reads).toBeLessThan(40);
  });
});

describe('an sdist that inflates to far more than its size', () => {
  it('is refused once the bytes inflated pass the bound, without inflating it all', async () => {
    const { createGzip } = await import('node:zlib');
    const { createWriteStream, statSync } = await import('node:fs');
    const { pipeline } = await import('node:stream/promises');
    const tarStream = (await import('tar-stream')).default;
    const { readSdistPkgInfo, sdistInflateLimit } = await import('../../src/store/archive.js');
    // A member of 256 MiB of zeros, then a PKG-INFO that is never reached: a few hundred KB gzipped.
    const file = path.join(root, 'bomb-1.0.tar.gz');
    const pack = tarStream.pack();
    const writing = pipeline(pack, createGzip({ level: 1 }), createWriteStream(file));
    const big = 256 * 1024 * 1024;
    const member = pack.entry({ name: 'bomb-1.0/zeros.bin', size: big });
    const chunk = Buffer.alloc(1024 * 1024);
    for (let sent = 0; sent < big; sent += chunk.length) {
      if (!member.write(chunk)) await new Promise<void>((r) => member.once('drain', () => r()));
    }
    member.end(() => undefined);
    pack.entry({ name: 'bomb-1.0/PKG-INFO' }, 'Metadata-Version: 2.1\nName: bomb\nVersion: 1.0\n');
    pack.finalize();
    await writing;
    const size = statSync(file).size;
    expect(size).toBeLessThan(2 * 1024 * 1024);
    expect(sdistInflateLimit(size)).toBe(64 * 1024 * 1024);
    await expect(readSdistPkgInfo(file, size, '.tar.gz')).rejects.toThrow(/no PKG-INFO within the first 64 MiB of the unpacked archive/);
  });

  it('still finds PKG-INFO in an ordinary sdist', async () => {
    const { readSdistPkgInfo } = await import('../../src/store/archive.js');
    const { distFile } = await import('../helpers/dists.js');
    const sdist = distFile('whtest-base-1.0.tar.gz');
    const { statSync } = await import('node:fs');
    const pkgInfo = await readSdistPkgInfo(sdist, statSync(sdist).size, '.tar.gz');
    expect(pkgInfo?.toString('utf8')).toMatch(/^Metadata-Version:/);
  });
});
