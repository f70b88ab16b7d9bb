import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
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

  const duration = new Histogram({
    name: 'wheelhouse_http_request_duration_seconds',
    help: 'HTTP request durations by route',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  // One labelled child per (method, route, status), looked up by a flat key: prom-client's own
  // label hashing on every observe() was a visible share of a burst's CPU.
  const children = new Map<string, { observe(v: number): void }>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${request.method} ${reply.statusCode} ${route}`;
    let child = children.get(key);
    if (!child) {
      child = duration.labels({ method: request.method, route, status_code: String(reply.statusCode) });
      children.set(key, child);
    }
    child.observe(reply.elapsedTime / 1000);
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
