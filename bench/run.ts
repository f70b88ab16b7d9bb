/**
 * `npm run bench`: builds what it needs, starts each target on a free loopback port, runs the
 * profiles against it, stops it, and writes bench/results/<timestamp>/ (one JSON per run,
 * summary.md, chart.png). With --url it drives an existing deployment and starts nothing.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { drawChart, findFont, type ChartSeries } from './chart.js';
import { makeRealCorpus, makeReferenceCorpus, projectsOf, referenceProject, referenceWheel, type Corpus } from './corpus.js';
import { runAutocannon } from './drivers/autocannon.js';
import { runPages } from './drivers/pages.js';
import { findHtmlLink, runPiplike, type PipMode } from './drivers/piplike.js';
import { runReference, type ReferenceResult } from './drivers/reference.js';
import { basicAuth, get, makeAgent } from './lib/http.js';
import { cpuOver, groupCpuMs } from './lib/cpu.js';
import { aptInstall, installSignalHandlers, runCleanups } from './lib/procs.js';
import { median } from './lib/stats.js';
import { summaryMarkdown, type Collected, type FsOpsResult, type ServerCpu } from './summary.js';
import { runUpstreamProfile } from './upstream.js';
import {
  ALL_TARGETS,
  DEFAULT_TARGETS,
  REPO,
  ensureBuilt,
  makeCredentials,
  makeTempDir,
  startTarget,
  type Target,
  type TargetName,
} from './targets.js';

const USAGE = `npm run bench -- [options]

  --profile P          reference | piplike | autocannon | pages | overload | upstream | all (default: all = reference,
                       piplike, autocannon, pages, upstream); comma list allowed. pages: bursts on /project/{pkg}/ against
                       /simple/{pkg}/. upstream: the pip-like burst through --upstream (a fake PyPI) cold and warm, against
                       the same burst on local files; targets wheelhouse and wheelhouse-2w
  --targets LIST       ${ALL_TARGETS.join(',')} (default: ${DEFAULT_TARGETS.join(',')})
  --duration S         length of the reference profile in seconds (default 300)
  --runs N             repeat each profile N times and report medians (default 1)
  --clients N          clients per burst (default 510; also the pip-like burst)
  --idle-clients N     clients on the ticks between bursts (default 3)
  --pip-mode M         json | html | both (default both)
  --overload           add the overload profile: one reference burst at 5x the clients
  --quick              one short burst per profile (smoke test)
  --no-warmup          measure from the very first burst (by default one burst per target runs
                       first, unrecorded in the medians, and is reported as the cold burst)
  --before PATH        another build's dist/main.js for the targets wheelhouse-before and wheelhouse-2w-before
                       (git worktree add /tmp/before <rev> && cd /tmp/before && npm ci && npm run build)
  --interleave         reference and autocannon profiles: start the targets together and alternate
                       their runs (A B, B A, ...), so load from elsewhere on the machine falls on
                       each alike (the efs target's file-system counts are then not measured)
  --url URL            drive this index instead of starting servers (then --user, --password)
  --out DIR            results directory (default bench/results/<timestamp>)
  --wheels-from DIR    real wheels for the pip-like corpus (default /opt/pypi/files)
  --real-files N       how many real wheels (default 200), at most --max-wheel-bytes each (default 2 MiB)
`;

const PUBLISHED_P95_MS = 14_000;

function parse() {
  const { values } = parseArgs({
    options: {
      profile: { type: 'string', default: 'all' },
      targets: { type: 'string' },
      duration: { type: 'string' },
      runs: { type: 'string', default: '1' },
      clients: { type: 'string', default: '510' },
      'idle-clients': { type: 'string', default: '3' },
      'pip-mode': { type: 'string', default: 'both' },
      overload: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      'no-warmup': { type: 'boolean', default: false },
      interleave: { type: 'boolean', default: false },
      before: { type: 'string' },
      url: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      out: { type: 'string' },
      'wheels-from': { type: 'string' },
      'real-files': { type: 'string', default: '200' },
      'max-wheel-bytes': { type: 'string', default: String(2 * 1024 * 1024) },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const profileList = values.profile === 'all' ? ['reference', 'piplike', 'autocannon', 'pages', 'upstream'] : values.profile.split(',');
  if (values.overload && !profileList.includes('overload')) profileList.push('overload');
  for (const p of profileList) {
    if (!['reference', 'piplike', 'autocannon', 'pages', 'overload', 'upstream'].includes(p))
      throw new Error(`unknown profile ${p}\n\n${USAGE}`);
  }
  const targets = (values.targets ? values.targets.split(',') : DEFAULT_TARGETS) as TargetName[];
  for (const t of targets) if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target ${t}\n\n${USAGE}`);
  const pipModes: PipMode[] = values['pip-mode'] === 'both' ? ['json', 'html'] : [values['pip-mode'] as PipMode];
  const quick = values.quick;
  return {
    profiles: new Set(profileList),
    targets,
    durationS: Number(values.duration ?? (quick ? 1 : 300)),
    runs: Math.max(1, Number(values.runs)),
    clients: Number(values.clients),
    idleClients: Number(values['idle-clients']),
    pipModes,
    quick,
    warmup: !values['no-warmup'],
    interleave: values.interleave,
    before: values.before ? resolve(values.before) : undefined,
    url: values.url,
    user: values.user,
    password: values.password,
    out: values.out,
    wheelsFrom: values['wheels-from'],
    realFiles: Number(values['real-files']),
    maxWheelBytes: Number(values['max-wheel-bytes']),
    autocannonS: quick ? 2 : 10,
    pageBursts: quick ? 1 : 5,
  };
}

type Opts = ReturnType<typeof parse>;
const log = (s: string) => console.log(s);

/** Steady-state file-system calls per request, from the mount's per-operation counters. */
async function measureFsOps(target: Target, corpus: Corpus): Promise<FsOpsResult | undefined> {
  if (!target.fsStats) return undefined;
  const base = new URL(target.url);
  const agent = makeAgent(base, { keepAlive: true, maxSockets: 10 });
  const headers = basicAuth(target.user, target.password);
  const projects = [...projectsOf(corpus).keys()];
  const batch = async (urls: URL[]) => {
    for (let i = 0; i < urls.length; i += 10) {
      await Promise.all(urls.slice(i, i + 10).map((u) => get(u, { agent, headers, deadline: Date.now() + 30_000 })));
    }
  };
  const measure = async (name: string, urls: URL[]) => {
    const before = await target.fsStats!();
    await batch(urls);
    const after = await target.fsStats!();
    const byOp: Record<string, number> = {};
    for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) byOp[k] = (after[k] ?? 0) - (before[k] ?? 0);
    const total = Object.values(byOp).reduce((s, n) => s + n, 0);
    return { batch: name, requests: urls.length, opsPerRequest: total / urls.length, byOp };
  };
  const pages = Array.from({ length: 500 }, (_, i) => new URL(`simple/${projects[i % projects.length]}/`, base));
  const redirects = Array.from({ length: 200 }, (_, i) => new URL(`${projects[i % projects.length]}/`, base));
  const files = corpus.files.map((f) => new URL(`packages/${encodeURIComponent(f.filename)}`, base));
  try {
    await batch(pages.slice(0, 100)); // warm: the index is in memory after this
    const out: FsOpsResult = { profile: 'fsops', target: target.name, batches: [] };
    out.batches.push(await measure('GET /simple/{pkg}/', pages));
    out.batches.push(await measure('GET /{pkg}/ (303)', redirects));
    out.batches.push(
      await measure(
        'GET /health',
        Array.from({ length: 200 }, () => new URL('health', base)),
      ),
    );
    out.batches.push(await measure('download, first time each', files));
    out.batches.push(await measure('download, again (steady state)', files));
    return out;
  } finally {
    agent.destroy();
  }
}

