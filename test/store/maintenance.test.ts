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

describe('sweeping incoming/', () => {
  it('sweeps temp files of dead uploads once they are old', async () => {
    const store = await newStore();
    const fresh = path.join(store.layout.incomingDir, 'fresh.part');
    const old = path.join(store.layout.incomingDir, 'old.part');
    await writeFile(fresh, 'x');
    await writeFile(old, 'x');
    const hourAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(old, hourAgo, hourAgo);
    expect(await store.sweepIncoming(3600_000)).toBe(1);
    expect(await readdir(store.layout.incomingDir)).toEqual(['fresh.part']);
  });
});
