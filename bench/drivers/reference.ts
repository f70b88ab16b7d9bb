/**
 * The published stress test, literally: 10 s ticks; tick i starts `burstClients` clients when
 * i % burstEvery == 0, else `idleClients`; it waits for all of them, then sleeps
 * `tick - int(elapsed)` seconds. A client is `GET /{pkg}/` (303 followed: one sample),
 * `GET /simple/{pkg}/`, `GET /packages/test_package_NNN-2.0.0-py3-none-any.whl`, over one shared
 * keep-alive pool, Basic auth on every request, success = status < 400.
 */
import { basicAuth, errorKind, get, makeAgent } from '../lib/http.js';
import { countBy, latencyOf, rng, sleep, timeSeries, type Percentiles, type Sample, type SeriesPoint } from '../lib/stats.js';

export interface ReferenceOptions {
  /** Index root: `/{pkg}/`, `/simple/` and `/packages/` are resolved against it. */
  baseUrl: string;
  user?: string;
  password?: string;
  durationS?: number;
  tickS?: number;
  burstEvery?: number;
  burstClients?: number;
  idleClients?: number;
  poolSockets?: number;
  timeoutMs?: number;
  projects?: number;
  version?: string;
  seed?: number;
  log?: (line: string) => void;
}

export interface BurstResult {
  tick: number;
  clients: number;
  /** From the tick's start until its last client finished. */
  drainMs: number;
  failedSamples: number;
  /** completion[k] = ms from the tick start until k % of its clients had finished (k = 0..100). */
  completion: number[];
}

export interface ReferenceResult {
  profile: 'reference';
  params: Required<Omit<ReferenceOptions, 'log' | 'user' | 'password'>>;
  startedAt: string;
  wallS: number;
  /** CPU seconds the driver itself used: it shares the machine with the server. */
  driverCpuS: number;
  clients: number;
  samples: number;
  httpCalls: number;
  failedSamples: number;
  errorRate: number;
  status5xx: number;
  /** Status of failed samples, or the network error code when there was no response. */
  failures: Record<string, number>;
  /** 503 answers that carried Retry-After (load shedding done right). */
  retryAfter503: number;
  latency: Percentiles;
  perStep: Record<string, Percentiles>;
  bursts: BurstResult[];
  timeSeries: SeriesPoint[];
}

const STEPS = ['redirect', 'simple', 'download'] as const;

export async function runReference(opts: ReferenceOptions): Promise<ReferenceResult> {
  const params = {
    baseUrl: opts.baseUrl,
    durationS: opts.durationS ?? 300,
    tickS: opts.tickS ?? 10,
    burstEvery: opts.burstEvery ?? 6,
    burstClients: opts.burstClients ?? 510,
    idleClients: opts.idleClients ?? 3,
    poolSockets: opts.poolSockets ?? 612,
    timeoutMs: opts.timeoutMs ?? 30_000,
    projects: opts.projects ?? 100,
    version: opts.version ?? '2.0.0',
    seed: opts.seed ?? 1,
  };
  const log = opts.log ?? (() => {});
  const base = new URL(params.baseUrl.endsWith('/') ? params.baseUrl : params.baseUrl + '/');
  const agent = makeAgent(base, { keepAlive: true, maxSockets: params.poolSockets });
  const auth = basicAuth(opts.user, opts.password);
  const random = rng(params.seed);
  const samples: Sample[] = [];
  const bursts: BurstResult[] = [];
  let httpCalls = 0;
  let retryAfter503 = 0;
  let clients = 0;

  async function step(name: string, url: URL, follow: boolean): Promise<boolean> {
    const start = Date.now();
    const deadline = start + params.timeoutMs;
    try {
      httpCalls++;
      let res = await get(url, { agent, headers: auth, deadline });
      if (follow && res.status >= 300 && res.status < 400 && res.headers.location) {
        httpCalls++;
        res = await get(new URL(res.headers.location, url), { agent, headers: auth, deadline });
      }
      if (res.status === 503 && res.headers['retry-after'] !== undefined) retryAfter503++;
      const ok = res.status < 400;
      samples.push({ step: name, start, end: Date.now(), ok, status: res.status });
      return ok;
    } catch (err) {
      samples.push({ step: name, start, end: Date.now(), ok: false, error: errorKind(err) });
      return false;
    }
  }

  async function client(): Promise<void> {
    const i = Math.floor(random() * params.projects);
    const nnn = String(i).padStart(3, '0');
    const pkg = `test-package-${nnn}`;
    // The reference client goes on after a failed step: each step is its own sample.
    await step('redirect', new URL(`${pkg}/`, base), true);
    await step('simple', new URL(`simple/${pkg}/`, base), false);
    await step('download', new URL(`packages/test_package_${nnn}-${params.version}-py3-none-any.whl`, base), false);
  }

  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  try {
    for (let tick = 0; Date.now() - t0 < params.durationS * 1000; tick++) {
      const n = tick % params.burstEvery === 0 ? params.burstClients : params.idleClients;
      const tickStart = Date.now();
      const before = samples.length;
      clients += n;
      const done: number[] = [];
      await Promise.all(Array.from({ length: n }, () => client().then(() => done.push(Date.now() - tickStart))));
      const drainMs = Date.now() - tickStart;
      const failed = samples.slice(before).filter((s) => !s.ok).length;
      if (n === params.burstClients) {
        const completion = Array.from({ length: 101 }, (_, k) => done[Math.min(n - 1, Math.max(0, Math.ceil((k / 100) * n) - 1))] ?? 0);
        bursts.push({ tick, clients: n, drainMs, failedSamples: failed, completion });
        log(`  tick ${tick}: burst of ${n} clients drained in ${(drainMs / 1000).toFixed(2)} s, ${failed} failed samples`);
      }
      const elapsedS = Math.floor(drainMs / 1000);
      const pause = (params.tickS - elapsedS) * 1000;
      if (Date.now() - t0 + pause >= params.durationS * 1000) break;
      if (pause > 0) await sleep(pause);
    }
  } finally {
    agent.destroy();
  }

  const cpu = process.cpuUsage(cpu0);
  const failed = samples.filter((s) => !s.ok);
  const perStep: Record<string, Percentiles> = {};
  for (const name of STEPS) perStep[name] = latencyOf(samples.filter((s) => s.step === name));
  return {
    profile: 'reference',
    params,
    startedAt: new Date(t0).toISOString(),
    wallS: (Date.now() - t0) / 1000,
    driverCpuS: (cpu.user + cpu.system) / 1e6,
    clients,
    samples: samples.length,
    httpCalls,
    failedSamples: failed.length,
    errorRate: samples.length ? failed.length / samples.length : 0,
    status5xx: samples.filter((s) => (s.status ?? 0) >= 500).length,
    failures: countBy(failed, (s) => (s.status !== undefined ? String(s.status) : (s.error ?? 'error'))),
    retryAfter503,
    latency: latencyOf(samples),
    perStep,
    bursts,
    timeSeries: timeSeries(samples, t0),
  };
}
