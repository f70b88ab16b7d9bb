import type { FastifyInstance, onResponseHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricType } from 'prom-client';
import type { CredentialStats } from '../auth/credentials.js';
import type { OidcStats } from '../auth/oidc.js';
import type { TokenLogins } from '../auth/token-logins.js';
import { isStorageError } from '../errors.js';
import type { IndexStatus } from '../index/live-index.js';
import type { PageCache } from '../index/page-cache.js';
import type { LoopDelay, LoopDelayWindow } from './loop-delay.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
  }
}

/** What the metrics read at scrape time: all from memory. */
export interface MetricsOptions {
  status: () => IndexStatus;
  pages: PageCache;
  auth: { credentials: CredentialStats; throttled(): number } | null;
  /** API tokens, scope refusals, trusted publishing, the audit trail. */
  access?: AccessMetrics;
  /** The event-loop delay monitor load shedding reads; without it prom-client's own runs. */
  loopDelay?: LoopDelay;
}

export interface AccessMetrics {
  tokens: Pick<TokenLogins, 'stats' | 'revokedCount'> | null;
  /** By `<user|token> <action>`. */
  outOfScope: Readonly<Partial<Record<string, number>>>;
  /** Token mints by result (`ok` or the refusal). */
  mints: Readonly<Record<string, number>>;
  oidc: OidcStats | null;
  audit: { writes: number; failures: number };
}

/**
 * Prometheus metrics: request durations by route, the state of the generation protocol (token,
 * poll age, rescans, index size, unreadable files), the page cache, logins, and failures of the
 * volume itself.
 */
