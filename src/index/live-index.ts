import type { DistFile } from '../store/dist-file.js';
import type { ScanProgress } from '../store/scanner.js';
import type { IndexLogger, IndexSource } from './ports.js';
import { Snapshot } from './snapshot.js';

/** A token no generation file holds: the next poll rescans whatever it reads. */
const RETRY = '\0retry';

/** A write of this process, applied to the snapshot at once and replayed over a scan that listed before it. */
export interface LocalChange {
  add?: DistFile[];
  remove?: string[];
  yank?: { key: string; reason: string | null };
}

export interface RescanInfo {
  at: number;
  durationMs: number;
  full: boolean;
  files: number;
  hashed: number;
  /** Files listed but not readable (I/O errors) in that scan: not served. */
  unreadable: number;
}

/** What /health and /metrics show: a copy, never the live fields. */
export interface IndexStatus {
  ready: boolean;
  /** Token of the generation whose writes this process serves. */
  token: string | null;
  lastPollOkAt: number | null;
  pollFailingSince: number | null;
  lastRescan: RescanInfo | null;
  rescans: number;
  projects: number;
  files: number;
  /** While the first scan runs: how far it got. */
  loading: ScanProgress | null;
}

/**
 * Keeps the in-memory snapshot of the volume current: the refresh protocol.
 *
 * Consistency with other processes comes from the generation file: poll() reads the token and,
 * when it changed, rescans the volume off to the side and swaps the new snapshot in whole.
 * This process's own writes are applied at once (read-your-writes) and survive a concurrent
 * rescan that listed the volume before them.
 */
export class LiveIndex {
  private readonly source: IndexSource;
  private readonly log: IndexLogger;

  private snap = Snapshot.empty();
  private loadedAt: number | null = null;
  /** Token of the generation whose writes this process serves: set only once its rescan is in. */
  private token: string | null = null;
  /** Token last read from the generation file; its rescan may still be running. */
  private seen: string | null = null;
  /** The rescan that brings `token` up to `seen`, for a poll that arrives while it runs. */
  private catchingUp: Promise<void> = Promise.resolve();
  private lastPollOkAt: number | null = null;
  private pollFailingSince: number | null = null;
  private lastRescan: RescanInfo | null = null;
  private rescans = 0;
  private readonly progress: ScanProgress = { seen: 0, hashed: 0 };
  private readonly generationListeners: (() => void)[] = [];
  /** Whether the state folder existed once loaded: on a read-only volume without one, its absence is normal. */
  private hadStateDir = false;

  private running: Promise<void> | null = null;
  private pending: { full: boolean; dirty: Set<string> } | null = null;
  private seq = 0;
  private local: (LocalChange & { seq: number })[] = [];

  constructor(source: IndexSource, log: IndexLogger) {
    this.source = source;
    this.log = log;
  }

  get snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Calls `listener` whenever a poll reads a new generation token, before the rescan it starts:
   * state kept on the volume beside the packages (token revocations) is re-read then, by every
   * worker and task, like the index itself.
   */
  onNewGeneration(listener: () => void): void {
    this.generationListeners.push(listener);
  }

  get ready(): boolean {
    return this.loadedAt !== null;
  }

  status(): IndexStatus {
    return {
      ready: this.ready,
      token: this.token,
      lastPollOkAt: this.lastPollOkAt,
      pollFailingSince: this.pollFailingSince,
      lastRescan: this.lastRescan,
      rescans: this.rescans,
      projects: this.snap.projects.size,
      files: this.snap.fileCount,
      loading: this.ready ? null : { ...this.progress },
    };
  }

  /** First full scan. The token is read before listing, so a write during the scan is caught by the next poll. */
  async load(): Promise<void> {
    await this.source.init();
    this.hadStateDir = await this.source.stateDirExists();
    this.seen = await this.source.readGeneration();
    await this.rescan({ full: true, progress: this.progress });
    this.token = this.seen;
    this.lastPollOkAt = Date.now();
    this.loadedAt = Date.now();
  }

