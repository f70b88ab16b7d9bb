import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApp, type AccessDeps } from './app.js';
import { type Acl, parseAcl } from './auth/acl.js';
import { Credentials, type CredentialOptions } from './auth/credentials.js';
import { OidcVerifier } from './auth/oidc.js';
import { PasswordChecker } from './auth/password-checker.js';
import { LocalThrottle, type LoginThrottle } from './auth/throttle.js';
import { TokenLogins } from './auth/token-logins.js';
import {
  type TrustedPublisher,
  TrustedPublishing,
  loadTrustedPublishers,
  mergePublishers,
  parseTrustedPublishers,
} from './auth/trusted-publishers.js';
import { WatchedFile } from './auth/watched-file.js';
import { ConfigError, OPTIONS, type Config } from './config.js';
import { LiveIndex } from './index/live-index.js';
import { PackageIndex } from './index/package-index.js';
import { catalogMinAge, Refresher } from './index/refresher.js';
import { UpstreamProjects } from './index/upstream-projects.js';
import { appendAudit, type AuditStats } from './plugins/audit.js';
import type { OidcRouteOptions } from './routes/oidc.js';
import { AuditLog } from './store/audit-log.js';
import { readFresh } from './store/fs-util.js';
import { Revocations } from './store/revocations.js';
import { UpstreamCache } from './store/upstream-cache.js';
import { Volume } from './store/volume.js';
import { UpstreamClient } from './upstream/client.js';
import { version } from './version.js';
import type { Welcome } from './web/description.js';

