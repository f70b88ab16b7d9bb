import {
  type JWTPayload,
  type JWTVerifyGetKey,
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
} from 'jose';

/**
 * Verification of the OIDC ID tokens CI systems hand their jobs (GitHub Actions, GitLab CI, any
 * issuer with a discovery document), for trusted publishing.
 *
 * The issuer is taken from the token's own `iss` claim, and only an issuer named in the trusted
 * publishers is ever contacted: its discovery document (`<issuer>/.well-known/openid-configuration`)
 * gives the `jwks_uri`, and the key set fetched from there is cached, refetched when a token names a
 * key id it does not hold (an issuer rotating keys), but never more often than once per cooldown,
 * so a stream of tokens with made-up key ids costs the issuer one request a minute.
 *
 * Only asymmetric signatures (RS256, ES256) are accepted: `none` and HMAC are refused before any key
 * is looked at, so a token "signed" with the issuer's public key as an HMAC secret goes nowhere.
 * `aud` must be this server's audience and nothing else, `iss`, `exp`, `nbf` and `iat` are checked
 * with a small clock tolerance, and a token id (`jti`) is required and accepted once.
 *
 * Once means once per process: the ids seen are kept in memory until their token expires. Every
 * task (and every worker process with --workers) keeps its own list, so a token captured in flight
 * could be exchanged once more at each other process before it expires (GitHub's live for minutes);
 * what it buys is a 15-minute upload token for the same projects its own run could publish anyway.
 */

export const OIDC_ALGORITHMS = ['RS256', 'ES256'] as const;

/** The shorthand issuers of the trusted publishers file. */
export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
export const GITLAB_ISSUER = 'https://gitlab.com';

export type OidcRefusal =
  | 'malformed'
  | 'unknown-issuer'
  | 'issuer-unavailable'
  | 'bad-algorithm'
  | 'unknown-key'
  | 'bad-signature'
  | 'wrong-audience'
  | 'expired'
  | 'not-yet-valid'
  | 'issued-in-future'
  | 'missing-claim'
  | 'replayed';

/** The claims of a verified token: the registered ones checked and typed, the issuer's own as sent. */
export interface OidcClaims {
  readonly iss: string;
  readonly aud: string;
  readonly jti: string;
  readonly exp: number;
  readonly iat: number;
  readonly sub?: string;
  readonly [claim: string]: unknown;
}

export type OidcVerdict = { ok: true; claims: OidcClaims } | { ok: false; reason: OidcRefusal; message: string };

export interface OidcVerifierOptions {
  /** This server's audience: what `GET /_/oidc/audience` answers; a token's `aud` must be exactly this. */
  audience: string;
  /** Issuer URLs whose tokens are considered at all (from the trusted publishers). */
  issuers: Iterable<string>;
  /** Seconds of clock difference allowed on `exp`, `nbf` and `iat`. Default 30. */
  clockTolerance?: number;
  /** Least time between two fetches of one issuer's keys or discovery document (ms). Default 60 s. */
  refreshCooldown?: number;
  /** A key set older than this is fetched again before use (ms). Default 10 min. */
  keysMaxAge?: number;
  /** Each request to an issuer gives up after this long (ms). Default 5 s. */
  fetchTimeout?: number;
  /** Milliseconds since the epoch; defaults to the clock. */
  now?: () => number;
}

export interface OidcStats {
  verified: number;
  refused: Partial<Record<OidcRefusal, number>>;
  discoveryFetches: number;
  keySetFetches: number;
}

/**
 * An issuer URL may be plain HTTP only on the loopback interface (a test issuer, a local proxy):
 * anywhere else the keys that decide who may publish would travel unprotected.
 */
export function checkIssuerUrl(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url}" is not a URL`;
  }
  if (parsed.protocol === 'https:') return null;
  if (parsed.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) return null;
  return `"${url}" must be an https:// URL (plain http is allowed on the loopback interface only)`;
}

/** Token ids seen, each kept until its token expires. */
class UsedIds {
  private readonly ids = new Map<string, number>();
  private nextSweep = 0;

  /** Records the id and says whether it was new. */
  claim(id: string, until: number, now: number): boolean {
    if (now >= this.nextSweep) {
      for (const [k, t] of this.ids) if (t <= now) this.ids.delete(k);
      this.nextSweep = now + 60_000;
    }
    const seen = this.ids.get(id);
    if (seen !== undefined && seen > now) return false;
    this.ids.set(id, until);
    return true;
  }

  get size(): number {
    return this.ids.size;
  }
}

class IssuerUnavailable extends Error {
  override name = 'IssuerUnavailable';
}

