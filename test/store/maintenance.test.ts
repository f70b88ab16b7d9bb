import { readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eachTempRoot } from '../helpers/volume.js';

const temp = eachTempRoot();
const newStore = () => temp.volume();

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
