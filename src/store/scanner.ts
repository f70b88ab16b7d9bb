import { createReadStream, promises as fs, type Dirent } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseFilename } from '../pypi/names.js';
import type { Change } from './change-notes.js';
import type { DistFile } from './dist-file.js';
import { errnoOf, mapLimit, READ_CHUNK, readFresh, readToEnd } from './fs-util.js';
import { digestsOf, ExtraHash, MultiHash, sink, type Digests } from './hashing.js';
import type { VolumeLayout } from './layout.js';
import { buildRecord, forMemory, readArchiveMetadata } from './records.js';
import { Sidecars, type SidecarListing } from './sidecars.js';

export interface ScanLogger {
  warn(obj: object, msg: string): void;
}

export interface ScanOptions {
  /**
   * A periodic full rescan: besides listing, re-check the size and mtime of a slice of the files
   * it trusts (see VERIFY_PER_SCAN), so a file replaced in place by hand is noticed without a stat
   * per file per scan. Otherwise (first scan, a scan after a generation bump) only files the
   * listings do not vouch for are examined.
   */
  full: boolean;
  /**
   * Records known from a previous scan or from the catalog. One is trusted as long as its sidecar
   * (named after path, size and mtime) is listed in meta/: a writer that replaces a file writes a
   * sidecar of a new name, and the one who notices a replacement by hand removes the old one.
   */
  previous?: ReadonlyMap<string, DistFile>;
  /**
   * Records from the catalog, still being read, for a scan without `previous` (the first one):
   * the volume is listed meanwhile, and they are used as `previous` once in.
   */
  seed?: Promise<ReadonlyMap<string, DistFile> | null>;
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
  /** Files whose size and mtime were asked for: new, changed, or in this scan's verification slice. */
  statted: number;
  /** Known files re-checked by a full scan's verification slice. */
  verified: number;
  /** Sidecars read (files the catalog or the previous scan did not vouch for). */
  sidecarsRead: number;
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

/** What a look at a change's paths found: records new or replaced, paths gone, and the yanks if the change asked for them. */
export interface PartialScanResult {
  put: DistFile[];
  gone: string[];
  yanks: Map<string, string> | null;
  stats: ScanStats;
}

export interface ScannerOptions {
  /** Serve symlinks whose target is outside the root (an operator's deliberate links). */
  followExternalLinks: boolean;
  /** Known files a full rescan re-checks (default VERIFY_PER_SCAN). */
  verifyPerScan?: number;
  /**
   * Digests every record must carry besides sha256, md5 and blake2b. A record without one (its
   * sidecar was written before they were asked for) is completed once: the file is read, the
   * digest added to the sidecar, and no task reads the file for it again.
   */
  extraDigests?: readonly string[];
}

const HASH_CONCURRENCY = 8;
const STAT_CONCURRENCY = 32;
/**
 * Known files a full rescan re-checks by stat, in name order from where the last one stopped. On
 * EFS a stat is a round trip, so checking every file would make each rescan grow with the volume
 * (100,000 files: minutes); a slice keeps it constant, and every file is re-checked once per
 * ceil(files / VERIFY_PER_SCAN) rescans. Writers never need this: they write a sidecar of a new
 * name. Only files rewritten in place by hand, keeping their name, wait for it.
 */
export const VERIFY_PER_SCAN = 2_000;
/** Files up to this size are read whole into memory to be described (most wheels and sdists are). */
const WHOLE_FILE = 8 * 1024 * 1024;
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
  /** Where the last verification slice ended. */
  private verifiedUpTo: string | null = null;
  /** The last listing of meta/, and the records it vouched for (see vouchedFor). */
  private lastListing: { stems: SidecarListing; vouched: ReadonlySet<DistFile> } | null = null;

  constructor(layout: VolumeLayout, sidecars: Sidecars, log: ScanLogger, opts: ScannerOptions) {
    this.layout = layout;
    this.sidecars = sidecars;
    this.log = log;
    this.opts = opts;
  }

