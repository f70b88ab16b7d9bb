import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { TokenKeyring } from './auth/api-tokens.js';
import { parseTrustedPublishers } from './auth/trusted-publishers.js';
import { ProjectMatcher } from './pypi/project-patterns.js';
import { LINK_HASHES, type LinkHash } from './pypi/render.js';

/** The actions a login can be required for, as pypiserver's `-a` names them. */
export const ACTIONS = ['download', 'list', 'update'] as const;
export type Action = (typeof ACTIONS)[number];

/** A duration: `500ms`, `1s`, `5m`, `2h`, or a bare number of seconds (handy in ECS task definitions). */
const duration = z.union([z.number(), z.string()]).transform((raw, ctx) => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(String(raw));
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 500ms, 1s, 5m (got "${raw}")` });
    return z.NEVER;
  }
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's').toLowerCase() as 'ms'];
  return Math.round(Number(m[1]) * factor);
});

/** A size in bytes: `1GiB`, `64MiB`, `512k`, or a bare number of bytes. */
const size = z.union([z.number(), z.string()]).transform((raw, ctx) => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(String(raw));
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `expected a size like 1GiB, 64MiB, 4096 (got "${raw}")` });
    return z.NEVER;
  }
  const unit = (m[2] ?? 'b').toLowerCase()[0] as 'b' | 'k' | 'm' | 'g';
  return Math.round(Number(m[1]) * { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit]);
});

const bool = z.union([z.boolean(), z.string()]).transform((raw, ctx) => {
  if (typeof raw === 'boolean') return raw;
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  ctx.addIssue({ code: 'custom', message: `expected true or false (got "${raw}")` });
  return z.NEVER;
});

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** `download,list,update` or `.` for none, case-insensitive (pypiserver's `-a`). */
const actions = z.string().transform((raw, ctx) => {
  const v = raw.trim();
  if (v === '.') return new Set<Action>();
  const out = new Set<Action>();
  for (const part of v.split(/[\s,]+/).filter(Boolean)) {
    const a = part.toLowerCase();
    if (!(ACTIONS as readonly string[]).includes(a)) {
      ctx.addIssue({ code: 'custom', message: `unknown action "${part}": use a comma list of ${ACTIONS.join(', ')}, or "." for none` });
      return z.NEVER;
    }
    out.add(a as Action);
  }
  return out;
});

/**
 * Which proxies' X-Forwarded-For to believe. An ALB appends the address it saw to whatever the
 * client sent, so only the right-most entries are trustworthy: trusting every hop would let any
 * client choose its address (and so dodge the login throttle or get another address throttled).
 */
export type TrustProxy = false | number | string[];

const trustProxy = z.string().transform((raw, ctx): TrustProxy => {
  const v = raw.trim().toLowerCase();
  if (v === 'false' || v === '0' || v === 'off' || v === 'no' || v === '') return false;
  if (v === 'true') {
    ctx.addIssue({
      code: 'custom',
      message:
        'true would trust every X-Forwarded-For entry, which a client can forge: ' +
        'give the number of proxies (1 for one load balancer) or their addresses',
    });
    return z.NEVER;
  }
  if (/^\d+$/.test(v)) return Number(v);
  const list = v.split(/[\s,]+/).filter(Boolean);
  const bad = list.find((a) => !/^[0-9a-f:.]+(\/\d{1,3})?$/.test(a));
  if (bad !== undefined) {
    ctx.addIssue({ code: 'custom', message: `"${bad}" is not an address or CIDR; expected a hop count, addresses/CIDRs, or false` });
    return z.NEVER;
  }
  return list;
});

/** A URL path of plain segments: what a prefix or a route may be made of (no dot segments, no escapes). */
const PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._~-]+)+$/;

/** `/pypi`, `pypi/` and `/pypi/` alike become `/pypi`; nothing, `/` or '' is no prefix. */
const basePath = z
  .string()
  .optional()
  .transform((raw, ctx) => {
    const trimmed = (raw ?? '').trim().replace(/\/+$/, '');
    if (trimmed === '') return '';
    const v = trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
    if (!PATH.test(v)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a path such as /pypi: segments of letters, digits and . _ ~ - (got "${raw ?? ''}")`,
      });
      return z.NEVER;
    }
    return v;
  });

