import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Errors, isUserFacing, reasonPhrase } from '../errors.js';

/**
 * Renders every error as `text/plain` with the message in the body and the status line: pip and
 * twine show the reason phrase, and twine's --skip-existing reads it (R37, R40). 5xx details stay
 * in the log.
 */
async function errors(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error, request, reply) => {
    const err = error as Error & { statusCode?: number };
    const status = isUserFacing(err) ? err.statusCode : (err.statusCode ?? 500);
    let message = err.message;
    // A 503 of our own (loading, shedding load) is a state, not a failure: one line per request
    // at error level would flood the log exactly when the process is busiest.
    if (status >= 500 && !isUserFacing(err)) {
      request.log.error({ err }, 'request failed');
      message = 'Internal server error';
    }
    reply.raw.statusMessage = reasonPhrase(message);
    return reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`);
  });
  app.setNotFoundHandler((request, reply) => {
    const err = new Errors.NotFound(request.url.split('?')[0]!);
    return reply.code(404).type('text/plain; charset=utf-8').send(`${err.message}\n`);
  });
}

export const errorsPlugin = fp(errors, { name: 'wheelhouse-errors', fastify: '5.x' });
