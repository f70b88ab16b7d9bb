/**
 * Bursts on the pages for people against bursts on the simple pages pip reads: `clients` clients
 * at once, each loading one page (`/project/{pkg}/` or `/simple/{pkg}/`, as a browser asks: HTML,
 * gzip), over one shared keep-alive pool with Basic auth, as the reference profile's clients do.
 * The two kinds alternate, so both meet the same machine. The first burst of each kind is kept
 * apart (the project pages are rendered then, a description read from its sidecar per project).
 */
import { basicAuth, errorKind, get, makeAgent } from '../lib/http.js';
import { countBy, latencyOf, median, rng, sleep, type Percentiles, type Sample } from '../lib/stats.js';

export const PAGE_KINDS = ['project', 'simple'] as const;
export type PageKind = (typeof PAGE_KINDS)[number];

export interface PagesOptions {
  baseUrl: string;
  user?: string;
  password?: string;
  clients?: number;
  /** Measured bursts of each kind, after the cold one. */
  bursts?: number;
  projects?: number;
  poolSockets?: number;
  timeoutMs?: number;
  /** Pause between bursts, so one burst's stragglers never overlap the next. */
  pauseMs?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface PageBurst {
  kind: PageKind;
  clients: number;
  drainMs: number;
  failed: number;
}

export interface PagesKindResult {
  /** The first burst of this kind on the target. */
  cold: PageBurst;
  bursts: PageBurst[];
  drainMedianMs: number;
  drainWorstMs: number;
  /** Over the measured bursts' successful requests. */
  latency: Percentiles;
  failed: number;
  failures: Record<string, number>;
  /** Mean body bytes on the wire (gzip), to see what each burst moves. */
  bytesPerPage: number;
}

export interface PagesResult {
  profile: 'pages';
  params: Required<Omit<PagesOptions, 'log' | 'user' | 'password'>>;
  kinds: Record<PageKind, PagesKindResult>;
}

export async function runPages(opts: PagesOptions): Promise<PagesResult> {
  const params = {
    baseUrl: opts.baseUrl,
    clients: opts.clients ?? 510,
    bursts: opts.bursts ?? 5,
    projects: opts.projects ?? 100,
    poolSockets: opts.poolSockets ?? 612,
    timeoutMs: opts.timeoutMs ?? 30_000,
    pauseMs: opts.pauseMs ?? 1000,
    seed: opts.seed ?? 1,
  };
  const log = opts.log ?? (() => {});
  const base = new URL(params.baseUrl.endsWith('/') ? params.baseUrl : params.baseUrl + '/');
  const agent = makeAgent(base, { keepAlive: true, maxSockets: params.poolSockets });
  const headers = { ...basicAuth(opts.user, opts.password), accept: 'text/html', 'accept-encoding': 'gzip' };
  const random = rng(params.seed);
  const samples = new Map<PageKind, { cold: Sample[]; measured: Sample[]; bytes: number[] }>(
    PAGE_KINDS.map((k) => [k, { cold: [], measured: [], bytes: [] }]),
  );
  const bursts = new Map<PageKind, PageBurst[]>(PAGE_KINDS.map((k) => [k, []]));

  async function burst(kind: PageKind, into: Sample[], bytes: number[]): Promise<PageBurst> {
    const t0 = Date.now();
    const before = into.length;
    await Promise.all(
      Array.from({ length: params.clients }, async () => {
        const pkg = `test-package-${String(Math.floor(random() * params.projects)).padStart(3, '0')}`;
        const url = new URL(`${kind}/${pkg}/`, base);
        const start = Date.now();
        try {
          const res = await get(url, { agent, headers, deadline: start + params.timeoutMs });
          into.push({ step: kind, start, end: Date.now(), ok: res.status === 200, status: res.status });
          bytes.push(res.bytes);
        } catch (err) {
          into.push({ step: kind, start, end: Date.now(), ok: false, error: errorKind(err) });
        }
      }),
    );
    const result = { kind, clients: params.clients, drainMs: Date.now() - t0, failed: into.slice(before).filter((s) => !s.ok).length };
    log(`  ${kind} pages: burst of ${params.clients} clients drained in ${(result.drainMs / 1000).toFixed(2)} s, ${result.failed} failed`);
    return result;
  }

  const cold = new Map<PageKind, PageBurst>();
  try {
    for (const kind of PAGE_KINDS) {
      const s = samples.get(kind)!;
      cold.set(kind, await burst(kind, s.cold, []));
      await sleep(params.pauseMs);
    }
    for (let i = 0; i < params.bursts; i++) {
      for (const kind of PAGE_KINDS) {
        const s = samples.get(kind)!;
        bursts.get(kind)!.push(await burst(kind, s.measured, s.bytes));
        await sleep(params.pauseMs);
      }
    }
  } finally {
    agent.destroy();
  }

  const kinds = {} as Record<PageKind, PagesKindResult>;
  for (const kind of PAGE_KINDS) {
    const s = samples.get(kind)!;
    const measured = bursts.get(kind)!;
    const failed = s.measured.filter((x) => !x.ok);
    kinds[kind] = {
      cold: cold.get(kind)!,
      bursts: measured,
      drainMedianMs: median(measured.map((b) => b.drainMs)),
      drainWorstMs: Math.max(0, ...measured.map((b) => b.drainMs)),
      latency: latencyOf(s.measured),
      failed: failed.length,
      failures: countBy(failed, (x) => (x.status !== undefined ? String(x.status) : (x.error ?? 'error'))),
      bytesPerPage: s.bytes.length ? s.bytes.reduce((a, b) => a + b, 0) / s.bytes.length : 0,
    };
  }
  return { profile: 'pages', params, kinds };
}
