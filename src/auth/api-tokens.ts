import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { z } from 'zod';
import { ProjectMatcher, ProjectPatternError, normalizePattern } from '../pypi/project-patterns.js';

/**
 * API tokens, used as PyPI's are: user name `__token__`, the token as password (twine, poetry,
 * uv, pip). A token is a JWT signed with HMAC-SHA256 under a key every task is given
 * (`--token-key`), so any task verifies any token without shared state; its claims say what it
 * may do. The `wheelhouse_` prefix lets people and secret scanners recognise one:
 * `wheelhouse_eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`.
 *
 * Several keys may be given: the first signs, and the key id in each token's header picks the key
 * that verifies it, so a new key can be put first while tokens signed with the old one keep
 * working until the old key is dropped.
 */

export const TOKEN_PREFIX = 'wheelhouse_';
/** The user name that says "the password is an API token", as on PyPI. */
export const TOKEN_USERNAME = '__token__';

export const TOKEN_ACTIONS = ['download', 'upload', 'remove', 'yank'] as const;
export type TokenAction = (typeof TOKEN_ACTIONS)[number];

const ALG = 'HS256';
/** Tells these tokens apart from any other JWT that might be signed with the same secret. */
const ISSUER = 'wheelhouse';
const TYP = 'wheelhouse+jwt';
/** HS256 wants a 256-bit key; a person's passphrase is not one. */
export const MIN_KEY_LENGTH = 32;
/** Clocks of tasks and laptops differ a little; a minted token is valid from its `nbf`. */
const CLOCK_TOLERANCE_S = 30;
const MAX_DESCRIPTION = 200;

/** Who a token minted by trusted publishing was given to, for the audit trail. */
export interface OidcIdentity {
  /** The publisher's name in the trusted publishers file. */
  publisher: string;
  /** The OIDC issuer URL (`iss`). */
  issuer: string;
  /** The OIDC subject (`sub`). */
  subject: string;
  /** The claims that say which run it was: repository, workflow ref, ref, sha, run id... */
  claims: Readonly<Record<string, string>>;
}

/** What a token says about itself. Times are seconds since the epoch. */
export interface ApiToken {
  /** The token id (`jti`): what `wheelhouse token revoke` takes and the audit trail names. */
  id: string;
  /** The key that signed it. */
  keyId: string;
  /** Normalized project names or patterns (`mycorp-*`); `*` is every project. */
  projects: readonly string[];
  actions: readonly TokenAction[];
  description: string;
  issuedAt: number;
  notBefore: number | null;
  /** Null for a token that never expires. */
  expiresAt: number | null;
  /** Set on tokens minted by trusted publishing. */
  oidc: OidcIdentity | null;
}

export interface TokenSpec {
  projects: readonly string[];
  actions: readonly TokenAction[];
  /** Seconds from now until it expires; null for never. */
  lifetime: number | null;
  description?: string;
  oidc?: OidcIdentity;
  /** Not valid before it was made (minted tokens): a task whose clock is behind refuses it a little longer. */
  notBeforeNow?: boolean;
  /** Milliseconds since the epoch; defaults to the clock. */
  now?: number;
}

export type TokenRefusal = 'malformed' | 'bad-algorithm' | 'unknown-key' | 'bad-signature' | 'expired' | 'not-yet-valid' | 'revoked';

export type TokenVerdict = { ok: true; token: ApiToken } | { ok: false; reason: TokenRefusal; message: string };

/** Anything that says whether a token id was revoked (a Set of ids will do). */
export interface RevokedIds {
  has(id: string): boolean;
}

export interface VerifyOptions {
  revoked: RevokedIds;
  /** Milliseconds since the epoch; defaults to the clock. */
  now?: number;
}

interface TokenKey {
  id: string;
  secret: Uint8Array;
}

/** The HMAC keys tokens are signed and verified with; the first one signs. */
export class TokenKeyring {
  readonly keys: readonly TokenKey[];
  readonly signing: TokenKey;

  private constructor(first: TokenKey, rest: TokenKey[]) {
    this.signing = first;
    this.keys = [first, ...rest];
  }

