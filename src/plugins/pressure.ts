import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Errors } from '../errors.js';
import type { LoopDelay } from './loop-delay.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: never answered 503 by load shedding (health, metrics). */
    shed?: boolean;
  }
}

export interface PressureOptions {
  /** Event-loop delay (ms) past which requests get 503 + Retry-After; 0 disables. */
  maxEventLoopDelay: number;
  /** The process's event-loop delay monitor, woken by every request (the metrics read it too). */
  loopDelay: LoopDelay;
}

/**
 * Load shedding: past the configured event-loop delay, answer 503 with Retry-After (pip retries
 * 503 with backoff) instead of queueing until every client times out.
 */
async function pressure(app: FastifyInstance, { maxEventLoopDelay, loopDelay }: PressureOptions): Promise<void> {
  app.addHook('onClose', (_app, done) => {
    loopDelay.close();
    done();
  });
  if (maxEventLoopDelay <= 0) {
    app.addHook('onRequest', (_request, _reply, done) => {
      loopDelay.wake();
      done();
    });
    return;
  }
  app.addHook('onRequest', (request, reply, done) => {
    loopDelay.wake();
    if (loopDelay.delayMs > maxEventLoopDelay && request.routeOptions.config.shed !== false) {
      reply.code(503).header('retry-after', '2');
      done(new Errors.Busy());
      return;
    }
    done();
  });
}

export const pressurePlugin = fp(pressure, { name: 'wheelhouse-pressure', fastify: '5.x' });
