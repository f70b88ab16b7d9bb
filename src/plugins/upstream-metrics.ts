import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { UpstreamProjects } from '../index/upstream-projects.js';
import type { UpstreamCacheStats } from '../store/upstream-cache.js';

export interface UpstreamMetricsOptions {
  upstream: UpstreamProjects;
  cache: () => UpstreamCacheStats;
}

/**
 * The upstream index's share of /metrics: every exchange with it by outcome and its latency, how
 * requests were answered (cache hits and misses, stale pages served), bytes fetched, and the size
 * of the cache on the volume. All read from memory.
 */
async function upstreamMetrics(app: FastifyInstance, { upstream, cache }: UpstreamMetricsOptions): Promise<void> {
  const registers = [app.metrics];
  const requests = new Counter({
    name: 'wheelhouse_upstream_requests_total',
    help:
      'Requests to the upstream index by kind (page, file, metadata) and outcome (ok, not-modified, not-found, ' +
      'timeout, unreachable, status, bad-response, hash-mismatch, size-mismatch, too-large, error)',
    labelNames: ['kind', 'outcome'] as const,
    registers,
  });
  const latency = new Histogram({
    name: 'wheelhouse_upstream_request_duration_seconds',
    help: 'Duration of requests to the upstream index (files: until checked and kept), by kind',
    labelNames: ['kind'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  upstream.onRequest((e) => {
    requests.inc({ kind: e.kind, outcome: e.outcome });
    latency.observe({ kind: e.kind }, e.seconds);
  });

  const stats = upstream.stats;
  const labelled = (name: string, help: string, label: string, read: () => Record<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        this.reset();
        for (const [value, n] of Object.entries(read())) this.inc({ [label]: value }, n);
      },
    });
  labelled(
    'wheelhouse_upstream_cache_hits_total',
    'Upstream pages and files served without waiting for the upstream or the volume',
    'kind',
    () => stats.hits,
  );
  labelled(
    'wheelhouse_upstream_cache_misses_total',
    'Upstream pages and files that had to be read from the volume or fetched',
    'kind',
    () => stats.misses,
  );
  labelled(
    'wheelhouse_upstream_stale_serves_total',
    'Upstream pages served past --upstream-ttl: while revalidating, after the upstream failed, or offline',
    'reason',
    () => stats.stale,
  );
  new Counter({
    name: 'wheelhouse_upstream_fetched_bytes_total',
    help: 'Bytes of files and metadata fetched from the upstream, checked and kept',
    registers,
    collect() {
      this.reset();
      this.inc(stats.bytesFetched);
    },
  });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  gauge('wheelhouse_upstream_cache_files', 'Upstream files on the volume (as this process knows them)', () => cache().files);
  gauge('wheelhouse_upstream_cache_bytes', 'Bytes of upstream files on the volume (as this process knows them)', () => cache().bytes);
  gauge('wheelhouse_upstream_cache_max_bytes', 'The limit on them (--upstream-cache-max-size)', () => cache().maxBytes);
  new Counter({
    name: 'wheelhouse_upstream_cache_evictions_total',
    help: 'Upstream files this process removed from the volume to stay under --upstream-cache-max-size',
    registers,
    collect() {
      this.reset();
      this.inc(cache().evictions);
    },
  });
  gauge('wheelhouse_upstream_failing_seconds', 'Seconds since every exchange with the upstream began failing; 0 while it answers', () => {
    const since = upstream.status().failingSince;
    return since === null ? 0 : (Date.now() - since) / 1000;
  });
}

export const upstreamMetricsPlugin = fp(upstreamMetrics, {
  name: 'wheelhouse-upstream-metrics',
  fastify: '5.x',
  dependencies: ['wheelhouse-metrics'],
});
