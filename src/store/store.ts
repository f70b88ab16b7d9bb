import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs, constants, type Dirent } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Errors } from '../errors.js';
import type { ProjectInfo } from '../pypi/metadata.js';
import { parseFilename, type ParsedFilename } from '../pypi/names.js';
import { ArchiveError, readWheelMetadata } from './archive.js';
import type { DistFile } from './dist-file.js';
import { mapLimit, READ_CHUNK, writeAtomic } from './fs-util.js';
import { GenerationFile } from './generation.js';
import { MultiHash, sink, type Digests } from './hashing.js';
import { readFresh } from './read-fresh.js';
import { buildRecord, forMemory, readArchiveMetadata, sidecarStem, sidecarStemOf } from './records.js';

export type { Digests } from './hashing.js';

export interface StoreLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

const silent: StoreLogger = { warn() {}, info() {} };

export interface ScanOptions {
  /** Stat every file (start, periodic rescans); otherwise files already known are trusted. */
  full: boolean;
  previous?: ReadonlyMap<string, DistFile>;
  /** Paths a watcher saw change: always re-examined. */
  dirty?: ReadonlySet<string>;
}

export interface ScanResult {
  files: DistFile[];
  yanks: Map<string, string>;
  stats: { listed: number; statted: number; hashed: number; durationMs: number };
}

/** An upload written to `incoming/` and hashed, not yet visible. */
export interface Staged {
  tempPath: string;
  filename: string;
  parsed: ParsedFilename;
  size: number;
  digests: Digests;
  /** Raw core metadata (wheel METADATA / sdist PKG-INFO), when the archive has it. */
  metadata: Buffer | null;
  info: ProjectInfo | null;
}

const SIDECAR_VERSION = 1;
const HASH_CONCURRENCY = 8;
const STAT_CONCURRENCY = 32;

/**
 * The package volume. The only code that touches the file system: it lists and reads
 * distributions, keeps per-file sidecars, publishes uploads atomically and bumps the generation.
 *
 * Layout: distributions in `<root>/` (and subfolders, read-only), state in `<root>/.wheelhouse/`:
 * `generation`, `incoming/` (uploads in flight), `meta/` (sidecars), `yanked/` (PEP 592 state).
 */
export class PackageStore {
  readonly root: string;
  readonly stateDir: string;
  readonly metaDir: string;
  readonly incomingDir: string;
  readonly yankDir: string;
  readonly generation: GenerationFile;
  private readonly log: StoreLogger;

  constructor(root: string, log: StoreLogger = silent) {
    this.root = path.resolve(root);
    this.stateDir = path.join(this.root, '.wheelhouse');
    this.metaDir = path.join(this.stateDir, 'meta');
    this.incomingDir = path.join(this.stateDir, 'incoming');
    this.yankDir = path.join(this.stateDir, 'yanked');
    this.generation = new GenerationFile(this.stateDir);
    this.log = log;
  }

  async init(): Promise<void> {
    for (const dir of [this.root, this.metaDir, this.incomingDir, this.yankDir]) {
      await fs.mkdir(dir, { recursive: true });
    }
    // Readers must never poll a missing name: an NFS client caches "no such file" for as long as
    // its directory cache lasts (30-60 s on EFS), and would miss the first real bump for that long.
    if ((await this.generation.read()) === null) await this.generation.bump();
  }

  // ---------------------------------------------------------------- reading the volume

