import type { FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../errors.js';
import type { UpstreamProjects } from '../index/upstream-projects.js';
import type { UpstreamFile } from '../pypi/upstream-page.js';
import { byteRange, ifRangeHolds, isFresh } from './conditional.js';

/*
 * Files of projects served from the upstream index (--upstream), at the same `/packages/<filename>`
 * URLs as local files. The routes consult these only when the local index has no such file.
 */

function contentTypeOf(filename: string): string {
  return filename.toLowerCase().endsWith('.zip') ? 'application/zip' : 'application/octet-stream';
}

/** What a `/packages/<rel>` URL names among the files of projects served from upstream. */
export interface UpstreamTarget {
  file: UpstreamFile;
  what: 'file' | 'metadata';
}

/** The upstream file (or its `.metadata`) `/packages/<rel>` names, or null when it names none. */
export async function findUpstreamPackage(upstream: UpstreamProjects, rel: string): Promise<UpstreamTarget | null> {
  // Upstream files are flat, named as the upstream names them.
  if (rel.includes('/')) return null;
  const file = await upstream.file(rel);
  if (file) return { file, what: 'file' };
  if (rel.endsWith('.metadata')) {
    const wheel = await upstream.file(rel.slice(0, -'.metadata'.length));
    if (wheel?.coreMetadata) return { file: wheel, what: 'metadata' };
  }
  return null;
}

/** Serves a file of the upstream cache, fetching it first when it is not cached yet. */
export function sendUpstreamPackage(
  request: FastifyRequest,
  reply: FastifyReply,
  upstream: UpstreamProjects,
  target: UpstreamTarget,
  cacheControl: string,
): Promise<FastifyReply> {
  return target.what === 'file'
    ? sendFile(request, reply, upstream, target.file, cacheControl)
    : sendMetadata(request, reply, upstream, target.file, cacheControl);
}

async function sendMetadata(
  request: FastifyRequest,
  reply: FastifyReply,
  upstream: UpstreamProjects,
  wheel: UpstreamFile,
  cacheControl: string,
): Promise<FastifyReply> {
  const etag = `"${wheel.coreMetadata || ''}"`;
  reply.header('etag', etag).header('cache-control', cacheControl);
  if (isFresh(request, { etag })) return reply.code(304).send();
  const size = await upstream.ensure(wheel, 'metadata');
  return reply.type('text/plain; charset=utf-8').send(await upstream.body(wheel, 'metadata', size));
}

async function sendFile(
  request: FastifyRequest,
  reply: FastifyReply,
  upstream: UpstreamProjects,
  file: UpstreamFile,
  cacheControl: string,
): Promise<FastifyReply> {
  // As for local files: the content hash is the ETag, the same on every task.
  const etag = `"${file.sha256}"`;
  const uploadedMs = file.uploadTime === null ? NaN : Date.parse(file.uploadTime);
  const lastModified = Number.isFinite(uploadedMs) ? new Date(uploadedMs).toUTCString() : undefined;
  reply.header('etag', etag).header('cache-control', cacheControl).header('accept-ranges', 'bytes').type(contentTypeOf(file.filename));
  if (lastModified !== undefined) reply.header('last-modified', lastModified);
  if (isFresh(request, { etag, ...(lastModified !== undefined ? { lastModified } : {}) })) return reply.code(304).send();

  const size = await upstream.ensure(file, 'file');
  let range: { start: number; end: number } | null = null;
  if (ifRangeHolds(request.headers['if-range'] as string | undefined, etag, Number.isFinite(uploadedMs) ? uploadedMs : 0)) {
    const r = byteRange(request.headers.range, size);
    if (r === 'unsatisfiable') {
      reply.header('content-range', `bytes */${size}`);
      throw new Errors.RangeNotSatisfiable(String(size));
    }
    range = r;
  }
  const length = range ? range.end - range.start + 1 : size;
  if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`);
  reply.header('content-length', length);
  if (request.method === 'HEAD') return reply.send();
  return reply.send(await upstream.body(file, 'file', size, range ?? undefined));
}
