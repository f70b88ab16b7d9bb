/** Turns the per-run JSON results into the Markdown comparison (medians over runs). */
import { cpus, totalmem } from 'node:os';
import type { AutocannonResult } from './drivers/autocannon.js';
import { PAGE_KINDS, type PagesResult } from './drivers/pages.js';
import type { PiplikeResult } from './drivers/piplike.js';
import type { ReferenceResult } from './drivers/reference.js';
import type { UpstreamBenchResult } from './upstream.js';
import { median } from './lib/stats.js';

/** One Markdown table row. */
const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;

export interface FsOpsResult {
  profile: 'fsops';
  target: string;
  batches: Array<{ batch: string; requests: number; opsPerRequest: number; byOp: Record<string, number> }>;
}

export interface OverloadResult {
  profile: 'overload';
  target: string;
  reference: ReferenceResult;
  healthAfter: number | string;
}

/** The server's own CPU over one run, from /proc (all its processes), its idle spending taken off. */
export interface ServerCpu {
  /** CPU time (ms) during the run, minus what the idle server spends in as long. */
  ms: number;
  /** What the idle server spends, ms per second of wall time (all processes). */
  idleMsPerS: number;
  /** HTTP requests the run made. */
  requests: number;
  processes: number;
}

export type Tagged<T> = T & { target: string; run: number; serverCpu?: ServerCpu };

export interface ColdBurst {
  target: string;
  samples: number;
  failedSamples: number;
  p95: number;
  drainMs: number;
}

export interface Collected {
  reference: Array<Tagged<ReferenceResult>>;
  /** The first burst on each freshly started target, run before the measured runs. */
  cold: ColdBurst[];
  piplike: Array<Tagged<PiplikeResult>>;
  autocannon: Array<Tagged<AutocannonResult>>;
  fsops: FsOpsResult[];
  overload: OverloadResult[];
  pages: Array<Tagged<PagesResult>>;
  upstream: UpstreamBenchResult[];
  notes: string[];
}

