import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../errors.js';
import type { IndexedFile } from '../index/snapshot.js';
import { etagMatches, sendPage } from './conditional.js';
import type { RouteOptions } from './simple.js';

type FileParams = { Params: { '*': string } };

/** Parses a single `bytes=` range against a size; null = ignore (serve whole), 'unsatisfiable' = 416. */
export function parseRange(header: string, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null; // multiple ranges or another unit: a 200 with the whole file is allowed
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

function contentTypeOf(filename: string): string {
  return filename.toLowerCase().endsWith('.zip') ? 'application/zip' : 'application/octet-stream';
}

/**
 * Distribution files and their PEP 658 metadata. Only files the index knows are served, so no
 * spelling of `..`, encoded or not, can reach outside the root: the path is a key, never a path.
 */
export async function packageRoutes(app: FastifyInstance, { index, config }: RouteOptions): Promise<void> {
  app.get('/packages', { config: { action: 'list' } }, async (_request, reply) => reply.redirect('/packages/', 301));

  app.get('/packages/', { config: { action: 'list' } }, async (request, reply) =>
    sendPage(request, reply, index.packagesPage(), config.pageCacheControl),
  );

  // GET and HEAD declared together: Fastify's generated HEAD route would reset Content-Length to 0.
  app.route<FileParams>({
    method: ['GET', 'HEAD'],
    url: '/packages/*',
    config: { action: 'download' },
    handler: async (request, reply) => {
      const rel = request.params['*'];
      const file = index.file(rel);
      if (file) return sendFile(request, reply, file);
      if (rel.endsWith('.metadata')) {
        const wheel = index.file(rel.slice(0, -'.metadata'.length));
        if (wheel?.metadataSha256) return sendMetadata(request, reply, wheel);
      }
      throw new Errors.FileNotFound(rel.split('/').pop() ?? rel);
    },
  });

  async function sendMetadata(request: FastifyRequest, reply: FastifyReply, wheel: IndexedFile): Promise<FastifyReply> {
    const etag = `"${wheel.metadataSha256}"`;
    reply.header('etag', etag).header('cache-control', config.fileCacheControl);
    if (etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();
    const data = await index.metadata(wheel);
    return reply.type('text/plain; charset=utf-8').send(data);
  }

  async function sendFile(request: FastifyRequest, reply: FastifyReply, file: IndexedFile): Promise<FastifyReply> {
    // The content hash is the ETag: strong, and the same on every task.
    const etag = `"${file.sha256}"`;
    const lastModified = new Date(file.mtimeMs).toUTCString();
    reply
      .header('etag', etag)
      .header('last-modified', lastModified)
      .header('cache-control', config.fileCacheControl)
      .header('accept-ranges', 'bytes')
      .type(contentTypeOf(file.filename));

    const inm = request.headers['if-none-match'];
    if (inm ? etagMatches(inm, etag) : notModifiedSince(request.headers['if-modified-since'], file.mtimeMs)) {
      return reply.code(304).send();
    }

    let range: { start: number; end: number } | null = null;
    const rangeHeader = request.headers.range;
    if (rangeHeader && ifRangeHolds(request.headers['if-range'] as string | undefined, etag, file.mtimeMs)) {
      const r = parseRange(rangeHeader, file.size);
      if (r === 'unsatisfiable') {
        reply.header('content-range', `bytes */${file.size}`);
        throw new Errors.RangeNotSatisfiable(String(file.size));
      }
      range = r;
    }
    const length = range ? range.end - range.start + 1 : file.size;
    if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${file.size}`);
    reply.header('content-length', length);
    if (request.method === 'HEAD') return reply.send();

    const cached = await index.cachedBytes(file);
    if (cached) return reply.send(range ? cached.subarray(range.start, range.end + 1) : cached);
    return reply.send(await index.openFile(file, range ?? undefined));
  }
}

function notModifiedSince(header: string | undefined, mtimeMs: number): boolean {
  if (!header) return false;
  const since = Date.parse(header);
  return Number.isFinite(since) && Math.floor(mtimeMs / 1000) * 1000 <= since;
}

/** If-Range (R26): the range applies only when the validator still matches. */
function ifRangeHolds(header: string | undefined, etag: string, mtimeMs: number): boolean {
  if (!header) return true;
  if (header.startsWith('"') || header.startsWith('W/')) return header === etag;
  const date = Date.parse(header);
  return Number.isFinite(date) && Math.floor(mtimeMs / 1000) * 1000 <= date;
}
