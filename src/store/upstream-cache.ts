import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs, constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isValidProjectName, normalizeName } from '../pypi/names.js';
import type { UpstreamPage } from '../pypi/upstream-page.js';
import { SingleFlight } from '../upstream/single-flight.js';
import { mapLimit, writeAtomic } from './fs-util.js';
import { readFresh } from './fs-util.js';
import type { VolumeLogger as StoreLogger } from './volume.js';

/** A project page as last seen upstream, or the upstream's 404 for it; `fetchedAt` in ms since the epoch. */
export type CachedProject =
  | { kind: 'page'; project: string; page: UpstreamPage; etag: string | null; fetchedAt: number }
  | { kind: 'not-found'; project: string; fetchedAt: number };

/** What a file must be, from the upstream page. */
export interface ExpectedFile {
  /** Lower-case hex; the file is stored under it. */
  sha256: string;
  /** Exact size when the page gives one (PEP 700 JSON), else null. */
  size: number | null;
  /** Upper bound when size is null (a `.metadata` file, an HTML page); default maxFileBytes. */
  maxBytes?: number;
}

export interface FillResult {
  size: number;
  /** True when the file was downloaded for this call (or the call it joined); false when it was there. */
  fetched: boolean;
}

export interface OpenedFile {
  stream: Readable;
  size: number;
}

export interface UpstreamCacheStats {
  files: number;
  bytes: number;
  maxBytes: number;
  evictions: number;
  evictedBytes: number;
}

export interface UpstreamCacheOptions {
  /** Upper bound on the bytes of cached files (pages are not counted); Infinity for none. */
  maxBytes: number;
  /** Limit for a file whose size the page does not give; default 1 GiB. */
  maxFileBytes?: number;
  log?: StoreLogger;
  /**
   * Coordinate with other tasks through claim files so one of them downloads a file while the
   * others wait for it (default true). Without claims every task downloads for itself and
   * link() still keeps exactly one copy.
   */
  claims?: boolean;
  /** A claim whose holder has not renewed it for this long is taken over; default 15 s. */
  claimStaleMs?: number;
  /** How often a waiting task looks for the file or the claim's end; default 100 ms. */
  claimPollMs?: number;
  /** Recency is written to the file's mtime at most this often per file (default 1 h), so a
   * restart or another task's rescan orders files by use, not only by arrival. */
  touchIntervalMs?: number;
}

export type UpstreamCacheErrorKind = 'hash-mismatch' | 'size-mismatch' | 'too-large';

/** A download that does not match what the upstream page promised; nothing of it was kept. */
export class UpstreamCacheError extends Error {
  override readonly name = 'UpstreamCacheError';
  readonly kind: UpstreamCacheErrorKind;