const ms = (x: number): string => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${Math.round(x)} ms`);
const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

function groupBy<T extends { target: string }>(xs: T[], key: (x: T) => string = (x) => x.target): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of xs) out.set(key(x), [...(out.get(key(x)) ?? []), x]);
  return out;
}

const med = <T>(xs: T[], f: (x: T) => number): number => median(xs.map(f));

export function summaryMarkdown(c: Collected, meta: { startedAt: string; args: string; runs: number }): string {
  const cpu = cpus();
  const lines: string[] = [];
  lines.push(`# Wheelhouse burst bench, ${meta.startedAt}`);
  lines.push('');
  lines.push(
    `Machine: ${cpu.length} x ${cpu[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}. ` +
      'The load driver runs on the same machine and takes CPU from the server under test.' +
      (meta.runs > 1 ? ` Figures are medians of ${meta.runs} runs.` : ''),
  );
  lines.push('');
  lines.push(`Command: \`npm run bench -- ${meta.args}\``);

  if (c.reference.length) {
    const p = c.reference[0]!.params;
    lines.push('');
    lines.push('## Reference profile (the published stress test)');
    lines.push('');
    lines.push(
      `${p.durationS} s of ${p.tickS} s ticks; every ${p.burstEvery}th tick starts ${p.burstClients} clients, ` +
        `the others ${p.idleClients}; each client: GET /{pkg}/ (303 followed), /simple/{pkg}/, /packages/…-2.0.0 wheel; ` +
        `one keep-alive pool of ${p.poolSockets} sockets; ` +
        'Basic auth on every request; latency percentiles over successful samples.',
    );
    lines.push('');
    lines.push('| target | samples | HTTP calls | failed | error rate | 5xx | p50 | p95 | p99 | max | burst drain (median / worst) |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    lines.push('| pypiserver, published (2 x c6a.xlarge, 12 tasks, 48 workers) | 6,273 | | | 0.05% | | | 14 s | 20 s | | |');
    for (const [target, runs] of groupBy(c.reference)) {
      const drains = runs.flatMap((r) => r.bursts.map((b) => b.drainMs));
      lines.push(
        row([
          target,
          int(med(runs, (r) => r.samples)),
          int(med(runs, (r) => r.httpCalls)),
          int(med(runs, (r) => r.failedSamples)),
          pct(med(runs, (r) => r.errorRate)),
          int(med(runs, (r) => r.status5xx)),
          ms(med(runs, (r) => r.latency.p50)),
          ms(med(runs, (r) => r.latency.p95)),
          ms(med(runs, (r) => r.latency.p99)),
          ms(med(runs, (r) => r.latency.max)),
          `${ms(median(drains))} / ${ms(Math.max(0, ...drains))}`,
        ]),
      );
    }
    const byTarget = groupBy(c.reference);
    const withTokens = byTarget.get('wheelhouse-token');
    const withPasswords = byTarget.get('wheelhouse');
    if (withTokens && withPasswords) {
      const ratio = (f: (r: ReferenceResult) => number) => (med(withTokens, f) / Math.max(1e-9, med(withPasswords, f))).toFixed(2);
      const drain = (runs: ReferenceResult[]) => median(runs.flatMap((r) => r.bursts.map((b) => b.drainMs)));
      lines.push('');
      lines.push(
        `API token logins against htpasswd logins, same run (wheelhouse-token / wheelhouse): p50 x${ratio((r) => r.latency.p50)}, ` +
          `p95 x${ratio((r) => r.latency.p95)}, p99 x${ratio((r) => r.latency.p99)}, ` +
          `burst drain x${(drain(withTokens) / Math.max(1e-9, drain(withPasswords))).toFixed(2)}.`,
      );
    }
    lines.push('');
    lines.push('Per step (p95): ');
    lines.push('');
    lines.push('| target | GET /{pkg}/ + 303 | GET /simple/{pkg}/ | GET /packages/{file} | driver CPU s |');
    lines.push('|---|---:|---:|---:|---:|');
    for (const [target, runs] of groupBy(c.reference)) {
      const step = (s: string) => ms(med(runs, (r) => r.perStep[s]?.p95 ?? 0));
      lines.push(
        `| ${target} | ${step('redirect')} | ${step('simple')} | ${step('download')} | ${med(runs, (r) => r.driverCpuS).toFixed(1)} |`,
      );
    }
    if (c.cold.length) {
      lines.push('');
      lines.push(
        'First burst on a freshly started server and driver (run before the runs above, not in their medians): ' +
          c.cold.map((b) => `${b.target} p95 ${ms(b.p95)}, drain ${ms(b.drainMs)}, ${int(b.failedSamples)} failed`).join('; ') +
          '.',
      );
    }
    const failures = c.reference.filter((r) => r.failedSamples > 0);
    if (failures.length) {
      lines.push('');
      lines.push('Failures: ' + failures.map((r) => `${r.target} run ${r.run}: ${JSON.stringify(r.failures)}`).join('; '));
    }
  }

  if (c.pages.length) {
    const p = c.pages[0]!.params;
    lines.push('');
    lines.push('## Pages for people: a burst on project pages against one on /simple/');
    lines.push('');
    lines.push(
      `${p.clients} clients at once, each loading one page of ${p.projects} projects (HTML, gzip, Basic auth), over one keep-alive pool ` +
        `of ${p.poolSockets} sockets; ${p.bursts} bursts of each kind, alternating, after a first one of each (the cold column: ` +
        'project pages are rendered then).',
    );
    lines.push('');
    lines.push('| target | page | cold burst drain | drain (median / worst) | p50 | p95 | p99 | failed | bytes per page |');
    lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const [target, runs] of groupBy(c.pages)) {
      for (const kind of PAGE_KINDS) {
        const k = (r: PagesResult) => r.kinds[kind];
        lines.push(
          row([
            target,
            kind === 'project' ? '/project/{pkg}/' : '/simple/{pkg}/',
            ms(med(runs, (r) => k(r).cold.drainMs)),
            `${ms(med(runs, (r) => k(r).drainMedianMs))} / ${ms(Math.max(...runs.map((r) => k(r).drainWorstMs)))}`,
            ms(med(runs, (r) => k(r).latency.p50)),
            ms(med(runs, (r) => k(r).latency.p95)),
            ms(med(runs, (r) => k(r).latency.p99)),
            int(med(runs, (r) => k(r).failed)),
            int(med(runs, (r) => k(r).bytesPerPage)),
          ]),
        );
      }
    }
  }

  if (c.piplike.length) {
    const p = c.piplike[0]!.params;
    lines.push('');
    lines.push('## Pip-like burst (real wheels)');
    lines.push('');
    lines.push(
      `${p.clients} clients at once, each on its own connection: project page, PEP 658 metadata (JSON mode), ` +
        'wheel with its sha256 checked; ' +
        `${p.distinctFiles} distinct real wheels.`,
    );
    lines.push('');
    lines.push('| target | mode | clients | installed | failed requests | drain | MB moved | p50 | p95 | p99 | page p95 | download p95 |');
    lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const [, runs] of groupBy(c.piplike, (r) => `${r.target} ${r.params.mode}`)) {
      const r0 = runs[0]!;
      lines.push(
        row([
          r0.target,
          r0.params.mode,
          String(r0.clients),
          int(med(runs, (r) => r.installed)),
          int(med(runs, (r) => r.failedRequests)),
          ms(med(runs, (r) => r.drainMs)),
          (med(runs, (r) => r.downloadedBytes) / 1e6).toFixed(0),
          ms(med(runs, (r) => r.latency.p50)),
          ms(med(runs, (r) => r.latency.p95)),
          ms(med(runs, (r) => r.latency.p99)),
          ms(med(runs, (r) => r.perStep.page?.p95 ?? 0)),
          ms(med(runs, (r) => r.perStep.download?.p95 ?? 0)),
        ]),
      );
    }
  }

  if (c.autocannon.length) {
    const p = c.autocannon[0]!.params;
    lines.push('');
    lines.push(`## Throughput (autocannon, ${p.connections} connections, ${p.durationS} s per URL)`);
    lines.push('');
    lines.push('| target | /simple/{pkg}/ req/s | p50 | p99 | /packages/{small wheel} req/s | p50 | p99 | non-2xx + errors |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const [target, runs] of groupBy(c.autocannon)) {
      const get = (name: string, f: (x: AutocannonResult['cases'][number]) => number) =>
        med(runs, (r) => f(r.cases.find((x) => x.name === name) ?? ({} as never)) ?? 0);
      const bad = med(runs, (r) => r.cases.reduce((s, x) => s + x.non2xx + x.errors, 0));
      lines.push(
        row([
          target,
          int(get('simple', (x) => x.reqPerS)),
          ms(get('simple', (x) => x.p50)),
          ms(get('simple', (x) => x.p99)),
          int(get('package', (x) => x.reqPerS)),
          ms(get('package', (x) => x.p50)),
          ms(get('package', (x) => x.p99)),
          int(bad),
        ]),
      );
    }
  }

  cpuSection(c, lines);
  staticLimitSection(c, lines);
  piplikeLimitSection(c, lines);

  if (c.fsops.length) {
    lines.push('');
    lines.push('## File-system operations per request (EFS-like mount, steady state)');
    lines.push('');
    lines.push('| target | batch | requests | FS ops / request | by operation (total) |');
    lines.push('|---|---|---:|---:|---|');
    for (const f of c.fsops) {
      for (const b of f.batches) {
        const by =
          Object.entries(b.byOp)
            .filter(([, n]) => n > 0)
            .map(([op, n]) => `${op} ${n}`)
            .join(', ') || 'none';
        lines.push(`| ${f.target} | ${b.batch} | ${b.requests} | ${b.opsPerRequest.toFixed(3)} | ${by} |`);
      }
    }
  }

  if (c.overload.length) {
    lines.push('');
    lines.push('## Overload (the burst at 5x)');
    lines.push('');
    lines.push('| target | clients | samples | failed | failures by status | 503 with Retry-After | p95 | drain | /health after |');
    lines.push('|---|---:|---:|---:|---|---:|---:|---:|---|');
    for (const o of c.overload) {
      const r = o.reference;
      lines.push(
        row([
          o.target,
          int(r.clients),
          int(r.samples),
          int(r.failedSamples),
          JSON.stringify(r.failures),
          int(r.retryAfter503),
          ms(r.latency.p95),
          ms(r.bursts[0]?.drainMs ?? 0),
          String(o.healthAfter),
        ]),
      );
    }
  }

  if (c.upstream.length) {
    const failed = (runs: PiplikeResult[]) => {
      const all: Record<string, number> = {};
      for (const r of runs) for (const [k, n] of Object.entries(r.failures)) all[k] = (all[k] ?? 0) + n;
      const total = Object.values(all).reduce((a, b) => a + b, 0);
      return total === 0
        ? '0'
        : `${total} (${Object.entries(all)
            .map(([k, n]) => `${k}: ${n}`)
            .join(', ')})`;
    };
    lines.push('');
    lines.push('## Upstream cache (pip-like burst of real wheels through --upstream)');
    lines.push('');
    lines.push(
      `The pip-like burst (${c.upstream[0]!.clients} clients) on local files, then against a wheelhouse with an empty volume whose ` +
        '--upstream is a fake PyPI holding the same wheels: the first burst fills the cache (cold), the next ones run through it (warm). ' +
        'Upstream requests of the cold burst are counted at the upstream; ' +
        'the bound is one per process for each page, file and metadata file.',
    );
    lines.push('');
    lines.push(
      '| target | mode | local drain | warm drain | warm / local | cold drain | cold installed | upstream: pages / files / metadata | ' +
        'asked: projects / files | most per URL | upstream requests while warm | failed requests, local / warm |',
    );
    lines.push('|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|---|');
    for (const u of c.upstream) {
      const k = u.coldUpstream;
      lines.push(
        `| ${u.target} | ${u.mode} | ${ms(med(u.local, (r) => r.drainMs))} | ${ms(med(u.warm, (r) => r.drainMs))} | ` +
          `${u.ratio.toFixed(2)} | ` +
          `${ms(u.cold.drainMs)} | ${u.cold.installed} / ${u.cold.clients} | ${k.pages} / ${k.files} / ${k.metadata} | ` +
          `${k.distinctProjects} / ${k.distinctFiles} | ${k.maxPerPath} | ${u.warmUpstreamRequests} | ` +
          `${failed(u.local)} / ${failed(u.warm)} |`,
      );
    }
  }

  if (c.notes.length) {
    lines.push('');
    lines.push('## Notes');
    lines.push('');
    for (const n of c.notes) lines.push(`- ${n}`);
  }
  lines.push('');
  return lines.join('\n');
}

