// Several package directories (pypiserver's `-r` repeated): the first takes uploads, the others
// are served read-only, their files under /packages/~N/.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveIndex } from '../../src/index/live-index.js';
import { buildTestApp } from '../helpers/app.js';
import { makeWheel } from '../helpers/dists.js';
import { multipart, uploadBody } from '../helpers/forms.js';
import { tempDir } from '../helpers/server.js';

let app: FastifyInstance;
let live: LiveIndex;
let first: string;
let second: string;
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  const a = tempDir('wh-roots-a-');
  const b = tempDir('wh-roots-b-');
  cleanups.push(a.cleanup, b.cleanup);
  first = a.dir;
  second = b.dir;
  const [old, shared, nested] = await Promise.all([
    makeWheel({ name: 'legacy-lib', version: '0.9' }),
    makeWheel({ name: 'shared-lib', version: '1.0' }),
    makeWheel({ name: 'shared-lib', version: '1.1' }),
  ]);
  await mkdir(path.join(second, 'team'));
  await copyFile(old.path, path.join(second, old.filename));
  await copyFile(shared.path, path.join(second, shared.filename));
  await copyFile(nested.path, path.join(second, 'team', nested.filename));
  ({ app, live } = await buildTestApp(first, ['-r', second]));
});

afterAll(async () => {
  await app.close();
  for (const c of cleanups) c();
});

describe('a second package directory', () => {
  it('lists its files, subfolders included, under /packages/~2/, and serves them with their metadata', async () => {
    const page = await app.inject('/simple/shared-lib/');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('href="../../packages/~2/shared_lib-1.0-py3-none-any.whl#sha256=');
    expect(page.body).toContain('href="../../packages/~2/team/shared_lib-1.1-py3-none-any.whl#sha256=');
    const file = await app.inject('/packages/~2/team/shared_lib-1.1-py3-none-any.whl');
    expect(file.statusCode).toBe(200);
    expect(file.rawPayload.subarray(0, 2).toString()).toBe('PK');
    const metadata = await app.inject('/packages/~2/team/shared_lib-1.1-py3-none-any.whl.metadata');
    expect(metadata.statusCode).toBe(200);
    expect(metadata.body).toMatch(/^Version: 1\.1$/m);
  });

  it('takes no upload: a new file goes to the first directory, and nothing is written into the second', async () => {
    const w = await makeWheel({ name: 'shared-lib', version: '2.0' });
    const res = await app.inject({ method: 'POST', url: '/', ...uploadBody(w) });
    expect(res.statusCode, res.body).toBe(200);
    expect(await readdir(first)).toContain(w.filename);
    expect((await readdir(second, { recursive: true })).sort()).toEqual(
      ['legacy_lib-0.9-py3-none-any.whl', 'shared_lib-1.0-py3-none-any.whl', 'team', 'team/shared_lib-1.1-py3-none-any.whl'].sort(),
    );
    expect(existsSync(path.join(second, '.wheelhouse'))).toBe(false);
    const page = await app.inject('/simple/shared-lib/');
    expect(page.body).toContain(`href="../../packages/${w.filename}#`);
  });

  it('refuses to remove a release with a file there: 403 naming the directory, and every file stays', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/',
      ...multipart([
        { name: ':action', value: 'remove_pkg' },
        { name: 'name', value: 'legacy-lib' },
        { name: 'version', value: '0.9' },
      ]),
    });
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain(second);
    expect(await readdir(second)).toContain('legacy_lib-0.9-py3-none-any.whl');
    expect((await app.inject('/simple/legacy-lib/')).body).toContain('legacy_lib-0.9-py3-none-any.whl');
  });

  it('lists a file copied into it by hand at the next rescan', async () => {
    const w = await makeWheel({ name: 'late-lib', version: '1.0' });
    await copyFile(w.path, path.join(second, w.filename));
    await live.rescan({ full: true });
    const page = await app.inject('/simple/late-lib/');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(`packages/~2/${w.filename}#sha256=`);
  });
});
