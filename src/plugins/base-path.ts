import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Errors } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The path clients reach this server under, '' or '/something': what a trusted proxy says it
     * took off (X-Forwarded-Prefix), then --base-path. Every URL the server writes starts with it.
     */
    readonly basePath: string;
  }
}

export interface BasePathOptions {
  /** --base-path, normalized: '' or '/pypi'. */
  basePath: string;
  /** Whether the peer of a connection is one of the trusted proxies (--trust-proxy). */
  trustsPeer: (address: string) => boolean;
}

/** Requests that came in outside --base-path: routed as they are, then answered 404 before anything else runs. */
const outside = new WeakSet<IncomingMessage>();

/**
 * Trusted publishing's two URLs, which the PyPA publish action and `uv publish` build from the
 * upload URL's host alone (`https://<host>/_/oidc/...`), whatever path the index sits under.
 */
const HOST_ROOT = '/_/oidc/';

/**
 * Fastify's rewriteUrl for --base-path: `/pypi/simple/x/` is routed as `/simple/x/`, `/pypi` as
 * `/`. The prefix is compared as sent, before any percent-decoding, so no other spelling of it
 * (`/%70ypi/`) reaches a route past a load balancer rule that matched the plain one. Trusted
 * publishing is also answered at the root of the host, where its clients ask.
 */
export function stripBasePath(base: string): (req: IncomingMessage) => string {
  return (req) => {
    const url = req.url ?? '/';
    if (url === base) return '/';
    const next = url.charAt(base.length);
    if (url.startsWith(base) && (next === '/' || next === '?')) return next === '?' ? `/${url.slice(base.length)}` : url.slice(base.length);
    if (url.startsWith(HOST_ROOT)) return url;
    outside.add(req);
    return url;
  };
}

/** A prefix worth using: plain path segments, no dot segments, bounded. */
const PREFIX = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._~-]+)+$/;

function forwardedPrefix(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header.at(-1) : header;
  // The entry the nearest proxy wrote is the last one, as Fastify reads X-Forwarded-Proto.
  const last = (value?.split(',').at(-1) ?? '').trim().replace(/\/+$/, '');
  return last.length <= 200 && PREFIX.test(last) ? last : '';
}

/**
 * The path prefix of every URL the server writes: redirects, the JSON API's absolute URLs, the
 * pages' links and the commands they show. A proxy that strips a prefix of its own before
 * passing a request on says which with X-Forwarded-Prefix; only a trusted proxy is believed,
 * so a client cannot make another client's links point elsewhere (pages are cached per prefix).
 */
async function basePath(app: FastifyInstance, opts: BasePathOptions): Promise<void> {
  app.decorateRequest('basePath', {
    getter(this: { raw: IncomingMessage; headers: Record<string, string | string[] | undefined> }): string {
      const header = this.headers['x-forwarded-prefix'];
      const peer = this.raw.socket.remoteAddress;
      const forwarded = header !== undefined && peer !== undefined && opts.trustsPeer(peer) ? forwardedPrefix(header) : '';
      return forwarded + opts.basePath;
    },
  });

  if (opts.basePath === '') return;
  app.addHook('onRequest', (request, _reply, done) => {
    if (outside.has(request.raw)) {
      done(new Errors.OutsideBasePath(request.url.split('?')[0] ?? '', opts.basePath));
      return;
    }
    done();
  });
}

export const basePathPlugin = fp(basePath, { name: 'wheelhouse-base-path', fastify: '5.x' });
