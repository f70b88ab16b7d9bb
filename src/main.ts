#!/usr/bin/env node
import cluster from 'node:cluster';
import { createRequire } from 'node:module';
import closeWithGrace from 'close-with-grace';
import { pino, type Logger } from 'pino';
import { buildApp } from './app.js';
import { Credentials } from './auth/credentials.js';
import { joinSiblings, supervise } from './cluster.js';
import { ConfigError, helpText, loadConfig, type Config } from './config.js';
import { PackageIndex } from './index/package-index.js';
import { Refresher } from './index/refresher.js';
import { PackageStore } from './store/store.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/**
 * A CI burst opens hundreds of connections in the same millisecond; Node's default backlog (511)
 * overflows and the kernel drops SYNs, which clients retry only after a second.
 */
const LISTEN_BACKLOG = 4096;

function makeLogger(config: Config): Logger {
  return pino({
    level: config.logLevel,
    base: { pid: process.pid },
    // Credentials travel in headers and URLs; neither is ever logged.
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'password'], censor: '[redacted]' },
  });
}

/**
 * The default policy (uploads need a login) with no users configured still starts, so a first
 * `npm start` serves packages; uploads are then refused with a message saying how to add users.
 */
async function loadCredentials(config: Config, log: Logger): Promise<Credentials | null> {
  if (config.authenticate.size === 0) return null;
  const anyUsers = config.passwords !== null || Boolean(config.htpasswd) || Boolean(config.username);
  if (!anyUsers && [...config.authenticate].every((a) => a === 'update')) {
    log.warn('no users configured (--passwords, WHEELHOUSE_USERNAME/WHEELHOUSE_PASSWORD): uploads are disabled');
    return null;
  }
  return Credentials.load(config, log.child({ part: 'auth' }));
}

/** One server process: load the index, keep it fresh, serve. */
async function serve(config: Config, log: Logger): Promise<void> {
  const store = new PackageStore(config.root, log.child({ part: 'store' }));
  const index: PackageIndex = new PackageIndex(store, {
    announceWrite: cluster.isWorker ? joinSiblings(() => index, log.child({ part: 'cluster' })) : undefined,
    pageCacheBytes: config.pageCacheSize,
    fileCacheBytes: config.fileCacheSize,
    fileCacheMaxFile: config.fileCacheMaxFile,
    log: log.child({ part: 'index' }),
  });
  const credentials = await loadCredentials(config, log);
  const app = await buildApp(config, { index, credentials, logger: log });
  const refresher = new Refresher(index, {
    refreshInterval: config.refreshInterval,
    rescanInterval: config.rescanInterval,
    watch: config.watch,
    incomingMaxAge: config.incomingMaxAge,
    log: log.child({ part: 'refresher' }),
  });
  app.addHook('onClose', async () => refresher.stop());

  closeWithGrace({ delay: config.shutdownTimeout }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    else log.info({ signal }, 'shutting down: draining connections');
    await app.close();
  });

  // A lone process listens first, so the ALB sees 503 "loading" rather than a refused connection
  // while a large volume is scanned. A cluster worker listens only once loaded: the primary
  // hands connections to every listening worker, and one still loading would answer them.
  const listen = () => app.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
  if (cluster.isPrimary) await listen();
  const started = performance.now();
  await index.load();
  await refresher.start();
  if (!cluster.isPrimary) await listen();
  log.info(
    {
      root: config.root,
      projects: index.snapshot.projects.size,
      files: index.snapshot.fileCount,
      loadMs: Math.round(performance.now() - started),
    },
    'index loaded',
  );
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText());
    return;
  }
  if (argv.includes('--version')) {
    console.log(version);
    return;
  }
  let config: Config;
  try {
    config = loadConfig(argv, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`wheelhouse: invalid configuration\n${err.message}\n\nSee wheelhouse --help.`);
      process.exit(2);
    }
    throw err;
  }
  const log = makeLogger(config);
  if (cluster.isPrimary && config.workers > 1) {
    log.info({ workers: config.workers, port: config.port, root: config.root, version }, 'starting wheelhouse');
    supervise(config, log);
    return;
  }
  try {
    await serve(config, log);
  } catch (err) {
    log.fatal({ err }, 'cannot start');
    process.exit(1);
  }
}

await main();
