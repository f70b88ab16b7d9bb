import { copyFile, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseFilename } from '../../src/pypi/names.js';
import { GenerationFile } from '../../src/store/generation.js';
import { Volume } from '../../src/store/volume.js';
import { makeWheel } from '../helpers/dists.js';
import { tempDir } from '../helpers/server.js';

let root: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir: root, cleanup } = tempDir());
});
afterEach(() => cleanup());

async function newStore(): Promise<Volume> {
  const store = new Volume(root);
  await store.init();
  return store;
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

describe('scanning the volume', () => {
  it('hashes a file once per volume: a second process reuses the sidecar', async () => {
    const w = await makeWheel({ name: 'alpha', version: '1.0', requiresPython: '>=3.8' });
    await copyFile(w.path, path.join(root, w.filename));
    const first = await (await newStore()).scan({ full: true });
    expect(first.stats.hashed).toBe(1);
    expect(first.files[0]).toMatchObject({ project: 'alpha', version: '1.0', requiresPython: '>=3.8', packagetype: 'bdist_wheel' });
    expect(first.files[0]!.metadataSha256).toMatch(/^[0-9a-f]{64}$/);
    const second = await new Volume(root).scan({ full: true });
    expect(second.stats.hashed).toBe(0);
    expect(second.files[0]).toEqual(first.files[0]);
  });

  it('keeps long descriptions out of memory, in the sidecar', async () => {
    const w = await makeWheel({ name: 'alpha', version: '1.0', description: 'A long story.\n'.repeat(500) });
    await copyFile(w.path, path.join(root, w.filename));
    const store = await newStore();
    const [file] = (await store.scan({ full: true })).files;
    expect(file!.info!.summary).toBe('Hand-made wheel for wheelhouse tests');
    expect(file!.info!.description).toBeNull();
    expect(await store.readDescription(file!)).toContain('A long story.');
  });

  it('trusts known files on a fast scan and only stats new ones', async () => {
    const store = await newStore();
    const a = await makeWheel({ name: 'alpha', version: '1.0' });
    await copyFile(a.path, path.join(root, a.filename));
    const first = await store.scan({ full: true });
    const previous = new Map(first.files.map((f) => [f.relpath, f]));
    const b = await makeWheel({ name: 'beta', version: '1.0' });
    await copyFile(b.path, path.join(root, b.filename));
    const fast = await store.scan({ full: false, previous });
    expect(fast.stats.statted).toBe(1);
    expect(fast.files.map((f) => f.project).sort()).toEqual(['alpha', 'beta']);
  });

  it('notices a file replaced by hand on a full scan', async () => {
    const store = await newStore();
    const a = await makeWheel({ name: 'alpha', version: '1.0' });
    const target = path.join(root, a.filename);
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
    await writeFile(path.join(root, '.hidden-1.0.tar.gz'), 'x');
    await writeFile(path.join(root, 'README.txt'), 'x');
    await writeFile(path.join(root, 'broken-1.0-py3-none-any.whl'), 'not a zip');
    const result = await (await newStore()).scan({ full: true });
    expect(result.files).toEqual([]);
  });
});
