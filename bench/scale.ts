// How wheelhouse scales with the size of the volume, on the EFS-like mount (test/helpers/nfsfs.py:
// 1.5 ms per metadata call, 2 ms per read, attributes cached 3 s) with its per-operation counters.
// For each size (files in files/5 projects, realistic names, versions, sdists and wheels):
//
//   cold start      a volume nobody has indexed (a migrated pypiserver directory): time until the
//                   task answers at all, and until /health says 200 (every file hashed once)
//   start           a task on the indexed volume: time to /health 200 and the FUSE round trips
//   fast rescan     what one poll costs after another task's upload bumped the generation
//   full rescan     the periodic rescan of a volume where nothing changed
//   memory          RSS after load, and after every index page was rendered once
//   index requests  file-system calls per /simple/ page and redirect (must be 0)
//   burst           the reference burst (510 clients) on this volume against the 300-file corpus,
//                   paired: rounds alternate a burst on this volume and one on a 300-file server
//                   that runs for the whole bench, so both see the same load on a shared machine
//   upload lag      from an upload's 200 on one task until another task lists it
//
//   npm run build && npx tsx bench/scale.ts [--sizes 10000,50000,100000] [--no-cold] [--no-workers2] [--keep DIR]
//
// Budgets and targets are checked at the end; the exit status is 1 when one is missed. Corpora
// are built in a temp dir and removed (--keep DIR keeps them for the next run). Minutes per size:
// the cold start hashes every file over the mount (about 15 ms per file here).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { LiveIndex } from '../src/index/live-index.js';
import type { IndexSource } from '../src/index/ports.js';
import { parseFilename } from '../src/pypi/names.js';
import type { ScanStats } from '../src/store/scanner.js';
import { createServer } from '../src/server.js';
import { Volume } from '../src/store/volume.js';
import { mountNfsLike } from '../test/helpers/nfs-mount.js';
import { collectJsonLogs } from '../test/helpers/server.js';
import { uploadWheel, wheelBytes } from '../test/helpers/upload.js';
import { makeReferenceCorpus } from './corpus.js';
import { runReference, type ReferenceResult } from './drivers/reference.js';
import { basicAuth, get, makeAgent } from './lib/http.js';
import { freePort } from './lib/procs.js';
import { writeScaleCorpus } from './lib/scale-corpus.js';
import { median, sleep } from './lib/stats.js';
import { makeCredentials, type Credentials } from './targets.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const MAIN = path.join(REPO, 'dist', 'main.js');
export const MOUNT = { attrTimeout: 3, entryTimeout: 3, metaDelayMs: 1.5, readDelayMs: 2 };

/**
 * Memory budgets of one server process (RSS, MiB): a base for the runtime, the server and its
 * worker thread, plus a share per file. The page cache (--page-cache-size, 64 MiB by default)
 * bounds what rendering every page keeps; on top of it, V8 keeps most of the heap it grew to while
 * rendering tens of thousands of pages (their garbage), hence the 64 MiB of headroom.
 */
export const BUDGET = {
  // Two runs on one 100,000-file volume measured 329 and 348 MiB after load: the base leaves room
  // for when the last garbage collection happened.
  loadedMiB: (files: number) => 170 + (files * 1.9) / 1024,
  renderedMiB: (files: number) => 170 + 64 + 64 + (files * 1.9) / 1024,
};
/** The targets. */
const TARGET = { startMs: 10_000, burstRatio: 1.2, uploadLagMs: 2_000 };

type Ops = Record<string, number>;
const quiet = { info() {}, warn() {}, error() {} };

function opsBetween(a: Ops, b: Ops): Ops {
  const out: Ops = {};
  for (const k of Object.keys(b)) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}
export const totalOps = (o: Ops): number => Object.values(o).reduce((s, n) => s + n, 0);

/** Indexes a volume in this process, on its own disk (no mount), and writes its catalog. */
export async function indexInProcess(root: string): Promise<void> {
  const live = new LiveIndex(new Volume(root, quiet), quiet);
  await live.load();
  await live.saveCatalog(0);
}

