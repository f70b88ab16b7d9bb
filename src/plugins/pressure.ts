import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Errors } from '../errors.js';

export interface PressureOptions {
  /** Event-loop delay (ms) past which requests get 503 + Retry-After; 0 disables. */
  maxEventLoopDelay: number;
}

/**
 * Load shedding: past the configured event-loop delay, answer 503 with Retry-After (pip retries
 * 503 with backoff) instead of queueing until every client times out.
 */
async function pressure(app: FastifyInstance, opts: PressureOptions): Promise<void> {
  if (opts.maxEventLoopDelay <= 0) return;
  await app.register(underPressure, {
    maxEventLoopDelay: opts.maxEventLoopDelay,
    retryAfter: 2,
    customError: Errors.Busy,
    exposeStatusRoute: false,
  });
}

export const pressurePlugin = fp(pressure, { name: 'wheelhouse-pressure', fastify: '5.x' });
