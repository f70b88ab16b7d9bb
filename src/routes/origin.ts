import type { FastifyRequest } from 'fastify';

/** A Host header worth echoing: a name or address and an optional port. */
const HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The URL a client reached this server by, for links that must be absolute (the JSON API, the
 * page for people). The scheme comes from a trusted proxy's X-Forwarded-Proto (the ALB
 * terminates TLS); the host from the Host header only, never X-Forwarded-Host, which any client
 * can set and which would put another site's name in our pages.
 */
export function originOf(request: FastifyRequest): string {
  const host = request.headers.host;
  return `${request.protocol}://${host !== undefined && HOST.test(host) ? host : 'localhost'}`;
}

/** The URL of this index's root as the client reached it, path prefix included, without a trailing slash. */
export function baseUrlOf(request: FastifyRequest): string {
  return originOf(request) + request.basePath;
}