  async stateDirExists(): Promise<boolean> {
    try {
      return (await fs.stat(this.stateDir)).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * Lists the volume and returns every distribution with its sidecar data. Files seen before are
   * taken from `previous` without a stat unless `full` (so a token change costs two readdirs and
   * work only for new files); a file replaced by a writer gets a new sidecar name, which is how a
   * fast scan notices it.
   */
  async scan(opts: ScanOptions): Promise<ScanResult> {
    const started = performance.now();
    const stats = { listed: 0, statted: 0, hashed: 0, durationMs: 0 };
    const [paths, sidecars, yanks] = await Promise.all([this.listDistributions(), this.listSidecars(), this.readYanks()]);
    stats.listed = paths.length;

    const out: DistFile[] = [];
    const toExamine: string[] = [];
    for (const rel of paths) {
      const known = opts.previous?.get(rel);
      if (known && !opts.full && !opts.dirty?.has(rel) && sidecars.has(sidecarStem(known))) out.push(known);
      else toExamine.push(rel);
    }

    const needHash: { rel: string; size: number; mtimeMs: number }[] = [];
    await mapLimit(toExamine, STAT_CONCURRENCY, async (rel) => {
      let st;
      try {
        st = await fs.stat(path.join(this.root, rel));
      } catch {
        return; // removed while we listed
      }
      stats.statted++;
      if (!st.isFile()) return;
      const size = st.size;
      const mtimeMs = Math.floor(st.mtimeMs);
      const known = opts.previous?.get(rel);
      if (known && known.size === size && known.mtimeMs === mtimeMs) {
        out.push(known);
        return;
      }
      const stem = sidecarStemOf(rel, size, mtimeMs);
      if (sidecars.has(stem)) {
        const record = await this.readSidecar(stem);
        if (record && record.relpath === rel) {
          out.push(forMemory(record));
          return;
        }
      }
      needHash.push({ rel, size, mtimeMs });
    });

    await mapLimit(needHash, HASH_CONCURRENCY, async ({ rel, size, mtimeMs }) => {
      try {
        const { record, metadata } = await this.describe(rel, size, mtimeMs, new Date(mtimeMs).toISOString());
        stats.hashed++;
        await this.writeSidecar(record, record.metadataSha256 ? metadata : null);
        out.push(forMemory(record));
      } catch (err) {
        // One unreadable or corrupt file must not hide the rest of the volume.
        this.log.warn({ file: rel, err: (err as Error).message }, 'skipping a file that cannot be read as a distribution');
      }
    });

    stats.durationMs = performance.now() - started;
    return { files: out, yanks, stats };
  }

  /** Recursive listing of distribution files, relative '/'-paths; dot-files and dot-folders skipped. */
  private async listDistributions(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
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
        if (e.isDirectory()) subdirs.push(walk(path.join(dir, e.name), rel + '/'));
        else if ((e.isFile() || e.isSymbolicLink()) && parseFilename(e.name)) out.push(rel);
      }
      await Promise.all(subdirs);
    };
    await walk(this.root, '');
    return out;
  }

  private async listSidecars(): Promise<Set<string>> {
    try {
      const names = await fs.readdir(this.metaDir);
      return new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
      throw err;
    }
  }

  private async readSidecar(stem: string): Promise<DistFile | null> {
    try {
      const data = JSON.parse(await fs.readFile(path.join(this.metaDir, `${stem}.json`), 'utf8')) as DistFile & { v: number };
      if (data.v !== SIDECAR_VERSION) return null;
      const { v: _v, ...record } = data;
      return record;
    } catch {
      return null; // half-written by a crashed writer or garbage: recompute
    }
  }

  private async writeSidecar(record: DistFile, metadata: Buffer | null): Promise<void> {
    const stem = sidecarStem(record);
    if (metadata) await writeAtomic(path.join(this.metaDir, `${stem}.metadata`), metadata);
    await writeAtomic(path.join(this.metaDir, `${stem}.json`), JSON.stringify({ v: SIDECAR_VERSION, ...record }));
  }

  /** Hashes a file and reads its metadata: the expensive step, done once per file per volume. */
  private async describe(
    rel: string,
    size: number,
    mtimeMs: number,
    uploadTime: string,
  ): Promise<{ record: DistFile; metadata: Buffer | null }> {
    const full = path.join(this.root, rel);
    const filename = path.posix.basename(rel);
    const parsed = parseFilename(filename);
    if (!parsed) throw new Error(`not a distribution filename: ${filename}`);
    const hasher = new MultiHash();
    await pipeline(createReadStream(full, { highWaterMark: READ_CHUNK }), hasher, sink());
    // The size came from stat(), which a network file system may serve from its cache.
    if (hasher.size !== size)
      throw new Error(`changed while it was read (${size} bytes listed, ${hasher.size} read); read again at the next scan`);
    const { metadata, info } = await readArchiveMetadata(full, size, parsed);
    return { record: buildRecord(rel, parsed, size, mtimeMs, hasher.digests(), metadata, info, uploadTime), metadata };
  }

  private async readYanks(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let names: string[];
    try {
      names = await fs.readdir(this.yankDir);
    } catch {
      return out;
    }
    await Promise.all(
      names
        .filter((n) => !n.startsWith('.') && !n.endsWith('.tmp'))
        .map(async (n) => {
          try {
            out.set(decodeURIComponent(n), (await readFresh(path.join(this.yankDir, n))).toString('utf8').trim());
          } catch {
            // unyanked while we listed
          }
        }),
    );
    return out;
  }

