import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseFilename } from '../../src/pypi/names.js';
import { Volume } from '../../src/store/volume.js';
import { makeWheel } from '../helpers/dists.js';
import { eachTempRoot, listTree } from '../helpers/volume.js';

const temp = eachTempRoot();
const newStore = () => temp.volume();

describe('uploads', () => {
  it('publishes atomically and bumps the generation', async () => {
    const store = await newStore();
    const before = await store.readGeneration();
    const w = await makeWheel({ name: 'alpha', version: '1.0' });
    const staged = await store.stage(parseFilename(w.filename)!, Readable.from([w.bytes]), 1 << 20);
    expect(await readdir(temp.root())).not.toContain(w.filename); // not visible before commit
    const { file, duplicate } = await store.publish(staged, { overwrite: false });
    expect(duplicate).toBe(false);
    expect(file.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await readFile(path.join(temp.root(), w.filename))).equals(w.bytes)).toBe(true);
    expect(await store.readGeneration()).not.toBe(before);
    expect(await readdir(store.layout.incomingDir)).toEqual([]);
  });

  it('lets exactly one of two stores racing for one name win, and keeps the winner bytes', async () => {
    const s1 = await newStore();
    const s2 = new Volume(temp.root());
    const a = await makeWheel({ name: 'alpha', version: '1.0' });
    const b = await makeWheel({ name: 'alpha', version: '1.0', requiresPython: '>=3' });
    const [sa, sb] = await Promise.all([
      s1.stage(parseFilename(a.filename)!, Readable.from([a.bytes]), 1 << 20),
      s2.stage(parseFilename(b.filename)!, Readable.from([b.bytes]), 1 << 20),
    ]);
    const results = await Promise.allSettled([s1.publish(sa, { overwrite: false }), s2.publish(sb, { overwrite: false })]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason.code).toBe('WH_ERR_FILE_EXISTS');
    const stored = await readFile(path.join(temp.root(), a.filename));
    const winner = results[0].status === 'fulfilled' ? a.bytes : b.bytes;
    expect(stored.equals(winner)).toBe(true);
    expect(await readdir(s1.layout.incomingDir)).toEqual([]);
  });

  it('answers an identical re-upload as a duplicate and refuses different bytes unless overwrite', async () => {
    const store = await newStore();
    const a = await makeWheel({ name: 'alpha', version: '1.0' });
    await store.publish(await store.stage(parseFilename(a.filename)!, Readable.from([a.bytes]), 1 << 20), { overwrite: false });
    const again = await store.publish(await store.stage(parseFilename(a.filename)!, Readable.from([a.bytes]), 1 << 20), {
      overwrite: false,
    });
    expect(again.duplicate).toBe(true);
    const b = await makeWheel({ name: 'alpha', version: '1.0', requiresPython: '>=3' });
    await expect(
      store.publish(await store.stage(parseFilename(b.filename)!, Readable.from([b.bytes]), 1 << 20), { overwrite: false }),
    ).rejects.toMatchObject({
      code: 'WH_ERR_FILE_EXISTS',
      statusCode: 409,
    });
    const replaced = await store.publish(await store.stage(parseFilename(b.filename)!, Readable.from([b.bytes]), 1 << 20), {
      overwrite: true,
    });
    expect(replaced.duplicate).toBe(false);
    expect((await readFile(path.join(temp.root(), b.filename))).equals(b.bytes)).toBe(true);
    // The replaced file's sidecar is gone, so no other task keeps the old record.
    const sidecars = (await readdir(store.layout.metaDir)).filter((n) => n.endsWith('.json'));
    expect(sidecars).toHaveLength(1);
  });

  it.each([
    ['an empty file', Buffer.alloc(0), 'WH_ERR_EMPTY_FILE'],
    ['a wheel that is not a zip', Buffer.from('hello'), 'WH_ERR_BAD_ARCHIVE'],
  ])('refuses %s and leaves nothing behind', async (_what, bytes, code) => {
    const store = await newStore();
    const before = await listTree(temp.root());
    await expect(store.stage(parseFilename('alpha-1.0-py3-none-any.whl')!, Readable.from([bytes]), 1 << 20)).rejects.toMatchObject({
      code,
    });
    expect(await listTree(temp.root())).toEqual(before);
  });

  it('refuses a body above the limit while streaming, and leaves nothing behind', async () => {
    const store = await newStore();
    const before = await listTree(temp.root());
    const chunks = (function* () {
      for (let i = 0; i < 64; i++) yield Buffer.alloc(64 * 1024, 1);
    })();
    await expect(store.stage(parseFilename('alpha-1.0-py3-none-any.whl')!, Readable.from(chunks), 1024 * 1024)).rejects.toMatchObject({
      code: 'WH_ERR_TOO_LARGE',
      statusCode: 413,
    });
    expect(await listTree(temp.root())).toEqual(before);
  });

  it('keeps the uploader in the sidecar, and still reads sidecars written without one', async () => {
    const store = await newStore();
    const a = await makeWheel({ name: 'alpha', version: '1.0' });
    const b = await makeWheel({ name: 'beta', version: '1.0' });
    const published = await store.publish(await store.stage(parseFilename(a.filename)!, Readable.from([a.bytes]), 1 << 20), {
      overwrite: false,
      uploader: 'ada',
    });
    expect(published.file.uploader).toBe('ada');
    await store.publish(await store.stage(parseFilename(b.filename)!, Readable.from([b.bytes]), 1 << 20), { overwrite: false });
    const sidecars = (await readdir(store.layout.metaDir)).filter((n) => n.endsWith('.json'));
    type Sidecar = { project: string; uploader?: string };
    const read = async (n: string): Promise<Sidecar> => JSON.parse(await readFile(path.join(store.layout.metaDir, n), 'utf8')) as Sidecar;
    const records = await Promise.all(sidecars.map(read));
    expect(records.map((r) => [r.project, r.uploader]).sort()).toEqual([
      ['alpha', 'ada'],
      ['beta', undefined],
    ]);
    // A later task reads both from the sidecars without hashing either file again.
    const scan = await new Volume(temp.root()).scan({ full: true });
    expect(scan.stats.hashed).toBe(0);
    expect(Object.fromEntries(scan.files.map((f) => [f.project, f.uploader ?? null]))).toEqual({ alpha: 'ada', beta: null });
  });

  it('removes files with their sidecars and bumps the generation', async () => {
    const store = await newStore();
    const a = await makeWheel({ name: 'alpha', version: '1.0' });
    const { file } = await store.publish(await store.stage(parseFilename(a.filename)!, Readable.from([a.bytes]), 1 << 20), {
      overwrite: false,
    });
    const token = await store.readGeneration();
    expect(await store.remove([file])).toEqual([a.filename]);
    expect(await store.readGeneration()).not.toBe(token);
    expect(await readdir(store.layout.metaDir)).toEqual([]);
  });
});