  /**
   * Lists the root, meta/ and yanked/, and takes every file the listings vouch for from
   * `previous` without touching it; only the rest is statted, read from its sidecar, or hashed.
   */
  async scan(opts: ScanOptions): Promise<ScanResult> {
    const started = performance.now();
    const stats = emptyStats();
    // The catalog is read while the volume is listed: on EFS both are round trips.
    const [listing, sidecars, yanks, seeded] = await Promise.all([
      this.listEntries(),
      this.sidecars.list(),
      this.readYanks(),
      opts.seed ?? Promise.resolve(null),
    ]);
    const previous = opts.previous ?? seeded ?? undefined;
    // A name the index knows was parsed when it was first listed; a file link counts only when its
    // target is inside the root.
    const paths = listing.files.filter((rel) => previous?.has(rel) || parseFilename(path.posix.basename(rel)) !== null);
    if (listing.links.length > 0) paths.push(...(await this.linksInsideRoot(listing.links)));
    stats.listed = paths.length;
    if (opts.progress) opts.progress.seen = paths.length;

    let out: DistFile[] = [];
    const toExamine: string[] = [];
    // Records from the catalog are replaced by the index's own copies: not worth remembering.
    const listed = this.vouchedFor(sidecars, opts.previous !== undefined);
    for (const rel of paths) {
      const k = previous?.get(rel);
      if (k && !opts.dirty?.has(rel) && listed(k) && this.missingDigests(k).length === 0) out.push(k);
      else toExamine.push(rel);
    }
    if (opts.full) {
      const verify = new Set(this.verificationSlice(out));
      if (verify.size > 0) out = out.filter((f) => !verify.has(f));
      for (const f of verify) toExamine.push(f.relpath);
      stats.verified = verify.size;
    }

    for (const f of await this.examineFiles(toExamine, previous, (stem) => sidecars.has(stem), stats, opts.progress)) out.push(f);
    stats.durationMs = performance.now() - started;
    return { files: out, yanks, stats };
  }

  /**
   * Looks again only at the paths a change names (store/change-notes.ts), for a reader that
   * trusts everything else it holds: no listing. Their sidecars are read by name (writers write
   * them before they note the change); yanks are read again only when the change says so.
   */
  async examine(change: Change, previous: ReadonlyMap<string, DistFile>): Promise<PartialScanResult> {
    const started = performance.now();
    const stats = emptyStats();
    // A noted path that is not a distribution name and not indexed is nothing the index serves.
    const paths = change.paths.filter((rel) => previous.has(rel) || parseFilename(path.posix.basename(rel)) !== null);
    const [found, yanks] = await Promise.all([
      this.servable(paths).then((servable) => this.examineFiles(servable, previous, () => true, stats, undefined)),
      change.yanks ? this.readYanks() : Promise.resolve(null),
    ]);
    const present = new Set(found.map((f) => f.relpath));
    stats.listed = found.length;
    stats.durationMs = performance.now() - started;
    return {
      put: found.filter((f) => previous.get(f.relpath) !== f),
      gone: paths.filter((rel) => !present.has(rel)),
      yanks,
      stats,
    };
  }

