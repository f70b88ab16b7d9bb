import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config.js';
import { constantTimeEqual, parseHtpasswd, verifyPassword } from './htpasswd.js';
import { readFresh } from '../store/read-fresh.js';

/** The part of a pino logger used here. */
export interface AuthLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type CheckResult = { ok: true; user: string } | { ok: false; user?: string };

export interface CredentialStats {
  /** Real hash checks run (bcrypt, apr1, ...). */
  verifications: number;
  /** Checks answered from the memo of recent successes. */
  memoHits: number;
  /** Checks that joined a verification of the same header already in flight. */
  shared: number;
  /** Checks that carried credentials and were refused. */
  failures: number;
}

interface Entry {
  hash: string;
  /** --username/--password: compared as is, even if the password happens to look like a hash. */
  plain: boolean;
}

const MEMO_MAX = 10_000;
const MIN_POLL_MS = 1000;
const FILE_FLAGS = '--passwords / WHEELHOUSE_PASSWORDS';
const INLINE_SOURCE = '--htpasswd / WHEELHOUSE_HTPASSWD';

/** Fails start-up when logins are required but nobody could ever log in. */
export function assertAuthConfig(config: Config): void {
  if (config.authenticate.size === 0) return;
  if (config.passwords !== null || config.htpasswd || config.username) return;
  throw new Error(
    `--authenticate requires a login for ${[...config.authenticate].join(', ')}, but no users are configured: ` +
      'pass --passwords FILE (WHEELHOUSE_PASSWORDS), --htpasswd (WHEELHOUSE_HTPASSWD) or --username/--password; ' +
      'for a fully open server pass --authenticate . --passwords .',
  );
}

/** `Authorization: Basic base64(user:password)`; the password may contain ':'. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | null {
  if (!header) return null;
  const m = /^\s*Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!m) return null;
  const bytes = Buffer.from(m[1]!, 'base64');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // requests (so pip and twine) encodes credentials as latin-1.
    text = bytes.toString('latin1');
  }
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** One-shot hashing: a Hash object per request was a visible share of a burst's CPU. */
function sha256(text: string): string {
  return hash('sha256', text, 'hex');
}

/**
 * The user table, from the htpasswd file, an inline htpasswd body and a single
 * --username/--password (the first source naming a user wins, in that reverse order).
 *
 * bcrypt costs tens of milliseconds of CPU, and the stress profile sends Basic auth on every
 * request of 510 clients: successful verdicts are remembered briefly, keyed by a hash of the
 * header, and identical checks in flight share one verification.
 */
export class Credentials {
  readonly stats: CredentialStats = { verifications: 0, memoHits: 0, shared: 0, failures: 0 };

  private users: Map<string, Entry>;
  private readonly fixed: Map<string, Entry>;
  private readonly memo: LRUCache<string, string> | null;
  private readonly inflight = new Map<string, Promise<CheckResult>>();
  /** Bumped on every table change so a verification that straddles one is not memoized. */
  private version = 0;
  private fileHash: string | null;
  private lastProblem: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private readonly config: Config;
  private readonly logger: AuthLogger;

  private constructor(
    config: Config,
    logger: AuthLogger,
    fixed: Map<string, Entry>,
    file: { hash: string; users: Map<string, string> } | null,
  ) {
    this.config = config;
    this.logger = logger;
    this.fixed = fixed;
    this.fileHash = file?.hash ?? null;
    this.users = Credentials.merge(fixed, file?.users ?? new Map());
    this.memo = config.credentialTtl > 0 ? new LRUCache<string, string>({ max: MEMO_MAX, ttl: config.credentialTtl }) : null;
  }

  /** Reads every configured source; throws an Error a person can act on if one cannot be used. */
  static async load(config: Config, logger: AuthLogger): Promise<Credentials> {
    assertAuthConfig(config);
    const fixed = new Map<string, Entry>();
    if (config.username && config.password !== undefined) fixed.set(config.username, { hash: config.password, plain: true });
    if (config.htpasswd) {
      for (const [user, hash] of parseHtpasswd(config.htpasswd, INLINE_SOURCE)) {
        if (!fixed.has(user)) fixed.set(user, { hash, plain: false });
      }
    }
    let file: { hash: string; users: Map<string, string> } | null = null;
    if (config.passwords !== null) {
      let text: string;
      try {
        text = (await readFresh(config.passwords)).toString('utf8');
      } catch (err) {
        throw new Error(`cannot read the password file ${config.passwords} (${FILE_FLAGS}): ${(err as Error).message}`);
      }
      file = { hash: sha256(text), users: Credentials.parseFile(text, config.passwords) };
    }
    const credentials = new Credentials(config, logger, fixed, file);
    if (config.authenticate.size > 0 && credentials.users.size === 0) {
      throw new Error(
        `no users in ${[config.passwords, config.htpasswd && INLINE_SOURCE].filter(Boolean).join(' or ')}: nobody could log in`,
      );
    }
    for (const user of config.uploaders ?? []) {
      if (!credentials.users.has(user)) logger.warn({ user }, 'an uploader named in --uploaders has no password entry');
    }
    logger.info({ users: credentials.users.size, file: config.passwords }, 'logins loaded');
    if (config.passwords !== null) credentials.schedule();
    return credentials;
  }

