import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import { Errors } from '../errors.js';
import { isValidProjectName, parseFilename } from '../pypi/names.js';
import { contentTypeOf, type PageFormat } from '../pypi/negotiate.js';
import type { ProjectMatcher } from '../pypi/project-patterns.js';
import type { UpstreamFile, UpstreamPage } from '../pypi/upstream-page.js';
import { renderUpstreamProjectHtml, renderUpstreamProjectJson, type UpstreamListing } from '../pypi/upstream-render.js';
import { compareVersions, isPrerelease } from '../pypi/versions.js';
import { asStorageError } from '../store/fs-util.js';
import { UpstreamCacheError, type CachedProject, type ExpectedFile, type FillResult, type OpenedFile } from '../store/upstream-cache.js';
import { UpstreamError, type ProjectFetch, type UpstreamBody } from '../upstream/client.js';
import { SingleFlight } from '../upstream/single-flight.js';
import { makePage, type Page, type PageCache } from './page-cache.js';
import type { IndexLogger } from './ports.js';

/*
 * What this needs of the upstream client (src/upstream/client.ts) and of the cache on the volume
 * (src/store/upstream-cache.ts); a test can hand in anything with these verbs.
 */

export interface UpstreamSource {
  /** The index URL without credentials: named in logs and in errors clients see. */
  readonly indexUrl: string;
  fetchProject(name: string, opts: { etag?: string | null }): Promise<ProjectFetch>;
  openFile(url: string): Promise<UpstreamBody>;
}

export interface UpstreamStore {
  readProject(project: string): Promise<CachedProject | null>;
  writeProject(entry: CachedProject): Promise<void>;
  has(sha256: string): boolean;
  cachedSize(sha256: string): number | null;
  touch(sha256: string): void;
  /** Changes whenever the set of cached files this process knows changes. */
  readonly version: number;
  open(sha256: string, range?: { start: number; end: number }): Promise<OpenedFile | null>;
  read(sha256: string): Promise<Buffer | null>;
  fill(expected: ExpectedFile, source: () => Promise<Readable>): Promise<FillResult>;
}

/** A project from upstream as this index serves it. Immutable; replaced whole when the upstream page changes. */
export interface UpstreamProject extends UpstreamListing {
  byFilename: ReadonlyMap<string, UpstreamFile>;
  /** Changes whenever anything its pages show changes: part of the page cache key. */
  fingerprint: string;
}

export type UpstreamRequestKind = 'page' | 'file' | 'metadata';

/** One exchange with the upstream: `outcome` is ok, not-modified, not-found, an UpstreamError kind, or a check that failed. */
export interface UpstreamRequestEvent {
  kind: UpstreamRequestKind;
  outcome: string;
  seconds: number;
}

export interface UpstreamStats {
  /** Requests answered without waiting for the volume or the upstream, by what they asked for. */
  hits: Record<'page' | 'file', number>;
  misses: Record<'page' | 'file', number>;
  /** Pages served past their TTL: while revalidating, after a failed revalidation, or offline. */
  stale: Record<'revalidating' | 'error' | 'offline', number>;
  /** Bytes of files and metadata downloaded from upstream (checked and kept). */
  bytesFetched: number;
}

/** What /health shows of the upstream: all from memory. */
export interface UpstreamStatus {
  url: string;
  offline: boolean;
  lastOkAt: number | null;
  /** Since when every exchange with the upstream failed; null while it answers. */
  failingSince: number | null;
  lastError: string | null;
  projectsInMemory: number;
}

export interface UpstreamProjectsOptions {
  source: UpstreamSource;
  store: UpstreamStore;
  /** The index's page cache: upstream pages share its memory budget. */
  pages: PageCache;
  /** Whether any local file of the project is indexed: such a project is never fetched from upstream. */
  isLocal(name: string): boolean;
  deny: ProjectMatcher;
  ttlMs: number;
  negativeTtlMs: number;
  /** After a failed revalidation, the cached answer is served this long before the upstream is asked again. */
  retryAfterMs: number;
  offline: boolean;
  /** Small files are held in the index's memory for files (content-addressed, shared with local files). */
  held(key: string, load: () => Promise<Buffer | null>): Promise<Buffer | null>;
  /** Largest file `held` keeps. */
  heldMaxBytes: number;
  /** Memory for project lists read from upstream. */
  memoryBytes: number;
  log: IndexLogger;
  now?: () => number;
}

