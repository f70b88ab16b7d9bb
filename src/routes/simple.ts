import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { Errors } from '../errors.js';
import type { PackageIndex } from '../index/package-index.js';
import type { UpstreamProjects } from '../index/upstream-projects.js';
import { negotiate, type PageFormat } from '../pypi/negotiate.js';
import { normalizeName } from '../pypi/names.js';
import type { Welcome } from '../web/description.js';
import { sendPage } from './conditional.js';

export interface RouteOptions {
  index: PackageIndex;
  config: Config;
  /** The home page's text (--welcome), read at start; null or absent for none. */
  welcome?: Welcome | null;
  /** Projects served from the upstream index (--upstream): consulted only for names with no local file. */
  upstream?: UpstreamProjects | null;
}

type FormatQuery = { Querystring: { format?: string } };
type ProjectParams = FormatQuery & { Params: { project: string } };

const querySchema = { type: 'object', properties: { format: { type: 'string' } } } as const;
const projectSchema = {
  querystring: querySchema,
  params: { type: 'object', properties: { project: { type: 'string', maxLength: 200 } }, required: ['project'] },
} as const;

function pickFormat(request: FastifyRequest<FormatQuery>): PageFormat {
  // `?format=application/vnd.pypi.simple.v1+json` typed unencoded decodes its '+' as a space.
  const format = negotiate(request.headers.accept, request.query.format?.replace(/ /g, '+'));
  if (format === 'bad-format') throw new Errors.BadFormat(request.query.format ?? '');
  if (format === null) throw new Errors.NotAcceptable();
  return format;
}

function queryString(request: FastifyRequest): string {
  const q = request.url.indexOf('?');
  return q === -1 ? '' : request.url.slice(q);
}

/** The simple repository API: PEP 503 HTML and PEP 691 JSON, negotiated. */
export async function simpleRoutes(app: FastifyInstance, { index, config, upstream }: RouteOptions): Promise<void> {
  const list = { action: 'list' as const };

  app.get('/simple', { config: list }, async (request, reply) => reply.redirect(`${request.basePath}/simple/${queryString(request)}`, 301));

  app.get<FormatQuery>('/simple/', { config: list, schema: { querystring: querySchema } }, async (request, reply) =>
    sendPage(request, reply, index.pages.root(pickFormat(request)), config.pageCacheControl),
  );

  // Missing slash or a non-normalized name: one 301 to the canonical URL (PEP 503).
  app.get<ProjectParams>('/simple/:project', { config: list, schema: projectSchema }, async (request, reply) =>
    reply.redirect(`${request.basePath}/simple/${encodeURIComponent(normalizeName(request.params.project))}/${queryString(request)}`, 301),
  );

  // Synchronous for a local project: an async handler costs every request a promise and the
  // adoption of the reply as a thenable, which shows in a burst of 510 clients.
  app.get<ProjectParams>('/simple/:project/', { config: list, schema: projectSchema }, (request, reply) => {
    const name = normalizeName(request.params.project);
    if (name !== request.params.project) {
      reply.redirect(`${request.basePath}/simple/${encodeURIComponent(name)}/${queryString(request)}`, 301);
      return;
    }
    request.authorize('download', name);
    const project = index.project(name);
    if (project) {
      sendPage(request, reply, index.pages.project(project, pickFormat(request)), config.pageCacheControl);
      return;
    }
    if (!upstream) {
      notFound(reply, name, config);
      return;
    }
    // Negotiated first: a request no page can answer costs the upstream nothing.
    const format = pickFormat(request);
    return upstream
      .project(name)
      .then((remote) =>
        remote ? sendPage(request, reply, upstream.page(remote, format), config.pageCacheControl) : notFound(reply, name, config),
      );
  });
}

/** Unknown project: 404 (pip then says "no matching distribution"), or the operator's fallback index when one is configured. */
function notFound(reply: FastifyReply, name: string, config: Config): FastifyReply {
  if (config.fallbackUrl) {
    return reply.redirect(`${config.fallbackUrl.replace(/\/+$/, '')}/${encodeURIComponent(name)}/`, 303);
  }
  throw new Errors.ProjectNotFound(name);
}
