import type { FastifyInstance } from 'fastify';
import type { RouteOptions } from './simple.js';

/**
 * Health for the ALB and ECS, and metrics. Both answer from memory: a health check that listed
 * the volume would itself be load on EFS every 10 s per target.
 */
export async function opsRoutes(app: FastifyInstance, { index, config }: RouteOptions): Promise<void> {
  // Load shedding never answers these: a task busy with a burst is healthy, and an ALB that
  // deregistered it would hand the burst to fewer tasks. Metrics matter most when busy.
  const notShed = { config: { pressureHandler: () => undefined } };
  app.get('/health', notShed, async (_request, reply) => {
    const now = Date.now();
    const failingFor = index.pollFailingSince === null ? 0 : now - index.pollFailingSince;
    const status = !index.ready ? 'loading' : failingFor > config.healthFailAfter ? 'volume-unreadable' : 'ok';
    return reply
      .code(status === 'ok' ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({
        status,
        generation: index.token,
        lastPollAgeMs: index.lastPollOkAt === null ? null : now - index.lastPollOkAt,
        pollFailingForMs: failingFor,
        lastRescanMs: index.lastRescan ? Math.round(index.lastRescan.durationMs) : null,
        projects: index.snapshot.projects.size,
        files: index.snapshot.fileCount,
        pid: process.pid,
      });
  });

  app.get('/metrics', notShed, async (_request, reply) => reply.type(app.metrics.contentType).send(await app.metrics.metrics()));
}
