import { LRUCache } from 'lru-cache';
import { type TokenKeyring, type TokenRefusal, type TokenVerdict, recheckToken, verifyToken } from './api-tokens.js';
import { type AuthLogger, memoKey } from './credentials.js';

export type TokenResult = 'ok' | TokenRefusal;

export interface TokenLoginStats {
  /** Signatures checked: the first use of a token per --credential-ttl, and every bad one. */
  verifications: number;
  /** Token logins answered from the remembered verdicts. */
  memoHits: number;
  /** Every token login decided, remembered or not, by result. */
  results: Partial<Record<TokenResult, number>>;
}

export interface TokenLoginOptions {
  keyring: TokenKeyring;
  /** How long a verdict is remembered; 0 remembers nothing. */
  credentialTtl: number;
  /** The revoked token ids on the volume (one directory listing). */
  readRevoked(): Promise<ReadonlySet<string>>;
  log: AuthLogger;
}

const MEMO_MAX = 10_000;
/** A bad token is remembered briefly: a client retrying it costs nothing, and nothing that can change is cached long. */
const FAILURE_TTL_MS = 10_000;

/**
 * API tokens as logins (user `__token__`, the token as password). A token is verified once (its
 * HMAC signature and claims) and the verdict remembered for --credential-ttl, keyed by a hash of
 * the Authorization header like a password's, so a burst of downloads with one token costs one
 * verification. What can change after that is checked again on every request, synchronously:
 * expiry, and the revocation list, which is re-read whenever the generation file changes. A
 * revoked token is therefore refused within one refresh interval on every process, remembered or
 * not.
 */
export class TokenLogins {
  readonly stats: TokenLoginStats = { verifications: 0, memoHits: 0, results: {} };

  private revoked: ReadonlySet<string> = new Set();
  private readonly memo: LRUCache<string, TokenVerdict> | null;
  private readonly inflight = new Map<string, Promise<TokenVerdict>>();
  private reading: Promise<void> | null = null;
  private readAgain = false;
  private lastProblem: string | null = null;
  private readonly opts: TokenLoginOptions;

  constructor(opts: TokenLoginOptions) {
    this.opts = opts;
    this.memo = opts.credentialTtl > 0 ? new LRUCache<string, TokenVerdict>({ max: MEMO_MAX, ttl: opts.credentialTtl }) : null;
  }

  /** Revoked ids known to this process (for /metrics). */
  get revokedCount(): number {
    return this.revoked.size;
  }

  /** The verdict on a token checked recently, rechecked for expiry and revocation, without a promise. */
  remembered(authorization: string): TokenVerdict | undefined {
    const verdict = this.memo?.get(memoKey(authorization));
    if (verdict === undefined) return undefined;
    this.stats.memoHits++;
    return this.count(verdict.ok ? recheckToken(verdict.token, { revoked: this.revoked }) : verdict);
  }

  /** Verifies a token given in an Authorization header; the same header in flight shares one verification. */
  async check(token: string, authorization: string): Promise<TokenVerdict> {
    const key = memoKey(authorization);
    const remembered = this.memo?.get(key);
    if (remembered !== undefined) {
      this.stats.memoHits++;
      return this.count(remembered.ok ? recheckToken(remembered.token, { revoked: this.revoked }) : remembered);
    }
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.verify(token, key).finally(() => {
        if (this.inflight.get(key) === pending) this.inflight.delete(key);
      });
      this.inflight.set(key, pending);
    }
    const verdict = await pending;
    // Revoked while it was being verified: the list read meanwhile has the last word.
    return this.count(verdict.ok ? recheckToken(verdict.token, { revoked: this.revoked }) : verdict);
  }

  private async verify(token: string, key: string): Promise<TokenVerdict> {
    this.stats.verifications++;
    const verdict = await verifyToken(this.opts.keyring, token, { revoked: this.revoked });
    this.memo?.set(key, verdict, verdict.ok ? {} : { ttl: Math.min(FAILURE_TTL_MS, this.opts.credentialTtl) });
    return verdict;
  }

  private count(verdict: TokenVerdict): TokenVerdict {
    const result: TokenResult = verdict.ok ? 'ok' : verdict.reason;
    this.stats.results[result] = (this.stats.results[result] ?? 0) + 1;
    return verdict;
  }

  /**
   * Reads the revocation list again. Calls while a read runs are folded into one more read after
   * it, so a burst of generation changes costs at most two listings. A list that cannot be read
   * leaves the last one in force (logged once per distinct problem).
   */
  refreshRevocations(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = this.readRevocations().finally(() => {
      this.reading = null;
      if (this.readAgain) {
        this.readAgain = false;
        void this.refreshRevocations();
      }
    });
    return this.reading;
  }

  private async readRevocations(): Promise<void> {
    let ids: ReadonlySet<string>;
    try {
      ids = await this.opts.readRevoked();
    } catch (err) {
      const message = `cannot read the token revocation list: ${(err as Error).message}; keeping the last one read`;
      if (message !== this.lastProblem) this.opts.log.error({ revoked: this.revoked.size }, message);
      this.lastProblem = message;
      return;
    }
    this.lastProblem = null;
    const added = [...ids].filter((id) => !this.revoked.has(id));
    this.revoked = ids;
    if (added.length > 0) {
      this.opts.log.info({ added: added.length, ids: added.slice(0, 20) }, 'token revocations read: these tokens are refused from now on');
    }
  }
}
