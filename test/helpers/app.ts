import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { PackageIndex } from '../../src/index/package-index.js';
import { PackageStore } from '../../src/store/store.js';

const quiet = { info() {}, warn() {}, error() {} };

/** The real app over a real directory, in-process, for inject() tests. */
export async function buildTestApp(
  root: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ app: FastifyInstance; index: PackageIndex; config: Config }> {
  const config = loadConfig(['--root', root, '--authenticate', '.', '--passwords', '.', ...args], env);
  const index = new PackageIndex(new PackageStore(config.root), {
    pageCacheBytes: config.pageCacheSize,
    fileCacheBytes: config.fileCacheSize,
    fileCacheMaxFile: config.fileCacheMaxFile,
    log: quiet,
  });
  await index.load();
  const app = await buildApp(config, { index });
  return { app, index, config };
}
