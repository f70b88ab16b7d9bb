import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Page } from '../index/page-cache.js';

/** True when an If-None-Match header lists this ETag (or `*`); weak comparison as RFC 9110 asks for 304s. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const v = t.trim().replace(/^W\//, '');
    return v === '*' || v === bare;
  });
}

function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    if (coding!.trim().toLowerCase() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return !q || Number(q.slice(2)) > 0;
  });
}

/**
 * Sends a prerendered index page: ETag, Cache-Control, Vary, 304 on a matching If-None-Match,
 * and the pre-compressed body when the client takes gzip. No work but header writes.
 */
export function sendPage(request: FastifyRequest, reply: FastifyReply, page: Page, cacheControl: string): FastifyReply {
  const gzip = page.gzip !== null && acceptsGzip(request.headers['accept-encoding']);
  const etag = gzip ? `${page.etag.slice(0, -1)}-gz"` : page.etag;
  reply.header('vary', 'Accept, Accept-Encoding').header('cache-control', cacheControl).header('etag', etag);
  if (etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();
  reply.type(page.contentType);
  if (gzip) reply.header('content-encoding', 'gzip');
  return reply.send(gzip ? page.gzip : page.body);
}
