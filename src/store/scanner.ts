import { createReadStream, promises as fs, type Dirent } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseFilename } from '../pypi/names.js';
import type { DistFile } from './dist-file.js';
import { errnoOf, mapLimit, READ_CHUNK, readFresh } from './fs-util.js';
import { ExtraHash, MultiHash, sink } from './hashing.js';
import type { VolumeLayout } from './layout.js';
import { buildRecord, forMemory, readArchiveMetadata } from './records.js';
import { Sidecars } from './sidecars.js';

export interface ScanLogger {
  warn(obj: object, msg: string): void;
}

export interface ScanOptions {
  /** Stat every file (start, periodic rescans); otherwise files already known are trusted. */
  full: boolean;
  previous?: ReadonlyMap<string, DistFile>;
  /** Paths a watcher saw change: always re-examined. */
  dirty?: ReadonlySet<string>;
  /** Updated as the scan goes, for /health while a large volume loads. */
  progress?: ScanProgress;
}

export interface ScanProgress {
  /** Distribution files found so far. */
  seen: number;
  /** Files hashed so far (the slow part: once per file per volume). */
  hashed: number;
}

export interface ScanStats {
  /** Distribution files found by listing. */
  listed: number;
  statted: number;
  hashed: number;
  /** Files that are not valid distributions (corrupt archives): skipped until they change. */
  invalid: number;
  /** Files that could not be read (I/O errors): skipped, retried at the next scan. */
  failed: number;
  /** Files served although their sidecar could not be written (a full or read-only volume). */
  unsaved: number;
  durationMs: number;
}

export interface ScanResult {
  files: DistFile[];
  yanks: Map<string, string>;
  stats: ScanStats;
}

export interface ScannerOptions {
  /** Serve symlinks whose target is outside the root (an operator's deliberate links). */
  followExternalLinks: boolean;
  /**
   * Digests every record must carry besides sha256, md5 and blake2b. A record without one (its
   * sidecar was written before they were asked for) is completed once: the file is read, the
   * digest added to the sidecar, and no task reads the file for it again.
   */
  extraDigests?: readonly string[];
}

const HASH_CONCURRENCY = 8;
const STAT_CONCURRENCY = 32;
/** pypiserver volumes have a folder or two of nesting; deeper is a mistake, or a loop. */
export const MAX_DEPTH = 8;

/**
 * Lists the volume and returns every distribution with its record. The expensive step, hashing a
 * file and reading its metadata, happens once per file per volume: its result goes to a sidecar
 * every other task reads instead.
 */
export class Scanner {
  private readonly layout: VolumeLayout;
  private readonly sidecars: Sidecars;
  private readonly log: ScanLogger;
  private readonly opts: ScannerOptions;

  constructor(layout: VolumeLayout, sidecars: Sidecars, log: ScanLogger, opts: ScannerOptions) {
    this.layout = layout;
    this.sidecars = sidecars;
    this.log = log;
    this.opts = opts;
  }

  /**
   * Files seen before are taken from `previous` without a stat unless `full` (so a token change
   * costs two readdirs and work only for new files); a file replaced by a writer gets a new
   * sidecar name, which is how a fast scan notices it.
   */
  async scan(opts: ScanOptions): Promise<ScanResult> {
    const started = performance.now();
    const stats: ScanStats = { listed: 0, statted: 0, hashed: 0, invalid: 0, failed: 0, unsaved: 0, durationMs: 0 };
    const [paths, sidecars, yanks] = await Promise.all([this.listDistributions(), this.sidecars.list(), this.readYanks()]);
    stats.listed = paths.length;
    if (opts.progress) opts.progress.seen = paths.length;

    const out: DistFile[] = [];
    const toExamine: string[] = [];
    for (const rel of paths) {
      const known = opts.previous?.get(rel);
      if (known && !opts.full && !opts.dirty?.has(rel) && sidecars.has(Sidecars.stem(known))) out.push(known);
      else toExamine.push(rel);
    }

    const needHash: { rel: string; size: number; mtimeMs: number }[] = [];
    const needDigests: DistFile[] = [];
    await mapLimit(toExamine, STAT_CONCURRENCY, async (rel) => {
      let st;
      try {
        st = await fs.stat(path.join(this.layout.root, rel));
      } catch {
        return; // removed while we listed, or a dangling link
      }
      stats.statted++;
      if (!st.isFile()) return;
      const size = st.size;
      const mtimeMs = Math.floor(st.mtimeMs);
      const known = opts.previous?.get(rel);
      if (known?.size === size && known.mtimeMs === mtimeMs) {
        out.push(known);
        return;
      }
      const stem = Sidecars.stemOf(rel, size, mtimeMs);
      if (sidecars.has(stem)) {
        const record = await this.sidecars.read(stem);
        if (record?.relpath === rel) {
          if (this.missingDigests(record).length > 0) needDigests.push(record);
          else out.push(forMemory(record));
          return;
        }
      }
      needHash.push({ rel, size, mtimeMs });
    });

    let unsavedErr: unknown = null;
    await mapLimit(needDigests, HASH_CONCURRENCY, async (record) => {
      let completed: DistFile;
      try {
        completed = await this.addDigests(record);
        stats.hashed++;
        if (opts.progress) opts.progress.hashed++;
      } catch (err) {
        // Served with the digests it has; the pages fall back to sha256 for it.
        this.log.warn({ file: record.relpath, err }, 'could not compute the digests --hash-algo asks for');
        out.push(forMemory(record));
        return;
      }
      try {
        // The record alone: the METADATA kept beside it is unchanged.
        await this.sidecars.write(completed, null);
      } catch (err) {
        stats.unsaved++;
        unsavedErr ??= err;
      }
      out.push(forMemory(completed));
    });
    await mapLimit(needHash, HASH_CONCURRENCY, async ({ rel, size, mtimeMs }) => {
      let described;
      try {
        described = await this.describe(rel, size, mtimeMs);
        stats.hashed++;
        if (opts.progress) opts.progress.hashed++;
      } catch (err) {
        // One unreadable or corrupt file must not hide the rest of the volume.
        if (errnoOf(err) !== undefined) stats.failed++;
        else stats.invalid++;
        this.log.warn({ file: rel, err }, 'skipping a file that cannot be read as a distribution');
        return;
      }
      const { record, metadata } = described;
      try {
        await this.sidecars.write(record, record.metadataSha256 ? metadata : null);
      } catch (err) {
        // A full or read-only meta/ must not hide the file: serve what was computed, and compute
        // it again at the next start.
        stats.unsaved++;
        unsavedErr ??= err;
      }
      out.push(forMemory(record));
    });
    if (stats.unsaved > 0) {
      this.log.warn(
        { files: stats.unsaved, err: unsavedErr },
        'serving files whose sidecars could not be written; they are hashed again at the next start',
      );
    }

    stats.durationMs = performance.now() - started;
    return { files: out, yanks, stats };
  }

