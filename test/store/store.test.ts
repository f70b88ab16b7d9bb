import { copyFile, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PackageStore } from '../../src/store/store.js';
import { makeWheel } from '../helpers/dists.js';
import { tempDir } from '../helpers/server.js';

let root: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir: root, cleanup } = tempDir());
});
afterEach(() => cleanup());

async function newStore(): Promise<PackageStore> {
  const store = new PackageStore(root);
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

describe('PackageStore.scan', () => {
  it('hashes a file once per volume: a second process reuses the sidecar', async () => {
    const w = await makeWheel({ name: 'alpha', version: '1.0', requiresPython: '>=3.8' });
    await copyFile(w.path, path.join(root, w.filename));
    const first = await (await newStore()).scan({ full: true });
    expect(first.stats.hashed).toBe(1);
    expect(first.files[0]).toMatchObject({ project: 'alpha', version: '1.0', requiresPython: '>=3.8', packagetype: 'bdist_wheel' });
    expect(first.files[0]!.metadataSha256).toMatch(/^[0-9a-f]{64}$/);
    const second = await new PackageStore(root).scan({ full: true });
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

describe('PackageStore uploads', () => {
  it('publishes atomically and bumps the generation', async () => {
    const store = await newStore();
    const before = await store.generation.read();
    const w = await makeWheel({ name: 'alpha', version: '1.0' });
    const staged = await store.stage(w.filename, Readable.from([w.bytes]), 1 << 20);
    expect(await readdir(root)).not.toContain(w.filename); // not visible before commit
    const { file, duplicate } = await store.commit(staged, { overwrite: false });
    expect(duplicate).toBe(false);
    expect(file.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await readFile(path.join(root, w.filename))).equals(w.bytes)).toBe(true);
    expect(await store.generation.read()).not.toBe(before);
    expect(await readdir(store.incomingDir)).toEqual([]);
  });

  it('lets exactly one of two stores racing for one name win, and keeps the winner bytes', async () => {
    const s1 = await newStore();
    const s2 = new PackageStore(root);
    const a = await makeWheel({ name: 'alpha', version: '1.0' });
    const b = await makeWheel({ name: 'alpha', version: '1.0', requiresPython: '>=3' });
    const [sa, sb] = await Promise.all([
      s1.stage(a.filename, Readable.from([a.bytes]), 1 << 20),
      s2.stage(b.filename, Readable.from([b.bytes]), 1 << 20),
    ]);
    const results = await Promise.allSettled([s1.commit(sa, { overwrite: false }), s2.commit(sb, { overwrite: false })]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason.code).toBe('WH_ERR_FILE_EXISTS');
    const stored = await readFile(path.join(root, a.filename));
    const winner = results[0]!.status === 'fulfilled' ? a.bytes : b.bytes;
    expect(stored.equals(winner)).toBe(true);
    expect(await readdir(s1.incomingDir)).toEqual([]);
  });

  it('answers an identical re-upload as a duplicate and refuses different bytes unless overwrite', async () => {
    const store = await newStore();
    const a = await makeWheel({ name: 'alpha', version: '1.0' });
    await store.commit(await store.stage(a.filename, Readable.from([a.bytes]), 1 << 20), { overwrite: false });
    const again = await store.commit(await store.stage(a.filename, Readable.from([a.bytes]), 1 << 20), { overwrite: false });
    expect(again.duplicate).toBe(true);
    const b = await makeWheel({ name: 'alpha', version: '1.0', requiresPython: '>=3' });
    await expect(
      store.commit(await store.stage(b.filename, Readable.from([b.bytes]), 1 << 20), { overwrite: false }),
    ).rejects.toMatchObject({
      code: 'WH_ERR_FILE_EXISTS',
      statusCode: 409,
    });
    const replaced = await store.commit(await store.stage(b.filename, Readable.from([b.bytes]), 1 << 20), { overwrite: true });
    expect(replaced.duplicate).toBe(false);
    expect((await readFile(path.join(root, b.filename))).equals(b.bytes)).toBe(true);
    // The replaced file's sidecar is gone, so no other task keeps the old record.
    const sidecars = (await readdir(store.metaDir)).filter((n) => n.endsWith('.json'));
    expect(sidecars).toHaveLength(1);
  });

  it.each([
    ['an empty file', Buffer.alloc(0), 'WH_ERR_EMPTY_FILE'],
    ['a wheel that is not a zip', Buffer.from('hello'), 'WH_ERR_BAD_ARCHIVE'],
  ])('refuses %s and leaves nothing behind', async (_what, bytes, code) => {
    const store = await newStore();
    const before = await listAll(root);
    await expect(store.stage('alpha-1.0-py3-none-any.whl', Readable.from([bytes]), 1 << 20)).rejects.toMatchObject({ code });
    expect(await listAll(root)).toEqual(before);
  });

  it('refuses a body above the limit while streaming, and leaves nothing behind', async () => {
    const store = await newStore();
    const before = await listAll(root);
    const chunks = (function* () {
      for (let i = 0; i < 64; i++) yield Buffer.alloc(64 * 1024, 1);
    })();
    await expect(store.stage('alpha-1.0-py3-none-any.whl', Readable.from(chunks), 1024 * 1024)).rejects.toMatchObject({
      code: 'WH_ERR_TOO_LARGE',
      statusCode: 413,
    });
    expect(await listAll(root)).toEqual(before);
  });

  it('removes files with their sidecars and bumps the generation', async () => {
    const store = await newStore();
    const a = await makeWheel({ name: 'alpha', version: '1.0' });
    const { file } = await store.commit(await store.stage(a.filename, Readable.from([a.bytes]), 1 << 20), { overwrite: false });
    const token = await store.generation.read();
    expect(await store.remove([file])).toEqual([a.filename]);
    expect(await store.generation.read()).not.toBe(token);
    expect(await readdir(store.metaDir)).toEqual([]);
  });

  it('sweeps temp files of dead uploads once they are old', async () => {
    const store = await newStore();
    const fresh = path.join(store.incomingDir, 'fresh.part');
    const old = path.join(store.incomingDir, 'old.part');
    await writeFile(fresh, 'x');
    await writeFile(old, 'x');
    const hourAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(old, hourAgo, hourAgo);
    expect(await store.sweepIncoming(3600_000)).toBe(1);
    expect(await readdir(store.incomingDir)).toEqual(['fresh.part']);
  });
});

describe('GenerationFile', () => {
  it('reads back each bumped token, unique every time', async () => {
    const store = await newStore();
    const tokens = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const t = await store.generation.bump();
      expect(await store.generation.read()).toBe(t);
      tokens.add(t);
    }
    expect(tokens.size).toBe(20);
    expect((await readdir(store.stateDir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});