export interface Measured {
  ms: number;
  ops: Ops;
  roundTrips: number;
}

/**
 * The refresh protocol in this process over a fresh EFS-like mount of `backing`, counted exactly
 * (no server, no timers): the start on the indexed volume, the fast rescan after another task's
 * upload, and a full rescan of the unchanged volume.
 */
export async function measureRescans(
  backing: string,
  opts: { verifyPerScan?: number } = {},
): Promise<{ start: Measured & { hashed: number; sidecarsRead: number }; fast: Measured; full: Measured & { verified: number } }> {
  const mount = await mountNfsLike(backing, MOUNT);
  try {
    const stats: ScanStats[] = [];
    const volume = new Volume(mount.path, quiet, opts);
    const source: IndexSource = {
      init: () => volume.init(),
      readGeneration: () => volume.readGeneration(),
      stateDirExists: () => volume.stateDirExists(),
      scan: async (o) => {
        const r = await volume.scan(o);
        stats.push(r.stats);
        return r;
      },
      changesUpTo: (token, previous) => volume.changesUpTo(token, previous),
      syncChanges: () => volume.syncChanges(),
      forgetChanges: () => volume.forgetChanges(),
      examine: async (change, previous) => {
        const r = await volume.examine(change, previous);
        stats.push(r.stats);
        return r;
      },
      readCatalog: () => volume.readCatalog(),
      writeCatalog: (files, tag, minAgeMs) => volume.writeCatalog(files, tag, minAgeMs),
    };
    const live = new LiveIndex(source, quiet);
    const measure = async (work: () => Promise<unknown>): Promise<Measured> => {
      const before = await mount.stats();
      const t = performance.now();
      await work();
      const ms = performance.now() - t;
      const ops = opsBetween(before, await mount.stats());
      return { ms: Math.round(ms), ops, roundTrips: totalOps(ops) };
    };
    const start = await measure(() => live.load());
    const startStats = stats.at(-1);
    // Another task uploads (through the backing directory: its calls are not this task's).
    const writer = new Volume(backing, quiet);
    const w = wheelBytes('scale-upload-probe', `1.0.${Date.now()}`);
    const parsed = parseFilename(w.filename);
    if (!parsed) throw new Error(`not a distribution name: ${w.filename}`);
    await writer.publish(await writer.stage(parsed, Readable.from([w.bytes]), 1 << 20), { overwrite: false });
    const fast = await measure(() => live.poll());
    if (!live.snapshot.byRelpath.has(w.filename)) throw new Error('the poll did not list the upload');
    const full = await measure(() => live.rescan({ full: true }));
    return {
      start: { ...start, hashed: startStats?.hashed ?? -1, sidecarsRead: startStats?.sidecarsRead ?? -1 },
      fast,
      full: { ...full, verified: stats.at(-1)?.verified ?? -1 },
    };
  } finally {
    await mount.unmount();
  }
}

interface Server {
  url: string;
  proc: ChildProcess;
  logs: Record<string, unknown>[];
  /** ms from spawn to the first answer of /health, and to its first 200. */
  liveMs: number;
  readyMs: number;
  stop(): Promise<void>;
}

