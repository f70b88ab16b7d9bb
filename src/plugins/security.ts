import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Errors } from '../errors.js';

/** Methods that change the index. */
const WRITES = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

/**
 * Headers every response carries, and the refusal of cross-site writes. A browser that once
 * logged in here keeps sending the Basic credentials, so without this a form on any web page
 * could post `remove_pkg` to the index. twine, poetry and curl send no Origin and no
 * Sec-Fetch-Site, and are not affected.
 */
async function security(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-content-type-options', 'nosniff');
    if (WRITES.has(request.method) && isCrossSite(request.headers)) {
      request.log.warn(
        { ip: request.ip, origin: request.headers.origin, method: request.method, url: request.url },
        'cross-site write refused',
      );
      done(new Errors.CrossSite());
      return;
    }
    done();
  });
}

function isCrossSite(headers: Record<string, string | string[] | undefined>): boolean {
  const site = headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = headers.origin;
  if (typeof origin !== 'string' || origin === '') return false;
  // A browser sends "null" from sandboxed frames and data: pages.
  if (origin === 'null') return true;
  try {
    return new URL(origin).host !== headers.host;
  } catch {
    return true;
  }
}

export const securityPlugin = fp(security, { name: 'wheelhouse-security', fastify: '5.x' });
