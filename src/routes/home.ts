import type { FastifyInstance } from 'fastify';
import { version } from '../version.js';
import { sendPage } from './conditional.js';
import { originOf } from './origin.js';
import type { RouteOptions } from './simple.js';

/** `GET /`: a page for people: the projects, and how to point pip, twine and poetry here. */
export async function homeRoutes(app: FastifyInstance, { index, config }: RouteOptions): Promise<void> {
  app.get('/', { config: { action: 'list' } }, async (request, reply) =>
    sendPage(request, reply, index.pages.welcome(originOf(request), version), config.pageCacheControl),
  );
  app.get('/favicon.ico', async (_request, reply) => reply.code(404).send());
}
