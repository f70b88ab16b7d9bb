import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { constantTimeEqual, parseHtpasswd, type HtpasswdError, type ParsedHtpasswd } from './htpasswd.js';
import { PasswordChecker } from './password-checker.js';
import { WatchedFile } from './watched-file.js';

/** The part of a pino logger used here. */
export interface AuthLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface CheckResult {
  ok: boolean;
  user: string;
}

export interface CredentialStats {
  /** Real hash checks run (bcrypt and others, the decoy for unknown users included). */
  verifications: number;
  /** Checks answered from the remembered verdicts. */
  memoHits: number;
  /** Checks that joined a check of the same credentials already in flight. */
  shared: number;
  /** Checks that were refused. */
  failures: number;
}

/** What Credentials needs to know; derived once in the configuration. */
export interface CredentialOptions {
  /** htpasswd file, re-read when it changes; null for none. */
  passwordsFile: string | null;
  /** An htpasswd body given as one value (a Secrets Manager secret). */
  htpasswd?: string | undefined;
  /** A single user with a plaintext password (ECS secrets). */
  username?: string | undefined;
  password?: string | undefined;
  /** Users who may upload, remove and yank; null for every user. */
  uploaders: ReadonlySet<string> | null;
  /** How long a verdict is remembered; 0 remembers nothing. */
  credentialTtl: number;
  /** How often the password file is read for changes. */
  refreshInterval: number;
}

export interface CredentialDeps {
  /** Reads a file whole, fresh from the volume (never a cached stat). */
  readFile(file: string): Promise<Buffer>;
  checker: PasswordChecker;
  log: AuthLogger;
}

/** Runs around one real verification (see check()). */
export interface CheckGuard {
  /** Before hashing; a throw refuses the check (and every request that joined it). */
  before(): Promise<void>;
  /** After hashing: whether the password was right. */
  after(ok: boolean): void;
}

interface Entry {
  hash: string;
  /** --username/--password: compared as is, even if the password happens to look like a hash. */
  plain: boolean;
}

interface Verdict {
  ok: boolean;
  user: string;
}

const MEMO_MAX = 10_000;
/** Bounds what the remembered headers weigh, whatever their length (a header may be 16 KiB). */
const MEMO_MAX_BYTES = 8 * 1024 * 1024;
/** Wrong passwords are remembered briefly: long enough to make a repeated guess free, short enough for a typo. */
const FAILURE_TTL_MS = 10_000;
const FILE_FLAGS = '--passwords / WHEELHOUSE_PASSWORDS';
const INLINE_SOURCE = '--htpasswd / WHEELHOUSE_HTPASSWD';

/** A digest of a file's content, to tell whether it changed. */
export function memoKey(authorization: string): string {
  return hash('sha256', authorization, 'hex');
}

/**
 * The user table, from the htpasswd file, an inline htpasswd body and a single
 * --username/--password (the first source naming a user wins, in that reverse order).
 *
 * bcrypt costs tens of milliseconds of CPU, and the stress profile sends Basic auth on every
 * request of 510 clients: verdicts are remembered briefly, keyed by the Authorization header
 * itself, and identical checks in flight share one verification. The header, not a digest of it:
 * hashing it on every request was a visible share of a burst's CPU, and the map is in this
 * process's memory only, where the header of every request passes anyway; it is bounded in
 * entries and bytes and cleared whenever the user table changes.
 */
export class Credentials {
  readonly stats: CredentialStats = { verifications: 0, memoHits: 0, shared: 0, failures: 0 };

  private users: Map<string, Entry>;
  private decoy: string;
  private readonly fixed: Map<string, Entry>;
  private readonly memo: LRUCache<string, Verdict> | null;
  private readonly inflight = new Map<string, Promise<Verdict>>();
  /** Bumped on every table change so a verification that straddles one is not remembered. */
  private version = 0;
  private readonly file: WatchedFile<ParsedHtpasswd> | null;

