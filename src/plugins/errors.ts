import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Errors, isStorageError, isUserFacing, reasonPhrase } from '../errors.js';

/**
 * Renders every error as `text/plain` with the message in the body and the status line: pip and
 * twine show the reason phrase, and twine's --skip-existing looks for "File already exists"
 * there. 5xx details stay in the log.
 */
async function errors(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error, request, reply) => {
    const err = error as Error & { statusCode?: number };
    const status = isUserFacing(err) ? err.statusCode : (err.statusCode ?? 500);
    let message = err.message;
    if (isStorageError(err)) {
      // The volume failed, not the request: the operator must hear of it.
      request.log.error(
        { err, detail: (err as { detail?: string }).detail, method: request.method, url: request.url },
        'the package volume refused a write',
      );
    } else if (status >= 500 && !isUserFacing(err)) {
      // A 503 of our own (loading, shedding load) is a state, not a failure: one line per request
      // at error level would flood the log exactly when the process is busiest.
      request.log.error({ err }, 'request failed');
      message = 'Internal server error';
    }
    // A refused upload may still be streaming its body: close the connection rather than read
    // (or wait for) the rest of it.
    if ((status === 401 || status === 403 || status === 413) && request.method === 'POST') reply.header('connection', 'close');
    reply.raw.statusMessage = reasonPhrase(message);
    return reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`);
  });
  app.setNotFoundHandler((request, reply) => {
    const err = new Errors.NotFound(request.url.split('?')[0] ?? request.url);
    return reply.code(404).type('text/plain; charset=utf-8').send(`${err.message}\n`);
  });
}

export const errorsPlugin = fp(errors, { name: 'wheelhouse-errors', fastify: '5.x' });
