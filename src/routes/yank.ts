import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../errors.js';
import { normalizeName } from '../pypi/names.js';
import { findVersion } from '../pypi/versions.js';
import type { RouteOptions } from './simple.js';

type Params = { Params: { project: string; version: string }; Body: { reason?: string } | undefined };

/**
 * Yank and un-yank a release (PEP 592). Not part of any standard upload API, so a small one:
 *   PUT    /api/yank/<project>/<version>   {"reason": "..."} (optional)
 *   DELETE /api/yank/<project>/<version>
 * Installers then skip the release unless it is pinned with ==.
 */
export async function yankRoutes(app: FastifyInstance, { index }: RouteOptions): Promise<void> {
  const schema = {
    params: {
      type: 'object',
      properties: { project: { type: 'string', maxLength: 200 }, version: { type: 'string', maxLength: 100 } },
      required: ['project', 'version'],
    },
    body: { type: ['object', 'null'], properties: { reason: { type: 'string', maxLength: 1000 } }, additionalProperties: false },
  } as const;

  const handler = (yank: boolean) => async (request: FastifyRequest<Params>, reply: FastifyReply) => {
    const name = normalizeName(request.params.project);
    request.authorize('yank', name);
    const project = index.project(name);
    const version = project && findVersion(project.versions, request.params.version);
    if (!project || !version) throw new Errors.VersionNotFound(name, request.params.version);
    const reason = yank ? (request.body?.reason ?? '') : null;
    await index.yank(name, version, reason);
    request.log.info({ project: name, version, yanked: yank, user: request.user }, yank ? 'release yanked' : 'release un-yanked');
    await request.audit({ action: yank ? 'yank' : 'unyank', project: name, version, ...(reason ? { reason } : {}) });
    return reply.send({ project: name, version, yanked: yank, reason });
  };

  const config = { action: 'update', writes: ['yank'] } as const;
  app.put<Params>('/api/yank/:project/:version', { config, schema }, handler(true));
  app.delete<Params>('/api/yank/:project/:version', { config, schema: { params: schema.params } }, handler(false));
}
