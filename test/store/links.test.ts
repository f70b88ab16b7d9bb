// Links in the package directory: a link to a folder is never followed (by the scan or the
// watcher), and a file is served only when its real path is inside the root, unless the operator
// asks for links out of it. A name swapped for a link after the scan is not served either.
import { copyFileSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Volume } from '../../src/store/volume.js';
import { buildTestApp } from '../helpers/app.js';
import { makeWheel } from '../helpers/dists.js';
import { tempDir } from '../helpers/server.js';

let root: string;
let outside: string;
const cleanups: (() => void)[] = [];
let wheel: { path: string; filename: string };

beforeAll(async () => {
  wheel = await makeWheel({ name: 'alpha', version: '1.0' });
});
beforeEach(() => {
  const a = tempDir('wh-links-');
  const b = tempDir('wh-links-out-');
  cleanups.push(a.cleanup, b.cleanup);
  root = a.dir;
  outside = b.dir;
});
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function listed(opts: { followExternalLinks?: boolean } = {}): Promise<string[]> {
  const volume = new Volume(root, undefined, opts);
  await volume.init();
  return (await volume.scan({ full: true })).files.map((f) => f.relpath).sort();
}

describe('file links', () => {
  it('serves a link whose target is inside the root, and none that points out of it', async () => {
    copyFileSync(wheel.path, path.join(root, wheel.filename));
    symlinkSync(path.join(root, wheel.filename), path.join(root, 'alpha-1.0-py2-none-any.whl'));
    symlinkSync('/etc/passwd', path.join(root, 'leak-1.0.tar.bz2'));
    copyFileSync(wheel.path, path.join(outside, 'beta-1.0-py3-none-any.whl'));
    symlinkSync(path.join(outside, 'beta-1.0-py3-none-any.whl'), path.join(root, 'beta-1.0-py3-none-any.whl'));
    expect(await listed()).toEqual(['alpha-1.0-py2-none-any.whl', wheel.filename]);
  });

  it('serves links out of the root when the operator asks for them', async () => {
    symlinkSync('/etc/passwd', path.join(root, 'leak-1.0.tar.bz2'));
    expect(await listed({ followExternalLinks: true })).toEqual(['leak-1.0.tar.bz2']);
  });

  it('answers 404 for a listed file that was swapped for a link out of the root after the scan', async () => {
    copyFileSync(wheel.path, path.join(root, wheel.filename));
    const { app } = await buildTestApp(root, ['--file-cache-max-file', '0']);
    try {
      expect((await app.inject(`/packages/${wheel.filename}`)).statusCode).toBe(200);
      rmSync(path.join(root, wheel.filename));
      symlinkSync('/etc/passwd', path.join(root, wheel.filename));
      const res = await app.inject(`/packages/${wheel.filename}`);
      expect(res.statusCode).toBe(404);
      expect(res.body).not.toContain('root:');
    } finally {
      await app.close();
    }
  });
});

describe('folder links', () => {
  it('are never entered by the scan, and folders nest only so deep', async () => {
    symlinkSync('/', path.join(root, 'rootlink'));
    let deep = root;
    for (let i = 0; i < 12; i++) deep = path.join(deep, `d${i}`);
    mkdirSync(deep, { recursive: true });
    copyFileSync(wheel.path, path.join(deep, wheel.filename));
    copyFileSync(wheel.path, path.join(root, 'd0', 'd1', 'beta-1.0-py3-none-any.whl'));
    expect(await listed()).toEqual(['d0/d1/beta-1.0-py3-none-any.whl']);
  });

  it('are never walked by the file watcher', async () => {
    symlinkSync('/', path.join(root, 'rootlink'));
    mkdirSync(path.join(root, 'sub'));
    const volume = new Volume(root);
    const watcher = volume.watch(() => undefined);
    try {
      await watcher.ready;
      // The root, its link and one folder: not the whole machine behind the link.
      expect(watcher.watchedPaths()).toBeLessThan(20);
    } finally {
      await watcher.close();
    }
  });
});

describe('paths named by change notes', () => {
  it('are served only as a listing would serve them: no link out of the root, no folder entered through a link', async () => {
    copyFileSync(wheel.path, path.join(root, wheel.filename));
    copyFileSync(wheel.path, path.join(outside, 'beta-1.0-py3-none-any.whl'));
    symlinkSync(path.join(outside, 'beta-1.0-py3-none-any.whl'), path.join(root, 'beta-1.0-py3-none-any.whl'));
    symlinkSync(outside, path.join(root, 'linked'));
    symlinkSync(path.join(root, wheel.filename), path.join(root, 'alpha-1.0-py2-none-any.whl'));
    const volume = new Volume(root);
    await volume.init();
    const noted = ['beta-1.0-py3-none-any.whl', 'linked/beta-1.0-py3-none-any.whl', 'alpha-1.0-py2-none-any.whl', wheel.filename];
    const result = await volume.examine({ paths: noted, yanks: false }, new Map());
    expect(result.put.map((f) => f.relpath).sort()).toEqual(['alpha-1.0-py2-none-any.whl', wheel.filename]);
    expect(result.gone.sort()).toEqual(['beta-1.0-py3-none-any.whl', 'linked/beta-1.0-py3-none-any.whl']);
  });
});