interface Known {
  /** null: the upstream has no such project. */
  project: UpstreamProject | null;
  record: CachedProject;
  /** When the upstream last confirmed it (the record's fetch time). */
  checkedAt: number;
  /** After a failed revalidation: the cached answer is served until then without asking again. */
  retryAt: number;
  /** The last revalidation failed: pages list only files that can be served from the cache. */
  failing: boolean;
}

/** PEP 658 files are a wheel's METADATA: small. */
const MAX_METADATA_BYTES = 16 * 1024 * 1024;

/**
 * Projects no local file claims, served from an upstream index through a cache on the volume.
 *
 * Local always wins, a whole project at a time: a project with any local file, or whose name is
 * denied, is never looked up upstream (so a public release can never shadow a private one).
 *
 * A project page is looked up in memory, then in its record on the volume (shared by every task
 * and restart), then upstream; each step at most once at a time per project, so a burst of
 * clients costs one read of the volume and at most one upstream request. Past the TTL the cached
 * page is served while one request revalidates it with its ETag; when that fails the cached page
 * goes on being served (listing only what the cache holds) and the upstream is asked again after
 * retryAfterMs. A project never fetched gets a 502/504 naming the upstream, never a 404.
 *
 * Files are served by sha256 from the cache; the first download of each is fetched, checked
 * against the page's size and sha256 and kept (see UpstreamCache), PEP 658 metadata the same way.
 */
export class UpstreamProjects {
  readonly stats: UpstreamStats = {
    hits: { page: 0, file: 0 },
    misses: { page: 0, file: 0 },
    stale: { revalidating: 0, error: 0, offline: 0 },
    bytesFetched: 0,
  };
  private readonly opts: UpstreamProjectsOptions;
  private readonly now: () => number;
  private readonly memory: LRUCache<string, Known>;
  private readonly loads = new SingleFlight<string, Known | null>();
  private readonly refreshes = new SingleFlight<string, Known>();
  private readonly listeners: ((e: UpstreamRequestEvent) => void)[] = [];
  private lastOkAt: number | null = null;
  private failingSince: number | null = null;
  private lastError: string | null = null;

  constructor(opts: UpstreamProjectsOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.memory = new LRUCache<string, Known>({
      maxSize: Math.max(opts.memoryBytes, 1024 * 1024),
      sizeCalculation: (k) => 1024 + (k.project?.files.length ?? 0) * 512,
    });
  }

  get indexUrl(): string {
    return this.opts.source.indexUrl;
  }

  get offline(): boolean {
    return this.opts.offline;
  }

  /** Called after every exchange with the upstream (for metrics). */
  onRequest(listener: (e: UpstreamRequestEvent) => void): void {
    this.listeners.push(listener);
  }

  status(): UpstreamStatus {
    return {
      url: this.indexUrl,
      offline: this.offline,
      lastOkAt: this.lastOkAt,
      failingSince: this.failingSince,
      lastError: this.lastError,
      projectsInMemory: this.memory.size,
    };
  }

  /** Whether the upstream may be asked about a project (normalized name): not denied, no local file. */
  eligible(name: string): boolean {
    return isValidProjectName(name) && !this.opts.deny.matches(name) && !this.opts.isLocal(name);
  }

  // ---------------------------------------------------------------- project pages

  /**
   * The project as the upstream lists it, or null when it may not be fetched from upstream or the
   * upstream has no such project. Throws UpstreamUnavailable / UpstreamTimeout when nothing is
   * cached and the upstream fails, UpstreamNotCached when offline and nothing is cached.
   */
  async project(name: string): Promise<UpstreamProject | null> {
    if (!this.eligible(name)) return null;
    const inMemory = this.memory.get(name);
    const known = inMemory ?? (await this.loads.run(name, () => this.fromVolume(name)));
    if (known) {
      const state = this.state(known);
      if (state !== 'expired') {
        if (inMemory) this.stats.hits.page++;
        else this.stats.misses.page++;
        if (state === 'stale') {
          this.stats.stale.revalidating++;
          this.revalidate(name, known).catch(() => undefined); // failures are logged and counted there
        }
        return known.project;
      }
    }
    this.stats.misses.page++;
    return (await this.revalidate(name, known)).project;
  }

