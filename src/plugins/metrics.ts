import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Credentials } from '../auth/credentials.js';
import type { PackageIndex } from '../index/package-index.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
  }
}

export interface MetricsOptions {
  index: PackageIndex;
  credentials: Credentials | null;
}

/**
 * Prometheus metrics: request durations by route, and the state of the generation protocol
 * (token, poll age, rescan time, index size, page cache), read from memory at scrape time.
 */
async function metrics(app: FastifyInstance, { index, credentials }: MetricsOptions): Promise<void> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'wheelhouse_process_' });

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
      this.set({ token: index.token ?? '' }, 1);
    },
  });
  gauge('wheelhouse_generation_poll_age_seconds', 'Seconds since the generation file was last read successfully', () =>
    index.lastPollOkAt === null ? -1 : (Date.now() - index.lastPollOkAt) / 1000,
  );
  gauge(
    'wheelhouse_rescan_duration_seconds',
    'Duration of the last rescan of the volume',
    () => (index.lastRescan?.durationMs ?? 0) / 1000,
  );
  gauge('wheelhouse_rescans', 'Rescans since start', () => index.rescans);
  gauge('wheelhouse_index_files', 'Distribution files indexed', () => index.snapshot.fileCount);
  gauge('wheelhouse_index_projects', 'Projects indexed', () => index.snapshot.projects.size);
  gauge('wheelhouse_page_cache_entries', 'Rendered pages held in memory', () => index.pages.size);
  gauge('wheelhouse_page_cache_bytes', 'Bytes of rendered pages held in memory', () => index.pages.bytes);
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
  counter('wheelhouse_page_cache_hits_total', 'Index page requests answered from the page cache', () => index.pages.hits);
  counter('wheelhouse_page_cache_misses_total', 'Index pages rendered', () => index.pages.misses);
  // A burst of clients sharing one credential should move the first of these by one.
  counter(
    'wheelhouse_auth_verifications_total',
    'Password hash checks run (bcrypt and others)',
    () => credentials?.stats.verifications ?? 0,
  );
  counter('wheelhouse_auth_memo_hits_total', 'Logins answered from the remembered verdicts', () => credentials?.stats.memoHits ?? 0);
  counter('wheelhouse_auth_failures_total', 'Failed logins', () => credentials?.stats.failures ?? 0);

  app.decorate('metrics', registry);
}

export const metricsPlugin = fp(metrics, { name: 'wheelhouse-metrics', fastify: '5.x' });