const us = (x: number): string => `${Math.round(x)} µs`;

/** CPU the server spent per run and per request, for every profile that measured it. */
function cpuSection(c: Collected, lines: string[]): void {
  const rows: string[] = [];
  const add = (profile: string, runs: Array<{ target: string; serverCpu?: ServerCpu }>) => {
    for (const [target, rs] of groupBy(runs.filter((r) => r.serverCpu))) {
      const cpu = rs.map((r) => r.serverCpu!);
      rows.push(
        row([
          target,
          profile,
          (median(cpu.map((x) => x.ms)) / 1000).toFixed(2),
          us(median(cpu.map((x) => (x.ms * 1000) / Math.max(1, x.requests)))),
          (median(cpu.map((x) => x.idleMsPerS)) / 10 / Math.max(1, cpu[0]!.processes)).toFixed(3) + '%',
          String(cpu[0]!.processes),
        ]),
      );
    }
  };
  add('reference', c.reference);
  add('autocannon', c.autocannon);
  for (const [mode, runs] of groupBy(c.piplike, (r) => r.params.mode)) add(`pip-like ${mode}`, runs);
  if (!rows.length) return;
  lines.push('');
  lines.push('## Server CPU (from /proc/<pid>/stat, all processes of the server, idle subtracted)');
  lines.push('');
  lines.push('| target | profile | CPU s per run | CPU per HTTP request | idle, % of a core per process | processes |');
  lines.push('|---|---|---:|---:|---:|---:|');
  lines.push(...rows);
}