  constructor(kind: UpstreamCacheErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

interface Entry {
  size: number;
  /** When recency was last written to the file's mtime (ms since the epoch). */
  touchedAt: number;
  /** Order of arrival in this map, to tell a rescan which entries are newer than its listing. */
  seq: number;
}

const PAGE_RECORD_VERSION = 1;
const MAX_PAGE_RECORD_BYTES = 512 * 1024 * 1024;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const STAT_CONCURRENCY = 32;

const silent: StoreLogger = { warn() {}, info() {}, error() {} };

/**
 * The upstream cache on the package volume, under `<root>/.wheelhouse/upstream/`:
 *
 * - `pages/<project>.json`: the parsed upstream page with its ETag and fetch time, or a 404 seen
 *   upstream; written whole (temp + rename) and read fresh, so every task shares them.
 * - `files/<sha256>`: upstream files by content hash. A file is written to `.wheelhouse/incoming/`
 *   while its size and sha256 are checked against the page, fsynced, and only then link()ed to
 *   its name: a wrong or cut-short body is never visible, and of two tasks racing for one file
 *   the second link() fails harmlessly (the content is the same by construction).
 * - `claims/<sha256>`: a task downloading a file says so; other tasks wait for it.
 *
 * Nothing here is a distribution to the store: the scan skips dot-folders, and files are named by
 * hash, so cached upstream files never make a project local and are never listed as local files.
 *
 * Size and recency live in memory: seeded by one listing at start (ordered by mtime), updated on
 * every fill and open without a file-system call, and refreshed from the volume by rescan().
 * Each task evicts by its own view of recency. Another task's reader of an evicted file fails
 * (on NFS an open file removed by another client is gone) and its next open() is a miss.
 */
export class UpstreamCache {
  readonly dir: string;
  private readonly pagesDir: string;
  private readonly filesDir: string;
  private readonly claimsDir: string;
  private readonly incomingDir: string;
  private readonly maxBytes: number;
  private readonly maxFileBytes: number;
  private readonly log: StoreLogger;
  private readonly useClaims: boolean;
  private readonly claimStaleMs: number;
  private readonly claimPollMs: number;
  private readonly touchIntervalMs: number;
  /** Least recently used first. */
  private readonly files = new Map<string, Entry>();
  /** Open read streams per file in this task: never evicted while read here. */
  private readonly pins = new Map<string, number>();
  private readonly fills = new SingleFlight<string, FillResult>();
  private total = 0;
  private seq = 0;
  private evictions = 0;
  private evictedBytes = 0;
  private changes = 0;

  constructor(root: string, opts: UpstreamCacheOptions) {
    const stateDir = path.join(path.resolve(root), '.wheelhouse');
    this.dir = path.join(stateDir, 'upstream');
    this.pagesDir = path.join(this.dir, 'pages');
    this.filesDir = path.join(this.dir, 'files');
    this.claimsDir = path.join(this.dir, 'claims');
    this.incomingDir = path.join(stateDir, 'incoming');
    this.maxBytes = opts.maxBytes;
    this.maxFileBytes = opts.maxFileBytes ?? 1024 * 1024 * 1024;
    this.log = opts.log ?? silent;
    this.useClaims = opts.claims ?? true;
    this.claimStaleMs = opts.claimStaleMs ?? 15_000;
    this.claimPollMs = opts.claimPollMs ?? 100;
    this.touchIntervalMs = opts.touchIntervalMs ?? 60 * 60 * 1000;
  }

  /** Creates the folders, learns what is cached (one listing) and evicts down to the limit. */
  async init(): Promise<void> {
    for (const dir of [this.pagesDir, this.filesDir, this.claimsDir, this.incomingDir]) await fs.mkdir(dir, { recursive: true });
    await this.rescan();
  }

  stats(): UpstreamCacheStats {
    return {
      files: this.files.size,
      bytes: this.total,
      maxBytes: this.maxBytes,
      evictions: this.evictions,
      evictedBytes: this.evictedBytes,
    };
  }

  // ---------------------------------------------------------------- project pages

  /** The page record of a project, or null when there is none (or it cannot be read). */
  async readProject(project: string): Promise<CachedProject | null> {
    const file = this.pageFile(project);
    let data: unknown;
    try {
      data = JSON.parse((await readFresh(file, MAX_PAGE_RECORD_BYTES)).toString('utf8'));
    } catch {
      return null; // none yet, or damaged by hand: fetched again
    }
    const record = data as { v?: unknown } & Partial<CachedProject>;
    if (record.v !== PAGE_RECORD_VERSION || record.project !== project || typeof record.fetchedAt !== 'number') return null;
    if (record.kind === 'not-found') return { kind: 'not-found', project, fetchedAt: record.fetchedAt };
    if (record.kind === 'page' && typeof record.page === 'object') {
      return { kind: 'page', project, page: record.page, etag: record.etag ?? null, fetchedAt: record.fetchedAt };
    }
    return null;
  }

  /** Replaces a project's record whole, so a reader on any task sees the old one or the new one. */
  async writeProject(entry: CachedProject): Promise<void> {
    await writeAtomic(this.pageFile(entry.project), JSON.stringify({ v: PAGE_RECORD_VERSION, ...entry }));
  }

  private pageFile(project: string): string {
    // The name becomes a path: only normalized names, which have no dots or slashes.
    if (!isValidProjectName(project) || normalizeName(project) !== project)
      throw new TypeError(`not a normalized project name: ${project}`);
    return path.join(this.pagesDir, `${project}.json`);
  }

  // ---------------------------------------------------------------- reading files

  /** Whether this task knows the file as cached (memory only; another task may have evicted it). */
  has(sha256: string): boolean {
    return this.files.has(sha256);
  }

  /** The size of a file this task knows as cached, from memory; null when it does not know it. */
  cachedSize(sha256: string): number | null {
    return this.files.get(sha256)?.size ?? null;
  }

  /**
   * Marks a file used without reading it (a copy held in memory was served), so eviction keeps
   * following what clients download. Memory only.
   */
  touch(sha256: string): void {
    this.used(sha256);
  }

  /** Changes whenever the set of files this task knows as cached changes (memory only). */
  get version(): number {
    return this.changes;
  }

  /**
   * Opens a cached file for streaming (optionally a byte range, inclusive), or null when it is
   * not on the volume. The file is not evicted by this task while the stream is open.
   */
  async open(sha256: string, range?: { start: number; end: number }): Promise<OpenedFile | null> {
    const handle = await this.openHandle(sha256);
    if (!handle) return null;
    const size = await this.sizeOf(sha256, handle);
    this.used(sha256);
    this.pin(sha256);
    const stream = handle.createReadStream({ ...(range ?? {}), autoClose: true });
    stream.once('close', () => this.unpin(sha256));
    return { stream, size };
  }

  /** A whole cached file (for small ones such as `.metadata`), or null when it is not on the volume. */
  async read(sha256: string): Promise<Buffer | null> {
    const handle = await this.openHandle(sha256);
    if (!handle) return null;
    try {
      const size = await this.sizeOf(sha256, handle);
      const buf = Buffer.allocUnsafe(size);
      let at = 0;
      while (at < size) {
        const { bytesRead } = await handle.read(buf, at, size - at, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      this.used(sha256);
      return buf.subarray(0, at);
    } finally {
      await handle.close();
    }
  }

  private async openHandle(sha256: string): Promise<fs.FileHandle | null> {
    try {
      return await fs.open(this.filePath(sha256), constants.O_RDONLY);
    } catch (err) {
      if (!isGone(err)) throw err;
      this.forget(sha256); // evicted by another task
      return null;
    }
  }

  /** The size from memory, or from the open file when another task cached it since our listing. */
  private async sizeOf(sha256: string, handle: fs.FileHandle): Promise<number> {
    const known = this.files.get(sha256);
    if (known) return known.size;
    const st = await handle.stat();
    this.remember(sha256, st.size, st.mtimeMs);
    return st.size;
  }

  private filePath(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new TypeError(`not a lower-case sha256: ${sha256}`);
    return path.join(this.filesDir, sha256);
  }

  // ---------------------------------------------------------------- filling

  /**
   * Makes sure the file is cached: when it is not on the volume, downloads it from `source`,
   * checking size and sha256 against `expected`. Concurrent calls for one file in this task share
   * one download; with claims, tasks sharing the volume wait for the one already downloading it.
   * Rejects with UpstreamCacheError on a mismatch, or with whatever `source` or its stream
   * throws; in every failure nothing is left on the volume.
   */
  async fill(expected: ExpectedFile, source: () => Promise<Readable>): Promise<FillResult> {
    const file = this.filePath(expected.sha256);
    return this.fills.run(expected.sha256, async () => {
      const present = await this.probe(expected.sha256);
      if (present !== null) return { size: present, fetched: false };
      const claim = this.useClaims ? await this.claim(expected.sha256) : null;
      try {
        // The task before us may have linked it just before it let the claim go.
        if (claim !== null) {
          const size = await this.probe(expected.sha256);
          if (size !== null) return { size, fetched: false };
        }
        const size = await this.download(file, expected, source);
        this.remember(expected.sha256, size, Date.now());
        await this.evict(expected.sha256);
        return { size, fetched: true };
      } finally {
        if (claim instanceof Claim) await claim.release();
      }
    });
  }

  /** The size of the file when it is on the volume (opened, so another task's file is seen), else null. */
  private async probe(sha256: string): Promise<number | null> {
    const handle = await this.openHandle(sha256);
    if (!handle) return null;
    try {
      return await this.sizeOf(sha256, handle);
    } finally {
      await handle.close();
    }
  }

  private async download(final: string, expected: ExpectedFile, source: () => Promise<Readable>): Promise<number> {
    const limit = expected.size ?? expected.maxBytes ?? this.maxFileBytes;
    const temp = path.join(this.incomingDir, `upstream-${Date.now()}-${randomBytes(8).toString('hex')}.part`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, callback) {
        size += chunk.length;
        if (size > limit) {
          callback(
            expected.size !== null
              ? new UpstreamCacheError('size-mismatch', `more than the ${expected.size} bytes the upstream page gives`)
              : new UpstreamCacheError('too-large', `larger than the limit of ${limit} bytes`),
          );
          return;
        }
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    try {
      const body = await source();
      await pipeline(body, meter, createWriteStream(temp, { flags: 'wx' }));
      if (expected.size !== null && size !== expected.size) {
        throw new UpstreamCacheError('size-mismatch', `${size} bytes received, the upstream page gives ${expected.size}`);
      }
      const digest = hash.digest('hex');
      if (digest !== expected.sha256) {
        throw new UpstreamCacheError('hash-mismatch', `sha256 ${digest} received, the upstream page gives ${expected.sha256}`);
      }
      const handle = await fs.open(temp, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await fs.link(temp, final);
      } catch (err) {
        // Another task linked the same content first: its copy is as good as ours.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      return size;
    } finally {
      await fs.rm(temp, { force: true });
    }
  }

  // ---------------------------------------------------------------- claims between tasks

  /**
   * Takes the claim on a file, or waits while another task holds it. Returns the claim, or
   * 'appeared' when the file showed up while waiting, or null when the wait ended without a claim
   * (the caller then downloads anyway: link() keeps the first copy). A holder renews its claim
   * while it downloads; one not renewed for claimStaleMs belongs to a task that died.
   *
   * On NFS a waiter may not see the new file's name until its directory cache expires; it then
   * takes the freed claim and downloads once more, which costs a request but no correctness.
   */
  private async claim(sha256: string): Promise<Claim | 'appeared' | null> {
    const file = path.join(this.claimsDir, sha256);
    let seen: string | null = null;
    let seenSince = Date.now();
    for (;;) {
      const token = `${os.hostname()} ${process.pid} ${Date.now()} ${randomBytes(4).toString('hex')}`;
      try {
        await fs.writeFile(file, token, { flag: 'wx' });
        return new Claim(file, Math.max(10, Math.floor(this.claimStaleMs / 3)), this.log);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          this.log.warn({ err: (err as Error).message }, 'cannot take an upstream download claim; downloading without one');
          return null;
        }
      }
      if ((await this.probe(sha256)) !== null) return 'appeared';
      let current: string | null = null;
      try {
        current = (await readFresh(file)).toString('utf8');
      } catch {
        continue; // released just now: try to take it
      }
      if (current !== seen) {
        seen = current;
        seenSince = Date.now();
      } else if (Date.now() - seenSince > this.claimStaleMs) {
        this.log.warn({ sha256 }, 'taking over an upstream download claim nobody renewed');
        await fs.rm(file, { force: true });
        continue;
      }
      await sleep(this.claimPollMs);
    }
  }

  // ---------------------------------------------------------------- accounting and eviction

  private remember(sha256: string, size: number, mtimeMs: number): void {
    const known = this.files.get(sha256);
    if (known) return;
    this.files.set(sha256, { size, touchedAt: mtimeMs, seq: ++this.seq });
    this.total += size;
    this.changes++;
  }

  private forget(sha256: string): void {
    const known = this.files.get(sha256);
    if (!known) return;
    this.files.delete(sha256);
    this.total -= known.size;
    this.changes++;
  }

  /** Marks a file most recently used; now and then writes that to its mtime for other tasks and restarts. */
  private used(sha256: string): void {
    const entry = this.files.get(sha256);
    if (!entry) return;
    this.files.delete(sha256);
    this.files.set(sha256, entry);
    const now = Date.now();
    if (now - entry.touchedAt >= this.touchIntervalMs) {
      entry.touchedAt = now;
      const at = new Date(now);
      fs.utimes(this.filePath(sha256), at, at).catch(() => undefined);
    }
  }

  private pin(sha256: string): void {
    this.pins.set(sha256, (this.pins.get(sha256) ?? 0) + 1);
  }

  private unpin(sha256: string): void {
    const n = (this.pins.get(sha256) ?? 1) - 1;
    if (n <= 0) this.pins.delete(sha256);
    else this.pins.set(sha256, n);
  }

  /** Removes least recently used files until the total fits, sparing `keep` and files being read here. */
  private async evict(keep?: string): Promise<void> {
    if (this.total <= this.maxBytes) return;
    const victims: string[] = [];
    for (const [sha256, entry] of this.files) {
      if (this.total <= this.maxBytes) break;
      if (sha256 === keep || this.pins.has(sha256)) continue;
      this.files.delete(sha256);
      this.total -= entry.size;
      this.evictions++;
      this.evictedBytes += entry.size;
      this.changes++;
      victims.push(sha256);
    }
    await Promise.all(
      victims.map(async (sha256) => {
        try {
          await fs.rm(this.filePath(sha256), { force: true });
        } catch (err) {
          this.log.warn({ sha256, err: (err as Error).message }, 'could not remove an evicted upstream file');
        }
      }),
    );
  }

  /**
   * Brings the accounting in line with the volume (files other tasks added or evicted), then
   * evicts down to the limit. Files this task had not seen count as least recently used, in
   * mtime order. Run at start and now and then (e.g. with the store's periodic full scan).
   */
  async rescan(): Promise<void> {
    const startSeq = this.seq;
    let names: string[];
    try {
      names = (await fs.readdir(this.filesDir)).filter((n) => SHA256_HEX.test(n));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      names = [];
    }
    const listed = new Set(names);
    const found: { sha256: string; size: number; mtimeMs: number }[] = [];
    await mapLimit(
      names.filter((n) => !this.files.has(n)),
      STAT_CONCURRENCY,
      async (sha256) => {
        try {
          const st = await fs.stat(path.join(this.filesDir, sha256));
          found.push({ sha256, size: st.size, mtimeMs: st.mtimeMs });
        } catch {
          // removed while we listed
        }
      },
    );
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    const known = new Map(this.files);
    this.files.clear();
    this.total = 0;
    for (const f of found) {
      if (known.has(f.sha256)) continue;
      this.files.set(f.sha256, { size: f.size, touchedAt: f.mtimeMs, seq: ++this.seq });
      this.total += f.size;
    }
    for (const [sha256, entry] of known) {
      // Gone from the listing: evicted elsewhere, unless it arrived here after the listing began.
      if (!listed.has(sha256) && entry.seq <= startSeq) continue;
      this.files.set(sha256, entry);
      this.total += entry.size;
    }
    this.changes++;
    await this.evict();
  }
}

/** A held download claim, renewed until released. */
class Claim {
  private readonly file: string;
  private readonly timer: NodeJS.Timeout;
  private renewing: Promise<void> = Promise.resolve();
  private released = false;

  constructor(file: string, renewMs: number, log: StoreLogger) {
    this.file = file;
    this.timer = setInterval(() => {
      this.renewing = this.renewing.then(async () => {
        if (this.released) return;
        try {
          await writeAtomic(this.file, `${os.hostname()} ${process.pid} ${Date.now()} ${randomBytes(4).toString('hex')}`);
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'could not renew an upstream download claim');
        }
      });
    }, renewMs);
    this.timer.unref();
  }

  async release(): Promise<void> {
    this.released = true;
    clearInterval(this.timer);
    // A renewal still in flight would put the claim back after its removal.
    await this.renewing;
    await fs.rm(this.file, { force: true });
  }
}

function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ESTALE';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
