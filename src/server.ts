import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApp } from './app.js';
import { Credentials, type CredentialOptions } from './auth/credentials.js';
import { PasswordChecker } from './auth/password-checker.js';
import { LocalThrottle, type LoginThrottle } from './auth/throttle.js';
import type { Config } from './config.js';
import { LiveIndex } from './index/live-index.js';
import { PackageIndex } from './index/package-index.js';
import { Refresher } from './index/refresher.js';
import { UpstreamProjects } from './index/upstream-projects.js';
import { readFresh } from './store/fs-util.js';
import { UpstreamCache } from './store/upstream-cache.js';
import { Volume } from './store/volume.js';
import { UpstreamClient } from './upstream/client.js';
import { version } from './version.js';

/** One server process's parts, wired. main.ts runs it; tests build the same thing in-process. */
export interface Server {
  config: Config;
  volume: Volume;
  live: LiveIndex;
  index: PackageIndex;
  credentials: Credentials | null;
  /** Projects served from the upstream index, null without --upstream. */
  upstream: UpstreamProjects | null;
  app: FastifyInstance;
  /** First full scan of the volume. */
  load(): Promise<void>;
  /** Polls, periodic rescans, the watcher. */
  startRefreshing(): Promise<void>;
  close(): Promise<void>;
}

export interface ServerOptions {
  log?: Logger;
  /** Awaited after each write: cluster workers make their siblings catch up (see cluster/). */
  announceWrite?: () => Promise<void>;
  /** The cluster primary's throttle for a worker; a process of its own keeps one itself. */
  throttle?: LoginThrottle;
}

/** What Credentials needs of the configuration, and nothing more. */
export function credentialOptions(config: Config): CredentialOptions {
  return {
    passwordsFile: config.passwords,
    htpasswd: config.htpasswd,
    username: config.username,
    password: config.password,
    uploaders: config.uploaders,
    credentialTtl: config.credentialTtl,
    refreshInterval: config.refreshInterval,
  };
}

/** bcrypt in one thread per process at a time, and a short queue: the rest of a wave of guesses waits at the client. */
const CHECK_THREADS = 1;
const CHECK_QUEUE = 64;

export async function createServer(config: Config, opts: ServerOptions = {}): Promise<Server> {
  const log = opts.log ?? pino({ level: 'silent' });
  const volume = new Volume(config.root, log.child({ part: 'store' }), { followExternalLinks: config.followExternalLinks });
  const live = new LiveIndex(volume, log.child({ part: 'index' }));
  const index = new PackageIndex(live, volume, {
    pageCacheBytes: config.pageCacheSize,
    fileCacheBytes: config.fileCacheSize,
    fileCacheMaxFile: config.fileCacheMaxFile,
    ...(opts.announceWrite ? { announceWrite: opts.announceWrite } : {}),
  });

  const upstream = config.upstream ? makeUpstream(config, index, log) : null;

  const checker = new PasswordChecker({ threads: CHECK_THREADS, maxQueued: CHECK_QUEUE });
  let credentials: Credentials | null = null;
  try {
    if (config.auth.hasUsers && config.auth.required.size > 0) {
      credentials = await Credentials.load(credentialOptions(config), {
        readFile: (f) => readFresh(f),
        checker,
        log: log.child({ part: 'auth' }),
      });
    } else if (config.auth.uploadsDisabled) {
      log.warn('no users configured (--passwords, WHEELHOUSE_USERNAME/WHEELHOUSE_PASSWORD): uploads are disabled');
    }
  } catch (err) {
    await checker.close();
    throw err;
  }

  const app = await buildApp(config, {
    index,
    credentials,
    throttle: opts.throttle ?? new LocalThrottle(),
    ...(opts.log ? { logger: opts.log } : {}),
    upstream: upstream ? { projects: upstream.projects, cacheStats: () => upstream.cache.stats() } : null,
  });
  const refresher = new Refresher(live, volume, {
    refreshInterval: config.refreshInterval,
    rescanInterval: config.rescanInterval,
    watch: config.watch,
    incomingMaxAge: config.incomingMaxAge,
    log: log.child({ part: 'refresher' }),
  });
  let upstreamRescans: NodeJS.Timeout | null = null;
  app.addHook('onClose', async () => {
    if (upstreamRescans) clearInterval(upstreamRescans);
    await refresher.stop();
    await checker.close();
  });

  return {
    config,
    volume,
    live,
    index,
    credentials,
    upstream: upstream?.projects ?? null,
    app,
    load: async () => {
      await live.load();
      await upstream?.init();
    },
    startRefreshing: async () => {
      await refresher.start();
      if (upstream) {
        // Files other tasks cached or evicted: caught up with at the pace of the volume's full rescans.
        upstreamRescans = setInterval(() => void upstream.rescan(), config.rescanInterval);
        upstreamRescans.unref();
      }
    },
    close: () => app.close(),
  };
}

/** The upstream index's parts: the client, the cache on the volume, and what the routes see. */
function makeUpstream(config: Config, index: PackageIndex, log: Logger) {
  const upstreamLog = log.child({ part: 'upstream' });
  const client = new UpstreamClient({
    url: config.upstream ?? '',
    credentials: config.upstreamCredentials ?? null,
    timeoutMs: config.upstreamTimeout,
    userAgent: `wheelhouse/${version}`,
  });
  const cache = new UpstreamCache(config.root, { maxBytes: config.upstreamCacheMaxSize, log: upstreamLog });
  const projects = new UpstreamProjects({
    source: client,
    store: cache,
    pages: index.pages.cache,
    isLocal: (name) => index.project(name) !== undefined,
    deny: config.upstreamDeny,
    ttlMs: config.upstreamTtl,
    negativeTtlMs: config.upstreamNegativeTtl,
    retryAfterMs: config.upstreamRetryAfter,
    offline: config.upstreamOffline,
    held: (key, load) => index.held(key, load),
    heldMaxBytes: config.fileCacheMaxFile,
    memoryBytes: config.pageCacheSize,
    log: upstreamLog,
  });
  return {
    projects,
    cache,
    async init(): Promise<void> {
      try {
        await cache.init();
      } catch (err) {
        // Pages are still served from memory and upstream; files fail until the volume can be written.
        upstreamLog.error({ err }, 'the upstream cache on the volume cannot be set up');
      }
      upstreamLog.info({ upstream: client.indexUrl, offline: config.upstreamOffline, cached: cache.stats() }, 'upstream index configured');
    },
    async rescan(): Promise<void> {
      try {
        await cache.rescan();
      } catch (err) {
        upstreamLog.warn({ err }, 'rescan of the upstream cache failed');
      }
    },
  };
}
