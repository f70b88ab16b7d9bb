// Two mounts A and B of one directory behave like two EFS clients: what one
// writes, the other reads fresh by open()+read(), while its stat() answers stay
// stale for the attribute timeout. These are the facts the generation file
// design rests on (DESIGN.md), reproduced on one machine.
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuseAvailable, mountNfsLike, type NfsMount } from './nfs-mount.js';

const TIMEOUT_S = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// What a careful reader does: trust no cached size, read until read() says EOF.
async function readUntilEof(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      const buf = Buffer.alloc(7); // small, so a longer file takes several reads
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await fh.close();
  }
}

// The way a writer bumps the generation file: temp file, then rename over.
async function replace(path: string, content: string, mtime?: Date): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, content);
  if (mtime) await utimes(tmp, mtime, mtime);
  await rename(tmp, path);
}

async function statOrCode(path: string): Promise<number | string> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

/** Polls until check() holds; returns the milliseconds since `since`. */
async function waitFor(check: () => Promise<boolean>, since: number, limitMs: number): Promise<number> {
  while (!(await check())) {
    if (Date.now() - since > limitMs) throw new Error(`still not true after ${limitMs} ms`);
    await sleep(50);
  }
  return Date.now() - since;
}

describe('an NFS-like FUSE mount', () => {
  let backing: string;
  let a: NfsMount;
  let b: NfsMount;

  beforeAll(async () => {
    backing = mkdtempSync(join(tmpdir(), 'wh-nfs-backing-'));
    const opts = { attrTimeout: TIMEOUT_S, entryTimeout: TIMEOUT_S };
    [a, b] = await Promise.all([mountNfsLike(backing, opts), mountNfsLike(backing, opts)]);
  });

  afterAll(async () => {
    await Promise.all([a?.unmount(), b?.unmount()]);
    if (backing) rmSync(backing, { recursive: true, force: true });
  });

  it('is possible on this machine', () => {
    expect(fuseAvailable()).toEqual({ ok: true });
  });

  it('lets B read by open and read what A just wrote, also after a rename over the file and when it grew', async () => {
    await mkdir(join(a.path, '.wheelhouse'));
    const genA = join(a.path, '.wheelhouse', 'generation');
    const genB = join(b.path, '.wheelhouse', 'generation');
    await replace(genA, 'one');
    expect(await readUntilEof(genB)).toBe('one');
    expect((await stat(genB)).size).toBe(3); // B now caches size 3

    await replace(genA, 'a token much longer than the first one');
    expect(await readUntilEof(genB)).toBe('a token much longer than the first one');

    await replace(genA, 'short');
    expect(await readUntilEof(genB)).toBe('short');

    await writeFile(genA, 'rewritten in place, longer again');
    expect(await readUntilEof(genB)).toBe('rewritten in place, longer again');
    expect(await readFile(join(backing, '.wheelhouse', 'generation'), 'utf8')).toBe('rewritten in place, longer again');
  });

  it('lets stat() through B report the old size and mtime after A replaced the file, until the attribute timeout', async () => {
    const old = new Date('2001-01-01T00:00:00Z');
    await replace(join(a.path, 'pkg-1.0.tar.gz'), 'old', old);
    const fileB = join(b.path, 'pkg-1.0.tar.gz');
    const before = await stat(fileB);
    const cachedAt = Date.now();
    expect(before.size).toBe(3);
    expect(before.mtime).toEqual(old);

    await replace(join(a.path, 'pkg-1.0.tar.gz'), 'new and longer');
    const stale = await stat(fileB);
    expect(stale.size).toBe(3);
    expect(stale.mtime).toEqual(old);

    const caughtUp = await waitFor(async () => (await stat(fileB)).size === 14, cachedAt, TIMEOUT_S * 1000 + 2000);
    expect(caughtUp).toBeGreaterThanOrEqual(TIMEOUT_S * 1000 - 500);
    expect((await stat(fileB)).mtime.getTime()).toBeGreaterThan(old.getTime());
  });

  it('lets B miss a file A created after B looked the name up, until the entry timeout; readdir through B lists it', async () => {
    const name = 'late-1.0-py3-none-any.whl';
    expect(await statOrCode(join(b.path, name))).toBe('ENOENT');
    const lookedUpAt = Date.now();

    await writeFile(join(a.path, name), 'wheel');
    await writeFile(join(a.path, 'never-asked-1.0-py3-none-any.whl'), 'wheel');
    expect(await readdir(b.path)).toContain(name);
    expect(await statOrCode(join(b.path, name))).toBe('ENOENT');
    await expect(readUntilEof(join(b.path, name))).rejects.toMatchObject({ code: 'ENOENT' });
    // A name B never asked for is looked up afresh.
    expect(await statOrCode(join(b.path, 'never-asked-1.0-py3-none-any.whl'))).toBe(5);

    const found = await waitFor(async () => (await statOrCode(join(b.path, name))) === 5, lookedUpAt, TIMEOUT_S * 1000 + 2000);
    expect(found).toBeGreaterThanOrEqual(TIMEOUT_S * 1000 - 500);
    expect(await readUntilEof(join(b.path, name))).toBe('wheel');
  });

  it('counts the open and read calls that reading one file costs', async () => {
    await writeFile(join(backing, 'counted.txt'), 'x'.repeat(300_000));
    const before = await a.stats();
    const content = await readFile(join(a.path, 'counted.txt'));
    const after = await a.stats();
    expect(content.length).toBe(300_000);
    const delta = (op: string) => (after[op] ?? 0) - (before[op] ?? 0);
    expect(delta('open')).toBe(1);
    expect(delta('read')).toBeGreaterThanOrEqual(3); // 300 kB does not fit one 128 kB FUSE read
    expect(delta('getattr')).toBeGreaterThanOrEqual(1); // the lookup of a name never seen
    expect(delta('rename')).toBe(0);
  });
});

describe('an NFS-like FUSE mount with latency', () => {
  it('sleeps the metadata delay in each lookup, and leaves no mount behind', async () => {
    const backing = mkdtempSync(join(tmpdir(), 'wh-nfs-backing-'));
    const names = Array.from({ length: 20 }, (_, i) => `f${i}.whl`);
    await Promise.all(names.map((n) => writeFile(join(backing, n), n)));
    const slow = await mountNfsLike(backing, { metaDelayMs: 20 });
    try {
      const t0 = performance.now();
      for (const n of names) await stat(join(slow.path, n));
      const elapsed = performance.now() - t0;
      expect(elapsed).toBeGreaterThanOrEqual(20 * 20 * 0.95);
      expect((await slow.stats()).getattr).toBeGreaterThanOrEqual(20);
    } finally {
      await slow.unmount();
      rmSync(backing, { recursive: true, force: true });
    }
    const mounts = await readFile('/proc/mounts', 'utf8');
    expect(mounts).not.toContain(slow.path);
    await expect(stat(slow.path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