/** One server process's parts, wired. main.ts runs it; tests build the same thing in-process. */
export interface Server {
  config: Config;
  volume: Volume;
  live: LiveIndex;
  index: PackageIndex;
  credentials: Credentials | null;
  /** Projects served from the upstream index, null without --upstream. */
  upstream: UpstreamProjects | null;
  /** API token logins; null without --token-key. */
  tokens: TokenLogins | null;
  app: FastifyInstance;
  /** First full scan of the volume. */
  load(): Promise<void>;
  /** Polls, periodic rescans, the watcher. */
  startRefreshing(): Promise<void>;
  /** Writes the volume's catalog if it lags behind this process's index (see store/catalog.ts). */
  saveCatalog(): Promise<unknown>;
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

const flags = (name: 'acl' | 'trustedPublishers'): string => `--${OPTIONS[name].flag} / ${OPTIONS[name].env}`;

function aclFile(config: Config, log: Logger, path: string): Promise<WatchedFile<Acl>> {
  return WatchedFile.load({
    file: path,
    what: 'the ACL file',
    parse: (text) => parseAcl(text, path),
    readFile: (f) => readFresh(f),
    interval: config.refreshInterval,
    log,
  });
}

function publishersFile(
  config: Config,
  log: Logger,
  path: string,
  onChange?: (publishers: TrustedPublisher[]) => void,
): Promise<WatchedFile<TrustedPublisher[]>> {
  const inline = config.trustedPublishersJson ? parseTrustedPublishers(config.trustedPublishersJson, 'the inline trusted publishers') : [];
  return WatchedFile.load({
    file: path,
    what: 'the trusted publishers file',
    parse: (text) => mergePublishers(parseTrustedPublishers(text, path), inline),
    readFile: (f) => readFresh(f),
    interval: config.refreshInterval,
    log,
    ...(onChange ? { onChange } : {}),
  });
}

/**
 * Reads the files the options name (ACL, trusted publishers, welcome text) once, so that one that cannot be
 * used stops the start with a message naming its option (exit code 2), before any worker is
 * forked.
 */
export async function checkConfigFiles(config: Config): Promise<void> {
  const log = pino({ level: 'silent' });
  const attempt = async (name: 'acl' | 'trustedPublishers', load: () => Promise<WatchedFile<unknown>>) => {
    try {
      (await load()).close();
    } catch (err) {
      throw new ConfigError(`${flags(name)}: ${(err as Error).message}`);
    }
  };
  if (config.acl !== null) {
    const path = config.acl;
    await attempt('acl', () => aclFile(config, log, path));
  }
  if (config.trustedPublishers !== null) {
    const path = config.trustedPublishers;
    await attempt('trustedPublishers', () => publishersFile(config, log, path));
  }
  await readWelcome(config.welcome);
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
    readOnlyRoots: config.extraRoots,
  });
  const live = new LiveIndex(volume, log.child({ part: 'index' }));
  const index = new PackageIndex(live, volume, {
    pageCacheBytes: config.pageCacheSize,
    hashAlgo: config.hashAlgo,
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

  const authLog = log.child({ part: 'auth' });
  const closers: (() => void | Promise<void>)[] = [];
  let access: AccessDeps;
  try {
    access = await accessParts(config, volume, live, credentials, authLog, closers);
  } catch (err) {
    for (const close of closers) await close();
    credentials?.close();
    await checker.close();
    throw err;
  }

  const app = await buildApp(config, {
    index,
    credentials,
    throttle: opts.throttle ?? new LocalThrottle(),
    welcome,
    access,
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
    for (const close of closers) await close();
  });

  return {
    config,
    volume,
    live,
    index,
    credentials,
    upstream: upstream?.projects ?? null,
    tokens: access.tokens,
    app,
    load: async () => {
      // Before the index is ready (requests are answered from then on), so no revoked token is
      // ever admitted; and after, for a revocation made while the volume was being scanned.
      await access.tokens?.refreshRevocations();
      await live.load();
      await access.tokens?.refreshRevocations();
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
    saveCatalog: () => live.saveCatalog(catalogMinAge(config.rescanInterval)),
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

/**
 * The parts of logins beyond the password file: API tokens (and the revocations they are checked
 * against), the ACL, trusted publishing, and this process's audit trail.
 */
async function accessParts(
  config: Config,
  volume: Volume,
  live: LiveIndex,
  credentials: Credentials | null,
  log: Logger,
  closers: (() => void | Promise<void>)[],
): Promise<AccessDeps> {
  const auditLog = new AuditLog(volume.root);
  closers.push(() => auditLog.close());
  const auditStats: AuditStats = { writes: 0, failures: 0 };

  let tokens: TokenLogins | null = null;
  if (config.tokenKey) {
    const revocations = new Revocations(volume.root);
    const logins = new TokenLogins({
      keyring: config.tokenKey,
      credentialTtl: config.credentialTtl,
      readRevoked: () => revocations.ids(),
      log,
    });
    // `wheelhouse token revoke` bumps the generation file: every process re-reads the list then.
    live.onNewGeneration(() => void logins.refreshRevocations());
    tokens = logins;
  }

  let acl: WatchedFile<Acl> | null = null;
  if (config.acl !== null) {
    try {
      acl = await aclFile(config, log, config.acl);
    } catch (err) {
      throw new ConfigError(`${flags('acl')}: ${(err as Error).message}`);
    }
    const watched = acl;
    closers.push(() => watched.close());
    for (const user of watched.value.users()) {
      if (credentials && !credentials.knows(user)) log.warn({ user }, 'a user named in the ACL has no password entry');
    }
  }

  let oidc: OidcRouteOptions | null = null;
  const mints: Record<string, number> = {};
  let verifier: OidcVerifier | null = null;
  if (config.tokenKey && (config.trustedPublishers !== null || config.trustedPublishersJson !== undefined)) {
    verifier = new OidcVerifier({ audience: config.oidcAudience, issuers: [] });
    // A re-read publishers file is swapped in; the verifier then trusts exactly its issuers.
    const holder: { publishing: TrustedPublishing | null } = { publishing: null };
    let publishers: TrustedPublisher[];
    if (config.trustedPublishers !== null) {
      let file: WatchedFile<TrustedPublisher[]>;
      try {
        file = await publishersFile(config, log, config.trustedPublishers, (p) => holder.publishing?.setPublishers(p));
      } catch (err) {
        throw new ConfigError(`${flags('trustedPublishers')}: ${(err as Error).message}`);
      }
      closers.push(() => file.close());
      publishers = file.value;
    } else {
      publishers = await loadTrustedPublishers({ inline: config.trustedPublishersJson ?? null }, (f) => readFresh(f));
    }
    const publishing = new TrustedPublishing({ verifier, keyring: config.tokenKey, publishers });
    holder.publishing = publishing;
    log.info({ publishers: publishers.length, audience: config.oidcAudience }, 'trusted publishing enabled');
    oidc = {
      audience: config.oidcAudience,
      async mint(jwt, client) {
        const result = await publishing.mint(jwt);
        const key = result.ok ? 'ok' : result.reason;
        mints[key] = (mints[key] ?? 0) + 1;
        if (result.ok) {
          const { minted } = result;
          await appendAudit(
            auditLog,
            auditStats,
            {
              action: 'mint',
              token: minted.id,
              projects: minted.projects,
              actor: minted.oidc ? { type: 'oidc', oidc: minted.oidc } : { type: 'anonymous' },
              client: client.ip,
            },
            log,
          );
        }
        return result;
      },
    };
  }

  const current = acl;
  return {
    tokens,
    acl: current ? () => current.value : () => null,
    audit: auditLog,
    auditStats,
    oidc,
    stats: { mints, oidc: verifier?.stats ?? null },
  };
}