  /** The long description, kept only in the sidecar (see forMemory). */
  async readDescription(file: DistFile): Promise<string | null> {
    return (await this.readSidecar(sidecarStem(file)))?.info?.description ?? null;
  }

  /** The PEP 658 bytes of a wheel's METADATA, as kept beside its sidecar. */
  async readMetadata(file: DistFile): Promise<Buffer> {
    try {
      return await fs.readFile(path.join(this.metaDir, `${sidecarStem(file)}.metadata`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // Sidecar lost (volume cleaned by hand): take it from the wheel again.
      return readWheelMetadata(this.resolve(file.relpath), file.size, file.project);
    }
  }

  /**
   * Opens a distribution for streaming. Opening first turns a file removed since the index saw it
   * into a clean 404 rather than a stream error after the headers went out.
   */
  async openRead(relpath: string, range?: { start: number; end: number }): Promise<Readable> {
    const full = this.resolve(relpath);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(full, constants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Errors.FileNotFound(path.posix.basename(relpath));
      throw err;
    }
    return handle.createReadStream({ ...(range ?? {}), autoClose: true });
  }

  async readWhole(relpath: string): Promise<Buffer> {
    try {
      return await readFresh(this.resolve(relpath), Infinity);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Errors.FileNotFound(path.posix.basename(relpath));
      throw err;
    }
  }

  /** Maps a relative path to an absolute one inside the root, refusing anything that escapes it. */
  private resolve(relpath: string): string {
    const full = path.resolve(this.root, relpath);
    if (!full.startsWith(this.root + path.sep) || relpath.split('/').some((p) => p.startsWith('.'))) {
      throw new Errors.FileNotFound(relpath);
    }
    return full;
  }

  // ---------------------------------------------------------------- writing the volume

  /**
   * Streams an upload into `incoming/` while hashing it, then reads its metadata. Nothing is
   * visible yet; the caller validates and then calls commit() or discard(). On any failure here
   * the temp file is already gone.
   */
  async stage(filename: string, source: Readable, maxSize: number): Promise<Staged> {
    const parsed = parseFilename(filename);
    if (!parsed) throw new Errors.BadFilename(filename, 'expected name-version-python-abi-platform.whl or name-version.tar.gz');
    const tempPath = path.join(this.incomingDir, `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
    const hasher = new MultiHash(maxSize);
    const out = createWriteStream(tempPath, { flags: 'wx' });
    let ok = false;
    try {
      await pipeline(source, hasher, out);
      const handle = await fs.open(tempPath, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (hasher.size === 0) throw new Errors.EmptyFile(filename);
      let meta;
      try {
        meta = await readArchiveMetadata(tempPath, hasher.size, parsed);
      } catch (err) {
        if (err instanceof ArchiveError) throw new Errors.BadArchive(filename, err.message);
        throw err;
      }
      ok = true;
      return { tempPath, filename, parsed, size: hasher.size, digests: hasher.digests(), ...meta };
    } finally {
      if (!ok) await fs.rm(tempPath, { force: true });
    }
  }

  async discard(staged: Staged): Promise<void> {
    await fs.rm(staged.tempPath, { force: true });
  }

  /**
   * Publishes a staged upload under its filename, flat in the root: link(temp, final) fails if the
   * name exists, so two writers on two tasks racing for one filename cannot both win and nobody
   * ever sees a partial file. The sidecar is written after the link, by the winner only: a sidecar
   * written before could be taken over by a loser whose file has the same size and mtime. A reader
   * that scans in between hashes the file itself, which is slower but right. Then the generation
   * is bumped. Same name with the same bytes is a duplicate (PyPI answers 200); different bytes
   * are refused unless `overwrite`.
   */
  async commit(staged: Staged, opts: { overwrite: boolean; uploadTime?: Date }): Promise<{ file: DistFile; duplicate: boolean }> {
    const rel = staged.filename;
    const final = path.join(this.root, rel);
    try {
      const st = await fs.stat(staged.tempPath);
      const record = buildRecord(
        rel,
        staged.parsed,
        staged.size,
        Math.floor(st.mtimeMs),
        staged.digests,
        staged.metadata,
        staged.info,
        (opts.uploadTime ?? new Date()).toISOString(),
      );
      let replaced: { size: number; mtimeMs: number } | null = null;
      try {
        await fs.link(staged.tempPath, final);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if ((await this.hashExisting(rel)) === staged.digests.sha256) return { file: forMemory(record), duplicate: true };
        if (!opts.overwrite) throw new Errors.FileExists(rel);
        replaced = await fs.stat(final).catch(() => null);
        await fs.rename(staged.tempPath, final);
      }
      try {
        await this.writeSidecar(record, staged.parsed.packagetype === 'bdist_wheel' ? staged.metadata : null);
        if (replaced) await this.removeSidecarStem(sidecarStemOf(rel, replaced.size, Math.floor(replaced.mtimeMs)));
      } catch (err) {
        // The file is out; without its sidecar every reader hashes it once. Not worth failing the upload.
        this.log.warn({ file: rel, err: (err as Error).message }, 'could not write the sidecar of a published file');
      }
      await this.generation.bump();
      return { file: forMemory(record), duplicate: false };
    } finally {
      await fs.rm(staged.tempPath, { force: true });
    }
  }

  private async hashExisting(rel: string): Promise<string | null> {
    try {
      const st = await fs.stat(path.join(this.root, rel));
      const side = await this.readSidecar(sidecarStemOf(rel, st.size, Math.floor(st.mtimeMs)));
      if (side) return side.sha256;
      const h = createHash('sha256');
      await pipeline(createReadStream(path.join(this.root, rel), { highWaterMark: READ_CHUNK }), h);
      return h.digest('hex');
    } catch {
      return null;
    }
  }

  /** Removes distribution files, then bumps the generation. Returns the paths actually removed. */
  async remove(files: readonly DistFile[]): Promise<string[]> {
    const removed: string[] = [];
    for (const f of files) {
      try {
        await fs.unlink(this.resolve(f.relpath));
        removed.push(f.relpath);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      await this.removeSidecar(f);
    }
    if (removed.length) await this.generation.bump();
    return removed;
  }

  /** Yanks (reason string, may be empty) or un-yanks (null) a release, then bumps the generation. */
  async setYank(project: string, version: string, reason: string | null): Promise<void> {
    const file = path.join(this.yankDir, encodeURIComponent(`${project}==${version}`));
    if (reason === null) await fs.rm(file, { force: true });
    else await writeAtomic(file, reason);
    await this.generation.bump();
  }

  private removeSidecar(record: DistFile): Promise<void> {
    return this.removeSidecarStem(sidecarStem(record));
  }

  private async removeSidecarStem(stem: string): Promise<void> {
    await Promise.all([
      fs.rm(path.join(this.metaDir, `${stem}.json`), { force: true }),
      fs.rm(path.join(this.metaDir, `${stem}.metadata`), { force: true }),
    ]);
  }

  /** Removes temp files of uploads that died (a killed process, a lost client) older than maxAgeMs. */
  async sweepIncoming(maxAgeMs: number): Promise<number> {
    let removed = 0;
    let names: string[];
    try {
      names = await fs.readdir(this.incomingDir);
    } catch {
      return 0;
    }
    const cutoff = Date.now() - maxAgeMs;
    for (const name of names) {
      const full = path.join(this.incomingDir, name);
      const st = await fs.stat(full).catch(() => null);
      if (st && st.mtimeMs < cutoff) {
        await fs.rm(full, { force: true });
        removed++;
      }
    }
    return removed;
  }

  /** True when the root is on a local file system, where inotify (chokidar) sees every write. */
  async isLocalDisk(): Promise<boolean> {
    try {
      const mounts = (await fs.readFile('/proc/mounts', 'utf8')).split('\n').map((l) => l.split(' '));
      const real = await fs.realpath(this.root);
      let best: { point: string; type: string } = { point: '', type: '' };
      for (const [, point, type] of mounts) {
        if (
          point &&
          type &&
          (real === point || real.startsWith(point.endsWith('/') ? point : point + '/')) &&
          point.length >= best.point.length
        ) {
          best = { point, type };
        }
      }
      return !/^(nfs|nfs4|cifs|smb3|fuse|9p|efs|virtiofs)/.test(best.type);
    } catch {
      return false; // not Linux: poll only
    }
  }
}
