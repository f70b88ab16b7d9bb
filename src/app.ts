import { compile as compileProxies } from '@fastify/proxy-addr';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Acl } from './auth/acl.js';
import type { Credentials } from './auth/credentials.js';
import type { OidcStats } from './auth/oidc.js';
import type { LoginThrottle } from './auth/throttle.js';
import type { TokenLogins } from './auth/token-logins.js';
import type { Config, TrustProxy } from './config.js';
import { Errors } from './errors.js';
import type { PackageIndex } from './index/package-index.js';
import type { UpstreamProjects } from './index/upstream-projects.js';
import { auditPlugin, type AuditSink, type AuditStats } from './plugins/audit.js';
import authPlugin, { type AuthPluginStats } from './plugins/auth.js';
import { basePathPlugin, stripBasePath } from './plugins/base-path.js';
import { errorsPlugin } from './plugins/errors.js';
import { metricsPlugin } from './plugins/metrics.js';
import { LoopDelay } from './plugins/loop-delay.js';
import { pressurePlugin } from './plugins/pressure.js';
import { securityPlugin } from './plugins/security.js';
import { upstreamMetricsPlugin } from './plugins/upstream-metrics.js';
import { browseRoutes } from './routes/browse.js';
import { oidcRoutes, type OidcRouteOptions } from './routes/oidc.js';
import { opsRoutes } from './routes/ops.js';
import { packageRoutes } from './routes/packages.js';
import { projectJsonRoutes } from './routes/project-json.js';
import { redirectRoutes } from './routes/redirects.js';
import { simpleRoutes } from './routes/simple.js';
import { uploadRoutes } from './routes/upload.js';
import { yankRoutes } from './routes/yank.js';
import type { UpstreamCacheStats } from './store/upstream-cache.js';
import type { Welcome } from './web/description.js';

export interface AppDeps {
  index: PackageIndex;
  /** Null when no user is configured. */
  credentials: Credentials | null;
  throttle: LoginThrottle;
  /** API tokens, the ACL, trusted publishing, the audit trail; absent: none of them. */
  access?: AccessDeps;
  logger?: FastifyServerOptions['loggerInstance'];
  /** The home page's text (--welcome), read at start. */
  welcome?: Welcome | null;
  /** The upstream index (--upstream), null when none is configured. */
  upstream?: { projects: UpstreamProjects; cacheStats: () => UpstreamCacheStats } | null;
}

/** What logins beyond the password file need: see server.ts. */
export interface AccessDeps {
  tokens: TokenLogins | null;
  /** The ACL as last read, or null. */
  acl: () => Acl | null;
  audit: AuditSink | null;
  auditStats: AuditStats;
  /** The trusted publishing routes' options; null when no publisher is configured. */
  oidc: OidcRouteOptions | null;
  stats: { mints: Readonly<Record<string, number>>; oidc: OidcStats | null };
}

/**
 * Whether to believe the address at `hop` of a request's chain (0: the peer of the connection):
 * exactly that many hops, or exactly those addresses. Fastify asks it for X-Forwarded-For and
 * -Proto, the base-path plugin for X-Forwarded-Prefix: one rule for every forwarded header.
 */
function trustFunction(trust: TrustProxy): (address: string, hop: number) => boolean {
  if (trust === false) return () => false;
  if (typeof trust === 'number') return (_address: string, hop: number) => hop < trust;
  return compileProxies(trust);
}

