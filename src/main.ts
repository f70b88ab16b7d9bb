#!/usr/bin/env node
import cluster from 'node:cluster';
import closeWithGrace from 'close-with-grace';
import { pino, type Logger, type LoggerOptions } from 'pino';
import { runAuditCommand } from './cli/audit.js';
import { runTokenCommand } from './cli/token.js';
import { supervise } from './cluster/primary.js';
import { awaitStart, ClusterThrottle, joinSiblings, tellLoaded } from './cluster/worker.js';
import { ConfigError, helpText, loadConfig, type Config } from './config.js';
import type { LiveIndex } from './index/live-index.js';
import { version } from './version.js';

/**
 * A CI burst opens hundreds of connections in the same millisecond; Node's default backlog (511)
 * overflows and the kernel drops SYNs, which clients retry only after a second.
 */
const LISTEN_BACKLOG = 4096;

async function makeLogger(config: Config): Promise<Logger> {
  const options: LoggerOptions = {
    level: config.logLevel,
    base: { pid: process.pid },
    // Credentials travel in headers and URLs; neither is ever logged.
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'password'], censor: '[redacted]' },
  };
  if (config.logFormat === 'json') return pino(options);
  // Loaded only when asked for. Written from this thread, line by line, so nothing is lost when
  // the process exits on an error (a transport's worker thread may still hold its last lines).
  const { default: pretty } = await import('pino-pretty');
  const stream = pretty({
    colorize: process.stdout.isTTY,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'hostname',
    sync: true,
  });
  return pino(options, stream);
}

/** One server process: listen, load the index, keep it fresh, serve. */
async function serve(config: Config, log: Logger): Promise<void> {
  // Imported here, not at the top: the cluster primary never serves, and loading the whole server
  // there would delay the first worker (the one the container's health check waits for).
  const { createServer } = await import('./server.js');
  let live: LiveIndex | null = null;
  const server = await createServer(config, {
    log,
    ...(cluster.isWorker
      ? { announceWrite: joinSiblings(() => live, log.child({ part: 'cluster' })), throttle: new ClusterThrottle() }
      : {}),
  });
  live = server.live;

  closeWithGrace({ delay: config.shutdownTimeout }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    else log.info({ signal }, 'shutting down: draining connections');
    await server.close();
  });

  // Listening first means the ALB and the container's probe see 503 "loading" (with progress)
  // rather than a refused connection while a large volume is scanned. In a cluster the primary
  // says which worker does that; the others load first (see cluster/primary.ts), or the kernel
  // would hand them connections they could only answer with 503.
  const listen = () => server.app.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
  const { listenFirst } = cluster.isWorker ? await awaitStart() : { listenFirst: true };
  if (listenFirst) await listen();
  const started = performance.now();
  await server.load();
  await server.startRefreshing();
  if (!listenFirst) await listen();
  const status = server.index.status();
  log.info(
    { root: config.root, projects: status.projects, files: status.files, loadMs: Math.round(performance.now() - started) },
    'index loaded',
  );
  // Before the other workers start: they load from the catalog, not from one sidecar per file.
  await server.saveCatalog();
  if (cluster.isWorker) tellLoaded();
}

/** `wheelhouse token ...` and `wheelhouse audit ...`: commands for people, beside the server. */
const COMMANDS: Record<string, typeof runTokenCommand> = { token: runTokenCommand, audit: runAuditCommand };

function invalid(err: ConfigError): never {
  console.error(`wheelhouse: invalid configuration\n${err.message}\n\nSee wheelhouse --help.`);
  process.exit(2);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const command = argv[0] === undefined ? undefined : COMMANDS[argv[0]];
  if (command) {
    process.exitCode = await command(
      argv.slice(1),
      process.env,
      (s) => console.log(s),
      (s) => console.error(s),
    );
    return;
  }
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
    if (err instanceof ConfigError) invalid(err);
    throw err;
  }
  // The files the options name are read once here, so that one that cannot be used stops the
  // start with exit code 2 before any worker is forked (a worker failing at start is replaced).
  try {
    if (cluster.isPrimary && (config.acl !== null || config.trustedPublishers !== null || config.welcome !== null)) {
      // Loaded only when a file is named: the primary of a cluster does not otherwise need the server.
      const { checkConfigFiles } = await import('./server.js');
      await checkConfigFiles(config);
    }
  } catch (err) {
    if (err instanceof ConfigError) invalid(err);
    throw err;
  }
  const log = await makeLogger(config);
  if (cluster.isPrimary && config.workers > 1) {
    log.info({ workers: config.workers, port: config.port, root: config.root, version }, 'starting wheelhouse');
    supervise(config, log);
    return;
  }
  try {
    await serve(config, log);
  } catch (err) {
    if (err instanceof ConfigError) invalid(err);
    log.fatal({ err }, 'cannot start');
    process.exit(1);
  }
}

await main();
