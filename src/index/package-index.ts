import type { Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import { canonicalVersion } from '../pypi/versions.js';
import { contentTypeOf, type PageFormat } from '../pypi/negotiate.js';
import { yankKey, type DistFile } from '../store/dist-file.js';
import type { PackageStore, Staged } from '../store/store.js';
import { makePage, PageCache, type Page } from './page-cache.js';
import { renderPackagesHtml, renderProjectHtml, renderProjectJson, renderRootHtml, renderRootJson } from './render.js';
import { Snapshot, type IndexedFile, type Project } from './snapshot.js';

export interface IndexLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface IndexOptions {
  pageCacheBytes: number;
  fileCacheBytes: number;
  fileCacheMaxFile: number;
  log: IndexLogger;
  /**
   * Called after each write of this process and awaited before the write is answered: the cluster
   * workers of one task use it to make their siblings catch up, so a `twine upload` followed by a
   * `pip install` through the same port always finds the file.
   */
  announceWrite?: () => Promise<void>;
}

/** A token no generation file holds: the next poll rescans whatever it reads. */
const RETRY = '\0retry';

interface LocalChange {
  seq: number;
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
}

/**
 * The in-process index: every project of the volume, served from memory. Sits between the routes
 * (which never touch the file system) and the store (which knows nothing of HTTP).
 *
 * Consistency with other processes comes from the generation file: poll() reads the token and,
 * when it changed, rescans the volume off to the side and swaps the new snapshot in whole.
 * This process's own writes are applied at once (read-your-writes) and survive a concurrent
 * rescan that listed the volume before them.
 */
export class PackageIndex {
  readonly store: PackageStore;
  readonly pages: PageCache;
  private readonly bytes: LRUCache<string, Buffer>;
  private readonly loading = new Map<string, Promise<Buffer | null>>();
  private readonly fileCacheMaxFile: number;
  private readonly log: IndexLogger;
  private readonly announceWrite: () => Promise<void>;

  private snap = Snapshot.empty();
  private loadedAt: number | null = null;
  /** Token of the generation whose writes this process serves: set only once its rescan is in. */
  token: string | null = null;
  /** Token last read from the generation file; its rescan may still be running. */
  private seen: string | null = null;
  /** The rescan that brings `token` up to `seen`, for a poll that arrives while it runs. */
  private catchingUp: Promise<void> = Promise.resolve();
  lastPollOkAt: number | null = null;
  pollFailingSince: number | null = null;
  lastRescan: RescanInfo | null = null;
  rescans = 0;

  private running: Promise<void> | null = null;
  private pending: { full: boolean; dirty: Set<string> } | null = null;
  private seq = 0;
  private local: LocalChange[] = [];

  constructor(store: PackageStore, opts: IndexOptions) {
    this.store = store;
    this.log = opts.log;
    this.announceWrite = opts.announceWrite ?? (() => Promise.resolve());
    this.pages = new PageCache(opts.pageCacheBytes);
    this.fileCacheMaxFile = opts.fileCacheMaxFile;
    this.bytes = new LRUCache<string, Buffer>({ maxSize: Math.max(opts.fileCacheBytes, 1), sizeCalculation: (b) => b.length + 64 });
  }

  get snapshot(): Snapshot {
    return this.snap;
  }

  get ready(): boolean {
    return this.loadedAt !== null;
  }

  // ---------------------------------------------------------------- refresh protocol

  /** First full scan. The token is read before listing, so a write during the scan is caught by the next poll. */
  async load(): Promise<void> {
    await this.store.init();
    this.seen = await this.store.generation.read();
    await this.rescan({ full: true });
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
      token = await this.store.generation.read();
      // No generation file is normal on a volume nobody wrote to yet, but not when our own state
      // folder is gone too: the volume is unmounted or was swapped under us.
      if (token === null && !(await this.store.stateDirExists())) throw new Error(`${this.store.stateDir} is missing`);
    } catch (err) {
      this.pollFailingSince ??= Date.now();
      this.log.warn({ err: (err as Error).message }, 'cannot read the generation file');
      return false;
    }
    this.lastPollOkAt = Date.now();
    this.pollFailingSince = null;
    if (token === this.seen) {
      await this.catchingUp;
      return false;
    }
    this.seen = token;
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
  rescan(opts: { full: boolean; dirty?: Iterable<string> }): Promise<void> {
    if (this.running) {
      this.pending ??= { full: false, dirty: new Set() };
      this.pending.full ||= opts.full;
      for (const d of opts.dirty ?? []) this.pending.dirty.add(d);
      return this.running.then(() => this.drainPending());
    }
    this.running = this.runScan(opts.full, new Set(opts.dirty ?? [])).finally(() => {
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

  private async runScan(full: boolean, dirty: Set<string>): Promise<void> {
    const startSeq = this.seq;
    const result = await this.store.scan({ full, previous: this.snap.files, dirty });
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
    this.lastRescan = { at: Date.now(), durationMs: result.stats.durationMs, full, files: files.size, hashed: result.stats.hashed };
    if (result.stats.hashed > 0 || full) {
      this.log.info({ ...result.stats, full, projects: this.snap.projects.size }, 'index rescanned');
    }
  }

  private applyLocal(change: Omit<LocalChange, 'seq'>): void {
    const entry = { ...change, seq: ++this.seq };
    if (this.running) this.local.push(entry);
    const { files, yanks } = applyChange(new Map(this.snap.files), new Map(this.snap.yanks), entry);
    this.snap = new Snapshot(files, yanks, this.snap);
  }

  // ---------------------------------------------------------------- reads (memory only)

  project(name: string): Project | undefined {
    return this.snap.projects.get(name);
  }

  file(relpath: string): IndexedFile | undefined {
    return this.snap.byRelpath.get(relpath);
  }

  rootPage(format: PageFormat): Page {
    const s = this.snap;
    return this.pages.get(`root:${format}:${s.fingerprint}`, () =>
      makePage(format === 'json' ? renderRootJson(s) : renderRootHtml(s), contentTypeOf(format)),
    );
  }

  projectPage(project: Project, format: PageFormat): Page {
    return this.pages.get(`project:${format}:${project.name}:${project.fingerprint}`, () =>
      makePage(format === 'json' ? renderProjectJson(project) : renderProjectHtml(project), contentTypeOf(format)),
    );
  }

  packagesPage(): Page {
    const s = this.snap;
    return this.pages.get(`packages:${s.fingerprint}`, () => makePage(renderPackagesHtml(s), 'text/html; charset=utf-8'));
  }

  /**
   * Bytes kept in memory by key, loaded at most once at a time: the first burst asks for the same
   * wheel or metadata hundreds of times before one read has finished, and one read serves them all.
   * A loader answering null means "do not keep".
   */
  private async remembered(key: string, load: () => Promise<Buffer | null>): Promise<Buffer | null> {
    const hit = this.bytes.get(key);
    if (hit) return hit;
    let loading = this.loading.get(key);
    if (!loading) {
      loading = load()
        .then((data) => {
          if (data) this.bytes.set(key, data);
          return data;
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, loading);
    }
    return loading;
  }

  /** PEP 658 bytes: read from the sidecar once, then from memory. */
  async metadata(file: IndexedFile): Promise<Buffer> {
    return (await this.remembered(`m:${file.metadataSha256}`, () => this.store.readMetadata(file)))!;
  }

  /** The long description of a file's metadata, for the JSON API. */
  async description(file: IndexedFile): Promise<string | null> {
    const text = await this.remembered(`d:${file.sha256}`, async () => Buffer.from((await this.store.readDescription(file)) ?? '', 'utf8'));
    return text!.length ? text!.toString('utf8') : null;
  }

  /**
   * Small files are held in memory, keyed by content hash so a replaced file is never served stale:
   * a burst of 510 downloads of one wheel becomes one read of the volume.
   */
  async cachedBytes(file: IndexedFile): Promise<Buffer | null> {
    if (file.size > this.fileCacheMaxFile) return null;
    return this.remembered(`f:${file.sha256}`, async () => {
      const data = await this.store.readWhole(file.relpath);
      return data.length === file.size ? data : null; // changed under us: stream it instead
    });
  }

  openFile(file: IndexedFile, range?: { start: number; end: number }): Promise<Readable> {
    return this.store.openRead(file.relpath, range);
  }

  // ---------------------------------------------------------------- writes

  stage(filename: string, source: Readable, maxSize: number): Promise<Staged> {
    return this.store.stage(filename, source, maxSize);
  }

  discard(staged: Staged): Promise<void> {
    return this.store.discard(staged);
  }

  async publish(staged: Staged, overwrite: boolean): Promise<{ file: DistFile; duplicate: boolean }> {
    const result = await this.store.commit(staged, { overwrite });
    if (!result.duplicate) {
      this.applyLocal({ add: [result.file] });
      await this.announceWrite();
    }
    return result;
  }

  async remove(files: readonly IndexedFile[]): Promise<string[]> {
    const removed = await this.store.remove(files);
    this.applyLocal({ remove: files.map((f) => f.relpath) });
    await this.announceWrite();
    return removed;
  }

  async yank(project: string, version: string, reason: string | null): Promise<void> {
    const v = canonicalVersion(version);
    await this.store.setYank(project, v, reason);
    this.applyLocal({ yank: { key: yankKey(project, v), reason } });
    await this.announceWrite();
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