/** For --url: the first project pages of the index, and one wheel from each, as pip-like work. */
async function discoverFiles(url: string, user: string | undefined, password: string | undefined, max = 50) {
  const base = new URL(url.endsWith('/') ? url : url + '/');
  const agent = makeAgent(base, { keepAlive: true, maxSockets: 4 });
  const headers = { ...basicAuth(user, password), accept: 'text/html' };
  try {
    const root = await get(new URL('simple/', base), { agent, headers, deadline: Date.now() + 30_000, keepBody: true });
    const names = [...root.body!.toString('utf8').matchAll(/<a\s[^>]*href="([^"]+)"[^>]*>([^<]+)<\/a>/gi)]
      .map((m) => m[2]!.trim())
      .slice(0, max);
    const files: Array<{ project: string; filename: string }> = [];
    for (const name of names) {
      const project = name.replace(/[-_.]+/g, '-').toLowerCase();
      const pageUrl = new URL(`simple/${project}/`, base);
      const page = await get(pageUrl, { agent, headers, deadline: Date.now() + 30_000, keepBody: true });
      const anchors = [...page.body!.toString('utf8').matchAll(/<a\s[^>]*>([^<]+)<\/a>/gi)].map((m) => m[1]!.trim());
      const wheel = anchors.filter((a) => a.endsWith('.whl')).at(-1);
      if (wheel && findHtmlLink(page.body!.toString('utf8'), pageUrl, wheel)) files.push({ project, filename: wheel });
    }
    return files;
  } finally {
    agent.destroy();
  }
}

