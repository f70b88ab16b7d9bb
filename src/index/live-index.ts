import type { CatalogWrite } from '../store/catalog.js';
import type { Change } from '../store/change-notes.js';
import type { DistFile } from '../store/dist-file.js';
import type { ScanProgress, ScanStats } from '../store/scanner.js';
import { Compactor } from './compact.js';
import { LayeredMap } from './layered-map.js';
import type { IndexLogger, IndexSource } from './ports.js';
import { Snapshot } from './snapshot.js';

/** A token no generation file holds: the next poll rescans whatever it reads. */
const RETRY = '\0retry';

/**
 * What a scan is to do. A listing scan lists the volume (a full one also re-checks a slice of what
 * it trusts) and re-examines `dirty`; a scan without listing looks only at `dirty`, the paths the
 * writers' change notes name, and at the yanks if a note says they changed.
 */
interface ScanRequest {
  full: boolean;
  listing: boolean;
  dirty: Set<string>;
  yanks: boolean;
}

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
 * when it changed, rescans the volume off to the side and swaps the new snapshot in whole. The
 * rescan looks only at what the writers' change notes name when they vouch for every change up to
 * that token, and lists the volume otherwise.
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
  /** Digest of the catalog as this process last read or wrote it. */
  private catalogDigest: string | null = null;
  private catalogFailing = false;

  private running: Promise<void> | null = null;
  private pending: ScanRequest | null = null;
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

  /**
   * First scan. The token is read before listing, so a write during the scan is caught by the next
   * poll. The catalog, when there is one, stands in for the sidecars of every file it lists: on an
   * indexed volume the start costs a few listings and one file, whatever the number of files.
   */
  async load(): Promise<void> {
    await this.source.init();
    this.hadStateDir = await this.source.stateDirExists();
    this.seen = await this.source.readGeneration();
    const seed = this.source.readCatalog().then(
      (catalog) => {
        this.catalogDigest = catalog?.header.digest ?? null;
        return catalog?.files ?? null;
      },
      // The catalog only saves time; without it every sidecar is read, as on a new volume.
      () => null,
    );
    await this.rescan({ full: false, seed, progress: this.progress });
    this.token = this.seen;
    this.lastPollOkAt = Date.now();
    this.loadedAt = Date.now();
  }

  /**
   * Writes down every record in the volume's catalog, for the next task that starts, unless it
   * already says the same or another task wrote it less than minAgeMs ago. A volume that cannot
   * take it (read-only, full) costs later starts their speed, nothing else.
   */
  async saveCatalog(minAgeMs: number): Promise<CatalogWrite | 'failed'> {
    const snap = this.snap;
    if (!this.ready || snap.fingerprint === this.catalogDigest) return 'current';
    try {
      const outcome = await this.source.writeCatalog(
        inOrder(snap),
        { generation: this.token, digest: snap.fingerprint, count: snap.fileCount },
        minAgeMs,
      );
      if (outcome !== 'recent') this.catalogDigest = snap.fingerprint;
      if (outcome === 'written') this.log.info({ files: snap.fileCount, generation: this.token }, 'catalog written');
      this.catalogFailing = false;
      return outcome;
    } catch (err) {
      if (!this.catalogFailing) this.log.warn({ err }, 'cannot write the catalog; tasks that start later read every sidecar instead');
      this.catalogFailing = true;
      return 'failed';
    }
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
    const previous = this.seen;
    this.seen = token;
    for (const listener of this.generationListeners) listener();
    // Set before the first await, so a poll that reads the same token meanwhile waits for this one.
    const run = (token === null ? Promise.resolve(null) : this.source.changesUpTo(token, previous))
      .then((change) => this.rescan(change ? { full: false, change } : { full: false }))
      .then(() => {
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
  rescan(opts: {
    full: boolean;
    dirty?: Iterable<string>;
    /** Look only at what these notes name, without listing the volume. */
    change?: Change;
    progress?: ScanProgress;
    /** Records to trust instead of the snapshot's (the catalog, at load), read while the volume is listed. */
    seed?: Promise<ReadonlyMap<string, DistFile> | null>;
  }): Promise<void> {
    const request: ScanRequest = {
      full: opts.full,
      listing: opts.full || !opts.change,
      dirty: new Set([...(opts.dirty ?? []), ...(opts.change?.paths ?? [])]),
      yanks: opts.change?.yanks ?? false,
    };
    if (this.running) {
      // Merged into one more run after this one: it lists if any request did.
      this.pending ??= { full: false, listing: false, dirty: new Set(), yanks: false };
      this.pending.full ||= request.full;
      this.pending.listing ||= request.listing;
      this.pending.yanks ||= request.yanks;
      for (const d of request.dirty) this.pending.dirty.add(d);
      return this.running.then(() => this.drainPending());
    }
    this.running = this.runScan(request, opts.progress, opts.seed)
      .catch((err: unknown) => {
        // What this scan was to apply is not in the index: the next poll must list the volume.
        this.source.forgetChanges();
        throw err;
      })
      .finally(() => {
        this.running = null;
      });
    return this.running.then(() => this.drainPending());
  }

  private drainPending(): Promise<void> {
    if (!this.pending || this.running) return this.running ?? Promise.resolve();
    const next = this.pending;
    this.pending = null;
    return this.rescan(
      next.listing ? { full: next.full, dirty: next.dirty } : { full: false, change: { paths: [...next.dirty], yanks: next.yanks } },
    );
  }

  private async runScan(
    request: ScanRequest,
    progress?: ScanProgress,
    seed?: Promise<ReadonlyMap<string, DistFile> | null>,
  ): Promise<void> {
    const { full, dirty } = request;
    const startSeq = this.seq;
    const before = this.snap.files;
    if (!request.listing && !seed) return this.applyNotedChange(request, before, startSeq);
    // Every note present before the listing names files the listing sees.
    await this.source.syncChanges();
    const result = await this.source.scan({
      full,
      ...(seed ? { seed } : { previous: before }),
      dirty,
      ...(progress ? { progress } : {}),
    });
    // Records this process did not hold yet are interned; the ones it holds already were.
    const compactor = new Compactor();
    let files: ReadonlyMap<string, DistFile>;
    let changed: Set<string> | undefined;
    if (seed) {
      const seeded = await seed;
      const all = new Map<string, DistFile>();
      for (const f of result.files) all.set(f.relpath, seeded?.get(f.relpath) === f ? compactor.adopt(f) : compactor.record(f));
      files = all;
    } else {
      // Only what differs from the snapshot is looked at again: a poll that finds one upload on a
      // volume of 100,000 files rebuilds one project.
      ({ files, changed } = this.diff(before, result.files, compactor));
    }
    this.swapIn(files, result.yanks, changed, startSeq, result.stats, seed ? 'load' : full ? 'full' : 'fast');
  }

  /** A scan of what notes name: the snapshot with those paths looked at again, nothing listed. */
  private async applyNotedChange(request: ScanRequest, before: ReadonlyMap<string, DistFile>, startSeq: number): Promise<void> {
    const result = await this.source.examine({ paths: [...request.dirty], yanks: request.yanks }, before);
    const compactor = new Compactor();
    const put = new Map<string, DistFile>();
    const changed = new Set<string>(result.gone);
    for (const f of result.put) {
      put.set(f.relpath, compactor.record(f));
      changed.add(f.relpath);
    }
    const files = put.size + result.gone.length > 0 ? LayeredMap.over(before, put, result.gone) : before;
    this.swapIn(files, result.yanks ?? this.snap.yanks, changed, startSeq, result.stats, 'notes');
  }

  /** Replays this process's writes made while the scan ran over its result, and swaps the result in. */
  private swapIn(
    scanned: ReadonlyMap<string, DistFile>,
    scannedYanks: ReadonlyMap<string, string>,
    changed: Set<string> | undefined,
    startSeq: number,
    stats: ScanStats,
    kind: 'load' | 'full' | 'fast' | 'notes',
  ): void {
    let files = scanned;
    let yanks: ReadonlyMap<string, string> = scannedYanks;
    // Local writes that happened while the scan was listing are not in its result: replay them.
    for (const change of this.local) {
      if (change.seq <= startSeq) continue;
      ({ files, yanks } = applyChange(files, yanks, change));
      for (const rel of [...(change.remove ?? []), ...(change.add ?? []).map((f) => f.relpath)]) changed?.add(rel);
    }
    // Every later scan starts from this snapshot, which holds these writes: nothing left to replay.
    this.local = [];
    this.snap = new Snapshot(files, yanks, this.snap, changed);
    this.rescans++;
    const full = kind === 'full';
    this.lastRescan = {
      at: Date.now(),
      durationMs: stats.durationMs,
      full,
      files: files.size,
      hashed: stats.hashed,
      unreadable: stats.failed,
    };
    if (stats.failed > 0) this.log.error({ ...stats, full, kind }, 'files on the volume could not be read and are not served');
    else if (stats.hashed > 0 || full || kind === 'load' || !this.ready) {
      this.log.info({ ...stats, full, kind, projects: this.snap.projects.size }, 'index rescanned');
    }
  }

  /** The snapshot's records with a scan's result applied, and the paths whose records changed. */
  private diff(
    before: ReadonlyMap<string, DistFile>,
    scanned: readonly DistFile[],
    compactor: Compactor,
  ): { files: ReadonlyMap<string, DistFile>; changed: Set<string> } {
    const put = new Map<string, DistFile>();
    const changed = new Set<string>();
    let accounted = 0;
    for (const f of scanned) {
      const old = before.get(f.relpath);
      if (old) accounted++;
      if (old === f) continue;
      put.set(f.relpath, compactor.record(f));
      changed.add(f.relpath);
    }
    // Every path of the snapshot the scan listed again is accounted for; the rest are gone.
    const gone: string[] = [];
    if (accounted < before.size) {
      const listed = new Set(scanned.map((f) => f.relpath));
      for (const rel of before.keys()) {
        if (listed.has(rel)) continue;
        gone.push(rel);
        changed.add(rel);
      }
    }
    return { files: LayeredMap.over(before, put, gone), changed };
  }

  /** Applies a write of this process at once (read-your-writes). */
  applyLocal(change: LocalChange): void {
    const entry = { ...change, seq: ++this.seq };
    if (this.running) this.local.push(entry);
    const { files, yanks } = applyChange(this.snap.files, this.snap.yanks, entry);
    const changed = new Set([...(change.remove ?? []), ...(change.add ?? []).map((f) => f.relpath)]);
    this.snap = new Snapshot(files, yanks, this.snap, changed);
  }
}

/** Every record, project by project in the order pages show them: a later load finds each project sorted. */
function* inOrder(snap: Snapshot): Generator<DistFile> {
  for (const name of snap.projectNames) yield* snap.projects.get(name)?.files ?? [];
}

function applyChange(
  files: ReadonlyMap<string, DistFile>,
  yanks: ReadonlyMap<string, string>,
  change: LocalChange,
): { files: ReadonlyMap<string, DistFile>; yanks: Map<string, string> } {
  const put = new Map((change.add ?? []).map((f) => [f.relpath, f] as const));
  const next = new Map(yanks);
  if (change.yank) {
    if (change.yank.reason === null) next.delete(change.yank.key);
    else next.set(change.yank.key, change.yank.reason);
  }
  return { files: LayeredMap.over(files, put, change.remove ?? []), yanks: next };
}