  private static parseFile(text: string, source: string): Map<string, string> {
    const users = parseHtpasswd(text, source);
    // An empty file is more often a write caught half-way (truncate, then write) than a wish to lock everyone out.
    if (users.size === 0) throw new Error(`${source}: no users (an empty file is refused; use --authenticate . for an open server)`);
    return users;
  }

  private static merge(fixed: Map<string, Entry>, fromFile: Map<string, string>): Map<string, Entry> {
    const users = new Map(fixed);
    for (const [user, hash] of fromFile) if (!users.has(user)) users.set(user, { hash, plain: false });
    return users;
  }

  get userCount(): number {
    return this.users.size;
  }

  /** Whether a user has an entry (for logs: unknown user or wrong password). */
  knows(user: string): boolean {
    return this.users.has(user);
  }

  /**
   * The user of an `Authorization` header verified recently, answered without a promise: every
   * request of a burst but the first takes this path.
   */
  remembered(header: string): string | undefined {
    const user = this.memo?.get(sha256(header));
    if (user !== undefined) this.stats.memoHits++;
    return user;
  }

  /** Checks an `Authorization` header value. */
  async check(header: string | undefined): Promise<CheckResult> {
    const creds = parseBasicAuth(header);
    if (!creds || header === undefined) return { ok: false };
    const key = sha256(header);
    let result: CheckResult;
    const remembered = this.memo?.get(key);
    if (remembered !== undefined) {
      this.stats.memoHits++;
      result = { ok: true, user: remembered };
    } else {
      let pending = this.inflight.get(key);
      if (pending) {
        this.stats.shared++;
      } else {
        pending = this.verify(creds.user, creds.password, key);
        const settled = pending.finally(() => {
          if (this.inflight.get(key) === settled) this.inflight.delete(key);
        });
        this.inflight.set(key, settled);
        pending = settled;
      }
      result = await pending;
    }
    if (!result.ok) this.stats.failures++;
    return result;
  }

  private async verify(user: string, password: string, key: string): Promise<CheckResult> {
    const entry = this.users.get(user);
    if (!entry) return { ok: false, user };
    const version = this.version;
    this.stats.verifications++;
    const ok = entry.plain ? constantTimeEqual(password, entry.hash) : await verifyPassword(password, entry.hash);
    if (!ok) return { ok: false, user };
    if (version === this.version) this.memo?.set(key, user);
    return { ok: true, user };
  }

  /** Uploading and removing: every user unless --uploaders names who may. */
  canUpdate(user: string): boolean {
    return this.config.uploaders === null || this.config.uploaders.has(user);
  }

  /**
   * Reads the password file once and swaps the table in if its content changed.
   * Reads rather than stats: on EFS, attributes are cached per client and inotify never sees
   * another host's writes, while open+read always returns fresh bytes.
   */
  async refresh(): Promise<boolean> {
    const file = this.config.passwords;
    if (file === null) return false;
    let text: string;
    try {
      text = (await readFresh(file)).toString('utf8');
    } catch (err) {
      this.problem(`cannot read the password file ${file}: ${(err as Error).message}; keeping the last good logins`);
      return false;
    }
    const hash = sha256(text);
    if (hash === this.fileHash) {
      this.recovered();
      return false;
    }
    let fromFile: Map<string, string>;
    try {
      fromFile = Credentials.parseFile(text, file);
    } catch (err) {
      this.problem(`${(err as Error).message}; keeping the last good logins`);
      return false;
    }
    this.fileHash = hash;
    this.users = Credentials.merge(this.fixed, fromFile);
    this.version++;
    this.memo?.clear();
    this.inflight.clear();
    this.lastProblem = null;
    this.logger.info({ users: this.users.size, file }, 'password file changed: logins reloaded');
    return true;
  }

  private problem(message: string): void {
    // Once per distinct problem, not once per poll.
    if (message === this.lastProblem) return;
    this.lastProblem = message;
    this.logger.error({ file: this.config.passwords }, message);
  }

  private recovered(): void {
    if (this.lastProblem === null) return;
    this.lastProblem = null;
    this.logger.info({ file: this.config.passwords }, 'password file readable again, unchanged');
  }

  private schedule(): void {
    if (this.closed) return;
    const interval = Math.max(MIN_POLL_MS, this.config.refreshInterval);
    this.timer = setTimeout(() => {
      this.refresh()
        .catch((err: unknown) => this.logger.error({ err }, 'password file poll failed'))
        .finally(() => this.schedule());
    }, interval);
    this.timer.unref();
  }

  /** Stops the poller. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
