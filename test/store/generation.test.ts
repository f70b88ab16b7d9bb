import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GenerationFile } from '../../src/store/generation.js';
import { Volume } from '../../src/store/volume.js';
import { eachTempRoot } from '../helpers/volume.js';

const temp = eachTempRoot();
const newStore = () => temp.volume();

describe('GenerationFile', () => {
  it('reads back each bumped token, unique every time', async () => {
    const store = await newStore();
    const generation = new GenerationFile(store.layout.stateDir);
    const tokens = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const t = await generation.bump();
      expect(await generation.read()).toBe(t);
      tokens.add(t);
    }
    expect(tokens.size).toBe(20);
    expect((await readdir(store.layout.stateDir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

describe('a damaged generation file', () => {
  it('is replaced when it is a directory, by a reader and by a writer, so no task stays unhealthy', async () => {
    const store = await newStore();
    const generation = new GenerationFile(store.layout.stateDir);
    await rm(generation.file);
    await mkdir(path.join(generation.file, 'inside'), { recursive: true });
    const token = await generation.read();
    expect(token).toMatch(/^[0-9a-z]+-[0-9a-f]{24}$/);
    expect(await generation.read()).toBe(token);

    await rm(generation.file);
    await mkdir(generation.file);
    const bumped = await generation.bump();
    expect(await generation.read()).toBe(bumped);
  });

  it('is replaced when it is far larger than a token', async () => {
    const store = await newStore();
    const generation = new GenerationFile(store.layout.stateDir);
    await writeFile(generation.file, Buffer.alloc(1024 * 1024, 'x'));
    const token = await generation.read();
    expect(token).toMatch(/^[0-9a-z]+-[0-9a-f]{24}$/);
    expect((await readFile(generation.file, 'utf8')).trim()).toBe(token);
  });

  it('does not keep a new task from starting', async () => {
    await mkdir(path.join(temp.root(), '.wheelhouse', 'generation', 'x'), { recursive: true });
    const store = new Volume(temp.root());
    await store.init();
    expect(await store.readGeneration()).toMatch(/^[0-9a-z]+-[0-9a-f]{24}$/);
  });
});
