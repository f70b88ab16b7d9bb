import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Errors } from '../errors.js';
import { infoFile, renderWarehouseJson } from '../index/render.js';
import { normalizeName } from '../pypi/names.js';
import { sameVersion } from '../pypi/versions.js';
import type { RouteOptions } from './simple.js';

type Params = { Params: { project: string; version?: string } };

function baseUrl(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/**
 * Warehouse's JSON API (R30, R31), for renovate, dependabot, pip-audit and people. Also at
 * pypiserver's `/<project>/json`, whose users read `info.version` and `releases[v][].url`.
 */
export async function projectJsonRoutes(app: FastifyInstance, { index }: RouteOptions): Promise<void> {
  const config = { action: 'list' as const };

  const handler = (prefix: string) => async (request: FastifyRequest<Params>, reply: import('fastify').FastifyReply) => {
    const { project: raw, version } = request.params;
    const name = normalizeName(raw);
    if (name !== raw) {
      return reply.redirect(`${prefix}/${encodeURIComponent(name)}/${version ? `${encodeURIComponent(version)}/` : ''}json`, 301);
    }
    const project = index.project(name);
    if (!project) throw new Errors.ProjectNotFound(name);
    let shown: string | undefined;
    if (version !== undefined) {
      shown = project.versions.find((v) => v === version) ?? project.versions.find((v) => sameVersion(v, version));
      if (!shown) throw new Errors.VersionNotFound(name, version);
    }
    const source = infoFile(project, shown ?? project.latest);
    const description = source ? await index.description(source) : null;
    return reply
      .type('application/json')
      .header('cache-control', 'max-age=0, must-revalidate')
      .send(renderWarehouseJson(project, baseUrl(request), shown, description));
  };

  app.get<Params>('/pypi/:project/json', { config }, handler('/pypi'));
  app.get<Params>('/pypi/:project/json/', { config }, handler('/pypi'));
  app.get<Params>('/pypi/:project/:version/json', { config }, handler('/pypi'));
  app.get<Params>('/:project/json', { config }, handler(''));
}