/**
 * URLs of the index itself a health path must not take: the first segment of each route group,
 * and pypiserver's `/<project>/json`.
 */
const RESERVED_SEGMENTS = ['simple', 'packages', 'pypi', 'project', 'search', 'static', 'api', 'legacy', 'metrics', '_', 'favicon.ico'];

const healthEndpoint = z.string().transform((raw, ctx) => {
  const v = raw.trim();
  if (!PATH.test(v)) {
    ctx.addIssue({ code: 'custom', message: `expected a path such as /health or /healthz (got "${raw}")` });
    return z.NEVER;
  }
  const segments = v.split('/').slice(1);
  if (RESERVED_SEGMENTS.includes(segments[0] ?? '') || (segments.length === 2 && segments[1] === 'json')) {
    ctx.addIssue({ code: 'custom', message: `${v} is a URL of the index itself; pick another path, such as /health or /healthz` });
    return z.NEVER;
  }
  return v;
});

/** A hash name, or null for no fragment (pypiserver's `off`, `no`, `false`, `0`). */
const hashAlgo = z.string().transform((raw, ctx): LinkHash | null => {
  const v = raw.trim().toLowerCase();
  if (['off', 'no', 'false', '0', 'none'].includes(v)) return null;
  if ((LINK_HASHES as readonly string[]).includes(v)) return v as LinkHash;
  ctx.addIssue({ code: 'custom', message: `expected one of ${LINK_HASHES.join(', ')}, or off (got "${raw}")` });
  return z.NEVER;
});