  /**
   * One poll: open+read of the generation file. A new token is applied (shown by /health) only
   * once a rescan that started after reading it is in; a failed rescan is retried at the next poll.
   * A poll that finds the token already being caught up with waits for that rescan, so whoever
   * awaits a poll knows every write up to the token it read is served.
   */
  async poll(): Promise<boolean> {
    let token: string | null;
    try {
      token = await this.source.readGeneration();
      // No generation file is normal on a volume nobody could write to, but not when our own
      // state folder is gone too: the volume is unmounted or was swapped under us.
      if (token === null && this.hadStateDir && !(await this.source.stateDirExists())) {
        throw new Error('the state folder .wheelhouse/ is missing');
      }
    } catch (err) {
      this.pollFailingSince ??= Date.now();
      this.log.warn({ err }, 'cannot read the generation file');
      return false;
    }
    this.lastPollOkAt = Date.now();
    this.pollFailingSince = null;
    if (token === this.seen) {
      await this.catchingUp;
      return false;
    }
    this.seen = token;
    for (const listener of this.generationListeners) listener();
    const run = this.rescan({ full: false }).then(() => {
      // A later poll may have seen a newer token meanwhile; it applies its own.
      if (this.seen === token) this.token = token;
    });
    this.catchingUp = run.catch(() => undefined);
    try {
      await run;
      return true;
    } catch (err) {
      if (this.seen === token) this.seen = RETRY;
      this.pollFailingSince ??= Date.now();
      throw err;
    }
  }

  /**
   * Rescans the volume and swaps the result in. Single-flight: a request for a rescan while one
   * runs is merged into one more run after it, so a burst of changes costs at most two scans.
   */
  rescan(opts: { full: boolean; dirty?: Iterable<string>; progress?: ScanProgress }): Promise<void> {
    if (this.running) {
      this.pending ??= { full: false, dirty: new Set() };
      this.pending.full ||= opts.full;
      for (const d of opts.dirty ?? []) this.pending.dirty.add(d);
      return this.running.then(() => this.drainPending());
    }
    this.running = this.runScan(opts.full, new Set(opts.dirty ?? []), opts.progress).finally(() => {
      this.running = null;
    });
    return this.running.then(() => this.drainPending());
  }

  private drainPending(): Promise<void> {
    if (!this.pending || this.running) return this.running ?? Promise.resolve();
    const next = this.pending;
    this.pending = null;
    return this.rescan(next);
  }

  private async runScan(full: boolean, dirty: Set<string>, progress?: ScanProgress): Promise<void> {
    const startSeq = this.seq;
    const result = await this.source.scan({ full, previous: this.snap.files, dirty, ...(progress ? { progress } : {}) });
    let files = new Map(result.files.map((f) => [f.relpath, f] as const));
    let yanks: Map<string, string> = result.yanks;
    // Local writes that happened while the scan was listing are not in its result: replay them.
    for (const change of this.local) {
      if (change.seq <= startSeq) continue;
      ({ files, yanks } = applyChange(files, yanks, change));
    }
    // Every later scan lists the volume after these writes: nothing left to replay.
    this.local = [];
    this.snap = new Snapshot(files, yanks, this.snap);
    this.rescans++;
    const { stats } = result;
    this.lastRescan = {
      at: Date.now(),
      durationMs: stats.durationMs,
      full,
      files: files.size,
      hashed: stats.hashed,
      unreadable: stats.failed,
    };
    if (stats.failed > 0) this.log.error({ ...stats, full }, 'files on the volume could not be read and are not served');
    else if (stats.hashed > 0 || full) this.log.info({ ...stats, full, projects: this.snap.projects.size }, 'index rescanned');
  }

  /** Applies a write of this process at once (read-your-writes). */
  applyLocal(change: LocalChange): void {
    const entry = { ...change, seq: ++this.seq };
    if (this.running) this.local.push(entry);
    const { files, yanks } = applyChange(new Map(this.snap.files), new Map(this.snap.yanks), entry);
    this.snap = new Snapshot(files, yanks, this.snap);
  }
}

function applyChange(
  files: Map<string, DistFile>,
  yanks: Map<string, string>,
  change: LocalChange,
): { files: Map<string, DistFile>; yanks: Map<string, string> } {
  for (const rel of change.remove ?? []) files.delete(rel);
  for (const f of change.add ?? []) files.set(f.relpath, f);
  if (change.yank) {
    if (change.yank.reason === null) yanks.delete(change.yank.key);
    else yanks.set(change.yank.key, change.yank.reason);
  }
  return { files, yanks };
}
