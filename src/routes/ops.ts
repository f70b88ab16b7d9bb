import type { FastifyInstance } from 'fastify';
import type { UpstreamStatus } from '../index/upstream-projects.js';
import type { RouteOptions } from './simple.js';

/**
 * Health for the ALB and ECS (at --health-endpoint, /health by default), and metrics. Both answer from memory: a health check that listed
 * the volume would itself be load on EFS every 10 s per target.
 *
 * /health is 503 while the first scan runs ("loading", with how far it got), when the volume has
 * been unreadable longer than --health-fail-after ("volume-unreadable"), and when the last scan
 * found files it could not read ("files-unreadable"): this task cannot serve everything the
 * volume holds, so the load balancer should prefer one that can.
 */
export async function opsRoutes(app: FastifyInstance, { index, config, upstream }: RouteOptions): Promise<void> {
  // Load shedding never answers these: a task busy with a burst is healthy, and an ALB that
  // deregistered it would hand the burst to fewer tasks. Metrics matter most when busy.
  const notShed = { config: { shed: false } };
  app.get(config.healthEndpoint, notShed, async (_request, reply) => {
    const now = Date.now();
    const s = index.status();
    const failingFor = s.pollFailingSince === null ? 0 : now - s.pollFailingSince;
    const unreadable = s.lastRescan?.unreadable ?? 0;
    const status = !s.ready
      ? 'loading'
      : failingFor > config.healthFailAfter
        ? 'volume-unreadable'
        : unreadable > 0
          ? 'files-unreadable'
          : 'ok';
    return reply
      .code(status === 'ok' ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({
        status,
        generation: s.token,
        lastPollAgeMs: s.lastPollOkAt === null ? null : now - s.lastPollOkAt,
        pollFailingForMs: failingFor,
        lastRescanMs: s.lastRescan ? Math.round(s.lastRescan.durationMs) : null,
        projects: s.projects,
        files: s.files,
        unreadableFiles: unreadable,
        ...(s.loading ? { filesSeen: s.loading.seen, filesHashed: s.loading.hashed } : {}),
        // Shown, never part of the status: a failing upstream is served around (cached pages), and
        // taking every task out of the load balancer would stop local projects too.
        ...(upstream ? { upstream: upstreamHealth(upstream.status(), now) } : {}),
        pid: process.pid,
      });
  });

  app.get('/metrics', notShed, async (_request, reply) => reply.type(app.metrics.contentType).send(await app.metrics.metrics()));
}

function upstreamHealth(u: UpstreamStatus, now: number) {
  return {
    url: u.url,
    offline: u.offline,
    lastOkAgeMs: u.lastOkAt === null ? null : now - u.lastOkAt,
    failingForMs: u.failingSince === null ? 0 : now - u.failingSince,
    lastError: u.lastError,
  };
}