  private readonly opts: CredentialOptions;
  private readonly deps: CredentialDeps;

  private constructor(opts: CredentialOptions, deps: CredentialDeps, fixed: Map<string, Entry>, file: WatchedFile<ParsedHtpasswd> | null) {
    this.opts = opts;
    this.deps = deps;
    this.fixed = fixed;
    this.file = file;
    this.users = Credentials.merge(fixed, file?.value.users ?? new Map<string, string>());
    this.decoy = this.decoyHash();
    this.memo =
      opts.credentialTtl > 0
        ? new LRUCache<string, Verdict>({
            max: MEMO_MAX,
            maxSize: MEMO_MAX_BYTES,
            sizeCalculation: (_verdict, authorization) => authorization.length + 64,
            ttl: opts.credentialTtl,
          })
        : null;
  }

  /**
   * Reads every configured source. A line that cannot be used is logged and left out; a password
   * file that cannot be read, or no user at all, is an Error a person can act on.
   */
  static async load(opts: CredentialOptions, deps: CredentialDeps): Promise<Credentials> {
    const fixed = new Map<string, Entry>();
    if (opts.username && opts.password !== undefined) fixed.set(opts.username, { hash: opts.password, plain: true });
    if (opts.htpasswd) {
      const inline = parseHtpasswd(opts.htpasswd, INLINE_SOURCE);
      logProblems(deps.log, inline.problems);
      for (const [user, hash] of inline.users) if (!fixed.has(user)) fixed.set(user, { hash, plain: false });
    }
    // A line that cannot be used is left out and logged; the rest applies at once, so removing a
    // user always works (parsing never throws).
    const file =
      opts.passwordsFile === null
        ? null
        : await WatchedFile.load({
            file: opts.passwordsFile,
            what: 'the password file',
            option: FILE_FLAGS,
            kept: 'the last logins read',
            parse: (text) => parseHtpasswd(text, opts.passwordsFile ?? ''),
            readFile: (f) => deps.readFile(f),
            interval: opts.refreshInterval,
            log: deps.log,
            onChange: (parsed) => {
              credentials.reloaded(parsed);
            },
          });
    if (file) logProblems(deps.log, file.value.problems);
    const credentials = new Credentials(opts, deps, fixed, file);
    if (credentials.users.size === 0) {
      credentials.close();
      const sources = [opts.passwordsFile, opts.htpasswd && INLINE_SOURCE].filter(Boolean).join(' or ');
      throw new Error(`no users: nobody in ${sources} could log in (use --authenticate . --passwords . for an open server)`);
    }
    for (const user of opts.uploaders ?? []) {
      if (!credentials.users.has(user)) deps.log.warn({ user }, 'an uploader named in --uploaders has no password entry');
    }
    deps.log.info({ users: credentials.users.size, file: opts.passwordsFile }, 'logins loaded');
    return credentials;
  }

  private static merge(fixed: Map<string, Entry>, fromFile: Map<string, string>): Map<string, Entry> {
    const users = new Map(fixed);
    for (const [user, hash] of fromFile) if (!users.has(user)) users.set(user, { hash, plain: false });
    return users;
  }

  private decoyHash(): string {
    return PasswordChecker.decoyFor([...this.users.values()].filter((e) => !e.plain).map((e) => e.hash));
  }

  get userCount(): number {
    return this.users.size;
  }

  /** Whether a user has an entry (for logs: unknown user or wrong password). */
  knows(user: string): boolean {
    return this.users.has(user);
  }

  /**
   * The verdict on an Authorization header checked recently, answered without a promise: every
   * request of a burst but the first takes this path.
   */
  remembered(authorization: string): CheckResult | undefined {
    const verdict = this.memo?.get(authorization);
    if (verdict === undefined) return undefined;
    this.stats.memoHits++;
    if (!verdict.ok) this.stats.failures++;
    return verdict;
  }