async function metrics(app: FastifyInstance, { status, pages, auth, access, loopDelay }: MetricsOptions): Promise<void> {
  const registry = new Registry();
  const prefix = 'wheelhouse_process_';
  // prom-client's event-loop histogram wakes the loop every 10 ms for ever, even in a process
  // serving nothing; its timer is pushed out of reach and its figures come from the monitor
  // that load shedding wakes only while requests arrive.
  collectDefaultMetrics({ register: registry, prefix, ...(loopDelay ? { eventLoopMonitoringPrecision: 2 ** 31 - 1 } : {}) });
  if (loopDelay) loopDelayGauges(registry, prefix, loopDelay);

  const durations = new RequestDurations({
    name: DURATION_NAME,
    help: DURATION_HELP,
    labelNames: ['method', 'route', 'status_code'] satisfies DurationLabel[],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  // Each route records into its own series through a hook of its own, its pattern known when it
  // is added: no label hashing, no lookup of the route per request (request.routeOptions builds
  // an object on every read). Requests no route matched are counted by the one global hook.
  app.addHook('onRoute', (route) => {
    const series = durations.route(route.url);
    const record: onResponseHookHandler = (request, reply, done) => {
      series.record(request.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    };
    const existing = route.onResponse;
    route.onResponse = existing === undefined ? record : Array.isArray(existing) ? [record, ...existing] : [record, existing];
  });
  const unmatched = durations.route('unmatched');
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) unmatched.record(request.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  const storageErrors = new Counter({
    name: 'wheelhouse_storage_errors_total',
    help: 'Requests refused because the volume could not be written (full: 507, unavailable: 503), by error',
    labelNames: ['code', 'errno'] as const,
    registers: [registry],
  });
  app.addHook('onError', (_request, _reply, err, done) => {
    if (isStorageError(err)) storageErrors.inc({ code: err.code, errno: (err.cause as NodeJS.ErrnoException | undefined)?.code ?? '' });
    done();
  });

  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  new Gauge({
    name: 'wheelhouse_generation_info',
    help: 'The generation token this process has caught up with (label), always 1',
    labelNames: ['token'] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.set({ token: status().token ?? '' }, 1);
    },
  });
  gauge('wheelhouse_generation_poll_age_seconds', 'Seconds since the generation file was last read successfully', () => {
    const at = status().lastPollOkAt;
    return at === null ? -1 : (Date.now() - at) / 1000;
  });
  gauge(
    'wheelhouse_rescan_duration_seconds',
    'Duration of the last rescan of the volume',
    () => (status().lastRescan?.durationMs ?? 0) / 1000,
  );
  gauge('wheelhouse_index_files', 'Distribution files indexed', () => status().files);
  gauge('wheelhouse_index_projects', 'Projects indexed', () => status().projects);
  gauge(
    'wheelhouse_index_unreadable_files',
    'Files the last scan listed but could not read (not served)',
    () => status().lastRescan?.unreadable ?? 0,
  );
  gauge('wheelhouse_page_cache_entries', 'Rendered pages held in memory', () => pages.size);
  gauge('wheelhouse_page_cache_bytes', 'Bytes of rendered pages held in memory', () => pages.bytes);
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counter('wheelhouse_rescans_total', 'Rescans of the volume since start', () => status().rescans);
  counter('wheelhouse_page_cache_hits_total', 'Index page requests answered from the page cache', () => pages.hits);
  counter('wheelhouse_page_cache_misses_total', 'Index pages rendered', () => pages.misses);
  // A burst of clients sharing one credential should move the first of these by one.
  counter(
    'wheelhouse_auth_verifications_total',
    'Password hash checks run (bcrypt and others)',
    () => auth?.credentials.verifications ?? 0,
  );
  counter('wheelhouse_auth_memo_hits_total', 'Logins answered from the remembered verdicts', () => auth?.credentials.memoHits ?? 0);
  counter('wheelhouse_auth_failures_total', 'Failed logins', () => auth?.credentials.failures ?? 0);
  counter(
    'wheelhouse_auth_throttled_total',
    'Logins refused by the failed-login throttle or a full check queue',
    () => auth?.throttled() ?? 0,
  );

  if (access) accessMetrics(registry, access);
  app.decorate('metrics', registry);
}

const DURATION_NAME = 'wheelhouse_http_request_duration_seconds';
const DURATION_HELP = 'HTTP request durations by route';
// prom-client's typings declare the type a numeric enum; its registry writes this string.
const HISTOGRAM_TYPE = 'histogram' as unknown as MetricType;
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One route's request durations by method and status: bucket counts in a plain array. */
class RouteSeries {
  readonly route: string;
  /** By `status` for GET (most requests), `method status` otherwise. */
  readonly byKey = new Map<number | string, { method: string; status: number; counts: number[]; sum: number; count: number }>();

  constructor(route: string) {
    this.route = route;
  }

  record(method: string, status: number, seconds: number): void {
    const key = method === 'GET' ? status : `${method} ${status}`;
    let s = this.byKey.get(key);
    if (!s) {
      s = { method, status, counts: new Array<number>(DURATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
      this.byKey.set(key, s);
    }
    let i = 0;
    for (const le of DURATION_BUCKETS) {
      if (seconds <= le) break;
      i++;
    }
    s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += seconds;
    s.count++;
  }
}

/**
 * The request-duration histogram, recorded by the routes into plain arrays (prom-client's
 * observe() hashed the labels on every call, a visible share of a burst's CPU) and handed to
 * prom-client's registry at scrape time in the shape its own histograms have.
 */
/** `le` is the buckets' label, which prom-client adds itself. */
type DurationLabel = 'method' | 'route' | 'status_code' | 'le';

class RequestDurations extends Histogram<DurationLabel> {
  private readonly routes = new Map<string, RouteSeries>();

  route(url: string): RouteSeries {
    let series = this.routes.get(url);
    if (!series) {
      series = new RouteSeries(url);
      this.routes.set(url, series);
    }
    return series;
  }

  /** What the registry reads for the text format (prom-client's histograms define it too). */
  getForPromString(): ReturnType<Histogram<DurationLabel>['get']> {
    return this.get();
  }

  override async get(): ReturnType<Histogram<DurationLabel>['get']> {
    const values: Awaited<ReturnType<Histogram<DurationLabel>['get']>>['values'] = [];
    const name = DURATION_NAME;
    for (const series of this.routes.values()) {
      for (const s of series.byKey.values()) {
        const labels = { method: s.method, route: series.route, status_code: String(s.status) };
        let cumulative = 0;
        DURATION_BUCKETS.forEach((le, i) => {
          cumulative += s.counts[i] ?? 0;
          values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${name}_bucket` });
        });
        values.push({ labels: { ...labels, le: '+Inf' }, value: s.count, metricName: `${name}_bucket` });
        values.push({ labels, value: s.sum, metricName: `${name}_sum` });
        values.push({ labels, value: s.count, metricName: `${name}_count` });
      }
    }
    return { name, help: DURATION_HELP, type: HISTOGRAM_TYPE, values, aggregator: 'sum', collect: () => undefined };
  }
}

/** prom-client's names for its event-loop figures, read from the last window the monitor sampled. */
function loopDelayGauges(registry: Registry, prefix: string, loopDelay: LoopDelay): void {
  const figures: Array<[string, keyof LoopDelayWindow]> = [
    ['min', 'min'],
    ['max', 'max'],
    ['mean', 'mean'],
    ['stddev', 'stddev'],
    ['p50', 'p50'],
    ['p90', 'p90'],
    ['p99', 'p99'],
  ];
  for (const [suffix, key] of figures) {
    const name = `${prefix}nodejs_eventloop_lag_${suffix}_seconds`;
    registry.removeSingleMetric(name);
    new Gauge({
      name,
      help: `The ${suffix} event loop lag in seconds over the last second in which requests came (sampled only then).`,
      registers: [registry],
      collect() {
        this.set(loopDelay.last?.[key] ?? 0);
      },
    });
  }
}

/** Counters read from a record of counts at scrape time, one label value per key. */
function labelledCounter(registry: Registry, name: string, help: string, label: string, read: () => Iterable<[string, number]>): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, count] of read()) this.inc({ [label]: value }, count);
    },
  });
}

function accessMetrics(registry: Registry, a: AccessMetrics): void {
  const entries = (record: Readonly<Partial<Record<string, number>>>): [string, number][] =>
    Object.entries(record).filter((e): e is [string, number] => e[1] !== undefined);
  labelledCounter(
    registry,
    'wheelhouse_token_checks_total',
    'API token logins decided (remembered or verified), by result: ok, expired, revoked, bad-signature...',
    'result',
    () => entries(a.tokens?.stats.results ?? {}),
  );
  labelledCounter(
    registry,
    'wheelhouse_token_verifications_total',
    'API token signatures verified (once per token and --credential-ttl, and every bad token), by whether remembered',
    'source',
    () => [
      ['verified', a.tokens?.stats.verifications ?? 0],
      ['remembered', a.tokens?.stats.memoHits ?? 0],
    ],
  );
  new Gauge({
    name: 'wheelhouse_revoked_tokens',
    help: 'Revoked API token ids this process knows of (re-read whenever the generation changes)',
    registers: [registry],
    collect() {
      this.set(a.tokens?.revokedCount ?? 0);
    },
  });
  new Counter({
    name: 'wheelhouse_scope_refusals_total',
    help: 'Requests refused with 403 because the login (user or API token) may not do that to that project, by login and action',
    labelNames: ['login', 'action'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, count] of entries(a.outOfScope)) {
        const [login = '', action = ''] = key.split(' ');
        this.inc({ login, action }, count);
      }
    },
  });
  labelledCounter(
    registry,
    'wheelhouse_oidc_mints_total',
    'Trusted publishing token requests, by result: ok, or why refused (expired, wrong-audience, no-publisher, replayed...)',
    'result',
    () => entries(a.mints),
  );
  labelledCounter(
    registry,
    'wheelhouse_oidc_key_fetches_total',
    'Requests to OIDC issuers for their discovery document or key set (JWKS)',
    'kind',
    () => [
      ['discovery', a.oidc?.discoveryFetches ?? 0],
      ['jwks', a.oidc?.keySetFetches ?? 0],
    ],
  );
  labelledCounter(registry, 'wheelhouse_audit_events_total', 'Audit trail lines appended, and appends that failed', 'result', () => [
    ['written', a.audit.writes],
    ['failed', a.audit.failures],
  ]);
}

export const metricsPlugin = fp(metrics, { name: 'wheelhouse-metrics', fastify: '5.x' });
