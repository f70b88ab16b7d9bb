import basicAuth from '@fastify/basic-auth';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Credentials } from '../auth/credentials.js';
import type { LoginThrottle } from '../auth/throttle.js';
import type { Action, AuthPolicy } from '../config.js';
import { Errors, isUserFacing } from '../errors.js';
import { baseUrlOf } from '../routes/origin.js';

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

export interface AuthPluginOptions {
  policy: AuthPolicy;
  realm: string;
  /** Null only when no user is configured (no action needs a login, or uploads are disabled). */
  credentials: Credentials | null;
  throttle: LoginThrottle;
  /** Counts logins refused by the throttle or a full check queue, for /metrics. */
  stats?: { refused: number };
}

function loginHint(request: FastifyRequest, action: Action): string {
  const origin = baseUrlOf(request);
  return action === 'update'
    ? `to upload: e.g. twine upload --repository-url ${origin}/ -u USER -p PASS dist/*`
    : `to read this index: e.g. pip install --index-url ${origin.replace('://', '://USER:PASS@')}/simple/ PACKAGE`;
}

/** requests (so pip and twine) encodes credentials as latin-1; a UTF-8 decode of those shows U+FFFD. */
function latin1Fallback(request: FastifyRequest, user: string, password: string): { user: string; password: string } {
  if (!user.includes('\uFFFD') && !password.includes('\uFFFD')) return { user, password };
  const encoded = /^\s*basic\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
  const text = encoded ? Buffer.from(encoded, 'base64').toString('latin1') : '';
  const colon = text.indexOf(':');
  return colon < 0 ? { user, password } : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * Logins: HTTP Basic (parsed by @fastify/basic-auth) against the htpasswd users, on routes whose
 * action --authenticate names. A credential verified recently is admitted synchronously from the
 * remembered verdict, so a burst of 510 clients with one password costs one bcrypt and no
 * promise per request. Failed logins are throttled per user and address (the address from
 * exactly the trusted proxy hops), counted from the moment their check starts.
 */
const auth: FastifyPluginAsync<AuthPluginOptions> = async (fastify, opts) => {
  const { policy, credentials, throttle } = opts;
  const stats = opts.stats ?? { refused: 0 };
  // pip asks for a password again only on 401 with this header.
  const challenge = `Basic realm="${opts.realm}"`;

  fastify.decorateRequest('user', undefined);
  fastify.addHook('onClose', async () => credentials?.close());

  await fastify.register(basicAuth, { validate, authenticate: false, utf8: true, strictCredentials: false });

  // Routes that need no login pass synchronously: no promise per request for them.
  fastify.addHook('onRequest', (request, reply, done) => {
    const action = request.routeOptions.config.action;
    if (action === undefined || !policy.required.has(action)) {
      done();
      return;
    }
    if (!credentials) {
      done(new Errors.NoUsers());
      return;
    }
    const header = request.headers.authorization;
    const verdict = header === undefined ? undefined : credentials.remembered(header);
    if (verdict === undefined) {
      fastify.basicAuth(request, reply, (err?: Error) => {
        done(err === undefined ? undefined : asLoginError(err, request, reply, action));
      });
      return;
    }
    try {
      if (verdict.ok) {
        assertNotThrottled(request, reply, verdict.user);
        admit(request, action, verdict.user);
      } else {
        throttle.fail(request.ip, verdict.user);
        refuse(request, reply, verdict.user);
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  });

  /** @fastify/basic-auth's own refusals (no header, not Basic) become ours, with the hint and the challenge. */
  function asLoginError(err: Error, request: FastifyRequest, reply: FastifyReply, action: Action): Error {
    if (isUserFacing(err)) return err;
    if ((err as FastifyError).code !== 'FST_BASIC_AUTH_MISSING_OR_BAD_AUTHORIZATION_HEADER') return err;
    reply.header('www-authenticate', challenge);
    if (request.headers.authorization === undefined) return new Errors.LoginRequired(loginHint(request, action));
    request.log.warn({ ip: request.ip, reason: 'not a Basic Authorization header' }, 'login failed');
    return new Errors.LoginRequired(`${loginHint(request, action)} (the Authorization header is not HTTP Basic)`);
  }

  async function validate(rawUser: string, rawPassword: string, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { user, password } = latin1Fallback(request, rawUser, rawPassword);
    const header = request.headers.authorization ?? '';
    // Reached only through the hook above, which has credentials.
    const c = credentials;
    if (!c) throw new Errors.NoUsers();
    // The same credentials already being checked (a burst's first requests) wait for that verdict.
    const joined = c.inFlight(header);
    let result;
    if (joined) {
      result = await joined;
      if (!result.ok) throttle.fail(request.ip, user);
    } else {
      try {
        result = await c.check(user, password, header, {
          // Counted before the hash check, so a throttled guesser costs no bcrypt and 200 guesses
          // sent at once get the limit's worth of checks, not 200.
          before: async () => {
            const wait = await throttle.reserve(request.ip, user);
            if (wait > 0) throw throttled(request, reply, user, wait);
          },
          after: (ok) => {
            throttle.settle(request.ip, user, ok);
          },
        });
      } catch (err) {
        if (err instanceof Errors.LoginsBusy) {
          stats.refused++;
          reply.header('retry-after', '1');
        }
        throw err;
      }
    }
    if (!result.ok) refuse(request, reply, user);
    admit(request, request.routeOptions.config.action ?? 'update', result.user);
  }

  /** Refuses a user throttled from this address, even with a right password: no oracle for guesses. */
  function assertNotThrottled(request: FastifyRequest, reply: FastifyReply, user: string): void {
    const wait = throttle.blockedFor(request.ip, user);
    if (wait > 0) throw throttled(request, reply, user, wait);
  }

  function throttled(request: FastifyRequest, reply: FastifyReply, user: string, wait: number): Error {
    stats.refused++;
    request.log.warn({ user, ip: request.ip, reason: 'throttled' }, 'login refused');
    reply.header('retry-after', String(wait));
    return new Errors.Throttled(String(wait));
  }

  function refuse(request: FastifyRequest, reply: FastifyReply, user: string): never {
    request.log.warn({ user, ip: request.ip, reason: credentials?.knows(user) ? 'wrong password' : 'unknown user' }, 'login failed');
    reply.header('www-authenticate', challenge);
    throw new Errors.BadLogin(opts.realm);
  }

  /** A user whose password is right: the right to upload, then the request is theirs. */
  function admit(request: FastifyRequest, action: Action, user: string): void {
    if (action === 'update' && !credentials?.canUpdate(user)) {
      request.log.warn({ user, ip: request.ip, reason: 'not an uploader' }, 'upload refused');
      throw new Errors.Forbidden(`User "${user}" may not upload or remove packages here (not in --uploaders)`);
    }
    request.user = user;
  }
};

// The login hints name the index's URL, prefix included.
export default fp(auth, { name: 'wheelhouse-auth', fastify: '5.x', dependencies: ['wheelhouse-base-path'] });
