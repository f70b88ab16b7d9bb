import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { LRUCache } from 'lru-cache';
import type { Action, Config } from '../config.js';
import { Errors } from '../errors.js';
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

function loginHint(request: FastifyRequest, action: Action): string {
  const origin = `${request.protocol}://${request.host}`;
  return action === 'update'
    ? `to upload: e.g. twine upload --repository-url ${origin}/ -u USER -p PASS dist/*`
    : `to read this index: e.g. pip install --index-url ${request.protocol}://USER:PASS@${request.host}/simple/ PACKAGE`;
}

const auth: FastifyPluginAsync<AuthPluginOptions> = async (fastify, opts) => {
  const { config, credentials } = opts;
  // Without users only the default policy (uploads need a login) may start: reads stay open and
  // uploads are refused with a message saying how to add users.
  const readsNeedLogin = config.authenticate.has('list') || config.authenticate.has('download');
  if (readsNeedLogin && !credentials) {
    throw new Error(`--authenticate requires a login for ${[...config.authenticate].join(', ')} but no credentials were loaded`);
  }
  const throttle = new FailureThrottle({ ...DEFAULT_THROTTLE, ...opts.throttle });
  // pip asks for a password again only on 401 with this header (R28).
  const challenge = `Basic realm="${config.realm}"`;

  fastify.decorateRequest('user', undefined);
  fastify.addHook('onClose', async () => credentials?.close());

  // Routes that need no login pass synchronously: no promise per request for them.
  fastify.addHook('onRequest', (request, reply, done) => {
    const action = request.routeOptions.config.action;
    if (action === undefined || !config.authenticate.has(action)) {
      done();
      return;
    }
    const header = request.headers.authorization;
    const user = header && credentials ? credentials.remembered(header) : undefined;
    if (user !== undefined) {
      try {
        assertNotThrottled(request, reply, user);
        admit(request, action, user);
      } catch (err) {
        done(err as Error);
        return;
      }
      done();
      return;
    }
    authorize(request, reply, action).then(() => done(), done);
  });

  /** Refuses a user throttled from this address, even with a right password: no oracle for guesses. */
  function assertNotThrottled(request: FastifyRequest, reply: FastifyReply, user: string): void {
    const wait = throttle.retryAfter(request.ip, user);
    if (wait > 0) {
      request.log.warn({ user, ip: request.ip, reason: 'throttled' }, 'login refused');
      reply.header('retry-after', String(wait));
      throw new Errors.Throttled(String(wait));
    }
  }

  /** A user whose password is right: the right to upload, then the request is theirs. */
  function admit(request: FastifyRequest, action: Action, user: string): void {
    if (action === 'update' && !credentials?.canUpdate(user)) {
      request.log.warn({ user, ip: request.ip, reason: 'not an uploader' }, 'upload refused');
      throw new Errors.Forbidden(`User "${user}" may not upload or remove packages here (not in --uploaders)`);
    }
    request.user = user;
  }

  async function authorize(request: FastifyRequest, reply: FastifyReply, action: Action): Promise<void> {
    if (!credentials) throw new Errors.NoUsers();

    const header = request.headers.authorization;
    const ip = request.ip;
    if (!header) {
      reply.header('www-authenticate', challenge);
      throw new Errors.LoginRequired(loginHint(request, action));
    }
    const parsed = parseBasicAuth(header);
    if (!parsed) {
      request.log.warn({ ip, reason: 'not a Basic Authorization header' }, 'login failed');
      reply.header('www-authenticate', challenge);
      throw new Errors.LoginRequired(`${loginHint(request, action)} (the Authorization header is not HTTP Basic)`);
    }
    const { user } = parsed;
    // Before the hash check, so a throttled guesser costs no bcrypt.
    assertNotThrottled(request, reply, user);

    const result = await credentials.check(header);
    if (!result.ok) {
      throttle.fail(ip, user);
      request.log.warn({ user, ip, reason: credentials.knows(user) ? 'wrong password' : 'unknown user' }, 'login failed');
      reply.header('www-authenticate', challenge);
      throw new Errors.BadLogin(config.realm);
    }
    admit(request, action, result.user);
  }
};

export default fp(auth, { name: 'wheelhouse-auth', fastify: '5.x' });