  /**
   * Keys from `--token-key` / `WHEELHOUSE_TOKEN_KEY`: comma-separated strings, each at least 32
   * characters (`openssl rand -base64 48` makes one). `source` names the option in errors.
   */
  static parse(value: string, source: string): TokenKeyring {
    const parts = value
      .split(',')
      .map((k) => k.trim())
      .filter((k) => k !== '');
    if (parts.length === 0) throw new Error(`${source}: no key given; make one with: openssl rand -base64 48`);
    const keys: TokenKey[] = [];
    parts.forEach((key, i) => {
      if (key.length < MIN_KEY_LENGTH) {
        throw new Error(
          `${source}: key ${i + 1} is ${key.length} characters long; use at least ${MIN_KEY_LENGTH} random characters ` +
            '(e.g. openssl rand -base64 48)',
        );
      }
      const id = keyId(key);
      if (keys.some((k) => k.id === id)) throw new Error(`${source}: key ${i + 1} is given twice`);
      keys.push({ id, secret: new TextEncoder().encode(key) });
    });
    const [first, ...rest] = keys;
    if (!first) throw new Error(`${source}: no key given`);
    return new TokenKeyring(first, rest);
  }

  find(id: string): TokenKey | undefined {
    return this.keys.find((k) => k.id === id);
  }
}

/**
 * A key's id: a short hash of it, so operators name keys by giving them and nothing else. It tells
 * an attacker nothing a token's signature does not already: both are functions of the key.
 */
function keyId(key: string): string {
  return createHash('sha256').update('wheelhouse token key\0').update(key).digest('base64url').slice(0, 12);
}

export function isTokenAction(value: string): value is TokenAction {
  return (TOKEN_ACTIONS as readonly string[]).includes(value);
}

/** Whether a password is meant as an API token (it may still be a bad one). */
export function looksLikeToken(password: string): boolean {
  return password.startsWith(TOKEN_PREFIX);
}

/** Signs a new token. Throws an Error a person can act on when the spec is not a usable one. */
export async function createToken(keyring: TokenKeyring, spec: TokenSpec): Promise<{ token: string; claims: ApiToken }> {
  if (spec.projects.length === 0) throw new Error('a token needs at least one project or pattern (use * for every project)');
  const projects = [...new Set(spec.projects.map(normalizePattern))];
  if (spec.actions.length === 0) throw new Error(`a token needs at least one action: ${TOKEN_ACTIONS.join(', ')}`);
  for (const a of spec.actions) if (!isTokenAction(a)) throw new Error(`unknown action "${String(a)}": use ${TOKEN_ACTIONS.join(', ')}`);
  const actions = TOKEN_ACTIONS.filter((a) => spec.actions.includes(a));
  if (spec.lifetime !== null && (!Number.isInteger(spec.lifetime) || spec.lifetime <= 0)) {
    throw new Error(`a token's lifetime must be a positive number of seconds (got ${spec.lifetime})`);
  }
  const description = spec.description ?? '';
  if (description.length > MAX_DESCRIPTION) throw new Error(`a token's description is limited to ${MAX_DESCRIPTION} characters`);

  const key = keyring.signing;
  const issuedAt = Math.floor((spec.now ?? Date.now()) / 1000);
  const claims: ApiToken = {
    id: randomBytes(12).toString('hex'),
    keyId: key.id,
    projects,
    actions,
    description,
    issuedAt,
    notBefore: spec.notBeforeNow ? issuedAt : null,
    expiresAt: spec.lifetime === null ? null : issuedAt + spec.lifetime,
    oidc: spec.oidc ?? null,
  };
  const payload: Record<string, unknown> = { projects, actions };
  if (description) payload.description = description;
  if (claims.oidc) payload.oidc = claims.oidc;
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: ALG, kid: key.id, typ: TYP })
    .setIssuer(ISSUER)
    .setJti(claims.id)
    .setIssuedAt(issuedAt);
  if (claims.notBefore !== null) jwt.setNotBefore(claims.notBefore);
  if (claims.expiresAt !== null) jwt.setExpirationTime(claims.expiresAt);
  return { token: TOKEN_PREFIX + (await jwt.sign(key.secret)), claims };
}

const identitySchema = z.object({
  publisher: z.string(),
  issuer: z.string(),
  subject: z.string(),
  claims: z.record(z.string(), z.string()),
});

const payloadSchema = z.object({
  jti: z.string().regex(/^[0-9a-f]{8,64}$/),
  iat: z.number().int(),
  nbf: z.number().int().optional(),
  exp: z.number().int().optional(),
  projects: z.array(z.string()).min(1),
  actions: z.array(z.enum(TOKEN_ACTIONS)).min(1),
  description: z.string().optional(),
  oidc: identitySchema.optional(),
});

