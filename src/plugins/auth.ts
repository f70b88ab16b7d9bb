import basicAuth from '@fastify/basic-auth';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { type Principal, type ProjectAction, describePrincipal, mayAct, mayActSomewhere, principalName } from '../auth/access.js';
import type { Acl } from '../auth/acl.js';
import { TOKEN_USERNAME, type TokenVerdict } from '../auth/api-tokens.js';
import type { Credentials } from '../auth/credentials.js';
import type { LoginThrottle } from '../auth/throttle.js';
import type { TokenLogins } from '../auth/token-logins.js';
import type { Action, AuthPolicy } from '../config.js';
import { Errors, isUserFacing } from '../errors.js';
import { baseUrlOf } from '../routes/origin.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the route does, matched against --authenticate. Routes without one are open. */
    action?: Action;
    /**
     * The changes an `update` route may make (default: all three). A login with the right to none
     * of them is refused when the request arrives, before its body is read.
     */
    writes?: readonly ProjectAction[];
  }
  interface FastifyRequest {
    /** Who logged in, when the route required a login: a user, or an API token with its scope. */
    principal?: Principal;
    /** The logged-in user for logs (`token:<id>` for an API token), when the route required a login. */
    user?: string;
    /**
     * Refuses with 403, naming the project, when whoever logged in may not do `action` on
     * `project`. Routes call it once they know the project, before they read or write anything.
     * A request that needed no login passes.
     */
    authorize(action: ProjectAction, project: string): void;
  }
}

export interface AuthPluginOptions {
  policy: AuthPolicy;
  realm: string;
  /** Null when no user is configured (no action needs a login, uploads are disabled, or only API tokens log in). */
  credentials: Credentials | null;
  /** API tokens as logins (user `__token__`); null when no token key is configured. */
  tokens?: TokenLogins | null;
  /** The per-project rights of users (--acl) as last read; null when there is no ACL. */
  acl?: () => Acl | null;
  throttle: LoginThrottle;
  /** Counters for /metrics. */
  stats?: AuthPluginStats;
}

export interface AuthPluginStats {
  /** Logins refused by the throttle or a full check queue. */
  refused: number;
  /** Requests refused because the login may not do that to that project (or to any), by kind of login and action. */
  outOfScope?: Partial<Record<`${Principal['kind']} ${ProjectAction}`, number>>;
}

const ALL_WRITES: readonly ProjectAction[] = ['upload', 'remove', 'yank'];
const READS: readonly ProjectAction[] = ['download'];

const VERBS: Record<ProjectAction, string> = {
  download: 'download from',
  upload: 'upload to',
  remove: 'remove files of',
  yank: 'yank or un-yank releases of',
};

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
 * Logins: HTTP Basic (parsed by @fastify/basic-auth) against the htpasswd users, or user
 * `__token__` with an API token, on routes whose action --authenticate names. A credential
 * verified recently is admitted synchronously from the remembered verdict (a token's expiry and
 * revocation rechecked), so a burst of 510 clients with one password or token costs one check and
 * no promise per request. Failed password logins are throttled per user and address (the address
 * from exactly the trusted proxy hops), counted from the moment their check starts.
 *
 * What a login may do: a token its scope (projects and actions), a user what --uploaders and the
 * ACL grant. A login with no right to what the route does is refused on arrival; the per-project
 * check is `request.authorize(action, project)`, which routes call once the project is known.
 */