  /**
   * fresh: serve; stale: serve and revalidate in the background; expired: wait for the upstream
   * (a remembered 404 past its TTL: answering 404 while asking again would hide a new project).
   */
  private state(known: Known): 'fresh' | 'stale' | 'expired' {
    const age = this.now() - known.checkedAt;
    const ttl = known.project ? this.opts.ttlMs : this.opts.negativeTtlMs;
    if (age < ttl) return 'fresh';
    if (this.opts.offline) {
      this.stats.stale.offline++;
      return 'fresh';
    }
    if (this.now() < known.retryAt) {
      this.stats.stale.error++;
      return 'fresh';
    }
    return known.project ? 'stale' : 'expired';
  }

  private async fromVolume(name: string): Promise<Known | null> {
    const record = await this.readRecord(name);
    return record ? this.adopt(name, record) : null;
  }

  private async readRecord(name: string): Promise<CachedProject | null> {
    try {
      return await this.opts.store.readProject(name);
    } catch (err) {
      this.opts.log.warn({ err, project: name }, 'cannot read the cached upstream page');
      return null;
    }
  }

  /**
   * Brings a project up to date with the upstream, once at a time per project. The record on the
   * volume is read first: another task may have revalidated it already.
   */
  private revalidate(name: string, known: Known | null): Promise<Known> {
    return this.refreshes.run(name, async () => {
      const onVolume = await this.readRecord(name);
      const newer = onVolume !== null && (known === null || onVolume.fetchedAt > known.checkedAt) ? onVolume : null;
      if (newer) {
        const age = this.now() - newer.fetchedAt;
        if (this.opts.offline || age < (newer.kind === 'page' ? this.opts.ttlMs : this.opts.negativeTtlMs)) return this.adopt(name, newer);
      }
      const base = newer ?? known?.record ?? null;
      if (this.opts.offline) {
        if (base) return this.adopt(name, base);
        throw new Errors.UpstreamNotCached(name);
      }
      const etag = base?.kind === 'page' ? base.etag : null;
      let fetched: ProjectFetch;
      try {
        fetched = await this.fetchPage(name, etag);
      } catch (err) {
        if (!(err instanceof UpstreamError)) throw err;
        if (!base) {
          this.opts.log.warn({ project: name, upstream: this.indexUrl, err: err.message }, 'upstream failed and nothing is cached');
          throw err.kind === 'timeout'
            ? new Errors.UpstreamTimeout(this.indexUrl, name)
            : new Errors.UpstreamUnavailable(this.indexUrl, name, err.message);
        }
        // Stale-if-error: the last good answer goes on being served.
        this.opts.log.warn(
          { project: name, upstream: this.indexUrl, err: err.message, retryInMs: this.opts.retryAfterMs },
          'upstream failed: serving the cached page',
        );
        const stale = this.adopt(name, base);
        stale.failing = true;
        stale.retryAt = this.now() + this.opts.retryAfterMs;
        return stale;
      }
      let record: CachedProject;
      if (fetched.kind === 'page') {
        record = { kind: 'page', project: name, page: fetched.page, etag: fetched.etag, fetchedAt: fetched.fetchedAt };
        if (fetched.page.droppedCount > 0) {
          this.opts.log.info(
            { project: name, dropped: fetched.page.droppedCount, examples: fetched.page.dropped.slice(0, 5) },
            'upstream page entries left out',
          );
        }
      } else if (fetched.kind === 'not-modified' && base?.kind === 'page') {
        record = { ...base, fetchedAt: fetched.fetchedAt };
      } else {
        record = { kind: 'not-found', project: name, fetchedAt: fetched.fetchedAt };
      }
      try {
        await this.opts.store.writeProject(record);
      } catch (err) {
        // Served from memory all the same; other tasks and a restart ask the upstream again.
        this.opts.log.warn({ err, project: name }, 'cannot keep the upstream page on the volume');
      }
      return this.adopt(name, record);
    });
  }