/** The targets the issue compares against the static-file limit: ratios to nginx-sha, same run. */
function staticLimitSection(c: Collected, lines: string[]): void {
  const refs = groupBy(c.reference);
  const cannons = groupBy(c.autocannon);
  const limitRef = refs.get('nginx-sha');
  const limitCannon = cannons.get('nginx-sha');
  if (!limitRef && !limitCannon) return;
  const ratio = (a: number, b: number) => a / Math.max(1e-9, b);
  const drain = (runs: ReferenceResult[]) => median(runs.flatMap((r) => r.bursts.map((b) => b.drainMs)));
  const cpuMs = (runs: Array<{ serverCpu?: ServerCpu }>) => median(runs.map((r) => r.serverCpu?.ms ?? NaN));
  lines.push('');
  lines.push('## Against the static-file limit (each target / nginx-sha, same run)');
  lines.push('');
  lines.push(
    '| target | reference p95 | burst drain | server CPU per run | autocannon /simple/ req/s | p99 ' +
      '| autocannon wheel req/s | p99 | goals met |',
  );
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---|');
  const targets = new Set([...refs.keys(), ...cannons.keys()]);
  targets.delete('nginx-sha');
  for (const target of targets) {
    const r = refs.get(target);
    const a = cannons.get(target);
    const caseOf = (runs: AutocannonResult[], name: string, f: (x: AutocannonResult['cases'][number]) => number) =>
      med(runs, (x) => {
        const found = x.cases.find((k) => k.name === name);
        return found ? f(found) : NaN;
      });
    const cannon = (name: string, f: (x: AutocannonResult['cases'][number]) => number) =>
      a && limitCannon ? ratio(caseOf(a, name, f), caseOf(limitCannon, name, f)) : NaN;
    const goals: Array<[string, number, (x: number) => boolean]> = [
      [
        'p95',
        r && limitRef
          ? ratio(
              med(r, (x) => x.latency.p95),
              med(limitRef, (x) => x.latency.p95),
            )
          : NaN,
        (x) => x <= 1.3,
      ],
      ['drain', r && limitRef ? ratio(drain(r), drain(limitRef)) : NaN, (x) => x <= 1.3],
      ['CPU', r && limitRef ? ratio(cpuMs(r), cpuMs(limitRef)) : NaN, (x) => x <= 2],
      ['page req/s', cannon('simple', (x) => x.reqPerS), (x) => x >= 0.7],
      ['page p99', cannon('simple', (x) => x.p99), (x) => x <= 1.5],
      ['wheel req/s', cannon('package', (x) => x.reqPerS), (x) => x >= 0.7],
      ['wheel p99', cannon('package', (x) => x.p99), (x) => x <= 1.5],
    ];
    const measured = goals.filter(([, x]) => Number.isFinite(x));
    const missed = measured.filter(([, x, ok]) => !ok(x)).map(([name]) => name);
    const verdict =
      measured.length === 0
        ? ''
        : `${measured.length - missed.length} / ${measured.length}${missed.length ? ` (misses ${missed.join(', ')})` : ''}`;
    lines.push(row([target, ...goals.map(([, x]) => (Number.isFinite(x) ? `x${x.toFixed(2)}` : '')), verdict]));
  }
  lines.push('');
  lines.push('Targets: p95 and drain <= x1.3, CPU <= x2, req/s >= x0.70, p99 <= x1.5.');
}