interface IssuerKeys {
  keys?: JWTVerifyGetKey;
  pending?: Promise<JWTVerifyGetKey>;
  failedAt?: number;
  lastError?: string;
}

export class OidcVerifier {
  readonly audience: string;
  readonly stats: OidcStats = { verified: 0, refused: {}, discoveryFetches: 0, keySetFetches: 0 };

  private issuers: ReadonlyMap<string, IssuerKeys> = new Map();
  private readonly used = new UsedIds();
  private readonly tolerance: number;
  private readonly cooldown: number;
  private readonly keysMaxAge: number;
  private readonly fetchTimeout: number;
  private readonly now: () => number;

  constructor(opts: OidcVerifierOptions) {
    if (opts.audience.trim() === '') throw new Error('the OIDC audience must not be empty');
    this.audience = opts.audience;
    this.setIssuers(opts.issuers);
    this.tolerance = opts.clockTolerance ?? 30;
    this.cooldown = opts.refreshCooldown ?? 60_000;
    this.keysMaxAge = opts.keysMaxAge ?? 600_000;
    this.fetchTimeout = opts.fetchTimeout ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Replaces the trusted issuers (a re-read publishers file). Issuers kept keep their cached keys,
   * and the token ids seen stay remembered whatever changes.
   */
  setIssuers(urls: Iterable<string>): void {
    const next = new Map<string, IssuerKeys>();
    for (const url of urls) {
      const problem = checkIssuerUrl(url);
      if (problem) throw new Error(`OIDC issuer ${problem}`);
      next.set(url, this.issuers.get(url) ?? {});
    }
    this.issuers = next;
  }

  /** Token ids remembered as used (for /metrics). */
  get usedIds(): number {
    return this.used.size;
  }

  /** Verifies a token and, when it passes, records its id so the same token is refused next time. */
  async verify(jwt: string): Promise<OidcVerdict> {
    const verdict = await this.check(jwt);
    if (verdict.ok) this.stats.verified++;
    else this.stats.refused[verdict.reason] = (this.stats.refused[verdict.reason] ?? 0) + 1;
    return verdict;
  }

  private async check(jwt: string): Promise<OidcVerdict> {
    const refuse = (reason: OidcRefusal, message: string): OidcVerdict => ({ ok: false, reason, message });
    let alg: unknown;
    let iss: unknown;
    try {
      ({ alg } = decodeProtectedHeader(jwt));
      ({ iss } = decodeJwt(jwt));
    } catch {
      return refuse('malformed', 'malformed JWT');
    }
    if (!(OIDC_ALGORITHMS as readonly unknown[]).includes(alg)) {
      return refuse('bad-algorithm', `tokens signed with ${String(alg)} are refused; only ${OIDC_ALGORITHMS.join(' and ')}`);
    }
    const issuer = typeof iss === 'string' ? this.issuers.get(iss) : undefined;
    if (typeof iss !== 'string' || !issuer) return refuse('unknown-issuer', `unknown trusted publishing issuer ${JSON.stringify(iss)}`);

    let keys: JWTVerifyGetKey;
    try {
      keys = await this.keysOf(iss, issuer);
    } catch (err) {
      return refuse('issuer-unavailable', (err as Error).message);
    }

    const now = this.now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, keys, {
        algorithms: [...OIDC_ALGORITHMS],
        issuer: iss,
        audience: this.audience,
        requiredClaims: ['iss', 'aud', 'exp', 'iat', 'jti'],
        clockTolerance: this.tolerance,
        currentDate: new Date(now),
      }));
    } catch (err) {
      return this.refusal(err, iss);
    }
    // One audience only: a token meant for this index and another could be replayed at the other.
    if (typeof payload.aud !== 'string') return refuse('wrong-audience', `the token must name ${this.audience} as its only audience`);
    const { exp, iat, jti } = payload;
    if (typeof exp !== 'number' || typeof iat !== 'number' || typeof jti !== 'string' || jti === '') {
      return refuse('missing-claim', 'the token lacks exp, iat or jti');
    }
    if (iat > now / 1000 + this.tolerance) return refuse('issued-in-future', 'the token is issued in the future (check the clocks)');
    // Kept as long as the token could still pass the exp check, and a little more.
    if (!this.used.claim(`${iss}\0${jti}`, (exp + this.tolerance + 5) * 1000, now)) {
      return refuse('replayed', 'invalid token: already used');
    }
    return { ok: true, claims: payload as OidcClaims };
  }

  private refusal(err: unknown, iss: string): OidcVerdict {
    const refuse = (reason: OidcRefusal, message: string): OidcVerdict => ({ ok: false, reason, message });
    if (err instanceof errors.JWKSNoMatchingKey) return refuse('unknown-key', `the token's key id is not among the keys ${iss} publishes`);
    if (err instanceof errors.JWSSignatureVerificationFailed) return refuse('bad-signature', 'signature verification failed');
    if (err instanceof errors.JWTExpired) return refuse('expired', 'the token has expired');
    if (err instanceof errors.JOSEAlgNotAllowed) return refuse('bad-algorithm', err.message);
    if (err instanceof errors.JWTClaimValidationFailed) {
      if (err.reason === 'missing') return refuse('missing-claim', `the token has no ${err.claim} claim`);
      if (err.claim === 'aud') return refuse('wrong-audience', `the token is not for this index (audience must be ${this.audience})`);
      if (err.claim === 'nbf') return refuse('not-yet-valid', 'the token is not valid yet (check the clocks)');
      return refuse('malformed', err.message);
    }
    if (err instanceof errors.JWKSMultipleMatchingKeys) return refuse('bad-signature', 'signature verification failed');
    if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError)) {
      return refuse('issuer-unavailable', `cannot fetch the keys of ${iss}: ${(err as Error).message}`);
    }
    if (err.code === 'ERR_JOSE_GENERIC') return refuse('issuer-unavailable', `cannot fetch the keys of ${iss}: ${err.message}`);
    return refuse('malformed', err.message);
  }

  /** The issuer's key set, discovered once; a failed discovery is retried after the cooldown only. */
  private async keysOf(iss: string, state: IssuerKeys): Promise<JWTVerifyGetKey> {
    if (state.keys) return state.keys;
    this.assertNotCoolingDown(iss, state);
    state.pending ??= this.discover(iss, state).then(
      (keys) => {
        state.keys = keys;
        state.pending = undefined;
        return keys;
      },
      (err: unknown) => {
        state.pending = undefined;
        this.failed(state, err);
        throw new IssuerUnavailable(`cannot reach ${iss}: ${state.lastError ?? ''}`);
      },
    );
    return state.pending;
  }

  /** After a failed request to an issuer, none other for a cooldown: a down issuer is not hammered on behalf of strangers. */
  private assertNotCoolingDown(iss: string, state: IssuerKeys): void {
    if (state.failedAt !== undefined && this.now() - state.failedAt < this.cooldown) {
      throw new IssuerUnavailable(`cannot reach ${iss} (${state.lastError ?? 'unknown error'}); retrying after a cooldown`);
    }
  }

  private failed(state: IssuerKeys, err: unknown): void {
    state.failedAt = this.now();
    state.lastError = (err as Error).message;
  }

  private async discover(iss: string, state: IssuerKeys): Promise<JWTVerifyGetKey> {
    const url = `${iss.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    this.stats.discoveryFetches++;
    const res = await fetch(url, { signal: AbortSignal.timeout(this.fetchTimeout), redirect: 'error' });
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    // The document must be the issuer's own (OpenID Connect Discovery 1.0, section 4.3).
    if (doc.issuer !== iss) throw new Error(`${url} names issuer ${JSON.stringify(doc.issuer)}, not ${iss}`);
    if (typeof doc.jwks_uri !== 'string') throw new Error(`${url} has no jwks_uri`);
    const problem = checkIssuerUrl(doc.jwks_uri);
    if (problem) throw new Error(`jwks_uri ${problem}`);
    const jwksUri = doc.jwks_uri;
    const remote = createRemoteJWKSet(new URL(jwksUri), {
      cooldownDuration: this.cooldown,
      cacheMaxAge: this.keysMaxAge,
      timeoutDuration: this.fetchTimeout,
      [customFetch]: async (input, init) => {
        this.stats.keySetFetches++;
        try {
          const response = await fetch(input, { ...init, redirect: 'error' });
          if (!response.ok) this.failed(state, new Error(`${jwksUri} answered ${response.status}`));
          return response;
        } catch (err) {
          this.failed(state, err);
          throw err;
        }
      },
    });

    // jose refetches the set for an unknown key id at most once per cooldown after a success, but
    // retries a failed fetch at once. Here a failure is followed by a cooldown during which the keys
    // last fetched (if any) answer alone: an issuer that is down is neither hammered nor fatal.
    return async (header, token) => {
      const last = remote.jwks();
      if (state.failedAt !== undefined && this.now() - state.failedAt < this.cooldown) {
        if (last) return createLocalJWKSet(last)(header, token);
        this.assertNotCoolingDown(iss, state);
      }
      try {
        return await remote(header, token);
      } catch (err) {
        if (!last || err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
        return createLocalJWKSet(last)(header, token);
      }
    };
  }
}