const auth: FastifyPluginAsync<AuthPluginOptions> = async (fastify, opts) => {
  const { policy, credentials, throttle } = opts;
  const tokens = opts.tokens ?? null;
  const acl = opts.acl ?? (() => null);
  const stats = opts.stats ?? { refused: 0 };
  const outOfScope = (stats.outOfScope ??= {});
  // pip asks for a password again only on 401 with this header.
  const challenge = `Basic realm="${opts.realm}"`;

  fastify.decorateRequest('user', undefined);
  fastify.decorateRequest('principal', undefined);
  fastify.decorateRequest('authorize', function authorize(this: FastifyRequest, action: ProjectAction, project: string): void {
    const principal = this.principal;
    if (principal === undefined || mayAct(principal, action, project, acl())) return;
    throw outsideScope(this, principal, action, `may not ${VERBS[action]} project "${project}"`);
  });
  fastify.addHook('onClose', async () => credentials?.close());

  await fastify.register(basicAuth, { validate, authenticate: false, utf8: true, strictCredentials: false });

  // The login hook is attached to each route whose action --authenticate names, with the action
  // known when the route is added: routes that need no login run no hook at all, and none reads
  // request.routeOptions (a new object on every read). A remembered login passes synchronously:
  // no promise per request.
  fastify.addHook('onRoute', (route) => {
    const action = route.config?.action;
    if (action === undefined || !policy.required.has(action)) return;
    const login: onRequestHookHandler = (request, reply, done) => logIn(request, reply, action, done);
    const existing = route.onRequest;
    route.onRequest = existing === undefined ? login : Array.isArray(existing) ? [...existing, login] : [existing, login];
  });

  function logIn(request: FastifyRequest, reply: FastifyReply, action: Action, done: (err?: Error) => void): void {
    if (!credentials && !tokens) {
      done(new Errors.NoUsers());
      return;
    }
    const header = request.headers.authorization;
    const tokenVerdict = header === undefined ? undefined : tokens?.remembered(header);
    if (tokenVerdict !== undefined) {
      try {
        admitToken(request, reply, action, tokenVerdict);
        done();
      } catch (err) {
        done(err as Error);
      }
      return;
    }
    const verdict = header === undefined ? undefined : credentials?.remembered(header);
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
  }

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
    const action = request.routeOptions.config.action ?? 'update';
    if (tokens && user === TOKEN_USERNAME) {
      // Not throttled: a token cannot be guessed (a 256-bit HMAC), while one bad token in a CI
      // behind a shared address would otherwise lock every job there out.
      admitToken(request, reply, action, await tokens.check(password, header));
      return;
    }
    const c = credentials;
    if (!c) {
      // Only API tokens log in here.
      request.log.warn({ user, ip: request.ip, reason: 'only API tokens log in here' }, 'login failed');
      reply.header('www-authenticate', challenge);
      throw new Errors.BadLogin(`${opts.realm} (log in with user name ${TOKEN_USERNAME} and an API token as the password)`);
    }
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
    admit(request, action, result.user);
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
    admitPrincipal(request, action, { kind: 'user', user });
  }

  /** A token login: 401 for a token that is not valid (now), then the same rights check as a user's. */
  function admitToken(request: FastifyRequest, reply: FastifyReply, action: Action, verdict: TokenVerdict): void {
    if (!verdict.ok) {
      request.log.warn({ user: TOKEN_USERNAME, ip: request.ip, reason: verdict.reason }, 'login failed');
      reply.header('www-authenticate', challenge);
      throw new Errors.BadToken(verdict.message);
    }
    admitPrincipal(request, action, { kind: 'token', token: verdict.token });
  }

  /** Refuses at once a login that may do none of what the route does, to any project; else the request is theirs. */
  function admitPrincipal(request: FastifyRequest, action: Action, principal: Principal): void {
    const needed = action === 'update' ? (request.routeOptions.config.writes ?? ALL_WRITES) : READS;
    if (!mayActSomewhere(principal, needed, acl())) {
      throw outsideScope(request, principal, needed[0] ?? 'upload', `may not ${needed.join(' or ')} here`);
    }
    request.principal = principal;
    request.user = principalName(principal);
  }

  function outsideScope(request: FastifyRequest, principal: Principal, action: ProjectAction, what: string): Error {
    const key = `${principal.kind} ${action}` as const;
    outOfScope[key] = (outOfScope[key] ?? 0) + 1;
    request.log.warn({ user: principalName(principal), ip: request.ip, action, reason: what }, 'request outside the login scope');
    const why =
      principal.kind === 'token'
        ? ` (the token may ${principal.token.actions.join(', ')} for ${principal.token.projects.join(', ')})`
        : ' (not granted by the ACL of this index)';
    const who = describePrincipal(principal);
    return new Errors.OutsideScope(`${who.charAt(0).toUpperCase()}${who.slice(1)} ${what}${why}`);
  }
};

// The login hints name the index's URL, prefix included.
export default fp(auth, { name: 'wheelhouse-auth', fastify: '5.x', dependencies: ['wheelhouse-base-path'] });