async function main(): Promise<void> {
  const o: Opts = parse();
  installSignalHandlers();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
  const outDir = resolve(o.out ?? join(REPO, 'bench', 'results', stamp));
  await mkdir(outDir, { recursive: true });
  const collected: Collected = {
    reference: [],
    cold: [],
    piplike: [],
    autocannon: [],
    fsops: [],
    overload: [],
    pages: [],
    upstream: [],
    notes: [],
  };
  const save = (name: string, data: unknown) => writeFile(join(outDir, `${name}.json`), JSON.stringify(data, null, 1));
  const needsReference = ['reference', 'autocannon', 'overload', 'pages'].some((p) => o.profiles.has(p));

  let referenceProjects = 100;
  const refOpts = (t: { url: string; user?: string; password?: string }) => ({
    baseUrl: t.url,
    projects: referenceProjects,
    ...(t.user !== undefined ? { user: t.user } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
    durationS: o.durationS,
    burstClients: o.clients,
    idleClients: o.idleClients,
    log,
  });

  // What each server spends idle (ms per second, all its processes), read once, before its first run.
  const idleRates = new Map<number, { msPerS: number; processes: number }>();
  async function idleRate(pgid: number) {
    let rate = idleRates.get(pgid);
    if (!rate) {
      const seconds = o.quick ? 2 : 10;
      // After the cold burst: let the collector and the delay monitor settle first.
      await new Promise((r) => setTimeout(r, 3000));
      const m = await cpuOver(pgid, seconds * 1000);
      rate = { msPerS: m.cpuMs / seconds, processes: m.processes };
      idleRates.set(pgid, rate);
    }
    return rate;
  }
  /** Runs one profile run and reads the server's CPU around it, its idle spending taken off. */
  async function withCpu<R extends object>(
    target: { pgid?: number },
    run: () => Promise<R>,
    requests: (r: R) => number,
  ): Promise<R & { serverCpu?: ServerCpu }> {
    if (target.pgid === undefined) return run();
    const pgid = target.pgid;
    const idle = await idleRate(pgid);
    const t0 = performance.now();
    const before = groupCpuMs(pgid);
    const r = await run();
    const after = groupCpuMs(pgid);
    const wallS = (performance.now() - t0) / 1000;
    const serverCpu: ServerCpu = {
      ms: Math.max(0, after.ms - before.ms - idle.msPerS * wallS),
      idleMsPerS: idle.msPerS,
      requests: requests(r),
      processes: after.processes,
    };
    return { ...r, serverCpu };
  }

  // The first burst meets a cold driver and a server whose hot path is not compiled yet; a task
  // in production has served traffic before its burst. It is kept apart, not hidden.
  async function coldBurst(target: { name: string; url: string; user?: string; password?: string }) {
    log(`[${target.name}] reference profile, cold burst (reported apart from the runs)`);
    const r = await runReference({ ...refOpts(target), durationS: 1 });
    const cold = {
      target: target.name,
      samples: r.samples,
      failedSamples: r.failedSamples,
      p95: r.latency.p95,
      drainMs: r.bursts[0]?.drainMs ?? 0,
    };
    collected.cold.push(cold);
    await save(`reference-${target.name}-cold`, { ...r, target: target.name, run: 0 });
  }

  async function referenceRun(target: { name: string; url: string; user?: string; password?: string; pgid?: number }, run: number) {
    log(`[${target.name}] reference profile, run ${run}/${o.runs}`);
    const r = await withCpu(
      target,
      () => runReference(refOpts(target)),
      (x) => x.httpCalls,
    );
    const tagged = { ...r, target: target.name, run };
    collected.reference.push(tagged);
    await save(`reference-${target.name}-run${run}`, tagged);
  }

  /** The reference (and autocannon) runs of several targets, alternated: A B, B A, A B... */
  async function interleavedReference(targets: Target[]) {
    const reference = o.profiles.has('reference');
    if (o.warmup && reference) for (const t of targets) await coldBurst(t);
    for (let run = 1; run <= o.runs; run++) {
      if (reference) for (const t of run % 2 === 1 ? targets : [...targets].reverse()) await referenceRun(t, run);
      if (o.profiles.has('autocannon')) {
        for (const t of run % 2 === 1 ? targets : [...targets].reverse()) await autocannonRun(t, run);
      }
    }
  }

  /** Project pages against simple pages, for the targets that have pages for people (not nginx). */
  async function pagesProfile(target: { name: string; url: string; user?: string; password?: string }) {
    for (let run = 1; run <= o.runs; run++) {
      log(`[${target.name}] pages: bursts on /project/{pkg}/ and /simple/{pkg}/, run ${run}/${o.runs}`);
      const r = await runPages({
        baseUrl: target.url,
        ...(target.user !== undefined ? { user: target.user } : {}),
        ...(target.password !== undefined ? { password: target.password } : {}),
        clients: o.clients,
        bursts: o.pageBursts,
        projects: referenceProjects,
        log,
      });
      const tagged = { ...r, target: target.name, run };
      collected.pages.push(tagged);
      await save(`pages-${target.name}-run${run}`, tagged);
    }
  }

  async function referenceProfiles(target: { name: string; url: string; user?: string; password?: string; pgid?: number }) {
    const reference = o.profiles.has('reference');
    if (o.warmup && reference) await coldBurst(target);
    for (let run = 1; run <= o.runs; run++) {
      if (reference) await referenceRun(target, run);
      if (o.profiles.has('autocannon')) await autocannonRun(target, run);
    }
  }

  async function autocannonRun(target: { name: string; url: string; user?: string; password?: string; pgid?: number }, run: number) {
    log(`[${target.name}] autocannon, run ${run}/${o.runs}`);
    const r = await withCpu(
      target,
      () =>
        runAutocannon({
          baseUrl: target.url,
          ...(target.user !== undefined ? { user: target.user, password: target.password ?? '' } : {}),
          project: referenceProject(0),
          file: referenceWheel(0, '2.0.0'),
          durationS: o.autocannonS,
          log,
        }),
      (x) => x.cases.reduce((n, k) => n + k.requests, 0),
    );
    const tagged = { ...r, target: target.name, run };
    collected.autocannon.push(tagged);
    await save(`autocannon-${target.name}-run${run}`, tagged);
  }

  async function piplikeProfiles(
    target: { name: string; url: string; user?: string; password?: string; pgid?: number },
    files: Array<{ project: string; filename: string }>,
  ) {
    for (let run = 1; run <= o.runs; run++) {
      for (const mode of o.pipModes) {
        log(`[${target.name}] pip-like burst (${mode}), run ${run}/${o.runs}`);
        const r = await withCpu(
          target,
          () =>
            runPiplike({
              baseUrl: target.url,
              ...(target.user !== undefined ? { user: target.user } : {}),
              ...(target.password !== undefined ? { password: target.password } : {}),
              clients: o.clients,
              mode,
              files,
              log,
            }),
          (x) => x.requests,
        );
        const tagged = { ...r, target: target.name, run };
        collected.piplike.push(tagged);
        await save(`piplike-${mode}-${target.name}-run${run}`, tagged);
      }
    }
  }

  async function overload(target: { name: string; url: string; user?: string; password?: string }) {
    log(`[${target.name}] overload: one burst of ${o.clients * 5} clients`);
    // The pool grows with the burst so the server, not the client's queue, meets the surge.
    const reference = await runReference({
      ...refOpts(target),
      durationS: 1,
      burstClients: o.clients * 5,
      poolSockets: Math.ceil(o.clients * 5 * 1.2),
    });
    let healthAfter: number | string;
    try {
      const res = await fetch(new URL('health', target.url), { signal: AbortSignal.timeout(10_000) });
      healthAfter = res.status;
    } catch (err) {
      healthAfter = (err as Error).message;
    }
    log(`  failures ${JSON.stringify(reference.failures)}, 503 with Retry-After ${reference.retryAfter503}, /health after: ${healthAfter}`);
    const result = { profile: 'overload' as const, target: target.name, reference, healthAfter };
    collected.overload.push(result);
    await save(`overload-${target.name}`, result);
  }

  try {
    if (o.url) {
      const target = {
        name: new URL(o.url).host,
        url: o.url,
        ...(o.user !== undefined ? { user: o.user, password: o.password ?? '' } : {}),
      };
      if (o.profiles.has('reference') || o.profiles.has('autocannon')) await referenceProfiles(target);
      if (o.profiles.has('piplike')) {
        const files = await discoverFiles(o.url, target.user, target.password);
        if (files.length) await piplikeProfiles(target, files);
        else collected.notes.push('pip-like: no wheel found on the index root page; skipped');
      }
      if (o.profiles.has('pages')) await pagesProfile(target);
      if (o.profiles.has('overload')) await overload(target);
      if (o.profiles.has('upstream')) collected.notes.push('upstream: needs a server it starts itself (not with --url); skipped');
    } else {
      ensureBuilt(log);
      const refCorpus = needsReference
        ? await makeReferenceCorpus(
            join(REPO, 'bench', 'results', o.quick ? 'corpus-reference-quick' : 'corpus-reference'),
            o.quick ? { projects: 10 } : {},
          )
        : undefined;
      if (refCorpus) referenceProjects = projectsOf(refCorpus).size;
      const realCorpus =
        o.profiles.has('piplike') || o.profiles.has('upstream')
          ? await makeRealCorpus(join(REPO, 'bench', 'results', 'corpus-real'), {
              ...(o.wheelsFrom ? { source: o.wheelsFrom } : {}),
              maxFiles: o.quick ? Math.min(20, o.realFiles) : o.realFiles,
              maxBytes: o.maxWheelBytes,
            })
          : undefined;
      const work = await makeTempDir('wh-bench-');
      log(`work dir: ${work}`);
      const creds = await makeCredentials(work);
      const interleaved = o.interleave && refCorpus !== undefined && (o.profiles.has('reference') || o.profiles.has('autocannon'));
      if (interleaved) {
        const started: Target[] = [];
        try {
          for (const name of o.targets) {
            started.push(await startTarget(name, { creds, workDir: join(work, 'interleaved'), log, corpus: refCorpus, before: o.before }));
          }
          await interleavedReference(started);
        } finally {
          for (const t of started) await t.stop();
        }
      }
      for (const name of o.targets) {
        const ctx = { creds, workDir: work, log, before: o.before };
        try {
          if (refCorpus && !interleaved && (o.profiles.has('reference') || o.profiles.has('autocannon'))) {
            const target = await startTarget(name, { ...ctx, corpus: refCorpus });
            try {
              await referenceProfiles(target);
              const fs = await measureFsOps(target, refCorpus);
              if (fs) {
                collected.fsops.push(fs);
                await save(`fsops-${name}`, fs);
              }
            } finally {
              await target.stop();
            }
          }
          if (refCorpus && o.profiles.has('pages') && !name.startsWith('nginx')) {
            // A server of its own, so the first project-page burst meets pages never rendered.
            const target = await startTarget(name, { ...ctx, corpus: refCorpus });
            try {
              await pagesProfile(target);
            } finally {
              await target.stop();
            }
          }
          if (realCorpus && o.profiles.has('piplike')) {
            const target = await startTarget(name, { ...ctx, corpus: realCorpus });
            try {
              await piplikeProfiles(target, realCorpus.files);
            } finally {
              await target.stop();
            }
          }
          if (realCorpus && o.profiles.has('upstream') && (name === 'wheelhouse' || name === 'wheelhouse-2w')) {
            const results = await runUpstreamProfile({
              corpus: realCorpus,
              creds,
              workDir: work,
              target: name,
              workers: name === 'wheelhouse' ? 1 : 2,
              clients: o.clients,
              modes: o.pipModes,
              runs: o.runs,
              log,
            });
            for (const r of results) {
              collected.upstream.push(r);
              await save(`upstream-${r.mode}-${name}`, r);
            }
          }
          if (refCorpus && o.profiles.has('overload')) {
            const target = await startTarget(name, { ...ctx, corpus: refCorpus });
            try {
              await overload(target);
            } finally {
              await target.stop();
            }
          }
        } catch (err) {
          const msg = `${name}: ${(err as Error).message}`;
          log(`  skipped ${msg}`);
          collected.notes.push(`target ${msg}`);
        }
      }
      if (o.targets.includes('nginx')) {
        collected.notes.push(
          'nginx checks the same bcrypt htpasswd on every request (it has no verdict cache); ' +
            'nginx-sha is the same tree with a {SHA} hash: the static-file limit.',
        );
      }
    }
  } finally {
    await runCleanups();
  }

  const summary = summaryMarkdown(collected, { startedAt: new Date().toISOString(), args: process.argv.slice(2).join(' '), runs: o.runs });
  await writeFile(join(outDir, 'summary.md'), summary);
  if (collected.reference.length) {
    const series: ChartSeries[] = [];
    for (const name of [...new Set(collected.reference.map((r) => r.target))]) {
      const runs = collected.reference.filter((r) => r.target === name);
      // The run whose p95 is the median one stands for the target.
      const p95s = runs.map((r) => r.latency.p95);
      const pick: ReferenceResult = runs.find((r) => r.latency.p95 === median(p95s)) ?? runs[0]!;
      const bursts = [...pick.bursts].sort((a, b) => a.drainMs - b.drainMs);
      const mid = bursts[Math.floor((bursts.length - 1) / 2)];
      series.push({ target: name, timeSeries: pick.timeSeries, ...(mid ? { completion: mid.completion } : {}) });
    }
    // The chart's labels need a TrueType font; a bare machine may have none.
    if (!findFont() && aptInstall('fonts-dejavu-core')) log('installed fonts-dejavu-core for the chart labels');
    await drawChart(series, join(outDir, 'chart.png'), { referenceP95Ms: PUBLISHED_P95_MS });
  }
  console.log('\n' + summary);
  console.log(`results: ${outDir}`);
}

main().catch(async (err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  await runCleanups();
  process.exit(1);
});
