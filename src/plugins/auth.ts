import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { LRUCache } from 'lru-cache';
import type { Action, Config } from '../config.js';
import { type Credentials, parseBasicAuth } from '../auth/credentials.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the route does, matched against --authenticate. Routes without one are open. */
    action?: Action;
  }
  interface FastifyRequest {
    /** The logged-in user, when the route required a login. */
    user?: string;
  }
}

export interface ThrottleOptions {
  /** Failed logins for one user from one address before that pair is refused. */
  maxFailures: number;
  /** Failed logins from one address, whatever the user, before the address is refused. */
  maxFailuresPerAddress: number;
  windowMs: number;
}

export interface AuthPluginOptions {
  config: Config;
  /** Null only when no action needs a login. Closed with the app. */
  credentials: Credentials | null;
  throttle?: Partial<ThrottleOptions>;
}

const DEFAULT_THROTTLE: ThrottleOptions = { maxFailures: 10, maxFailuresPerAddress: 100, windowMs: 60_000 };

interface Window {
  start: number;
  failures: number;
}

/**
 * Counts failed logins only, so the many correct logins behind one NAT address cost nothing.
 * Per user and address, so one client with a stale password locks out its own user name only;
 * a looser per-address bound stops guessing across many user names.
 */
class FailureThrottle {
  private readonly windows: LRUCache<string, Window>;
  private readonly opts: ThrottleOptions;

  constructor(opts: ThrottleOptions) {
    this.opts = opts;
    this.windows = new LRUCache({ max: 10_000, ttl: opts.windowMs });
  }

  /** Seconds to wait if this user from this address is refused now, else 0. */
  retryAfter(ip: string, user: string, now = Date.now()): number {
    const wait = (key: string, max: number): number => {
      const w = this.windows.get(key);
      if (!w || w.failures < max) return 0;
      return Math.max(1, Math.ceil((w.start + this.opts.windowMs - now) / 1000));
    };
    return Math.max(wait(ip, this.opts.maxFailuresPerAddress), wait(`${ip}\0${user}`, this.opts.maxFailures));
  }

  fail(ip: string, user: string, now = Date.now()): void {
    for (const key of [ip, `${ip}\0${user}`]) {
      const w = this.windows.get(key);
      if (w && now - w.start < this.opts.windowMs) w.failures++;
      // A new window starts with the first failure; the entry's TTL ends it.
      else this.windows.set(key, { start: now, failures: 1 });
    }
  }
}

/** Latin-1, no CR/LF: a status line twine can print (R40). */
function reason(message: string): string {
  return message.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

function refuse(reply: FastifyReply, status: number, message: string, headers: Record<string, string> = {}): FastifyReply {
  reply.raw.statusMessage = reason(message);
  return reply.code(status).headers(headers).type('text/plain; charset=utf-8').send(`${message}\n`);
}

function loginHint(request: FastifyRequest, action: Action): string {
  const base = `${request.protocol}://USER:PASS@${request.host}`;
  return action === 'update'
    ? `Login required to upload: e.g. twine upload --repository-url ${request.protocol}://${request.host}/ -u USER -p PASS dist/*`
    : `Login required: pass credentials, e.g. pip install --index-url ${base}/simple/ PACKAGE`;
}

const auth: FastifyPluginAsync<AuthPluginOptions> = async (fastify, opts) => {
  const { config, credentials } = opts;
  if (config.authenticate.size > 0 && !credentials) {
    throw new Error(`--authenticate requires a login for ${[...config.authenticate].join(', ')} but no credentials were loaded`);
  }
  const throttle = new FailureThrottle({ ...DEFAULT_THROTTLE, ...opts.throttle });
  // pip asks for a password again only on 401 with this header (R28).
  const challenge = { 'WWW-Authenticate': `Basic realm="${config.realm}"` };

  fastify.decorateRequest('user', undefined);
  fastify.addHook('onClose', async () => credentials?.close());

  fastify.addHook('onRequest', async (request, reply) => {
    const action = request.routeOptions.config.action;
    if (action === undefined || !config.authenticate.has(action) || !credentials) return;

    const header = request.headers.authorization;
    const ip = request.ip;
    if (!header) return refuse(reply, 401, loginHint(request, action), challenge);
    const parsed = parseBasicAuth(header);
    if (!parsed) {
      request.log.warn({ ip, reason: 'not a Basic Authorization header' }, 'login failed');
      return refuse(reply, 401, `${loginHint(request, action)} (the Authorization header is not HTTP Basic)`, challenge);
    }
    const { user } = parsed;

    const wait = throttle.retryAfter(ip, user);
    if (wait > 0) {
      request.log.warn({ user, ip, reason: 'throttled' }, 'login refused');
      return refuse(reply, 429, `Too many failed logins from your address; try again in ${wait} seconds`, { 'Retry-After': String(wait) });
    }

    const result = await credentials.check(header);
    if (!result.ok) {
      throttle.fail(ip, user);
      request.log.warn({ user, ip, reason: credentials.knows(user) ? 'wrong password' : 'unknown user' }, 'login failed');
      return refuse(reply, 401, `Invalid user name or password for ${config.realm}`, challenge);
    }
    if (action === 'update' && !credentials.canUpdate(result.user)) {
      request.log.warn({ user, ip, reason: 'not an uploader' }, 'upload refused');
      return refuse(reply, 403, `User "${result.user}" may not upload or remove packages here (not in --uploaders)`);
    }
    request.user = result.user;
  });
};

export default fp(auth, { name: 'wheelhouse-auth', fastify: '5.x' });