  /** A check of the same header already running, to join instead of starting another. */
  inFlight(authorization: string): Promise<CheckResult> | undefined {
    const pending = this.inflight.get(authorization);
    if (!pending) return undefined;
    this.stats.shared++;
    return pending.then((v) => this.count(v));
  }

  /**
   * Checks a user and password from an Authorization header (the header keys the remembered
   * verdict). `guard` runs once per real verification, not per request joining it: the throttle
   * reserves its slot there, so a burst of one credential costs one slot and one hash.
   */
  async check(user: string, password: string, authorization: string, guard?: CheckGuard): Promise<CheckResult> {
    const key = authorization;
    const remembered = this.memo?.get(key);
    if (remembered !== undefined) {
      this.stats.memoHits++;
      return this.count(remembered);
    }
    let pending = this.inflight.get(key);
    if (pending) {
      this.stats.shared++;
    } else {
      const started = this.verify(user, password, key, guard);
      pending = started.finally(() => {
        if (this.inflight.get(key) === pending) this.inflight.delete(key);
      });
      this.inflight.set(key, pending);
    }
    return this.count(await pending);
  }

  private count(verdict: Verdict): CheckResult {
    if (!verdict.ok) this.stats.failures++;
    return verdict;
  }

  private async verify(user: string, password: string, key: string, guard?: CheckGuard): Promise<Verdict> {
    await guard?.before();
    const version = this.version;
    let ok = false;
    try {
      ok = await this.hashCheck(user, password);
    } catch (err) {
      // Not the client's failure (a full check queue): nothing is counted against it.
      guard?.after(true);
      throw err;
    }
    guard?.after(ok);
    const verdict = { ok, user };
    // A table change while hashing (a password changed) makes this verdict stale: do not keep it.
    if (version === this.version) this.remember(key, verdict);
    return verdict;
  }

  private async hashCheck(user: string, password: string): Promise<boolean> {
    const entry = this.users.get(user);
    this.stats.verifications++;
    if (!entry) {
      // As slow as a wrong password, so timing does not tell which user names exist.
      await this.deps.checker.verify(password, this.decoy);
      return false;
    }
    return entry.plain ? constantTimeEqual(password, entry.hash) : this.deps.checker.verify(password, entry.hash);
  }

  private remember(key: string, verdict: Verdict): void {
    this.memo?.set(key, verdict, verdict.ok ? {} : { ttl: Math.min(FAILURE_TTL_MS, this.opts.credentialTtl) });
  }

  /** Uploading, removing and yanking: every user unless --uploaders names who may. */
  canUpdate(user: string): boolean {
    return this.opts.uploaders === null || this.opts.uploaders.has(user);
  }

  /**
   * Reads the password file once and swaps the table in if its content changed. Reads rather than
   * stats: on EFS, attributes are cached per client and inotify never sees another host's writes,
   * while open+read always returns fresh bytes.
   */
  refresh(): Promise<boolean> {
    return this.file?.refresh() ?? Promise.resolve(false);
  }

  private reloaded(parsed: ParsedHtpasswd): void {
    const file = this.opts.passwordsFile;
    this.users = Credentials.merge(this.fixed, parsed.users);
    this.decoy = this.decoyHash();
    this.version++;
    this.memo?.clear();
    this.inflight.clear();
    if (parsed.problems.length) logProblems(this.deps.log, parsed.problems);
    if (parsed.users.size === 0) this.deps.log.error({ file }, 'the password file has no usable users: nobody from it can log in');
    this.deps.log.info({ users: this.users.size, file, skippedLines: parsed.problems.length }, 'password file changed: logins reloaded');
  }

  /** Stops the poller. */
  close(): void {
    this.file?.close();
  }
}

function logProblems(log: AuthLogger, problems: readonly HtpasswdError[]): void {
  for (const p of problems) log.error({ source: p.source, line: p.line }, `${p.message}; that line is ignored`);
}
