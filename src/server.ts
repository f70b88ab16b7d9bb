import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApp } from './app.js';
import { Credentials, type CredentialOptions } from './auth/credentials.js';
import { PasswordChecker } from './auth/password-checker.js';
import { LocalThrottle, type LoginThrottle } from './auth/throttle.js';
import { ConfigError, type Config } from './config.js';
import { LiveIndex } from './index/live-index.js';
import { PackageIndex } from './index/package-index.js';
import { Refresher } from './index/refresher.js';
import { readFresh } from './store/fs-util.js';
import { Volume } from './store/volume.js';
import type { Welcome } from './web/description.js';

/** One server process's parts, wired. main.ts runs it; tests build the same thing in-process. */
export interface Server {
  config: Config;
  volume: Volume;
  live: LiveIndex;
  index: PackageIndex;
  credentials: Credentials | null;
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

/** A welcome page is a page of text: this is far more than one needs. */
const MAX_WELCOME = 256 * 1024;

/** The home page's text (--welcome), read once at start: HTML by its name, as pypiserver's welcome.html, else Markdown. */
export async function readWelcome(file: string | null): Promise<Welcome | null> {
  if (file === null) return null;
  try {
    const text = (await readFresh(file, MAX_WELCOME)).toString('utf8');
    return { text, format: /\.html?$/i.test(file) ? 'html' : 'markdown' };
  } catch (err) {
    throw new ConfigError(`--welcome / WHEELHOUSE_WELCOME: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** bcrypt in one thread per process at a time, and a short queue: the rest of a wave of guesses waits at the client. */
const CHECK_THREADS = 1;
const CHECK_QUEUE = 64;

export async function createServer(config: Config, opts: ServerOptions = {}): Promise<Server> {
  const log = opts.log ?? pino({ level: 'silent' });
  const welcome = await readWelcome(config.welcome);
  // sha256 and md5 are in every record; any other link hash is computed once per file and kept.
  const extraDigests = config.hashAlgo === null || config.hashAlgo === 'sha256' || config.hashAlgo === 'md5' ? [] : [config.hashAlgo];
  const volume = new Volume(config.root, log.child({ part: 'store' }), {
    followExternalLinks: config.followExternalLinks,
    extraDigests,
  });
  const live = new LiveIndex(volume, log.child({ part: 'index' }));
  const index = new PackageIndex(live, volume, {
    pageCacheBytes: config.pageCacheSize,
    hashAlgo: config.hashAlgo,
    fileCacheBytes: config.fileCacheSize,
    fileCacheMaxFile: config.fileCacheMaxFile,
    ...(opts.announceWrite ? { announceWrite: opts.announceWrite } : {}),
  });

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
    welcome,
    ...(opts.log ? { logger: opts.log } : {}),
  });
  const refresher = new Refresher(live, volume, {
    refreshInterval: config.refreshInterval,
    rescanInterval: config.rescanInterval,
    watch: config.watch,
    incomingMaxAge: config.incomingMaxAge,
    log: log.child({ part: 'refresher' }),
  });
  app.addHook('onClose', async () => {
    await refresher.stop();
    await checker.close();
  });

  return {
    config,
    volume,
    live,
    index,
    credentials,
    app,
    load: () => live.load(),
    startRefreshing: () => refresher.start(),
    close: () => app.close(),
  };
}
