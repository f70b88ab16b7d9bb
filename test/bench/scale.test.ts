// bench/scale.ts in small, as a regression test of its counts (not its times): on the EFS-like
// mount, what a task costs the volume to start on an indexed volume, to catch up with an upload and
// to rescan it whole must not grow with the files that did not change, and index requests cost no
// file-system call at all. Two volumes, 1,000 and 5,000 files; the same counts on both.
import { link, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexInProcess, indexRequestOps, measureRescans, totalOps } from '../../bench/scale.js';
import { writeScaleCorpus } from '../../bench/lib/scale-corpus.js';
import { parseFilename } from '../../src/pypi/names.js';
import { tempDir } from '../helpers/server.js';

const SMALL = 1_000;
const LARGE = 5_000;
/** Smaller than either volume, so both full rescans re-check the same number of files. */
const VERIFY = 500;

let work: string;
let cleanup: () => void;
const volumes: Record<number, { dir: string; catalogBytes: number; names: string[] }> = {};
let rescans: Record<number, Awaited<ReturnType<typeof measureRescans>>> = {};

const reads = (ops: Record<string, number>) => ops.read ?? 0;
const nonReads = (ops: Record<string, number>) => totalOps(ops) - reads(ops);

beforeAll(async () => {
  const temp = tempDir('wh-scale-test-');
  work = temp.dir;
  cleanup = () => temp.cleanup();
  // The large volume is indexed here (every file hashed once, on the local disk); the small one is
  // a part of it, sidecars and all, so nothing is hashed twice.
  const large = path.join(work, 'large');
  const t0 = performance.now();
  const corpus = writeScaleCorpus(large, { files: LARGE, projects: LARGE / 5 });
  const t1 = performance.now();
  await indexInProcess(large);
  console.log(`corpus written in ${Math.round(t1 - t0)} ms, indexed in ${Math.round(performance.now() - t1)} ms`);
  const small = path.join(work, 'small');
  await mkdir(path.join(small, '.wheelhouse', 'meta'), { recursive: true });
  const files = (await readdir(large))
    .filter((n) => parseFilename(n))
    .sort()
    .slice(0, SMALL);
  const keep = new Set(files.map((f) => encodeURIComponent(f)));
  for (const f of files) await link(path.join(large, f), path.join(small, f));
  for (const m of await readdir(path.join(large, '.wheelhouse', 'meta'))) {
    if (keep.has(m.slice(0, m.indexOf('~'))))
      await link(path.join(large, '.wheelhouse', 'meta', m), path.join(small, '.wheelhouse', 'meta', m));
  }
  await indexInProcess(small);
  for (const [n, dir] of [
    [LARGE, large],
    [SMALL, small],
  ] as const) {
    const names = [...new Set((await readdir(dir)).map((f) => parseFilename(f)?.project).filter((p): p is string => !!p))];
    volumes[n] = { dir, catalogBytes: (await readFile(path.join(dir, '.wheelhouse', 'catalog.ndjson.gz'))).length, names };
  }
  expect(corpus.files).toBe(LARGE);
  rescans = {
    [SMALL]: await measureRescans(small, { verifyPerScan: VERIFY }),
    [LARGE]: await measureRescans(large, { verifyPerScan: VERIFY }),
  };
  for (const n of [SMALL, LARGE]) {
    const r = rescans[n]!;
    console.log(
      `${n} files: start ${r.start.roundTrips} round trips (${reads(r.start.ops)} reads), ` +
        `fast rescan ${r.fast.roundTrips}, full rescan ${r.full.roundTrips}`,
    );
  }
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  cleanup();
});

describe('round trips on an EFS-like mount, at 1,000 and 5,000 files', () => {
  it('a start on an indexed volume reads the catalog and lists three folders: no sidecar read, no hash, no call more but reads', () => {
    const [small, large] = [rescans[SMALL]!.start, rescans[LARGE]!.start];
    for (const s of [small, large]) expect(s).toMatchObject({ hashed: 0, sidecarsRead: 0 });
    expect(nonReads(large.ops)).toBe(nonReads(small.ops));
    // At least 64 KiB a read (the mount's are 128 KiB): a few reads more for a larger catalog.
    const extraBytes = volumes[LARGE]!.catalogBytes - volumes[SMALL]!.catalogBytes;
    expect(reads(large.ops) - reads(small.ops)).toBeLessThanOrEqual(Math.ceil(extraBytes / 65_536) + 1);
    expect(large.roundTrips).toBeLessThan(100);
  });

  it('catching up with another task’s upload costs the same whatever the volume holds', () => {
    const [small, large] = [rescans[SMALL]!.fast, rescans[LARGE]!.fast];
    // Allow for the mount's attribute cache timing out in one run and not the other.
    expect(Math.abs(large.roundTrips - small.roundTrips)).toBeLessThanOrEqual(3);
    expect(large.roundTrips).toBeLessThan(40);
  });

  it('a full rescan of an unchanged volume costs its listings and its slice of re-checked files, whatever the volume holds', () => {
    const [small, large] = [rescans[SMALL]!.full, rescans[LARGE]!.full];
    expect([small.verified, large.verified]).toEqual([VERIFY, VERIFY]);
    expect(Math.abs(large.roundTrips - small.roundTrips)).toBeLessThanOrEqual(3);
    expect(large.roundTrips).toBeLessThan(VERIFY + 40);
  });

  it('index pages and redirects cost no file-system call', async () => {
    expect(await indexRequestOps(volumes[LARGE]!.dir, volumes[LARGE]!.names)).toBe(0);
  });
});
