/**
 * The floors: the bench's `fastify-floor` and `node-floor` targets. Fastify, or Node's HTTP
 * server with no framework, with the same worker count, answering the reference profile's three
 * requests from bytes in memory, with the login a string comparison: no index, no cache, no hook,
 * no metrics. What wheelhouse costs above the Fastify floor is its own code; what the Fastify floor
 * costs above the Node floor is Fastify; what the Node floor costs above nginx-sha is Node's HTTP
 * server, which any server on Node pays.
 *
 * usage: tsx bench/floor-server.ts <fastify|node> <static tree> <port> <workers> <user> <password>
 */
import cluster from 'node:cluster';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';

const [kind = 'fastify', tree = '', port = '0', workers = '1', user = '', password = ''] = process.argv.slice(2);
const KEEP_ALIVE_MS = 75_000;

if (kind !== 'fastify' && kind !== 'node') throw new Error(`floor-server: unknown kind ${kind} (fastify or node)`);

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
  if (kind === 'node') await serveWithNode(pages, files, login);
  else await serveWithFastify(pages, files, login);
}

async function serveWithFastify(pages: Map<string, Buffer>, files: Map<string, Buffer>, login: string): Promise<void> {
  const app = Fastify({ logger: false, keepAliveTimeout: KEEP_ALIVE_MS });
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

async function serveWithNode(pages: Map<string, Buffer>, files: Map<string, Buffer>, login: string): Promise<void> {
  const SIMPLE = '/simple/';
  const PACKAGES = '/packages/';
  const EMPTY = Buffer.alloc(0);
  const html = 'text/html; charset=utf-8';
  const binary = 'application/octet-stream';
  // The routing is three prefix tests, the least any server with these URLs can do.
  const answer = (req: IncomingMessage): [status: number, type: string, body: Buffer, location?: string] => {
    const url = req.url ?? '/';
    if (url === '/health') return [200, 'text/plain', Buffer.from('ok')];
    if (req.headers.authorization !== login) return [401, 'text/plain', EMPTY];
    if (url.startsWith(SIMPLE) && url.endsWith('/')) {
      const page = pages.get(url.slice(SIMPLE.length, -1));
      return page ? [200, html, page] : [404, 'text/plain', EMPTY];
    }
    if (url.startsWith(PACKAGES)) {
      const file = files.get(url.slice(PACKAGES.length));
      return file ? [200, binary, file] : [404, 'text/plain', EMPTY];
    }
    if (url.endsWith('/') && url.indexOf('/', 1) === url.length - 1) return [303, 'text/plain', EMPTY, `${SIMPLE}${url.slice(1)}`];
    return [404, 'text/plain', EMPTY];
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const [status, type, body, location] = answer(req);
    const headers: Record<string, string | number> = { 'content-type': type, 'content-length': body.length };
    if (location !== undefined) headers.location = location;
    res.writeHead(status, headers).end(body);
  };
  const server = createServer(handle);
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
  await new Promise<void>((resolve) => server.listen(Number(port), '127.0.0.1', resolve));
}