/** Builds the HTTP app over an index. This file is the route table: URL -> module. */
export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const trusts = trustFunction(config.trustProxy);
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    // Fastify's own two lines per request are replaced by the one below.
    logController: new LogController({ disableRequestLogging: true }),
    // A child logger per request costs an allocation and a bindings serialization; when info lines
    // are off (the burst setting) nothing would use it.
    childLoggerFactory: (logger, bindings, opts) =>
      ['info', 'debug', 'trace'].includes(logger.level) ? logger.child(bindings, opts) : logger,
    trustProxy: config.trustProxy === false ? false : trusts,
    // Under --base-path every route is reached below it; the routes themselves never spell it.
    ...(config.basePath ? { rewriteUrl: stripBasePath(config.basePath) } : {}),
    // Above the load balancer's idle timeout, so it never reuses a connection this side just closed.
    keepAliveTimeout: config.keepAliveTimeout,
    // A body trickled a byte a second ends here instead of holding the connection for ever.
    requestTimeout: config.requestTimeout,
    // Node checks those two timeouts only this often (30 s by default), which would let a
    // trickling client keep its connection that much longer.
    http: {
      connectionsCheckingInterval: Math.min(5_000, Math.max(500, Math.floor(Math.min(config.headersTimeout, config.requestTimeout) / 4))),
    },
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  app.server.headersTimeout = config.headersTimeout;

  // One log line per request, with its duration; never a header (credentials live there).
  // Hooks on every request take a callback rather than a promise: cheaper in a burst.
  const logRequests = ['info', 'debug', 'trace'].includes(config.logLevel);
  // Not even the hook when info lines are off: every request would call it for nothing.
  if (logRequests) {
    app.addHook('onResponse', (request, reply, done) => {
      request.log.info(
        {
          method: request.method,
          url: request.originalUrl,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
          ip: request.ip,
          user: request.user,
        },
        'request',
      );
      done();
    });
  }

  await app.register(errorsPlugin);
  await app.register(basePathPlugin, { basePath: config.basePath, trustsPeer: (address) => trusts(address, 0) });
  await app.register(securityPlugin);
  // Until the first scan is in, an empty index would answer 404 for every project: say 503 instead
  // (pip retries it) so nobody concludes a package is missing.
  app.addHook('onRequest', (request, reply, done) => {
    if (!deps.index.ready && request.routeOptions.config.action !== undefined) {
      reply.header('retry-after', '2');
      done(new Errors.NotReady());
      return;
    }
    done();
  });
  const authStats: AuthPluginStats = { refused: 0, outOfScope: {} };
  const access = deps.access;
  const auditStats = access?.auditStats ?? { writes: 0, failures: 0 };
  const loopDelay = new LoopDelay();
  await app.register(metricsPlugin, {
    loopDelay,
    status: () => deps.index.status(),
    pages: deps.index.pages.cache,
    auth: deps.credentials ? { credentials: deps.credentials.stats, throttled: () => authStats.refused } : null,
    access: {
      tokens: access?.tokens ?? null,
      outOfScope: authStats.outOfScope ?? {},
      mints: access?.stats.mints ?? {},
      oidc: access?.stats.oidc ?? null,
      audit: auditStats,
    },
  });
  if (deps.upstream) await app.register(upstreamMetricsPlugin, { upstream: deps.upstream.projects, cache: deps.upstream.cacheStats });
  await app.register(authPlugin, {
    policy: config.auth,
    realm: config.realm,
    credentials: deps.credentials,
    tokens: access?.tokens ?? null,
    acl: access?.acl ?? (() => null),
    throttle: deps.throttle,
    stats: authStats,
  });
  await app.register(auditPlugin, { sink: access?.audit ?? null, stats: auditStats });
  await app.register(pressurePlugin, { maxEventLoopDelay: config.maxEventLoopDelay, loopDelay });

  const opts = { index: deps.index, config, welcome: deps.welcome ?? null, upstream: deps.upstream?.projects ?? null };
  await app.register(opsRoutes, opts); //          GET /health, GET /metrics
  await app.register(browseRoutes, opts); //       GET /, /project/<name>/[<version>/], /search, /static/<asset>  (people)
  await app.register(simpleRoutes, opts); //       GET /simple/, /simple/<project>/  (PEP 503 / 691)
  await app.register(packageRoutes, opts); //      GET /packages/, /packages/<file>, /packages/<file>.metadata
  await app.register(projectJsonRoutes, opts); //  GET /pypi/<project>/json, /pypi/<project>/<version>/json, /<project>/json
  await app.register(uploadRoutes, opts); //       POST /, /legacy/ (twine, poetry: upload, remove_pkg), DELETE /packages/<file>
  await app.register(yankRoutes, opts); //         PUT|DELETE /api/yank/<project>/<version>  (PEP 592)
  await app.register(redirectRoutes, opts); //     GET /<project>/ -> 303 /simple/<project>/
  if (access?.oidc) await app.register(oidcRoutes, access.oidc); // GET /_/oidc/audience, POST /_/oidc/mint-token  (trusted publishing)
  return app;
}