async function startServer(root: string, creds: Credentials, opts: { workers?: number; timeoutMs?: number } = {}): Promise<Server> {
  const port = await freePort();
  const t0 = performance.now();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WHEELHOUSE_')));
  const args = ['--root', root, '--port', String(port), '--host', '127.0.0.1', '--workers', String(opts.workers ?? 1)];
  const proc = spawn(
    process.execPath,
    [MAIN, ...args, '--authenticate', 'list,download,update', '--passwords', creds.htpasswd, '--watch', 'off', '--log-level', 'info'],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const logs: Record<string, unknown>[] = [];
  collectJsonLogs(proc.stdout, logs);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  let liveMs = -1;
  const deadline = t0 + (opts.timeoutMs ?? 3_600_000);
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
    if (performance.now() > deadline) throw new Error('server not ready in time');
    try {
      const res = await fetch(`${url}/health`);
      if (liveMs < 0) liveMs = performance.now() - t0;
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(20);
  }
  return {
    url,
    proc,
    logs,
    liveMs: Math.round(liveMs),
    readyMs: Math.round(performance.now() - t0),
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round(Number(m?.[1] ?? 0) / 1024);
}

async function waitForLog(server: Server, msg: string, timeoutMs = 600_000): Promise<Record<string, unknown>> {
  const t = performance.now();
  for (;;) {
    const line = server.logs.find((l) => l.msg === msg);
    if (line) return line;
    if (performance.now() - t > timeoutMs) throw new Error(`no "${msg}" in the log`);
    await sleep(20);
  }
}

/** GETs with `concurrency` in flight over one keep-alive pool; every answer must be 200. */
async function getAll(
  base: string,
  creds: Credentials,
  urls: string[],
  headers: Record<string, string> = {},
  concurrency = 16,
): Promise<void> {
  const agent = makeAgent(new URL(base), { keepAlive: true, maxSockets: concurrency });
  const auth = { ...basicAuth(creds.user, creds.password), ...headers };
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < urls.length) {
          const u = new URL(urls[next++] ?? '', base);
          const res = await get(u, { agent, headers: auth, deadline: Date.now() + 60_000 });
          if (res.status !== 200 && res.status !== 303) throw new Error(`${u.href}: ${res.status}`);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
}

/**
 * File-system calls per index request (/simple/ pages in both formats, the /{pkg}/ redirect), in
 * this process over a fresh mount: the server's own wiring, loaded, without the refresher, so no
 * poll of the generation file lands among the calls counted.
 */
export async function indexRequestOps(backing: string, names: readonly string[]): Promise<number> {
  const mount = await mountNfsLike(backing, MOUNT);
  try {
    // No load shedding: what is counted is calls, and a pause of the collector must not turn a page into a 503.
    const args = ['--root', mount.path, '--authenticate', '.', '--passwords', '.', '--log-level', 'silent', '--max-event-loop-delay', '0'];
    const server = await createServer(loadConfig(args, {}));
    try {
      await server.load();
      const pick = (i: number) => names[(i * 37) % names.length] ?? '';
      const urls = [
        ...Array.from({ length: 200 }, (_, i) => ({ url: `/simple/${pick(i)}/`, headers: { accept: 'text/html' } })),
        ...Array.from({ length: 200 }, (_, i) => ({
          url: `/simple/${pick(i)}/`,
          headers: { accept: 'application/vnd.pypi.simple.v1+json' },
        })),
        ...Array.from({ length: 100 }, (_, i) => ({ url: `/${pick(i)}/`, headers: {} })),
      ];
      const run = async () => {
        for (const u of urls) {
          const res = await server.app.inject({ method: 'GET', url: u.url, headers: u.headers });
          if (res.statusCode !== 200 && res.statusCode !== 303) throw new Error(`${u.url}: ${res.statusCode}`);
        }
      };
      await run(); // every page rendered once, as a task has after its first minutes
      const before = await mount.stats();
      await run();
      return totalOps(opsBetween(before, await mount.stats())) / urls.length;
    } finally {
      await server.close();
    }
  } finally {
    await mount.unmount();
  }
}

interface Burst {
  p95: number;
  drainMs: number;
  failed: number;
  failures: Record<string, number>;
}

function summarize(results: ReferenceResult[]): Burst {
  return {
    p95: median(results.map((r) => r.latency.p95)),
    drainMs: median(results.map((r) => r.bursts[0]?.drainMs ?? 0)),
    failed: results.reduce((s, r) => s + r.failedSamples, 0),
    failures: results.reduce<Record<string, number>>((all, r) => {
      for (const [k, v] of Object.entries(r.failures)) all[k] = (all[k] ?? 0) + v;
      return all;
    }, {}),
  };
}

/**
 * The reference burst on this volume and on the 300-file reference server, paired: one warm-up on
 * each, then `runs` rounds of a burst here and one there. The machine is shared and its load moves
 * over minutes, so a figure taken at the start of the run is no fair yardstick for a size measured
 * an hour later; the two figures of a round see the same load.
 */
async function pairedBursts(url: string, referenceUrl: string, creds: Credentials, runs = 5): Promise<Burst & { reference: Burst }> {
  const one = async (u: string) => {
    const r = await runReference({ baseUrl: `${u}/`, user: creds.user, password: creds.password, durationS: 1, projects: 100 });
    await sleep(1_000);
    return r;
  };
  await one(url);
  await one(referenceUrl);
  const here: ReferenceResult[] = [];
  const there: ReferenceResult[] = [];
  for (let i = 0; i < runs; i++) {
    here.push(await one(url));
    there.push(await one(referenceUrl));
  }
  return { ...summarize(here), reference: summarize(there) };
}

/** From an upload's 200 on one task until the other lists it, for `n` uploads: the worst. */
async function uploadLag(writer: Server, reader: Server, creds: Credentials, n = 5): Promise<number> {
  const auth = basicAuth(creds.user, creds.password).authorization;
  const lags: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = wheelBytes('scale-lag-probe', `1.${i}.${Date.now()}`);
    const res = await uploadWheel(writer.url, w, {}, auth);
    if (res.status !== 200) throw new Error(`upload: ${res.status} ${res.text}`);
    const t = performance.now();
    for (;;) {
      const page = await fetch(`${reader.url}/simple/scale-lag-probe/`, { headers: auth ? { authorization: auth } : {} });
      if ((await page.text()).includes(w.filename)) break;
      if (performance.now() - t > 30_000) throw new Error('upload never listed by the other task');
      await sleep(20);
    }
    lags.push(performance.now() - t);
    await sleep(300 + Math.random() * 700);
  }
  return Math.round(Math.max(...lags));
}

interface SizeResult {
  files: number;
  projects: number;
  corpusMB: number;
  catalogMB: number;
  cold?: { liveMs: number; readyMs: number; roundTrips: number; hashed: number };
  start: { readyMs: number; loadMs: number; roundTrips: number; hashed: number; sidecarsRead: number };
  inProcess: Awaited<ReturnType<typeof measureRescans>>;
  rssLoadedMiB: number;
  rssRenderedMiB: number;
  renderMs: number;
  indexOpsPerRequest: number;
  /** This volume's burst and, from the same rounds, the 300-file reference server's. */
  burst: Burst & { reference: Burst };
  uploadLagMs: number;
  workers2?: { readyMs: number; allReadyMs: number; rssMiB: number[]; primaryMiB: number };
  loadAvg: string;
}

async function measureSize(
  files: number,
  ctx: { work: string; creds: Credentials; referenceUrl: string; cold: boolean; workers2: boolean; log: (s: string) => void },
): Promise<SizeResult> {
  const projects = Math.max(110, Math.round(files / 5));
  const backing = path.join(ctx.work, `volume-${files}`);
  const reuse = existsSync(path.join(backing, '.wheelhouse', 'catalog.ndjson.gz'));
  let corpusMB = 0;
  if (!reuse) {
    rmSync(backing, { recursive: true, force: true });
    const t = performance.now();
    const c = writeScaleCorpus(backing, { files, projects });
    corpusMB = Math.round(c.bytes / 1e6);
    ctx.log(`${files} files in ${c.projects} projects (${corpusMB} MB) written in ${Math.round((performance.now() - t) / 1000)} s`);
  } else {
    ctx.log(`reusing the indexed volume in ${backing}`);
  }
  const projectNames = [
    ...new Set((await readdir(backing)).map((n) => parseFilename(n)?.project).filter((p): p is string => p !== undefined)),
  ];

  const mount = await mountNfsLike(backing, MOUNT);
  const mount2 = await mountNfsLike(backing, MOUNT);
  try {
    let cold: SizeResult['cold'];
    if (ctx.cold && !reuse) {
      ctx.log(`  cold start: hashing ${files} files over the mount`);
      const before = await mount.stats();
      const s = await startServer(mount.path, ctx.creds);
      const loaded = await waitForLog(s, 'index rescanned');
      await waitForLog(s, 'catalog written');
      cold = {
        liveMs: s.liveMs,
        readyMs: s.readyMs,
        roundTrips: totalOps(opsBetween(before, await mount.stats())),
        hashed: Number(loaded.hashed),
      };
      await s.stop();
      ctx.log(`  cold start: live after ${s.liveMs} ms, ready after ${s.readyMs} ms`);
    } else if (!reuse) {
      ctx.log('  indexing in this process (no cold start on the mount: --no-cold)');
      await indexInProcess(backing);
    }
    const catalogMB = Math.round(readFileSync(path.join(backing, '.wheelhouse', 'catalog.ndjson.gz')).length / 1e5) / 10;

    // A new task on the indexed volume.
    const before = await mount.stats();
    const a = await startServer(mount.path, ctx.creds);
    const startOps = totalOps(opsBetween(before, await mount.stats()));
    const scan = await waitForLog(a, 'index rescanned');
    const loaded = await waitForLog(a, 'index loaded');
    ctx.log(`  start on the indexed volume: ready after ${a.readyMs} ms, ${startOps} round trips`);
    await sleep(3_000);
    const rssLoadedMiB = rssMiB(a.proc.pid ?? 0);

    const tr = performance.now();
    const accept = { json: { accept: 'application/vnd.pypi.simple.v1+json' }, html: { accept: 'text/html' } };
    for (const headers of [accept.html, accept.json]) {
      await getAll(a.url, ctx.creds, ['/simple/', ...projectNames.map((p) => `/simple/${p}/`)], headers);
    }
    await getAll(a.url, ctx.creds, ['/packages/'], {}, 1);
    const renderMs = Math.round(performance.now() - tr);
    await sleep(3_000);
    const rssRenderedMiB = rssMiB(a.proc.pid ?? 0);
    ctx.log(`  RSS ${rssLoadedMiB} MiB after load, ${rssRenderedMiB} MiB after every page (${renderMs} ms)`);

    const burst = await pairedBursts(a.url, ctx.referenceUrl, ctx.creds);
    ctx.log(
      `  reference burst: p95 ${burst.p95} ms, drain ${burst.drainMs} ms; ` +
        `on 300 files in the same rounds: p95 ${burst.reference.p95} ms, drain ${burst.reference.drainMs} ms`,
    );

    const b = await startServer(mount2.path, ctx.creds);
    const uploadLagMs = await uploadLag(b, a, ctx.creds);
    ctx.log(`  upload on one task listed by the other after at most ${uploadLagMs} ms`);
    await b.stop();
    await a.stop();

    let workers2: SizeResult['workers2'];
    if (ctx.workers2) {
      const t = performance.now();
      const w = await startServer(mount.path, ctx.creds, { workers: 2 });
      const pids = new Set<number>();
      while (pids.size < 2 && performance.now() - t < 600_000) {
        const agent = makeAgent(new URL(w.url), { keepAlive: false });
        const res = await get(new URL('/health', w.url), { agent, deadline: Date.now() + 10_000, keepBody: true });
        if (res.status === 200 && res.body) pids.add((JSON.parse(res.body.toString()) as { pid: number }).pid);
        await sleep(50);
      }
      const allReadyMs = Math.round(performance.now() - t);
      await sleep(3_000);
      workers2 = { readyMs: w.readyMs, allReadyMs, rssMiB: [...pids].map(rssMiB), primaryMiB: rssMiB(w.proc.pid ?? 0) };
      await w.stop();
      ctx.log(`  --workers 2: first ready after ${w.readyMs} ms, both after ${allReadyMs} ms, RSS ${workers2.rssMiB.join(' + ')} MiB`);
    }

    await mount.unmount();
    await mount2.unmount();
    const inProcess = await measureRescans(backing);
    const indexOpsPerRequest = await indexRequestOps(backing, projectNames);
    ctx.log(
      `  in-process: start ${inProcess.start.roundTrips} round trips ${inProcess.start.ms} ms, ` +
        `fast rescan ${inProcess.fast.roundTrips}/${inProcess.fast.ms} ms, full ${inProcess.full.roundTrips}/${inProcess.full.ms} ms`,
    );
    return {
      files,
      projects: projectNames.length,
      corpusMB,
      catalogMB,
      ...(cold ? { cold } : {}),
      start: {
        readyMs: a.readyMs,
        loadMs: Number(loaded.loadMs),
        roundTrips: startOps,
        hashed: Number(scan.hashed),
        sidecarsRead: Number(scan.sidecarsRead),
      },
      inProcess,
      rssLoadedMiB,
      rssRenderedMiB,
      renderMs,
      indexOpsPerRequest,
      burst,
      uploadLagMs,
      ...(workers2 ? { workers2 } : {}),
      loadAvg: os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' '),
    };
  } finally {
    for (const m of [mount, mount2]) await m.unmount().catch(() => undefined);
  }
}

