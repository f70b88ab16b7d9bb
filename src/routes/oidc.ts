import type { FastifyInstance, FastifyReply } from 'fastify';
import type { MintError, MintResult } from '../auth/trusted-publishers.js';

/**
 * Trusted publishing, PyPI's protocol, as the PyPA publish action (and `uv publish
 * --trusted-publishing`) speak it:
 *
 *   GET  /_/oidc/audience    -> 200 {"audience": "..."}: the `aud` the CI system must put in its token
 *   POST /_/oidc/mint-token  {"token": "<OIDC JWT>"}
 *                            -> 200 {"success": true, "token": "<API token>", "expires": <unix time>}
 *                            -> 422 {"message": "Token request failed", "errors": [{"code", "description"}]}
 *
 * The action derives both URLs from its `repository-url` input by keeping only the host (and
 * port): `https://<host>/_/oidc/...`, whatever path the upload URL has. These routes must
 * therefore be served at the root of the host, with TLS, even when the index itself sits under a
 * path behind a proxy. They need no login: the OIDC token is the credential.
 *
 * Every answer is JSON, failures included, because the action reads `errors` from any non-2xx
 * answer and reports a body that is not JSON as a server fault. `/_/oidc/github/mint-token` is the
 * older name PyPI still answers.
 */

export interface OidcRouteOptions {
  /** What `GET /_/oidc/audience` answers. */
  audience: string;
  /**
   * Exchanges an OIDC token for an API token (verification, publisher match, signing, and the
   * audit record). `client` is the caller's address, for the audit trail.
   */
  mint(jwt: string, client: { ip: string }): Promise<MintResult>;
}

/** A JWT is a few kilobytes; anything much larger is not one. */
const BODY_LIMIT = 64 * 1024;

function failure(reply: FastifyReply, status: number, errors: MintError[]): FastifyReply {
  return reply.code(status).header('cache-control', 'no-store').send({ message: 'Token request failed', errors });
}

const invalidPayload = (description: string): MintError[] => [{ code: 'invalid-payload', description }];

/** The two routes, for `app.register(oidcRoutes, { audience, mint })`. */
export function oidcRoutes(app: FastifyInstance, opts: OidcRouteOptions, done: (err?: Error) => void): void {
  // The body is read as text and checked here, so a body that is not JSON gets PyPI's 422 with a
  // reason rather than the generic 400 of the JSON parser.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, body, done) => {
    done(null, body);
  });

  app.setErrorHandler((error, request, reply) => {
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status === 413)
      return failure(reply, 422, invalidPayload(`the body is larger than ${BODY_LIMIT} bytes; send {"token": "<OIDC token>"}`));
    if (status < 500) return failure(reply, 422, invalidPayload(error instanceof Error ? error.message : 'invalid request'));
    request.log.error({ err: error }, 'token mint failed');
    return failure(reply, 500, [{ code: 'server-error', description: 'the index failed to mint a token; see its log' }]);
  });

  app.get('/_/oidc/audience', async (_request, reply) => reply.header('cache-control', 'no-store').send({ audience: opts.audience }));

  const mintToken = async (request: { body: unknown; ip: string; log: FastifyInstance['log'] }, reply: FastifyReply) => {
    let payload: unknown;
    try {
      payload = typeof request.body === 'string' && request.body !== '' ? JSON.parse(request.body) : undefined;
    } catch {
      return failure(reply, 422, invalidPayload('the body is not JSON; send {"token": "<OIDC token>"}'));
    }
    const token = (payload as { token?: unknown } | null | undefined)?.token;
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload) || typeof token !== 'string') {
      return failure(reply, 422, invalidPayload('expected a JSON object {"token": "<OIDC token>"} with the token as a string'));
    }

    const result = await opts.mint(token, { ip: request.ip });
    if (!result.ok) {
      request.log.warn({ ip: request.ip, reason: result.reason, code: result.errors[0]?.code }, 'token mint refused');
      return failure(reply, result.status, result.errors);
    }
    request.log.info(
      { ip: request.ip, token: result.minted.id, publisher: result.minted.oidc?.publisher, projects: result.minted.projects },
      'token minted',
    );
    return reply.header('cache-control', 'no-store').send({ success: true, token: result.token, expires: result.expires });
  };

  app.post('/_/oidc/mint-token', mintToken);
  app.post('/_/oidc/github/mint-token', mintToken);
  done();
}