  private async fetchPage(name: string, etag: string | null): Promise<ProjectFetch> {
    const started = this.now();
    try {
      const fetched = await this.opts.source.fetchProject(name, { etag });
      this.exchanged('page', fetched.kind === 'page' ? 'ok' : fetched.kind, started, null);
      // Ages are measured on one clock, this one.
      return { ...fetched, fetchedAt: this.now() };
    } catch (err) {
      this.exchanged('page', err instanceof UpstreamError ? err.kind : 'error', started, err);
      throw err;
    }
  }

  /** Makes a record the one served; the project view is kept when the page is the same one. */
  private adopt(name: string, record: CachedProject): Known {
    const before = this.memory.peek(name);
    let project: UpstreamProject | null = null;
    if (record.kind === 'page') {
      project =
        before?.project && before.record.kind === 'page' && before.record.page === record.page
          ? before.project
          : buildProject(name, record.page);
    }
    const known: Known = { project, record, checkedAt: record.fetchedAt, retryAt: 0, failing: false };
    this.memory.set(name, known);
    return known;
  }

  /**
   * A project page in one format. While the upstream cannot be asked (offline, or the last
   * revalidation failed) it lists only files the cache holds, so a resolver picks a release it
   * can download instead of a newer one it cannot.
   */
  page(project: UpstreamProject, format: PageFormat): Page {
    const cachedOnly = this.opts.offline || this.memory.peek(project.name)?.failing === true;
    const key = `upstream:${format}:${project.name}:${project.fingerprint}${cachedOnly ? `:c${this.opts.store.version}` : ''}`;
    return this.opts.pages.get(key, () => {
      const listing = cachedOnly ? this.cachedPart(project) : project;
      return makePage(format === 'json' ? renderUpstreamProjectJson(listing) : renderUpstreamProjectHtml(listing), contentTypeOf(format));
    });
  }

  private cachedPart(project: UpstreamProject): UpstreamListing {
    const store = this.opts.store;
    const files = project.files
      .filter((f) => store.has(f.sha256))
      .map((f) => (f.coreMetadata && !store.has(f.coreMetadata) ? { ...f, coreMetadata: false as const } : f));
    return { name: project.name, files, ...versionsOf(files) };
  }

  // ---------------------------------------------------------------- files

  /** The upstream file a `/packages/<filename>` URL names, or null when there is none to serve. */
  async file(filename: string): Promise<UpstreamFile | null> {
    const parsed = parseFilename(filename);
    if (!parsed) return null;
    const project = await this.project(parsed.project);
    return project?.byFilename.get(filename) ?? null;
  }

  /**
   * Makes sure a file, or its PEP 658 metadata, is in the cache, fetching it when it is not;
   * returns its size. Known files cost no file-system call. Throws UpstreamBadFile (nothing was
   * kept), UpstreamUnavailable / UpstreamTimeout, or UpstreamNotCached when offline.
   */
  async ensure(file: UpstreamFile, what: 'file' | 'metadata'): Promise<number> {
    const sha256 = what === 'file' ? file.sha256 : file.coreMetadata;
    if (sha256 === false) throw new Errors.FileNotFound(`${file.filename}.metadata`);
    const size = this.opts.store.cachedSize(sha256);
    if (size !== null) {
      this.stats.hits.file++;
      return size;
    }
    const name = what === 'file' ? file.filename : `${file.filename}.metadata`;
    // Set when this call's source is the one used: of concurrent calls sharing a download, one is.
    const call: { started: number | null } = { started: null };
    const source = async (): Promise<Readable> => {
      if (this.opts.offline) throw new Errors.UpstreamNotCached(name);
      call.started = this.now();
      return (await this.opts.source.openFile(what === 'file' ? file.url : `${file.url}.metadata`)).body;
    };
    const expected: ExpectedFile = what === 'file' ? { sha256, size: file.size } : { sha256, size: null, maxBytes: MAX_METADATA_BYTES };
    let result: FillResult;
    try {
      result = await this.opts.store.fill(expected, source);
    } catch (err) {
      const outcome = err instanceof UpstreamCacheError || err instanceof UpstreamError ? err.kind : 'error';
      if (call.started !== null) this.exchanged(what, outcome, call.started, err);
      throw this.fileError(err, name);
    }
    if (call.started !== null) {
      this.exchanged(what, 'ok', call.started, null);
      this.stats.bytesFetched += result.size;
    }
    if (result.fetched) this.stats.misses.file++;
    else this.stats.hits.file++;
    return result.size;
  }

