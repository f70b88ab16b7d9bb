// A fresh package directory per test, and a listing of everything under one.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { Volume } from '../../src/store/volume.js';
import { tempDir } from './server.js';

/** Registers a temp directory made before and removed after each test; `root()` is the current one. */
export function eachTempRoot(prefix = 'wh-test-'): { root(): string; volume(): Promise<Volume> } {
  let current: { dir: string; cleanup: () => void } | null = null;
  beforeEach(() => {
    current = tempDir(prefix);
  });
  afterEach(() => {
    current?.cleanup();
    current = null;
  });
  const root = () => {
    if (!current) throw new Error('eachTempRoot: used outside a test');
    return current.dir;
  };
  return {
    root,
    async volume() {
      const v = new Volume(root());
      await v.init();
      return v;
    },
  };
}

/** Every path under `dir` (folders with a trailing slash), the state folder included, sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .map((e) => {
      const rel = path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/');
      return e.isDirectory() ? `${rel}/` : rel;
    })
    .sort();
}
