import { createHash } from 'node:crypto';
import { copyFile, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseFilename } from '../../src/pypi/names.js';
import { Volume } from '../../src/store/volume.js';
import { makeWheel } from '../helpers/dists.js';
import { eachTempRoot } from '../helpers/volume.js';

const temp = eachTempRoot();
const newStore = () => temp.volume();

describe('scanning the volume', () => {
  it('hashes a file once per volume: a second process reuses the sidecar', async () => {
    const w = await makeWheel({ name: 'alpha', version: '1.0', requiresPython: '>=3.8' });
    await copyFile(w.path, path.join(temp.root(), w.filename));
    const first = await (await newStore()).scan({ full: true });
    expect(first.stats.hashed).toBe(1);
    expect(first.files[0]).toMatchObject({ project: 'alpha', version: '1.0', requiresPython: '>=3.8', packagetype: 'bdist_wheel' });
    expect(first.files[0]!.metadataSha256).toMatch(/^[0-9a-f]{64}$/);
    const second = await new Volume(temp.root()).scan({ full: true });
    expect(second.stats.hashed).toBe(0);
    expect(second.files[0]).toEqual(first.files[0]);
  });

  it('completes a record whose sidecar lacks a digest now asked for, once per volume, and keeps its metadata file', async () => {
    const w = await makeWheel({ name: 'alpha', version: '1.0' });
    await copyFile(w.path, path.join(temp.root(), w.filename));
    const sha512 = createHash('sha512').update(w.bytes).digest('hex');
    const plain = await (await newStore()).scan({ full: true });
    expect(plain.files[0]?.hashes).toBeUndefined();
    const metaBefore = (await readdir(path.join(temp.root(), '.wheelhouse', 'meta'))).sort();

    const wanting = await new Volume(temp.root(), undefined, { extraDigests: ['sha512'] }).scan({ full: true });
    expect(wanting.stats.hashed).toBe(1);
    expect(wanting.files[0]?.hashes).toEqual({ sha512 });
    expect({ ...wanting.files[0], hashes: undefined }).toEqual({ ...plain.files[0], hashes: undefined });
    expect((await readdir(path.join(temp.root(), '.wheelhouse', 'meta'))).sort()).toEqual(metaBefore);

    const later = await new Volume(temp.root(), undefined, { extraDigests: ['sha512'] }).scan({ full: true });
    expect(later.stats.hashed).toBe(0);
    expect(later.files[0]?.hashes).toEqual({ sha512 });
    // A task that does not ask for it reads the same sidecar as it always did.
    expect((await new Volume(temp.root()).scan({ full: true })).stats.hashed).toBe(0);
  });

  it('computes the digests asked for with the others when it hashes a file, and when it takes an upload', async () => {
    const w = await makeWheel({ name: 'alpha', version: '1.0' });
    await copyFile(w.path, path.join(temp.root(), w.filename));
    const store = new Volume(temp.root(), undefined, { extraDigests: ['sha1', 'sha384'] });
    await store.init();
    const scanned = await store.scan({ full: true });
    expect(scanned.files[0]?.hashes).toEqual({
      sha1: createHash('sha1').update(w.bytes).digest('hex'),
      sha384: createHash('sha384').update(w.bytes).digest('hex'),
    });
    const b = await makeWheel({ name: 'beta', version: '1.0' });
    const { file } = await store.publish(await store.stage(parseFilename(b.filename)!, Readable.from([b.bytes]), 1 << 20), {
      overwrite: false,
    });
    expect(file.hashes?.sha384).toBe(createHash('sha384').update(b.bytes).digest('hex'));
  });

  it('keeps long descriptions out of memory, in the sidecar', async () => {
    const w = await makeWheel({ name: 'alpha', version: '1.0', description: 'A long story.\n'.repeat(500) });
    await copyFile(w.path, path.join(temp.root(), w.filename));
    const store = await newStore();
    const [file] = (await store.scan({ full: true })).files;
    expect(file!.info!.summary).toBe('Hand-made wheel for wheelhouse tests');
    expect(file!.info!.description).toBeNull();
    expect(await store.readDescription(file!)).toContain('A long story.');
  });

  it('trusts known files on a fast scan and only stats new ones', async () => {
    const store = await newStore();
    const a = await makeWheel({ name: 'alpha', version: '1.0' });
    await copyFile(a.path, path.join(temp.root(), a.filename));
    const first = await store.scan({ full: true });
    const previous = new Map(first.files.map((f) => [f.relpath, f]));
    const b = await makeWheel({ name: 'beta', version: '1.0' });
    await copyFile(b.path, path.join(temp.root(), b.filename));
    const fast = await store.scan({ full: false, previous });
    expect(fast.stats.statted).toBe(1);
    expect(fast.files.map((f) => f.project).sort()).toEqual(['alpha', 'beta']);
  });

  it('notices a file replaced by hand on a full scan', async () => {
    const store = await newStore();
    const a = await makeWheel({ name: 'alpha', version: '1.0' });
    const target = path.join(temp.root(), a.filename);
    await copyFile(a.path, target);
    const first = await store.scan({ full: true });
    const other = await makeWheel({ name: 'alpha', version: '1.0', requiresPython: '>=3.11' });
    await copyFile(other.path, target);
    await utimes(target, new Date(), new Date(Date.now() + 5000));
    const full = await store.scan({ full: true, previous: new Map(first.files.map((f) => [f.relpath, f])) });
    expect(full.files[0]!.requiresPython).toBe('>=3.11');
    expect(full.files[0]!.sha256).not.toBe(first.files[0]!.sha256);
  });

  it('skips dot-files, dot-folders, non-distributions and corrupt archives without failing', async () => {
    await writeFile(path.join(temp.root(), '.hidden-1.0.tar.gz'), 'x');
    await writeFile(path.join(temp.root(), 'README.txt'), 'x');
    await writeFile(path.join(temp.root(), 'broken-1.0-py3-none-any.whl'), 'not a zip');
    const result = await (await newStore()).scan({ full: true });
    expect(result.files).toEqual([]);
  });
});
