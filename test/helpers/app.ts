import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/config.js';
import type { LiveIndex } from '../../src/index/live-index.js';
import type { PackageIndex } from '../../src/index/package-index.js';
import { createServer, type Server } from '../../src/server.js';

/** The real app over a real directory, in-process, for inject() tests: the same wiring as main.ts, loaded, without timers. */
export async function buildTestApp(
  root: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ app: FastifyInstance; index: PackageIndex; live: LiveIndex; config: Config; server: Server }> {
  const config = loadConfig(['--root', root, '--authenticate', '.', '--passwords', '.', ...args], env);
  const server = await createServer(config);
  await server.load();
  return { app: server.app, index: server.index, live: server.live, config, server };
}