function table(results: SizeResult[]): string {
  const col = (f: (r: SizeResult) => string | number) => results.map((r) => String(f(r)));
  const s = (ms: number) => (ms / 1000).toFixed(1);
  const rows: [string, string[]][] = [
    ['projects', col((r) => r.projects)],
    ['catalog (MB, gzip)', col((r) => r.catalogMB)],
    ['cold start: live (s)', col((r) => (r.cold ? s(r.cold.liveMs) : '-'))],
    ['cold start: /health 200, every file hashed (s)', col((r) => (r.cold ? s(r.cold.readyMs) : '-'))],
    ['cold start: FUSE round trips', col((r) => r.cold?.roundTrips ?? '-')],
    ['start on an indexed volume: /health 200 (s)', col((r) => s(r.start.readyMs))],
    ['  of which loading the index (s)', col((r) => s(r.start.loadMs))],
    ['  FUSE round trips', col((r) => r.start.roundTrips)],
    ['  files hashed / sidecars read', col((r) => `${r.start.hashed} / ${r.start.sidecarsRead}`)],
    ['load alone, in-process: round trips / s', col((r) => `${r.inProcess.start.roundTrips} / ${s(r.inProcess.start.ms)}`)],
    ['fast rescan after an upload: round trips / s', col((r) => `${r.inProcess.fast.roundTrips} / ${s(r.inProcess.fast.ms)}`)],
    ['full rescan, nothing changed: round trips / s', col((r) => `${r.inProcess.full.roundTrips} / ${s(r.inProcess.full.ms)}`)],
    ['  of which files re-checked (stat)', col((r) => r.inProcess.full.verified)],
    ['upload listed by another task, worst of 5 (s)', col((r) => s(r.uploadLagMs))],
    ['RSS after load (MiB) / budget', col((r) => `${r.rssLoadedMiB} / ${Math.round(BUDGET.loadedMiB(r.files))}`)],
    ['RSS after every index page (MiB) / budget', col((r) => `${r.rssRenderedMiB} / ${Math.round(BUDGET.renderedMiB(r.files))}`)],
    ['  rendering every page (s)', col((r) => s(r.renderMs))],
    ['FUSE calls per index request', col((r) => r.indexOpsPerRequest.toFixed(3))],
    ['reference burst p95 (ms) / on 300 files', col((r) => `${r.burst.p95} / ${r.burst.reference.p95}`)],
    ['  ratio (target <= 1.2)', col((r) => (r.burst.p95 / r.burst.reference.p95).toFixed(2))],
    ['  drain (ms) / on 300 files', col((r) => `${r.burst.drainMs} / ${r.burst.reference.drainMs}`)],
    ['--workers 2: first / both ready (s)', col((r) => (r.workers2 ? `${s(r.workers2.readyMs)} / ${s(r.workers2.allReadyMs)}` : '-'))],
    [
      '--workers 2: RSS per worker + primary (MiB)',
      col((r) => (r.workers2 ? `${r.workers2.rssMiB.join(' + ')} + ${r.workers2.primaryMiB}` : '-')),
    ],
    ['load average during the run', col((r) => r.loadAvg)],
  ];
  const head = `| files | ${results.map((r) => r.files.toLocaleString('en')).join(' | ')} |`;
  const sep = `|---|${results.map(() => '---:').join('|')}|`;
  return [head, sep, ...rows.map(([k, v]) => `| ${k} | ${v.join(' | ')} |`)].join('\n');
}

