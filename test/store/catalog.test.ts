import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../src/store/catalog.js';
import type { DistFile } from '../../src/store/dist-file.js';
import { VolumeLayout } from '../../src/store/layout.js';
import { tempDir } from '../helpers/server.js';
import { distFile, infoOf } from '../helpers/snapshot.js';

let root: string;
let cleanup: () => void;
let warnings: string[];
let catalog: Catalog;

beforeEach(async () => {
  const temp = tempDir();
  root = temp.dir;
  cleanup = () => temp.cleanup();
  warnings = [];
  const layout = new VolumeLayout(root);
  await mkdir(layout.stateDir, { recursive: true });
  catalog = new Catalog(layout, { warn: (_obj, msg) => warnings.push(msg) });
});
afterEach(() => cleanup());

/**
 * Records of every shape the store makes: wheels and sdists, in subfolders, with and without
 * metadata, a release's files sharing it, an uploader and a digest --hash-algo asked for.
 */
function records(): DistFile[] {
  const info = infoOf([
    'Name: Alpha_Pkg',
    'Version: 1.0',
    'Summary: A package, ünïcode included',
    'Requires-Python: >=3.9',
    'Classifier: Programming Language :: Python :: 3',
    'Classifier: License :: OSI Approved :: MIT License',
    'Requires-Dist: requests>=2',
    'Project-URL: Source, https://example.com/alpha',
  ]);
  return [
    distFile('alpha-pkg', '1.0', { displayName: 'Alpha_Pkg', info, requiresPython: '>=3.9', metadataSha256: 'd'.repeat(64) }),
    distFile('alpha-pkg', '1.0', {
      filename: 'alpha_pkg-1.0.tar.gz',
      relpath: 'sub/dir/alpha_pkg-1.0.tar.gz',
      packagetype: 'sdist',
      pythonVersion: 'source',
      displayName: 'Alpha_Pkg',
      info,
    }),
    distFile('beta', '2.0rc1', {
      info: null,
      uploadTime: '2025-02-03T04:05:06.789Z',
      mtimeMs: 1_700_000_000_123,
      uploader: 'alice',
      hashes: { sha512: 'e'.repeat(128) },
    }),
  ];
}

const tag = (digest = 'digest-1') => ({ generation: 'gen-1', digest, count: 3 });

describe('the catalog', () => {
  it('reads back every record as written, the metadata of a release once for all its files', async () => {
    const written = records();
    expect(await catalog.write(written, tag(), 0)).toBe('written');
    const read = await catalog.read();
    expect(read?.header).toMatchObject({ generation: 'gen-1', digest: 'digest-1', files: 3 });
    expect([...(read?.files.values() ?? [])]).toEqual(written);
    const [wheel, sdist] = ['alpha_pkg-1.0-py3-none-any.whl', 'sub/dir/alpha_pkg-1.0.tar.gz'].map((p) => read?.files.get(p));
    expect(wheel?.info).toBe(sdist?.info);
    expect(warnings).toEqual([]);
  });

  it('says what it holds in its first line, read with one small read', async () => {
    await catalog.write(records(), tag('abc'), 0);
    expect(await catalog.readHeader()).toMatchObject({ generation: 'gen-1', digest: 'abc', files: 3 });
  });

  it('is left as it is when it already says the same, or another task wrote it moments ago', async () => {
    expect(await catalog.write(records(), tag('one'), 60_000)).toBe('written');
    expect(await catalog.write(records(), tag('one'), 0)).toBe('current');
    expect(await catalog.write(records(), tag('two'), 60_000)).toBe('recent');
    expect((await catalog.readHeader())?.digest).toBe('one');
    expect(await catalog.write(records(), tag('two'), 0)).toBe('written');
    expect((await catalog.readHeader())?.digest).toBe('two');
  });

  it('is ignored whole, with a warning, when it is damaged, cut short or of another version', async () => {
    await catalog.write(records(), tag(), 0);
    const file = path.join(root, '.wheelhouse', 'catalog.ndjson.gz');
    const header = JSON.stringify({ catalog: 1, sidecar: 1, generation: null, digest: 'x', files: 1, writtenAt: new Date().toISOString() });
    const row = [
      'f',
      'x-1.0-py3-none-any.whl',
      -1,
      7,
      7,
      7,
      'bdist_wheel',
      7,
      1,
      1,
      'a',
      'b',
      'c',
      -1,
      null,
      '2026-01-01T00:00:00.000Z',
      -1,
    ];
    const cases: [string, Buffer][] = [
      ['not gzip', Buffer.from(`${header}\n`)],
      ['cut short', (await readFile(file)).subarray(0, 200)],
      ['of another version', gzipSync(`${header.replace('"catalog":1', '"catalog":99')}\n`)],
      ['a record that is not one', gzipSync(`${header}\n["f","x-1.0-py3-none-any.whl"]\n`)],
      ['a string number out of range', gzipSync(`${header}\n${JSON.stringify(row)}\n`)],
    ];
    for (const [what, bytes] of cases) {
      await writeFile(file, bytes);
      warnings = [];
      expect(await catalog.read(), what).toBeNull();
      expect(warnings, what).toEqual(['ignoring the catalog: it cannot be read whole']);
    }
  });

  it('is no catalog at all, and no warning, when there is none', async () => {
    expect(await catalog.read()).toBeNull();
    expect(await catalog.readHeader()).toBeNull();
    expect(warnings).toEqual([]);
  });
});