/** Project names and `*` patterns, comma-separated (`mycorp-*, internal-tools`). */
const projectPatterns = z
  .string()
  .optional()
  .transform((raw, ctx) => {
    try {
      return new ProjectMatcher((raw ?? '').split(',').filter((p) => p.trim() !== ''));
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

interface OptionSpec {
  flag: string;
  env: string;
  type: 'string' | 'boolean';
  default?: string;
  help: string;
  short?: string;
  /** Given more than once (a list); the variable separates its values with ':' (as PATH does). */
  multiple?: boolean;
}

/**
 * The one table of options: each is a CLI flag and a `WHEELHOUSE_*` variable.
 * The README's configuration table is written from it (`wheelhouse --help` prints it too).
 */
export const OPTIONS = {
  root: {
    flag: 'root',
    short: 'r',
    env: 'WHEELHOUSE_ROOT',
    type: 'string',
    default: './packages',
    multiple: true,
    help:
      'Package directory (the shared volume). Created if missing. Given more than once (or as several arguments, or ' +
      "':'-separated in the variable), the first takes uploads and the others are served read-only.",
  },
  host: { flag: 'host', env: 'WHEELHOUSE_HOST', type: 'string', default: '0.0.0.0', help: 'Address to listen on.' },
  port: { flag: 'port', short: 'p', env: 'WHEELHOUSE_PORT', type: 'string', default: '8080', help: 'Port to listen on.' },
  workers: {
    flag: 'workers',
    short: 'w',
    env: 'WHEELHOUSE_WORKERS',
    type: 'string',
    help: 'Server processes in this task (node:cluster). Default: CPUs available.',
  },
  refreshInterval: {
    flag: 'refresh-interval',
    env: 'WHEELHOUSE_REFRESH_INTERVAL',
    type: 'string',
    default: '1s',
    help: 'How often the generation file is read.',
  },
  rescanInterval: {
    flag: 'rescan-interval',
    env: 'WHEELHOUSE_RESCAN_INTERVAL',
    type: 'string',
    default: '5m',
    help: 'Full rescan of the volume whatever the generation says.',
  },
  incomingMaxAge: {
    flag: 'incoming-max-age',
    env: 'WHEELHOUSE_INCOMING_MAX_AGE',
    type: 'string',
    default: '1h',
    help: 'Temp files of uploads that died are removed once this old.',
  },
  healthFailAfter: {
    flag: 'health-fail-after',
    env: 'WHEELHOUSE_HEALTH_FAIL_AFTER',
    type: 'string',
    default: '30s',
    help: '/health turns 503 when the volume has been unreadable this long.',
  },
  watch: {
    flag: 'watch',
    env: 'WHEELHOUSE_WATCH',
    type: 'string',
    default: 'auto',
    help: 'Watch the root with chokidar: auto (local disks only), on, off.',
  },
  authenticate: {
    flag: 'authenticate',
    short: 'a',
    env: 'WHEELHOUSE_AUTHENTICATE',
    type: 'string',
    default: 'update',
    help: 'Actions that need a login: comma list of download, list, update; "." for none.',
  },
  passwords: {
    flag: 'passwords',
    short: 'P',
    env: 'WHEELHOUSE_PASSWORDS',
    type: 'string',
    help: 'Apache htpasswd file (re-read when it changes); "." for none.',
  },
  htpasswd: {
    flag: 'htpasswd',
    env: 'WHEELHOUSE_HTPASSWD',
    type: 'string',
    help: 'An htpasswd body in one value (for a Secrets Manager secret).',
  },
  username: { flag: 'username', env: 'WHEELHOUSE_USERNAME', type: 'string', help: 'A single user, with --password (for ECS secrets).' },
  password: { flag: 'password', env: 'WHEELHOUSE_PASSWORD', type: 'string', help: 'Password of --username.' },
  uploaders: {
    flag: 'uploaders',
    env: 'WHEELHOUSE_UPLOADERS',
    type: 'string',
    help: 'Users allowed to upload and remove (comma list). Default: every user.',
  },
  realm: { flag: 'realm', env: 'WHEELHOUSE_REALM', type: 'string', default: 'wheelhouse', help: 'Basic auth realm.' },
  credentialTtl: {
    flag: 'credential-ttl',
    env: 'WHEELHOUSE_CREDENTIAL_TTL',
    type: 'string',
    default: '60s',
    help: 'How long a verified login is remembered.',
  },
  tokenKey: {
    flag: 'token-key',
    env: 'WHEELHOUSE_TOKEN_KEY',
    type: 'string',
    help:
      'Keys that sign and verify API tokens (user __token__): a comma list, the first signs, the others still verify (rotation); ' +
      'each at least 32 characters (openssl rand -base64 48). Default: no API tokens.',
  },
  trustedPublishers: {
    flag: 'trusted-publishers',
    env: 'WHEELHOUSE_TRUSTED_PUBLISHERS',
    type: 'string',
    help: 'Trusted publishers file (JSON, re-read when it changes): which CI runs may exchange an OIDC token for an upload token.',
  },
  trustedPublishersJson: {
    flag: 'trusted-publishers-json',
    env: 'WHEELHOUSE_TRUSTED_PUBLISHERS_JSON',
    type: 'string',
    help: 'Trusted publishers as one JSON value (a Secrets Manager secret or SSM parameter).',
  },
  oidcAudience: {
    flag: 'oidc-audience',
    env: 'WHEELHOUSE_OIDC_AUDIENCE',
    type: 'string',
    default: 'wheelhouse',
    help: 'The audience (aud) an OIDC token must name to be exchanged here; GET /_/oidc/audience answers it.',
  },
  acl: {
    flag: 'acl',
    env: 'WHEELHOUSE_ACL',
    type: 'string',
    help: 'Per-project rights of users: which users may upload, remove or yank which projects (re-read when it changes).',
  },
  overwrite: {
    flag: 'overwrite',
    short: 'o',
    env: 'WHEELHOUSE_OVERWRITE',
    type: 'boolean',
    default: 'false',
    help: 'Allow an upload to replace an existing file with different bytes.',
  },
  maxUploadSize: {
    flag: 'max-upload-size',
    env: 'WHEELHOUSE_MAX_UPLOAD_SIZE',
    type: 'string',
    default: '1GiB',
    help: 'Largest file an upload may carry.',
  },
  fallbackUrl: {
    flag: 'fallback-url',
    env: 'WHEELHOUSE_FALLBACK_URL',
    type: 'string',
    help: 'Redirect unknown projects here (e.g. https://pypi.org/simple/). Default: 404.',
  },
  upstream: {
    flag: 'upstream',
    env: 'WHEELHOUSE_UPSTREAM',
    type: 'string',
    help: 'Upstream index (PEP 503/691, e.g. https://pypi.org/simple/) cached for projects with no local file. Default: none.',
  },
  upstreamCredentials: {
    flag: 'upstream-credentials',
    env: 'WHEELHOUSE_UPSTREAM_CREDENTIALS',
    type: 'string',
    help: 'user:password for the upstream index (instead of credentials in its URL).',
  },
  upstreamTtl: {
    flag: 'upstream-ttl',
    env: 'WHEELHOUSE_UPSTREAM_TTL',
    type: 'string',
    default: '10m',
    help: 'How long an upstream project page is served before it is revalidated (ETag).',
  },
  upstreamNegativeTtl: {
    flag: 'upstream-negative-ttl',
    env: 'WHEELHOUSE_UPSTREAM_NEGATIVE_TTL',
    type: 'string',
    default: '1m',
    help: 'How long an upstream 404 is remembered.',
  },
  upstreamTimeout: {
    flag: 'upstream-timeout',
    env: 'WHEELHOUSE_UPSTREAM_TIMEOUT',
    type: 'string',
    default: '10s',
    help: 'Limit for an upstream page, and for a file until its first bytes (then per pause between bytes).',
  },
  upstreamRetryAfter: {
    flag: 'upstream-retry-after',
    env: 'WHEELHOUSE_UPSTREAM_RETRY_AFTER',
    type: 'string',
    default: '30s',
    help: 'After a failed revalidation, how long the cached page is served before the upstream is asked again.',
  },
  upstreamDeny: {
    flag: 'upstream-deny',
    env: 'WHEELHOUSE_UPSTREAM_DENY',
    type: 'string',
    help: 'Project names never fetched from upstream: comma list of names or patterns (mycorp-*).',
  },
  upstreamOffline: {
    flag: 'upstream-offline',
    env: 'WHEELHOUSE_UPSTREAM_OFFLINE',
    type: 'boolean',
    default: 'false',
    help: 'Never ask the upstream: serve only what is cached.',
  },
  upstreamCacheMaxSize: {
    flag: 'upstream-cache-max-size',
    env: 'WHEELHOUSE_UPSTREAM_CACHE_MAX_SIZE',
    type: 'string',
    default: '10GiB',
    help: 'Bytes of upstream files kept on the volume; the least recently used go first.',
  },
  pageCacheControl: {
    flag: 'page-cache-control',
    env: 'WHEELHOUSE_PAGE_CACHE_CONTROL',
    type: 'string',
    default: 'max-age=0, must-revalidate',
    help: 'Cache-Control of index pages.',
  },
  basePath: {
    flag: 'base-path',
    env: 'WHEELHOUSE_BASE_PATH',
    type: 'string',
    help: 'Serve every URL under this path, e.g. /pypi, for a load balancer that routes a path of a shared host here.',
  },
  healthEndpoint: {
    flag: 'health-endpoint',
    env: 'WHEELHOUSE_HEALTH_ENDPOINT',
    type: 'string',
    default: '/health',
    help: 'Path of the health check (below --base-path).',
  },
  hashAlgo: {
    flag: 'hash-algo',
    env: 'WHEELHOUSE_HASH_ALGO',
    type: 'string',
    default: 'sha256',
    help: "Hash in the #fragment of the simple pages' file links: md5, sha1, sha224, sha256, sha384, sha512, or off.",
  },
  welcome: {
    flag: 'welcome',
    env: 'WHEELHOUSE_WELCOME',
    type: 'string',
    help: 'A file (Markdown or HTML) whose text the home page shows.',
  },
  logFormat: {
    flag: 'log-format',
    env: 'WHEELHOUSE_LOG_FORMAT',
    type: 'string',
    default: 'json',
    help: 'json: one object per line (for a log service); pretty: coloured lines for a terminal.',
  },
  fileCacheControl: {
    flag: 'file-cache-control',
    env: 'WHEELHOUSE_FILE_CACHE_CONTROL',
    type: 'string',
    default: 'public, max-age=600',
    help: 'Cache-Control of distribution files.',
  },
  pageCacheSize: {
    flag: 'page-cache-size',
    env: 'WHEELHOUSE_PAGE_CACHE_SIZE',
    type: 'string',
    default: '64MiB',
    help: 'Memory for rendered index pages.',
  },
  fileCacheSize: {
    flag: 'file-cache-size',
    env: 'WHEELHOUSE_FILE_CACHE_SIZE',
    type: 'string',
    default: '64MiB',
    help: 'Memory for small distribution files held in RAM.',
  },
  fileCacheMaxFile: {
    flag: 'file-cache-max-file',
    env: 'WHEELHOUSE_FILE_CACHE_MAX_FILE',
    type: 'string',
    // Most wheels and sdists of a private index are under it: a burst of CI jobs fetching the same
    // few files then reads each once from the volume (over EFS, every read is a round trip).
    default: '4MiB',
    help: 'Largest file held in the file cache.',
  },
  maxEventLoopDelay: {
    flag: 'max-event-loop-delay',
    env: 'WHEELHOUSE_MAX_EVENT_LOOP_DELAY',
    type: 'string',
    default: '1s',
    help: 'Past this event-loop delay answer 503 + Retry-After; 0 disables.',
  },
  shutdownTimeout: {
    flag: 'shutdown-timeout',
    env: 'WHEELHOUSE_SHUTDOWN_TIMEOUT',
    type: 'string',
    default: '25s',
    help: 'Graceful drain on SIGTERM (keep under ECS stopTimeout).',
  },
  logLevel: {
    flag: 'log-level',
    env: 'WHEELHOUSE_LOG_LEVEL',
    type: 'string',
    default: 'info',
    help: 'fatal, error, warn, info, debug, trace or silent.',
  },
  trustProxy: {
    flag: 'trust-proxy',
    env: 'WHEELHOUSE_TRUST_PROXY',
    type: 'string',
    default: '1',
    help:
      'Proxies in front: a number of hops (1: one load balancer, whose client address is the right-most X-Forwarded-For entry), ' +
      'a comma list of proxy addresses/CIDRs, or false.',
  },
  keepAliveTimeout: {
    flag: 'keep-alive-timeout',
    env: 'WHEELHOUSE_KEEP_ALIVE_TIMEOUT',
    type: 'string',
    default: '75s',
    help: 'How long an idle connection is kept open; keep it above the load balancer idle timeout.',
  },
  headersTimeout: {
    flag: 'headers-timeout',
    env: 'WHEELHOUSE_HEADERS_TIMEOUT',
    type: 'string',
    help: 'Time to receive the request headers. Default: --keep-alive-timeout + 1s.',
  },
  requestTimeout: {
    flag: 'request-timeout',
    env: 'WHEELHOUSE_REQUEST_TIMEOUT',
    type: 'string',
    default: '10m',
    help: 'Time to receive a whole request, body included (the largest upload on the slowest link).',
  },
  followExternalLinks: {
    flag: 'follow-external-links',
    env: 'WHEELHOUSE_FOLLOW_EXTERNAL_LINKS',
    type: 'boolean',
    default: 'false',
    help: 'Serve symlinks in the package directory that point outside it.',
  },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** Names the option in key errors, as TokenKeyring.parse words them. */
const KEY_SOURCE = 'key';

const schema = z
  .object({
    root: z.string().min(1),
    host: z.string().min(1),
    port: int(0, 65535),
    workers: int(1, 256).optional(),
    refreshInterval: duration.pipe(z.number().min(50, 'must be at least 50ms')),
    rescanInterval: duration.pipe(z.number().min(1000, 'must be at least 1s')),
    incomingMaxAge: duration.pipe(z.number().min(60_000, 'must be at least 1m (an upload in flight must not be swept)')),
    healthFailAfter: duration,
    watch: z.enum(['auto', 'on', 'off']),
    authenticate: actions,
    passwords: z.string().optional(),
    htpasswd: z.string().optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    uploaders: z
      .string()
      .optional()
      .transform((v) => (v === undefined ? null : new Set(v.split(/[\s,]+/).filter(Boolean)))),
    realm: z
      .string()
      .regex(/^[\x20-\x7e]+$/, 'printable ASCII only')
      .refine((s) => !s.includes('"'), 'no double quotes'),
    credentialTtl: duration,
    tokenKey: z.string().optional(),
    trustedPublishers: z.string().min(1).optional(),
    trustedPublishersJson: z.string().optional(),
    oidcAudience: z
      .string()
      .trim()
      .min(1)
      .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces'),
    acl: z.string().min(1).optional(),
    overwrite: bool,
    maxUploadSize: size.pipe(z.number().min(1)),
    fallbackUrl: z.url({ protocol: /^https?$/ }).optional(),
    upstream: z.url({ protocol: /^https?$/ }).optional(),
    upstreamCredentials: z
      .string()
      .regex(/^[^:]*:/, 'expected user:password')
      .optional(),
    upstreamTtl: duration.pipe(z.number().min(1000, 'must be at least 1s')),
    upstreamNegativeTtl: duration,
    upstreamTimeout: duration.pipe(z.number().min(100, 'must be at least 100ms')),
    upstreamRetryAfter: duration.pipe(z.number().min(100, 'must be at least 100ms')),
    upstreamDeny: projectPatterns,
    upstreamOffline: bool,
    upstreamCacheMaxSize: size.pipe(z.number().min(1024 * 1024, 'must be at least 1MiB')),
    pageCacheControl: z.string(),
    basePath: basePath,
    healthEndpoint: healthEndpoint,
    hashAlgo: hashAlgo,
    welcome: z.string().min(1).optional(),
    logFormat: z.enum(['json', 'pretty']),
    fileCacheControl: z.string(),
    pageCacheSize: size,
    fileCacheSize: size,
    fileCacheMaxFile: size,
    maxEventLoopDelay: duration,
    shutdownTimeout: duration,
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    trustProxy: trustProxy,
    keepAliveTimeout: duration.pipe(z.number().min(1000, 'must be at least 1s')),
    headersTimeout: duration.optional(),
    requestTimeout: duration.pipe(z.number().min(1000, 'must be at least 1s')),
    followExternalLinks: bool,
  })
  .superRefine((c, ctx) => {
    const headers = c.headersTimeout ?? c.keepAliveTimeout + 1000;
    if (headers > c.requestTimeout) {
      ctx.addIssue({ code: 'custom', path: ['headersTimeout'], message: `must not exceed --request-timeout (${c.requestTimeout} ms)` });
    }
    if (Boolean(c.username) !== Boolean(c.password)) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: '--username and --password go together' });
    }
    // pypiserver's rule: `-a .` and `-P .` come as a pair, so a typo never opens a server by accident.
    const noAuth = c.authenticate.size === 0;
    if (noAuth && c.passwords !== undefined && c.passwords !== '.') {
      ctx.addIssue({ code: 'custom', path: ['passwords'], message: 'with --authenticate . the password file must be "." too' });
    }
    if (c.passwords === '.' && !noAuth) {
      ctx.addIssue({ code: 'custom', path: ['authenticate'], message: 'with --passwords . use --authenticate . (a fully open server)' });
    }
    // Reads behind a login nobody can give would lock every client out: refuse to start instead.
    // Uploads alone behind a login with no users is the default start: they are refused with a hint.
    const hasUsers = (c.passwords !== undefined && c.passwords !== '.') || Boolean(c.htpasswd) || Boolean(c.username);
    const hasTokens = c.tokenKey !== undefined && c.tokenKey.trim() !== '';
    const reads = [...c.authenticate].filter((a) => a !== 'update');
    if (reads.length > 0 && !hasUsers && !hasTokens) {
      ctx.addIssue({
        code: 'custom',
        path: ['authenticate'],
        message:
          `requires a login for ${reads.join(', ')}, but no users are configured: pass --passwords FILE (WHEELHOUSE_PASSWORDS), ` +
          '--htpasswd (WHEELHOUSE_HTPASSWD), --username/--password or --token-key (API tokens); ' +
          'for a fully open server pass --authenticate . --passwords .',
      });
    }
    if (hasTokens) {
      try {
        TokenKeyring.parse(c.tokenKey ?? '', KEY_SOURCE);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['tokenKey'], message: (err as Error).message.slice(KEY_SOURCE.length + 2) });
      }
    }
    if (c.trustedPublishersJson !== undefined) {
      try {
        parseTrustedPublishers(c.trustedPublishersJson, 'the value');
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['trustedPublishersJson'], message: (err as Error).message });
      }
    }
    // Trusted publishing hands out API tokens: without a key to sign them it could only fail.
    const publishers =
      c.trustedPublishers !== undefined ? 'trustedPublishers' : c.trustedPublishersJson !== undefined ? 'trustedPublishersJson' : null;
    if (publishers !== null && !hasTokens) {
      ctx.addIssue({
        code: 'custom',
        path: [publishers],
        message: 'trusted publishing mints API tokens, which need a signing key: set --token-key (WHEELHOUSE_TOKEN_KEY) too',
      });
    }
    // The ACL says what users may change; without users it would silently govern nobody.
    if (c.acl !== undefined && !hasUsers) {
      ctx.addIssue({
        code: 'custom',
        path: ['acl'],
        message: 'gives rights to users, but none are configured: pass --passwords FILE (WHEELHOUSE_PASSWORDS), --htpasswd or --username',
      });
    }
    if (c.upstreamOffline && !c.upstream) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreamOffline'],
        message: 'needs --upstream (WHEELHOUSE_UPSTREAM): the index whose cache is served',
      });
    }
    if (c.upstream && c.fallbackUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['fallbackUrl'],
        message: 'cannot be used with --upstream: unknown projects are fetched from the upstream instead of redirected',
      });
    }
  });

