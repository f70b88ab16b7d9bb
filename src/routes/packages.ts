import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../errors.js';
import type { IndexedFile } from '../index/snapshot.js';
import { parseFilename } from '../pypi/names.js';
import { byteRange, ifRangeHolds, isFresh, sendPage } from './conditional.js';
import type { RouteOptions } from './simple.js';
import { findUpstreamPackage, sendUpstreamPackage } from './upstream.js';

type FileParams = { Params: { '*': string } };

/**
 * The project a file path belongs to: the indexed file's, else what its name says, so a login
 * outside a project's scope learns nothing of its files, not even which exist.
 */
export function projectOfPath(file: IndexedFile | undefined, rel: string): string | undefined {
  return file?.project ?? parseFilename(rel.split('/').pop() ?? rel)?.project;
}

function contentTypeOf(filename: string): string {
  return filename.toLowerCase().endsWith('.zip') ? 'application/zip' : 'application/octet-stream';
}

/**
 * Distribution files and their PEP 658 metadata. Only files the index knows are served, so no
 * spelling of `..`, encoded or not, can reach outside the root: the path is a key, never a path.
 */
export async function packageRoutes(app: FastifyInstance, { index, config, upstream }: RouteOptions): Promise<void> {
  app.get('/packages', { config: { action: 'list' } }, async (request, reply) => reply.redirect(`${request.basePath}/packages/`, 301));

  app.get('/packages/', { config: { action: 'list' } }, async (request, reply) =>
    sendPage(request, reply, index.pages.packages(), config.pageCacheControl),
  );

  // GET and HEAD declared together: Fastify's generated HEAD route would reset Content-Length to 0.
  app.route<FileParams>({
    method: ['GET', 'HEAD'],
    url: '/packages/*',
    config: { action: 'download' },
    // Synchronous for a file held in memory (the common case in a burst): see simple.ts.
    handler: (request, reply) => {
      const rel = request.params['*'];
      const file = index.file(rel);
      if (file) {
        request.authorize('download', file.project);
        return sendFile(request, reply, file);
      }
      return notLocal(request, reply, rel);
    },
  });

  async function notLocal(request: FastifyRequest, reply: FastifyReply, rel: string): Promise<FastifyReply> {
    const wheelRel = rel.endsWith('.metadata') ? rel.slice(0, -'.metadata'.length) : null;
    const wheel = wheelRel === null ? undefined : index.file(wheelRel);
    const project = projectOfPath(wheel, wheelRel ?? rel);
    if (project !== undefined) request.authorize('download', project);
    if (wheel?.metadataSha256) return sendMetadata(request, reply, wheel);
    // Not a local file: one of a project served from upstream, if any.
    const remote = upstream ? await findUpstreamPackage(upstream, rel) : null;
    if (upstream && remote) return sendUpstreamPackage(request, reply, upstream, remote, config.fileCacheControl);
    throw new Errors.FileNotFound(rel.split('/').pop() ?? rel);
  }

  async function sendMetadata(request: FastifyRequest, reply: FastifyReply, wheel: IndexedFile): Promise<FastifyReply> {
    const etag = `"${wheel.metadataSha256 ?? ''}"`;
    reply.header('etag', etag).header('cache-control', config.fileCacheControl);
    if (isFresh(request, { etag })) return reply.code(304).send();
    const data = await index.metadata(wheel);
    return reply.type('text/plain; charset=utf-8').send(data);
  }

  /** Undefined once sent; a promise while the bytes come from the volume. */
  function sendFile(request: FastifyRequest, reply: FastifyReply, file: IndexedFile): Promise<FastifyReply> | undefined {
    // The content hash is the ETag: strong, and the same on every task.
    const etag = `"${file.sha256}"`;
    const lastModified = httpDate(file.mtimeMs);
    reply
      .header('etag', etag)
      .header('last-modified', lastModified)
      .header('cache-control', config.fileCacheControl)
      .header('accept-ranges', 'bytes')
      .type(contentTypeOf(file.filename));
    if (isFresh(request, { etag, lastModified })) {
      reply.code(304).send();
      return;
    }

    let range: { start: number; end: number } | null = null;
    if (ifRangeHolds(request.headers['if-range'] as string | undefined, etag, file.mtimeMs)) {
      const r = byteRange(request.headers.range, file.size);
      if (r === 'unsatisfiable') {
        reply.header('content-range', `bytes */${file.size}`);
        throw new Errors.RangeNotSatisfiable(String(file.size));
      }
      range = r;
    }
    const length = range ? range.end - range.start + 1 : file.size;
    if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${file.size}`);
    reply.header('content-length', length);
    if (request.method === 'HEAD') {
      reply.send();
      return;
    }
    const held = index.heldBytes(file);
    if (held) {
      reply.send(range ? held.subarray(range.start, range.end + 1) : held);
      return;
    }
    return fromVolume(reply, file, range);
  }

  async function fromVolume(reply: FastifyReply, file: IndexedFile, range: { start: number; end: number } | null): Promise<FastifyReply> {
    const cached = await index.cachedBytes(file);
    if (cached) return reply.send(range ? cached.subarray(range.start, range.end + 1) : cached);
    return reply.send(await index.openFile(file, range ?? undefined));
  }
}

/** A file's Last-Modified: the same few mtimes are asked for by every request of a burst. */
const httpDates = new Map<number, string>();
function httpDate(ms: number): string {
  let date = httpDates.get(ms);
  if (date === undefined) {
    if (httpDates.size >= 4096) httpDates.clear();
    date = new Date(ms).toUTCString();
    httpDates.set(ms, date);
  }
  return date;
}
