/**
 * The upstream profile: the pip-like burst of real wheels served by wheelhouse from its local
 * files, then the same burst served by a wheelhouse whose volume is empty and whose --upstream is
 * a fake PyPI (test/helpers/upstream-server.ts: simple API on one loopback port, files on a
 * second, like PyPI's CDN) holding the same wheels. The first burst through the empty cache
 * ("cold") is counted at the upstream: at most one request per process for each page, file and
 * metadata file. The bursts after it run through the warm cache and are compared with the local
 * ones (the target: a warm burst drains within 1.2 x the local one).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Corpus } from './corpus.js';
import { runPiplike, type PipMode, type PiplikeResult } from './drivers/piplike.js';
import { onCleanup } from './lib/procs.js';
import { median } from './lib/stats.js';
import { linkTree, REPO, startWheelhouse, type Credentials } from './targets.js';

const UPSTREAM_HELPER = join(REPO, 'test', 'helpers', 'upstream-server.ts');

/** The part of the fake upstream the bench uses. */
interface FakeUpstream {
  readonly indexUrl: string;
  readonly requests: readonly { server: 'index' | 'files'; path: string }[];
  stop(): Promise<void>;
}
type StartUpstream = (opts: { files: string[] }) => Promise<FakeUpstream>;

export interface UpstreamCounts {
  /** Requests for project pages, for files, for `.metadata` files. */
  pages: number;
  files: number;
  metadata: number;
  /** The most requests any one page, file or metadata file got (1 per process is the bound). */
  maxPerPath: number;
  /** What the burst asked for: projects, wheels, and wheels whose metadata a JSON client reads. */
  distinctProjects: number;
  distinctFiles: number;
}

export interface UpstreamBenchResult {
  profile: 'upstream';
  target: string;
  workers: number;
  mode: PipMode;
  clients: number;
  /** The same burst on local files (after one unrecorded burst). */
  local: PiplikeResult[];
  /** The first burst through the empty cache, and what it cost the upstream. */
  cold: PiplikeResult;
  coldUpstream: UpstreamCounts;
  /** Bursts through the warm cache. */
  warm: PiplikeResult[];
  /** Requests the upstream got during the warm bursts (0: everything came from the cache). */
  warmUpstreamRequests: number;
  /** Median warm drain / median local drain. */
  ratio: number;
}

function count(requests: FakeUpstream['requests']): Omit<UpstreamCounts, 'distinctProjects' | 'distinctFiles'> {
  const byPath = new Map<string, number>();
  for (const r of requests) byPath.set(r.path, (byPath.get(r.path) ?? 0) + 1);
  let pages = 0;
  let files = 0;
  let metadata = 0;
  for (const r of requests) {
    if (r.server === 'index') pages++;
    else if (r.path.endsWith('.metadata')) metadata++;
    else files++;
  }
  return { pages, files, metadata, maxPerPath: Math.max(0, ...byPath.values()) };
}

export async function runUpstreamProfile(opts: {
  corpus: Corpus;
  creds: Credentials;
  workDir: string;
  target: string;
  workers: number;
  clients: number;
  modes: PipMode[];
  runs: number;
  log: (s: string) => void;
}): Promise<UpstreamBenchResult[]> {
  const { startUpstream } = (await import(UPSTREAM_HELPER)) as { startUpstream: StartUpstream };
  const files = opts.corpus.files;
  const burst = (url: string, mode: PipMode) =>
    runPiplike({ baseUrl: url, user: opts.creds.user, password: opts.creds.password, clients: opts.clients, mode, files, log: opts.log });
  const asked = files.slice(0, Math.min(opts.clients, files.length));
  const results: UpstreamBenchResult[] = [];

  for (const mode of opts.modes) {
    const dir = join(opts.workDir, `upstream-${opts.target}-${mode}`);
    const localRoot = join(dir, 'local');
    const cacheRoot = join(dir, 'cache');
    await linkTree(opts.corpus, localRoot);
    await mkdir(cacheRoot, { recursive: true });
    const up = await startUpstream({ files: files.map((f) => join(opts.corpus.filesDir, f.filename)) });
    const offUpstream = onCleanup('fake upstream', () => up.stop());
    const common = { workers: opts.workers, creds: opts.creds, logDir: dir };
    const local = await startWheelhouse({ ...common, name: `${opts.target}-local`, root: localRoot });
    const cache = await startWheelhouse({
      ...common,
      name: `${opts.target}-upstream`,
      root: cacheRoot,
      extraArgs: ['--upstream', up.indexUrl],
    });
    try {
      opts.log(`[${opts.target}] upstream profile (${mode}): one burst on local files (unrecorded), one through the empty cache`);
      // As in the other profiles, a task has served traffic before its burst; the cold burst is
      // the upstream-backed server's first.
      await burst(local.url, mode);
      const cold = await burst(cache.url, mode);
      const coldUpstream: UpstreamCounts = {
        ...count(up.requests),
        distinctProjects: new Set(asked.map((f) => f.project)).size,
        distinctFiles: asked.length,
      };
      const k = coldUpstream;
      opts.log(
        `  cold: upstream got ${k.pages} page, ${k.files} file and ${k.metadata} metadata requests ` +
          `for ${k.distinctProjects} projects and ${k.distinctFiles} files; at most ${k.maxPerPath} per URL`,
      );
      // Alternating, so that whatever drifts during the run (the machine, the driver) weighs on both alike.
      const before = up.requests.length;
      const localRuns: PiplikeResult[] = [];
      const warm: PiplikeResult[] = [];
      for (let run = 1; run <= opts.runs; run++) {
        opts.log(`  run ${run}/${opts.runs}: local files, then the warm cache`);
        localRuns.push(await burst(local.url, mode));
        warm.push(await burst(cache.url, mode));
      }
      const ratio = median(warm.map((r) => r.drainMs)) / median(localRuns.map((r) => r.drainMs));
      opts.log(`  warm drain / local drain (medians): ${ratio.toFixed(2)}`);
      results.push({
        profile: 'upstream',
        target: opts.target,
        workers: opts.workers,
        mode,
        clients: opts.clients,
        local: localRuns,
        cold,
        coldUpstream,
        warm,
        warmUpstreamRequests: up.requests.length - before,
        ratio,
      });
    } finally {
      await cache.stop();
      await local.stop();
      offUpstream();
      await up.stop();
    }
  }
  return results;
}
