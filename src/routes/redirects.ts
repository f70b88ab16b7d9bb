import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeName } from '../pypi/names.js';

type Params = { Params: { project: string } };

/**
 * pypiserver's dance: `GET /<project>/` answers 303 (302 for HTTP/1.0) to the simple page, for
 * CI scripts that point pip at the server root. Normalized here so it costs one hop, not two.
 * It needs no login, like pypiserver's: the page it points to checks.
 */
export async function redirectRoutes(app: FastifyInstance): Promise<void> {
  // Synchronous: the first request of every client in a burst comes here (see simple.ts).
  const dance = (request: FastifyRequest<Params>, reply: FastifyReply): void => {
    reply.redirect(
      `${request.basePath}/simple/${encodeURIComponent(normalizeName(request.params.project))}/`,
      request.raw.httpVersion === '1.0' ? 302 : 303,
    );
  };
  const schema = {
    params: { type: 'object', properties: { project: { type: 'string', maxLength: 200 } }, required: ['project'] },
  } as const;
  app.get<Params>('/:project/', { schema }, dance);
  app.get<Params>('/:project', { schema }, dance);
}