/** The claims of a token read without checking its signature (for `token inspect`), or null. */
export function decodeToken(token: string): ApiToken | null {
  if (!looksLikeToken(token)) return null;
  const jwt = token.slice(TOKEN_PREFIX.length);
  try {
    const header = decodeProtectedHeader(jwt);
    return fromPayload(decodeJwt(jwt), typeof header.kid === 'string' ? header.kid : '');
  } catch {
    return null;
  }
}

function fromPayload(raw: unknown, kid: string): ApiToken | null {
  const parsed = payloadSchema.safeParse(raw);
  if (!parsed.success) return null;
  const p = parsed.data;
  let projects: string[];
  try {
    projects = p.projects.map(normalizePattern);
  } catch (err) {
    if (err instanceof ProjectPatternError) return null;
    throw err;
  }
  return {
    id: p.jti,
    keyId: kid,
    projects,
    actions: p.actions,
    description: p.description ?? '',
    issuedAt: p.iat,
    notBefore: p.nbf ?? null,
    expiresAt: p.exp ?? null,
    oidc: p.oidc ?? null,
  };
}

const refuse = (reason: TokenRefusal, message: string): TokenVerdict => ({ ok: false, reason, message });

/**
 * Verifies a token: its prefix, a key id this keyring holds, the HS256 signature (no other
 * algorithm, `none` included), issuer and type, `exp` and `nbf` with a 30 s tolerance, the shape
 * of its claims, and that its id is not revoked.
 */
export async function verifyToken(keyring: TokenKeyring, token: string, opts: VerifyOptions): Promise<TokenVerdict> {
  if (!looksLikeToken(token)) return refuse('malformed', `not a wheelhouse API token (they start with ${TOKEN_PREFIX})`);
  const jwt = token.slice(TOKEN_PREFIX.length);
  let kid: unknown;
  let alg: unknown;
  try {
    ({ kid, alg } = decodeProtectedHeader(jwt));
  } catch {
    return refuse('malformed', 'the token is damaged (not a signed JWT); copy it again whole');
  }
  if (alg !== ALG) return refuse('bad-algorithm', `the token is signed with ${String(alg)}; only ${ALG} tokens are issued here`);
  const key = typeof kid === 'string' ? keyring.find(kid) : undefined;
  if (!key) return refuse('unknown-key', 'the token was signed with a key this server does not have (rotated out, or another server)');

  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(jwt, key.secret, {
      algorithms: [ALG],
      issuer: ISSUER,
      typ: TYP,
      requiredClaims: ['jti', 'iat'],
      clockTolerance: CLOCK_TOLERANCE_S,
      currentDate: new Date(opts.now ?? Date.now()),
    }));
  } catch (err) {
    if (err instanceof errors.JWSSignatureVerificationFailed) return refuse('bad-signature', 'the token signature does not match');
    if (err instanceof errors.JWTExpired) return refuse('expired', 'the token has expired');
    if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'nbf') return refuse('not-yet-valid', 'the token is not valid yet');
    if (err instanceof errors.JOSEError) return refuse('malformed', `the token is not one of ours (${err.message})`);
    throw err;
  }
  const claims = fromPayload(payload, key.id);
  if (!claims) return refuse('malformed', 'the token claims are not understood here');
  if (opts.revoked.has(claims.id)) return refuse('revoked', `the token ${claims.id} has been revoked`);
  return { ok: true, token: claims };
}

/**
 * Checks again what can change after a verification was remembered: expiry and revocation. For a
 * cache of verified tokens, so a remembered token stops working the moment it expires or the
 * revocation list that names it is read.
 */
export function recheckToken(token: ApiToken, opts: VerifyOptions): TokenVerdict {
  const now = (opts.now ?? Date.now()) / 1000;
  if (token.expiresAt !== null && token.expiresAt <= now - CLOCK_TOLERANCE_S) return refuse('expired', 'the token has expired');
  if (opts.revoked.has(token.id)) return refuse('revoked', `the token ${token.id} has been revoked`);
  return { ok: true, token };
}

const matchers = new WeakMap<ApiToken, ProjectMatcher>();

/** Whether a verified token may do `action` on `project` (any spelling; it is normalized). */
export function tokenAllows(token: ApiToken, action: TokenAction, project: string): boolean {
  if (!token.actions.includes(action)) return false;
  let matcher = matchers.get(token);
  if (!matcher) {
    matcher = new ProjectMatcher(token.projects);
    matchers.set(token, matcher);
  }
  return matcher.matches(project);
}

/** Whether a verified token may do `action` on some project (before the project is known, as in an upload's headers). */
export function tokenAllowsAction(token: ApiToken, action: TokenAction): boolean {
  return token.actions.includes(action);
}