type Parsed = z.output<typeof schema>;

/**
 * Who must log in for what: decided here once, from --authenticate and the user sources, so the
 * auth plugin, the credential loader and start-up all follow one rule.
 */
export interface AuthPolicy {
  /** Actions that need a login. */
  required: ReadonlySet<Action>;
  /** Some source of users is configured (file, inline body, single user). */
  hasUsers: boolean;
  /** API tokens are accepted (user name `__token__`): a token key is configured. */
  hasTokens: boolean;
  /** Uploads need a login but no user exists: reads are open, uploads are refused with a hint (a first `npm start`). */
  uploadsDisabled: boolean;
}

export interface Config extends Omit<
  Parsed,
  'root' | 'workers' | 'passwords' | 'headersTimeout' | 'welcome' | 'tokenKey' | 'trustedPublishers' | 'acl'
> {
  /** Absolute path of the package directory: the one uploads go to. */
  root: string;
  /** Absolute paths of the package directories served read-only beside it (pypiserver's extra roots). */
  extraRoots: string[];
  workers: number;
  /** htpasswd path, or null when none is configured. */
  passwords: string | null;
  headersTimeout: number;
  /** Absolute path of the home page's text, or null. */
  welcome: string | null;
  auth: AuthPolicy;
  /** The keys API tokens are signed and verified with; null when tokens are off. */
  tokenKey: TokenKeyring | null;
  /** Absolute path of the trusted publishers file, or null. */
  trustedPublishers: string | null;
  /** Absolute path of the ACL file, or null. */
  acl: string | null;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function availableCpus(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Reads flags (win over) and environment, validates, and returns the typed config. */
export function loadConfig(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Config {
  const parseOptions: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const spec of Object.values(OPTIONS) as OptionSpec[]) {
    parseOptions[spec.flag] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
    if (spec.type === 'boolean') parseOptions[`no-${spec.flag}`] = { type: 'boolean' };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: parseOptions, allowPositionals: true, strict: true });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }

  const raw: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(OPTIONS) as [OptionName, OptionSpec][]) {
    const flagValue = parsed.values[spec.flag];
    const negated = parsed.values[`no-${spec.flag}`];
    if (negated === true) raw[name] = false;
    else if (flagValue !== undefined) raw[name] = flagValue;
    else if (env[spec.env] !== undefined && env[spec.env] !== '') raw[name] = env[spec.env];
    else if (spec.default !== undefined) raw[name] = spec.default;
  }
  // Package directories: flags, then arguments (pypiserver's `pypi-server run DIR DIR`), else the variable.
  const flagRoots = (parsed.values.root as string[] | undefined) ?? [];
  const argRoots = [...flagRoots, ...parsed.positionals];
  const envRoots = env.WHEELHOUSE_ROOT ? env.WHEELHOUSE_ROOT.split(path.delimiter).filter((r) => r !== '') : [];
  const roots = argRoots.length > 0 ? argRoots : envRoots.length > 0 ? envRoots : [OPTIONS.root.default];
  raw.root = roots[0];

  const result = schema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = issue.path[0] as OptionName | undefined;
      const spec = key ? OPTIONS[key] : undefined;
      const where = spec ? `--${spec.flag} / ${spec.env}` : 'configuration';
      return `${where}: ${issue.message}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  const c = result.data;
  const passwords = c.passwords === undefined || c.passwords === '.' ? null : path.resolve(c.passwords);
  const hasUsers = passwords !== null || Boolean(c.htpasswd) || Boolean(c.username);
  const tokenKey = c.tokenKey !== undefined && c.tokenKey.trim() !== '' ? TokenKeyring.parse(c.tokenKey, KEY_SOURCE) : null;
  const hasTokens = tokenKey !== null;
  const root = path.resolve(c.root);
  return {
    ...c,
    root,
    extraRoots: extraRootsOf(root, roots.slice(1)),
    workers: c.workers ?? availableCpus(),
    passwords,
    headersTimeout: c.headersTimeout ?? c.keepAliveTimeout + 1000,
    welcome: c.welcome === undefined ? null : path.resolve(c.welcome),
    auth: { required: c.authenticate, hasUsers, hasTokens, uploadsDisabled: !hasUsers && !hasTokens && c.authenticate.has('update') },
    tokenKey,
    trustedPublishers: c.trustedPublishers === undefined ? null : path.resolve(c.trustedPublishers),
    acl: c.acl === undefined ? null : path.resolve(c.acl),
  };
}

/** The read-only package directories: distinct, and neither inside another nor holding one (no file listed twice). */
function extraRootsOf(root: string, given: readonly string[]): string[] {
  const extra = given.map((r) => path.resolve(r));
  const all = [root, ...extra];
  for (const [i, a] of all.entries()) {
    for (const b of all.slice(i + 1)) {
      if (a === b || b.startsWith(a + path.sep) || a.startsWith(b + path.sep)) {
        throw new ConfigError(
          `--root / WHEELHOUSE_ROOT: ${a} and ${b} overlap: every package directory must be apart, or its files would be listed twice`,
        );
      }
    }
  }
  return extra;
}

/** `--help` text, from the same table. */
export function helpText(): string {
  const rows = (Object.values(OPTIONS) as OptionSpec[]).map((s) => {
    const flag = `${s.short ? `-${s.short}, ` : '    '}--${s.flag}${s.type === 'string' ? ' VALUE' : ''}`;
    const def = s.default !== undefined ? ` (default: ${s.default})` : '';
    return `  ${flag.padEnd(34)} ${s.env.padEnd(32)} ${s.help}${def}`;
  });
  return [
    'Usage: wheelhouse [options] [package-directory]',
    '       wheelhouse token create|revoke|inspect ...   (wheelhouse token --help)',
    '       wheelhouse audit [--since 1d] [--project P] --root DIR',
    '',
    ...rows,
    '',
    '  -h, --help  this text;  --version  the version',
  ].join('\n');
}