/**
 * The pip-like burst against nginx serving the same wheels: on local disk (nginx-sha, the
 * static-file limit) and on the EFS-like mount (nginx-efs against the efs target), same run.
 */
function piplikeLimitSection(c: Collected, lines: string[]): void {
  const byTarget = groupBy(c.piplike, (r) => `${r.target} ${r.params.mode}`);
  const drainOf = (target: string, mode: string) => {
    const runs = byTarget.get(`${target} ${mode}`);
    return runs ? med(runs, (r) => r.drainMs) : NaN;
  };
  const modes = [...new Set(c.piplike.map((r) => r.params.mode))];
  const targets = [...new Set(c.piplike.map((r) => r.target))].filter((t) => !t.startsWith('nginx') && t !== 'efs');
  const rows: string[] = [];
  for (const mode of modes) {
    const limit = drainOf('nginx-sha', mode);
    if (Number.isFinite(limit)) {
      for (const t of targets) {
        const d = drainOf(t, mode);
        if (Number.isFinite(d)) rows.push(row([mode, `${t} / nginx-sha (local disk)`, ms(d), ms(limit), `x${(d / limit).toFixed(2)}`]));
      }
    }
    const efs = drainOf('efs', mode);
    const nginxEfs = drainOf('nginx-efs', mode);
    if (Number.isFinite(efs) && Number.isFinite(nginxEfs)) {
      rows.push(
        row([
          mode,
          'efs / nginx-efs (EFS-like mount)',
          ms(efs),
          ms(nginxEfs),
          `x${(efs / nginxEfs).toFixed(2)} (${(nginxEfs / efs).toFixed(1)} times faster)`,
        ]),
      );
    }
  }
  if (rows.length === 0) return;
  lines.push('');
  lines.push('## Pip-like burst against nginx (drain, medians, same run)');
  lines.push('');
  lines.push('| mode | comparison | drain | nginx drain | ratio |');
  lines.push('|---|---|---:|---:|---:|');
  lines.push(...rows);
  lines.push('');
  lines.push('Targets: on local disk at most x1.2; on the EFS-like mount at least 5 times faster than nginx.');
}