  /**
   * The bytes of a cached file (or its metadata): small ones from memory, others streamed from
   * the volume. A file another task evicted since is fetched again.
   */
  async body(
    file: UpstreamFile,
    what: 'file' | 'metadata',
    size: number,
    range?: { start: number; end: number },
  ): Promise<Buffer | Readable> {
    const sha256 = what === 'file' ? file.sha256 : file.coreMetadata;
    if (sha256 === false) throw new Errors.FileNotFound(`${file.filename}.metadata`);
    for (let attempt = 0; ; attempt++) {
      if (size <= this.opts.heldMaxBytes) {
        const data = await this.opts.held(`${what === 'file' ? 'f' : 'm'}:${sha256}`, () => this.opts.store.read(sha256));
        if (data) {
          this.opts.store.touch(sha256);
          return range ? data.subarray(range.start, range.end + 1) : data;
        }
      } else {
        const opened = await this.opts.store.open(sha256, range);
        if (opened) return opened.stream;
      }
      if (attempt > 0) throw new Errors.UpstreamUnavailable(this.indexUrl, file.filename, 'the cached copy went away twice');
      await this.ensure(file, what);
    }
  }

  private fileError(err: unknown, name: string): unknown {
    if (err instanceof UpstreamCacheError) return new Errors.UpstreamBadFile(name, err.message);
    if (err instanceof UpstreamError) {
      return err.kind === 'timeout'
        ? new Errors.UpstreamTimeout(this.indexUrl, name)
        : new Errors.UpstreamUnavailable(this.indexUrl, name, err.message);
    }
    return asStorageError(err);
  }

  /** Keeps the upstream's health and tells the listeners (metrics) of one exchange. */
  private exchanged(kind: UpstreamRequestKind, outcome: string, started: number, err: unknown): void {
    const now = this.now();
    // A download that failed its check says nothing of the upstream being up.
    const failed = err instanceof UpstreamError;
    if (failed) {
      this.failingSince ??= now;
      this.lastError = err.message;
    } else if (err === null) {
      this.failingSince = null;
      this.lastOkAt = now;
    }
    const event = { kind, outcome, seconds: Math.max(0, now - started) / 1000 };
    for (const l of this.listeners) l(event);
  }
}

function versionsOf(files: readonly UpstreamFile[]): { versions: string[]; latest: string } {
  const versions: string[] = [];
  for (const f of files) if (versions[versions.length - 1] !== f.version) versions.push(f.version);
  const live = files.filter((f) => f.yanked === false).map((f) => f.version);
  const finals = live.filter((v) => !isPrerelease(v));
  return { versions, latest: finals.at(-1) ?? live.at(-1) ?? versions.at(-1) ?? '' };
}

/** The view of a parsed upstream page: files in version order, looked up by name, fingerprinted. */
function buildProject(name: string, page: UpstreamPage): UpstreamProject {
  const files = [...page.files].sort(
    (a, b) => compareVersions(a.version, b.version) || (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0),
  );
  const h = createHash('sha1');
  for (const f of files) {
    const yanked = f.yanked === false ? '-' : `y${f.yanked}`;
    h.update(
      `${f.filename}\0${f.sha256}\0${yanked}\0${f.requiresPython ?? ''}\0${f.coreMetadata || ''}\0${f.size ?? ''}\0${f.uploadTime ?? ''}\n`,
    );
  }
  return {
    name,
    files,
    ...versionsOf(files),
    byFilename: new Map(files.map((f) => [f.filename, f])),
    fingerprint: h.digest('hex'),
  };
}
