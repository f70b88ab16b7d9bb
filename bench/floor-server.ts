/**
 * The Fastify floor: the bench's `fastify-floor` target. Fastify with the same worker count,
 * answering the reference profile's three requests from bytes in memory, with the login a string
 * comparison: no index, no cache, no hook, no metrics. What wheelhouse costs above it is its own
 * code; what this costs above nginx-sha is Node's HTTP server and Fastify, which stay.
 *
 * usage: tsx bench/floor-server.ts <static tree> <port> <workers> <user> <password>
 */
import cluster from 'node:cluster';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';

const [tree = '', port = '0', workers = '1', user = '', password = ''] = process.argv.slice(2);

if (cluster.isPrimary && Number(workers) > 1) {
  // As wheelhouse: the workers accept on the shared socket themselves.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (let i = 0; i < Number(workers); i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const pages = new Map<string, Buffer>();
  for (const project of readdirSync(join(tree, 'simple'), { withFileTypes: true })) {
    if (project.isDirectory()) pages.set(project.name, readFileSync(join(tree, 'simple', project.name, 'index.html')));
  }
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(join(tree, 'packages'))) files.set(name, readFileSync(join(tree, 'packages', name)));
  const login = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  const app = Fastify({ logger: false, keepAliveTimeout: 75_000 });
  type Params = { Params: { name: string } };
  // Synchronous handlers that return nothing: the cheapest answer Fastify has.
  const allowed = (request: FastifyRequest, reply: FastifyReply): boolean => {
    if (request.headers.authorization === login) return true;
    reply.code(401).send();
    return false;
  };
  app.get<Params>('/:name/', (request, reply) => {
    if (allowed(request, reply)) reply.redirect(`/simple/${request.params.name}/`, 303);
  });
  app.get<Params>('/simple/:name/', (request, reply) => {
    if (!allowed(request, reply)) return;
    const page = pages.get(request.params.name);
    if (page) reply.type('text/html; charset=utf-8').send(page);
    else reply.code(404).send();
  });
  app.get<Params>('/packages/:name', (request, reply) => {
    if (!allowed(request, reply)) return;
    const file = files.get(request.params.name);
    if (file) reply.type('application/octet-stream').send(file);
    else reply.code(404).send();
  });
  app.get('/health', (_request, reply) => {
    reply.send('ok');
  });
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
  await app.listen({ port: Number(port), host: '127.0.0.1' });
}
