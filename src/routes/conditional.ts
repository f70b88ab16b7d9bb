import type { FastifyReply, FastifyRequest } from 'fastify';
import fresh from 'fresh';
import parseRanges from 'range-parser';
import type { Page } from '../index/page-cache.js';
import { memoByHeader } from '../pypi/header-memo.js';

/** Whether the client's cached copy (If-None-Match, else If-Modified-Since) is still good: a 304. */
export function isFresh(request: FastifyRequest, validators: { etag: string; lastModified?: string }): boolean {
  return fresh(request.headers, { etag: validators.etag, 'last-modified': validators.lastModified });
}

/**
 * The single byte range a Range header asks for, against a size: null to serve the whole file
 * (no header, another unit, or several ranges, which a 200 may answer), 'unsatisfiable' for a 416.
 */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const ranges = parseRanges(size, header, { combine: true });
  if (ranges === -1) return 'unsatisfiable';
  const [only] = ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1 ? [] : ranges;
  return only ? { start: only.start, end: only.end } : null;
}

/** If-Range: a range applies only while the validator it names still matches the file. */
export function ifRangeHolds(header: string | undefined, etag: string, lastModifiedMs: number): boolean {
  if (!header) return true;
  if (header.startsWith('"') || header.startsWith('W/')) return header === etag;
  const date = Date.parse(header);
  return Number.isFinite(date) && Math.floor(lastModifiedMs / 1000) * 1000 <= date;
}

function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return gzipFor(header);
}

const gzipFor = memoByHeader(parseGzip);

function parseGzip(header: string): boolean {
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    if (coding?.trim().toLowerCase() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return !q || Number(q.slice(2)) > 0;
  });
}

/** HTML may only be shown as itself: no scripts, no framing, nothing from elsewhere. */
export const HTML_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * Sends a prerendered page: ETag, Cache-Control, Vary, 304 on a matching If-None-Match, and the
 * pre-compressed body when the client takes gzip. No work but header writes.
 */
export function sendPage(request: FastifyRequest, reply: FastifyReply, page: Page, cacheControl: string): FastifyReply {
  const gzip = page.gzip !== null && acceptsGzip(request.headers['accept-encoding']);
  const etag = gzip ? `${page.etag.slice(0, -1)}-gz"` : page.etag;
  reply.header('vary', 'Accept, Accept-Encoding').header('cache-control', cacheControl).header('etag', etag);
  if (page.contentType.startsWith('text/html')) reply.header('content-security-policy', HTML_CSP);
  if (isFresh(request, { etag })) return reply.code(304).send();
  reply.type(page.contentType);
  if (gzip) reply.header('content-encoding', 'gzip');
  return reply.send(gzip ? page.gzip : page.body);
}