  /**
   * Stats each path and describes the files it finds: unchanged (same size and mtime as
   * `previous`), from their sidecar when `hasSidecar` says there is one, else hashed (and the
   * sidecar written). Paths that are gone or not files are left out.
   */
  private async examineFiles(
    toExamine: readonly string[],
    previous: ReadonlyMap<string, DistFile> | undefined,
    hasSidecar: (stem: string) => boolean,
    stats: ScanStats,
    progress: ScanProgress | undefined,
  ): Promise<DistFile[]> {
    const out: DistFile[] = [];
    const needHash: { rel: string; size: number; mtimeMs: number }[] = [];
    const needDigests: DistFile[] = [];
    await mapLimit(toExamine, STAT_CONCURRENCY, async (rel) => {
      let st;
      try {
        st = await fs.stat(this.layout.locate(rel).full);
      } catch {
        return; // removed while we listed, or a dangling link
      }
      stats.statted++;
      if (!st.isFile()) return;
      const size = st.size;
      const mtimeMs = Math.floor(st.mtimeMs);
      const k = previous?.get(rel);
      if (k?.size === size && k.mtimeMs === mtimeMs) {
        out.push(k);
        return;
      }
      const stem = Sidecars.stemOf(rel, size, mtimeMs);
      if (hasSidecar(stem)) {
        stats.sidecarsRead++;
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
        if (progress) progress.hashed++;
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
        if (progress) progress.hashed++;
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
      // Bytes that differ from what a listed sidecar says make that sidecar stale: removing it
      // tells every other task (which trusts records by their sidecar's name) to look again.
      const stale = previous?.get(rel);
      if (stale && stale.sha256 !== record.sha256 && hasSidecar(Sidecars.stem(stale))) {
        await this.sidecars.remove(Sidecars.stem(stale)).catch((err: unknown) => {
          this.log.warn({ file: rel, err }, 'could not remove the sidecar of a file replaced by hand');
        });
      }
      out.push(forMemory(record));
    });
    if (stats.unsaved > 0) {
      this.log.warn(
        { files: stats.unsaved, err: unsavedErr },
        'serving files whose sidecars could not be written; they are hashed again at the next start',
      );
    }

    return out;
  }

  /**
   * Whether a record's sidecar is in this listing of meta/. Most records were vouched for by the
   * previous listing too; for them it is enough to know which sidecars went away since, which
   * spares building a name for each of 100,000 records at every poll. The others (new records, a
   * catalog's) are looked up by name. Remembers this listing for the next scan.
   */
  private vouchedFor(stems: SidecarListing, remember: boolean): (k: DistFile) => boolean {
    const before = this.lastListing;
    const gone = new Set<string>();
    if (before) for (const stem of before.stems.goneFrom(stems)) gone.add(relpathOfStem(stem));
    const vouched = new Set<DistFile>();
    this.lastListing = remember ? { stems, vouched } : null;
    return (k) => {
      const ok = before?.vouched.has(k) ? !gone.has(k.relpath) : stems.has(Sidecars.stem(k));
      if (ok && remember) vouched.add(k);
      return ok;
    };
  }

  /**
   * The next VERIFY_PER_SCAN of `trusted` in name order after the last one checked, wrapping
   * around. Each process starts at a random place, so the tasks of a fleet check different files.
   */
  private verificationSlice(trusted: readonly DistFile[]): DistFile[] {
    const limit = this.opts.verifyPerScan ?? VERIFY_PER_SCAN;
    if (trusted.length <= limit) return [...trusted];
    const sorted = [...trusted].sort((a, b) => (a.relpath < b.relpath ? -1 : a.relpath > b.relpath ? 1 : 0));
    const cursor = this.verifiedUpTo;
    // The first path after the cursor, or a random place the first time.
    const start = cursor === null ? Math.floor(Math.random() * sorted.length) : firstAfter(sorted, cursor);
    const slice = [...sorted.slice(start, start + limit), ...sorted.slice(0, Math.max(0, start + limit - sorted.length))];
    this.verifiedUpTo = slice.at(-1)?.relpath ?? null;
    return slice;
  }

  /**
   * Recursive listing, relative '/'-paths: regular files (distributions or not, told apart by the
   * caller) and links named like distributions. Dot-files and dot-folders are skipped, folders are
   * entered only when they are real folders (never through a link) and at most MAX_DEPTH deep.
   */
  private async listEntries(): Promise<{ files: string[]; links: string[] }> {
    const files: string[] = [];
    const links: string[] = [];
    const walk = async (dir: string, prefix: string, depth: number): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        // A root itself must be readable; a vanished subfolder is not an error.
        if (depth === 0) throw err;
        return;
      }
      const subdirs: Promise<void>[] = [];
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        const rel = prefix + e.name;
        if (e.isDirectory()) {
          if (depth < MAX_DEPTH) subdirs.push(walk(path.join(dir, e.name), rel + '/', depth + 1));
        } else if (e.isFile()) {
          files.push(rel);
        } else if (e.isSymbolicLink() && parseFilename(e.name)) {
          links.push(rel);
        }
      }
      await Promise.all(subdirs);
    };
    await walk(this.layout.root, '', 0);
    for (const ro of this.layout.readOnlyRoots) {
      try {
        await walk(ro.dir, ro.prefix, 0);
      } catch (err) {
        // One missing extra directory must not hide the others: logged, listed as empty.
        this.log.warn({ err, dir: ro.dir }, 'a read-only package directory cannot be listed: its files are not served');
      }
    }
    return { files, links };
  }

  /** The paths a listing would serve: regular files, and links only as linksInsideRoot allows them. */
  private async servable(paths: readonly string[]): Promise<string[]> {
    const files: string[] = [];
    const links: string[] = [];
    await mapLimit(paths, STAT_CONCURRENCY, async (rel) => {
      try {
        const { dir, full } = this.layout.locate(rel);
        // Listings never enter a folder through a link: nor does a noted path.
        if (rel.includes('/')) {
          const parent = path.dirname(full);
          const [realParent, realDir] = await Promise.all([fs.realpath(parent), fs.realpath(dir)]);
          if (realParent !== path.join(realDir, path.relative(dir, parent))) return;
        }
        const st = await fs.lstat(full);
        if (st.isSymbolicLink()) links.push(rel);
        else files.push(rel);
      } catch {
        // gone
      }
    });
    return links.length > 0 ? [...files, ...(await this.linksInsideRoot(links))] : files;
  }

  private async linksInsideRoot(links: string[]): Promise<string[]> {
    if (this.opts.followExternalLinks) return links;
    const realDirs = new Map<string, Promise<string>>();
    const realDir = (dir: string): Promise<string> => {
      let real = realDirs.get(dir);
      if (!real) realDirs.set(dir, (real = fs.realpath(dir)));
      return real;
    };
    const inside: string[] = [];
    await mapLimit(links, STAT_CONCURRENCY, async (rel) => {
      try {
        const { dir, full } = this.layout.locate(rel);
        const target = await fs.realpath(full);
        if (target.startsWith((await realDir(dir)) + path.sep)) inside.push(rel);
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
    await pipeline(createReadStream(this.layout.locate(record.relpath).full, { highWaterMark: READ_CHUNK }), hasher, sink());
    if (hasher.size !== record.size) throw new Error(`changed while it was read (${record.size} bytes listed, ${hasher.size} read)`);
    return { ...record, hashes: { ...record.hashes, ...hasher.digests() } };
  }

  /**
   * Hashes a file and reads its metadata. A file of up to WHOLE_FILE bytes is read once, with a
   * buffer of its size, and both come from those bytes: on EFS one open and a read or two instead
   * of two opens, and no 1 MiB read buffer per small file for the collector.
   */
  private async describe(rel: string, size: number, mtimeMs: number): Promise<{ record: DistFile; metadata: Buffer | null }> {
    const full = this.layout.locate(rel).full;
    const parsed = parseFilename(path.posix.basename(rel));
    if (!parsed) throw new Error(`not a distribution filename: ${rel}`);
    let digests: Digests;
    let read: number;
    let source: string | Buffer = full;
    if (size <= WHOLE_FILE) {
      // Read until EOF, past the size stat() gave: a network file system may serve that from its cache.
      const bytes = await readToEnd(await fs.open(full, 'r'), WHOLE_FILE * 2, rel, size + 1);
      digests = digestsOf(bytes, this.opts.extraDigests);
      read = bytes.length;
      source = bytes;
    } else {
      const hasher = new MultiHash(Infinity, this.opts.extraDigests);
      await pipeline(createReadStream(full, { highWaterMark: READ_CHUNK }), hasher, sink());
      digests = hasher.digests();
      read = hasher.size;
    }
    if (read !== size) throw new Error(`changed while it was read (${size} bytes listed, ${read} read); read again at the next scan`);
    const metadata = await readArchiveMetadata(source, size, parsed);
    const record = buildRecord(rel, parsed, { size, mtimeMs, digests, uploadTime: new Date(mtimeMs).toISOString() }, metadata);
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

function emptyStats(): ScanStats {
  return { listed: 0, statted: 0, verified: 0, sidecarsRead: 0, hashed: 0, invalid: 0, failed: 0, unsaved: 0, durationMs: 0 };
}

/** Index of the first record whose path sorts after `cursor` (binary search over records sorted by path). */
function firstAfter(sorted: readonly DistFile[], cursor: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const rel = sorted[mid]?.relpath ?? '';
    if (rel <= cursor) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The relative path a sidecar's name is for (its name ends with ~size~mtime; '~' may occur in the path). */
function relpathOfStem(stem: string): string {
  const end = stem.lastIndexOf('~', stem.lastIndexOf('~') - 1);
  try {
    return decodeURIComponent(stem.slice(0, end));
  } catch {
    return stem;
  }
}
