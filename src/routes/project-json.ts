import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../errors.js';
import { normalizeName } from '../pypi/names.js';
import { infoFile, renderWarehouseJson } from '../pypi/render.js';
import { renderUpstreamWarehouseJson } from '../pypi/upstream-render.js';
import { findVersion } from '../pypi/versions.js';
import { baseUrlOf } from './origin.js';
import type { RouteOptions } from './simple.js';

type Params = { Params: { project: string; version?: string } };

/**
 * Warehouse's JSON API, for renovate, dependabot, pip-audit and people. Also at pypiserver's
 * `/<project>/json`, whose users read `info.version` and `releases[v][].url`.
 */
export async function projectJsonRoutes(app: FastifyInstance, { index, config, upstream }: RouteOptions): Promise<void> {
  const list = { action: 'list' as const };

  const handler = (prefix: string) => async (request: FastifyRequest<Params>, reply: FastifyReply) => {
    const { project: raw, version } = request.params;
    const name = normalizeName(raw);
    if (name !== raw) {
      const to = `${request.basePath}${prefix}/${encodeURIComponent(name)}/${version ? `${encodeURIComponent(version)}/` : ''}json`;
      return reply.redirect(to, 301);
    }
    request.authorize('download', name);
    const project = index.project(name);
    if (!project) {
      const remote = upstream ? await upstream.project(name) : null;
      if (!remote) throw new Errors.ProjectNotFound(name);
      const remoteVersion = version === undefined ? undefined : findVersion(remote.versions, version);
      if (version !== undefined && remoteVersion === undefined) throw new Errors.VersionNotFound(name, version);
      return reply
        .type('application/json')
        .header('cache-control', config.pageCacheControl)
        .send(renderUpstreamWarehouseJson(remote, baseUrlOf(request), remoteVersion));
    }
    let shown: string | undefined;
    if (version !== undefined) {
      shown = findVersion(project.versions, version);
      if (!shown) throw new Errors.VersionNotFound(name, version);
    }
    const source = infoFile(project, shown ?? project.latest);
    const description = source ? await index.description(source) : null;
    return reply
      .type('application/json')
      .header('cache-control', config.pageCacheControl)
      .send(renderWarehouseJson(project, baseUrlOf(request), shown, description));
  };

  app.get<Params>('/pypi/:project/json', { config: list }, handler('/pypi'));
  app.get<Params>('/pypi/:project/json/', { config: list }, handler('/pypi'));
  app.get<Params>('/pypi/:project/:version/json', { config: list }, handler('/pypi'));
  app.get<Params>('/:project/json', { config: list }, handler(''));
}