  /**
   * Recursive listing of distribution files, relative '/'-paths. Dot-files and dot-folders are
   * skipped, folders are entered only when they are real folders (never through a link) and at
   * most MAX_DEPTH deep, and a file link counts only when its target is inside the root.
   */
  private async listDistributions(): Promise<string[]> {
    const out: string[] = [];
    const links: string[] = [];
    const walk = async (dir: string, prefix: string, depth: number): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        // The root itself must be readable; a vanished subfolder is not an error.
        if (prefix === '') throw err;
        return;
      }
      const subdirs: Promise<void>[] = [];
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        const rel = prefix + e.name;
        if (e.isDirectory()) {
          if (depth < MAX_DEPTH) subdirs.push(walk(path.join(dir, e.name), rel + '/', depth + 1));
        } else if (parseFilename(e.name)) {
          if (e.isFile()) out.push(rel);
          else if (e.isSymbolicLink()) links.push(rel);
        }
      }
      await Promise.all(subdirs);
    };
    await walk(this.layout.root, '', 0);
    if (links.length > 0) out.push(...(await this.linksInsideRoot(links)));
    return out;
  }

  private async linksInsideRoot(links: string[]): Promise<string[]> {
    if (this.opts.followExternalLinks) return links;
    const realRoot = await fs.realpath(this.layout.root);
    const inside: string[] = [];
    await mapLimit(links, STAT_CONCURRENCY, async (rel) => {
      try {
        const target = await fs.realpath(path.join(this.layout.root, rel));
        if (target.startsWith(realRoot + path.sep)) inside.push(rel);
        else this.log.warn({ file: rel, target }, 'not serving a link that points outside the package directory (--follow-external-links)');
      } catch {
        // dangling
      }
    });
    return inside;
  }

  private missingDigests(record: DistFile): string[] {
    return (this.opts.extraDigests ?? []).filter((name) => record.hashes?.[name] === undefined);
  }

  /** A record with the digests it lacks, from one read of its file. */
  private async addDigests(record: DistFile): Promise<DistFile> {
    const hasher = new ExtraHash(this.missingDigests(record));
    await pipeline(createReadStream(path.join(this.layout.root, record.relpath), { highWaterMark: READ_CHUNK }), hasher, sink());
    if (hasher.size !== record.size) throw new Error(`changed while it was read (${record.size} bytes listed, ${hasher.size} read)`);
    return { ...record, hashes: { ...record.hashes, ...hasher.digests() } };
  }

  /** Hashes a file and reads its metadata. */
  private async describe(rel: string, size: number, mtimeMs: number): Promise<{ record: DistFile; metadata: Buffer | null }> {
    const full = path.join(this.layout.root, rel);
    const parsed = parseFilename(path.posix.basename(rel));
    if (!parsed) throw new Error(`not a distribution filename: ${rel}`);
    const hasher = new MultiHash(Infinity, this.opts.extraDigests);
    await pipeline(createReadStream(full, { highWaterMark: READ_CHUNK }), hasher, sink());
    // The size came from stat(), which a network file system may serve from its cache.
    if (hasher.size !== size)
      throw new Error(`changed while it was read (${size} bytes listed, ${hasher.size} read); read again at the next scan`);
    const metadata = await readArchiveMetadata(full, size, parsed);
    const record = buildRecord(
      rel,
      parsed,
      { size, mtimeMs, digests: hasher.digests(), uploadTime: new Date(mtimeMs).toISOString() },
      metadata,
    );
    return { record, metadata: metadata.raw };
  }

  private async readYanks(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let names: string[];
    try {
      names = await fs.readdir(this.layout.yankDir);
    } catch {
      return out;
    }
    await Promise.all(
      names
        .filter((n) => !n.startsWith('.') && !n.endsWith('.tmp'))
        .map(async (n) => {
          try {
            out.set(decodeURIComponent(n), (await readFresh(path.join(this.layout.yankDir, n), 64 * 1024)).toString('utf8').trim());
          } catch {
            // un-yanked while we listed
          }
        }),
    );
    return out;
  }
}
