import type { AuthLogger } from './credentials.js';
import { memoKey } from './credentials.js';

export interface WatchedFileOptions<T> {
  file: string;
  /** What the file is, for messages: `the ACL file`. */
  what: string;
  /** Parses the text; throws an Error naming the file and the line when it cannot be used. */
  parse(text: string): T;
  /** Reads the file whole and fresh (never through a cached stat). */
  readFile(file: string): Promise<Buffer>;
  /** How often the file is read for changes (at least once a second). */
  interval: number;
  log: AuthLogger;
  /** Called with the new value when the file changed and parses. */
  onChange?(value: T): void;
}

const MIN_POLL_MS = 1000;

/**
 * A configuration file that is re-read when it changes, as the password file is: read (not
 * stat'ed, which on EFS can be stale) every interval, compared by hash, parsed, swapped in. A
 * change that cannot be parsed is logged and the last good content stays in force, so a typo
 * while editing never drops every right at once. At start an unreadable or unusable file is an
 * error: the server does not start on a configuration it cannot apply.
 */
export class WatchedFile<T> {
  private current: T;
  private digest: string;
  private lastProblem: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly opts: WatchedFileOptions<T>;

  private constructor(opts: WatchedFileOptions<T>, value: T, digest: string) {
    this.opts = opts;
    this.current = value;
    this.digest = digest;
  }

  static async load<T>(opts: WatchedFileOptions<T>): Promise<WatchedFile<T>> {
    let text: string;
    try {
      text = (await opts.readFile(opts.file)).toString('utf8');
    } catch (err) {
      throw new Error(`cannot read ${opts.what} ${opts.file}: ${(err as Error).message}`);
    }
    const watched = new WatchedFile(opts, opts.parse(text), memoKey(text));
    watched.schedule();
    return watched;
  }

  get value(): T {
    return this.current;
  }

  /** Reads the file once; swaps the new content in when it changed and parses. */
  async refresh(): Promise<boolean> {
    let text: string;
    try {
      text = (await this.opts.readFile(this.opts.file)).toString('utf8');
    } catch (err) {
      this.problem(`cannot read ${this.opts.what} ${this.opts.file}: ${(err as Error).message}; keeping what was read last`);
      return false;
    }
    const digest = memoKey(text);
    if (digest === this.digest) {
      if (this.lastProblem !== null) this.opts.log.info({ file: this.opts.file }, `${this.opts.what} is usable again, unchanged`);
      this.lastProblem = null;
      return false;
    }
    let value: T;
    try {
      value = this.opts.parse(text);
    } catch (err) {
      this.problem(`${(err as Error).message}; ${this.opts.what} changed but cannot be used: keeping what was read last`);
      return false;
    }
    this.digest = digest;
    this.current = value;
    this.lastProblem = null;
    this.opts.onChange?.(value);
    this.opts.log.info({ file: this.opts.file }, `${this.opts.what} changed: reloaded`);
    return true;
  }

  private problem(message: string): void {
    // Once per distinct problem, not once per poll.
    if (message === this.lastProblem) return;
    this.lastProblem = message;
    this.opts.log.error({ file: this.opts.file }, message);
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(
      () => {
        this.refresh()
          .catch((err: unknown) => {
            this.opts.log.error({ err, file: this.opts.file }, `${this.opts.what}: poll failed`);
          })
          .finally(() => {
            this.schedule();
          });
      },
      Math.max(MIN_POLL_MS, this.opts.interval),
    );
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