/** What the run missed: budgets and targets, one line each. */
function misses(results: SizeResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    const at = `${r.files} files`;
    if (r.start.hashed !== 0) out.push(`${at}: the start on an indexed volume hashed ${r.start.hashed} files`);
    if (r.files >= 100_000 && r.start.readyMs > TARGET.startMs)
      out.push(`${at}: start took ${r.start.readyMs} ms (target ${TARGET.startMs})`);
    if (r.rssLoadedMiB > BUDGET.loadedMiB(r.files)) out.push(`${at}: RSS after load ${r.rssLoadedMiB} MiB over budget`);
    if (r.rssRenderedMiB > BUDGET.renderedMiB(r.files)) out.push(`${at}: RSS after every page ${r.rssRenderedMiB} MiB over budget`);
    if (r.indexOpsPerRequest > 0) out.push(`${at}: index requests cost ${r.indexOpsPerRequest} file-system calls each`);
    if (r.burst.failed > 0) out.push(`${at}: ${r.burst.failed} failed samples in the burst (${JSON.stringify(r.burst.failures)})`);
    const ref = r.burst.reference;
    if (ref.failed > 0) out.push(`${at}: ${ref.failed} failed samples in the 300-file bursts (${JSON.stringify(ref.failures)})`);
    if (r.burst.p95 > ref.p95 * TARGET.burstRatio) out.push(`${at}: burst p95 ${r.burst.p95} ms over 1.2x ${ref.p95} ms`);
    if (r.uploadLagMs > TARGET.uploadLagMs) out.push(`${at}: an upload took ${r.uploadLagMs} ms to reach the other task`);
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '10000,50000,100000' },
      'no-cold': { type: 'boolean', default: false },
      'no-workers2': { type: 'boolean', default: false },
      keep: { type: 'string' },
      out: { type: 'string' },
    },
  });
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: npm run build`);
  const sizes = values.sizes.split(',').map(Number);
  const work = values.keep ? path.resolve(values.keep) : await mkdtemp(path.join(os.tmpdir(), 'wh-scale-'));
  mkdirSync(work, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
  const out = path.resolve(values.out ?? path.join(REPO, 'bench', 'results', `scale-${stamp}`));
  mkdirSync(out, { recursive: true });
  const log = (s: string) => console.error(s);
  let referenceMount: Awaited<ReturnType<typeof mountNfsLike>> | undefined;
  let reference: Server | undefined;
  try {
    const creds = await makeCredentials(work);
    // The 300-file reference corpus on its own mount, served for the whole run: each size's bursts
    // alternate with bursts on it.
    const corpus = await makeReferenceCorpus(path.join(work, 'reference'));
    referenceMount = await mountNfsLike(corpus.filesDir, MOUNT);
    reference = await startServer(referenceMount.path, creds);
    log(`reference corpus (300 files) served at ${reference.url} for the paired bursts`);
    const results: SizeResult[] = [];
    for (const files of sizes) {
      log(`${files} files`);
      results.push(
        await measureSize(files, {
          work,
          creds,
          referenceUrl: reference.url,
          cold: !values['no-cold'],
          workers2: !values['no-workers2'] && files === Math.max(...sizes),
          log,
        }),
      );
      writeFileSync(path.join(out, 'scale.json'), JSON.stringify({ results }, null, 1));
    }
    const text = `${table(results)}\n`;
    writeFileSync(path.join(out, 'scale.md'), text);
    console.log(`\n${text}`);
    const missed = misses(results);
    for (const m of missed) console.log(`MISSED ${m}`);
    console.log(`results: ${out}`);
    if (missed.length) process.exitCode = 1;
  } finally {
    await reference?.stop();
    await referenceMount?.unmount();
    if (!values.keep) await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
