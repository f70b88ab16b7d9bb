import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import { renderWelcome } from '../index/render.js';
import type { RouteOptions } from './simple.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** `GET /`: a page for people: the projects, and how to point pip, twine and poetry here. */
export async function homeRoutes(app: FastifyInstance, { index }: RouteOptions): Promise<void> {
  app.get('/', { config: { action: 'list' } }, async (request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'max-age=0, must-revalidate')
      .send(renderWelcome(index.snapshot, `${request.protocol}://${request.host}`, version)),
  );
  app.get('/favicon.ico', async (_request, reply) => reply.code(404).send());
}
