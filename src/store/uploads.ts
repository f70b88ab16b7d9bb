import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Errors, isUserFacing } from '../errors.js';
import type { ParsedFilename } from '../pypi/names.js';
import { ArchiveError } from './archive.js';
import { yankKey, type DistFile } from './dist-file.js';
import { asStorageError, errnoOf, READ_CHUNK, writeAtomic } from './fs-util.js';
import type { GenerationFile } from './generation.js';
import { MultiHash, type Digests } from './hashing.js';
import type { VolumeLayout } from './layout.js';
import { buildRecord, forMemory, readArchiveMetadata, type ArchiveMetadata } from './records.js';
import { Sidecars } from './sidecars.js';

export interface UploadLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * An upload written to `incoming/` and hashed, not yet visible. Only the store creates and
 * removes its temp file: publish() consumes it, release() drops it if it is still there.
 */
export class Staged {
  readonly parsed: ParsedFilename;
  readonly size: number;
  readonly digests: Digests;
  readonly metadata: ArchiveMetadata;
  /** @internal the temp file; only the store uses it. */
  readonly tempPath: string;

  constructor(tempPath: string, parsed: ParsedFilename, size: number, digests: Digests, metadata: ArchiveMetadata) {
    this.tempPath = tempPath;
    this.parsed = parsed;
    this.size = size;
    this.digests = digests;
    this.metadata = metadata;
  }

  get filename(): string {
    return this.parsed.filename;
  }

  /** Drops the temp file unless it was published. Safe to call more than once. */
  async release(): Promise<void> {
    await fs.rm(this.tempPath, { force: true });
  }
}

export interface Published {
  /** The record as the index holds it. */
  file: DistFile;
  /** The same bytes were already there under this name (answered 200, as PyPI does). */
  duplicate: boolean;
}

export interface PublishOptions {
  /** Replace a file of the same name with different bytes. */
  overwrite: boolean;
  uploadTime?: Date;
  /** The login that uploads, kept in the file's record for the pages. */
  uploader?: string | null;
}

/**
 * Writes to the volume: uploads (staged in `incoming/`, published with link() so no partial file
 * is ever visible and two writers can never both take a name), removals and yanks. Every write
 * ends with a bump of the generation file, so every task lists it within its refresh interval; a
 * write whose bump fails is undone, so a refused write leaves the volume as it was.
 */
export class Uploads {
  private readonly layout: VolumeLayout;
  private readonly sidecars: Sidecars;
  private readonly generation: GenerationFile;
  private readonly log: UploadLogger;
  private readonly extraDigests: readonly string[];

  constructor(
    layout: VolumeLayout,
    sidecars: Sidecars,
    generation: GenerationFile,
    log: UploadLogger,
    opts: { extraDigests?: readonly string[] } = {},
  ) {
    this.layout = layout;
    this.sidecars = sidecars;
    this.generation = generation;
    this.log = log;
    this.extraDigests = opts.extraDigests ?? [];
  }

  /**
   * Streams an upload into `incoming/` while hashing it, fsyncs it, then reads its metadata.
   * Nothing is visible yet. On any failure here the temp file is already gone.
   */
  async stage(parsed: ParsedFilename, source: Readable, maxSize: number): Promise<Staged> {
    const tempPath = path.join(this.layout.incomingDir, `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
    const hasher = new MultiHash(maxSize, this.extraDigests);
    let ok = false;
    try {
      try {
        await pipeline(source, hasher, createWriteStream(tempPath, { flags: 'wx' }));
        const handle = await fs.open(tempPath, 'r+');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
      } catch (err) {
        // A client that went away or sent too much is the client's; a disk that refused is ours.
        throw isUserFacing(err) || errnoOf(err) === undefined ? err : asStorageError(err);
      }
      if (hasher.size === 0) throw new Errors.EmptyFile(parsed.filename);
      let metadata: ArchiveMetadata;
      try {
        metadata = await readArchiveMetadata(tempPath, hasher.size, parsed);
      } catch (err) {
        if (err instanceof ArchiveError) throw new Errors.BadArchive(parsed.filename, err.message);
        throw err;
      }
      ok = true;
      return new Staged(tempPath, parsed, hasher.size, hasher.digests(), metadata);
    } finally {
      if (!ok) await fs.rm(tempPath, { force: true });
    }
  }

  /**
   * Publishes a staged upload under its filename, flat in the root. The sidecar is written after
   * the link, by the winner only: a sidecar written before could be taken over by a loser whose
   * file has the same size and mtime. A reader that scans in between hashes the file itself,
   * which is slower but right. Same name with the same bytes is a duplicate; different bytes are
   * refused unless `overwrite`.
   */
  async publish(staged: Staged, opts: PublishOptions): Promise<Published> {
    const rel = staged.filename;
    const final = path.join(this.layout.root, rel);
    const uploadTime = (opts.uploadTime ?? new Date()).toISOString();
    try {
      const st = await fs.stat(staged.tempPath);
      const record = buildRecord(
        rel,
        staged.parsed,
        { size: staged.size, mtimeMs: Math.floor(st.mtimeMs), digests: staged.digests, uploadTime, uploader: opts.uploader ?? null },
        staged.metadata,
      );
      let backup: { path: string; stem: string } | null = null;
      try {
        await fs.link(staged.tempPath, final);
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw asStorageError(err);
        const existing = await this.existing(rel, staged);
        if (existing?.sha256 === staged.digests.sha256) return await this.relist(existing.record, existing.hasSidecar, staged);
        if (!opts.overwrite) throw new Errors.FileExists(rel);
        backup = await this.keepBackup(final, rel);
        await fs.rename(staged.tempPath, final).catch((e: unknown) => {
          throw asStorageError(e);
        });
      }
      await this.writeSidecar(record, staged);
      try {
        await this.generation.bump({ paths: [rel], yanks: false });
      } catch (err) {
        await this.undoPublish(final, record, backup);
        throw asStorageError(err);
      }
      if (backup) {
        await this.sidecars.remove(backup.stem).catch(() => undefined);
        await fs.rm(backup.path, { force: true });
      }
      return { file: forMemory(record), duplicate: false };
    } finally {
      await staged.release();
    }
  }

  /** What is already under this name: its sha256, and a record of it for when the bytes turn out to be the upload's. */
  private async existing(rel: string, staged: Staged): Promise<{ sha256: string; record: DistFile; hasSidecar: boolean } | null> {
    try {
      const full = path.join(this.layout.root, rel);
      const st = await fs.stat(full);
      const mtimeMs = Math.floor(st.mtimeMs);
      const side = await this.sidecars.read(Sidecars.stemOf(rel, st.size, mtimeMs));
      if (side) return { sha256: side.sha256, record: side, hasSidecar: true };
      const h = createHash('sha256');
      await pipeline(createReadStream(full, { highWaterMark: READ_CHUNK }), h);
      const file = { size: st.size, mtimeMs, digests: staged.digests, uploadTime: st.mtime.toISOString() };
      return { sha256: h.digest('hex'), record: buildRecord(rel, staged.parsed, file, staged.metadata), hasSidecar: false };
    } catch {
      return null;
    }
  }

  /**
   * A duplicate upload of a file some task never listed (its writer died before the bump, or
   * the bump failed): announce it now, so the retry a client makes after an error makes the file
   * visible instead of answering "already here" about a file nobody serves.
   */
  private async relist(record: DistFile, hasSidecar: boolean, staged: Staged): Promise<Published> {
    if (!hasSidecar) await this.writeSidecar(record, staged);
    try {
      await this.generation.bump({ paths: [record.relpath], yanks: false });
    } catch (err) {
      throw asStorageError(err);
    }
    return { file: forMemory(record), duplicate: true };
  }

  private async writeSidecar(record: DistFile, staged: Staged): Promise<void> {
    try {
      await this.sidecars.write(record, staged.parsed.packagetype === 'bdist_wheel' ? staged.metadata.raw : null);
    } catch (err) {
      // The file is out; without its sidecar every reader hashes it once. Not worth failing the upload.
      this.log.warn({ file: record.relpath, err }, 'could not write the sidecar of a published file');
    }
  }

  /** Keeps the bytes an overwrite replaces until the overwrite is announced, so a failed one can be undone. */
  private async keepBackup(final: string, rel: string): Promise<{ path: string; stem: string } | null> {
    const backup = path.join(this.layout.incomingDir, `${Date.now()}-${randomBytes(8).toString('hex')}.replaced`);
    try {
      const st = await fs.stat(final);
      await fs.link(final, backup);
      return { path: backup, stem: Sidecars.stemOf(rel, st.size, Math.floor(st.mtimeMs)) };
    } catch {
      return null;
    }
  }

  private async undoPublish(final: string, record: DistFile, backup: { path: string } | null): Promise<void> {
    try {
      if (backup) await fs.rename(backup.path, final);
      else await fs.unlink(final);
      await this.sidecars.remove(Sidecars.stem(record));
    } catch (err) {
      this.log.error({ file: record.relpath, err }, 'could not undo a publish whose generation bump failed; the next full rescan lists it');
    }
  }

  /** Removes distribution files, then bumps the generation. Returns the paths actually removed. */
  async remove(files: readonly DistFile[]): Promise<string[]> {
    // All or nothing: a release with a file in a read-only directory keeps every file.
    for (const f of files) {
      const ro = this.layout.readOnlyRootOf(f.relpath);
      if (ro) throw new Errors.ReadOnlyFile(f.filename, ro.dir);
    }
    const removed: string[] = [];
    try {
      for (const f of files) {
        try {
          await fs.unlink(this.layout.resolve(f.relpath));
          removed.push(f.relpath);
        } catch (err) {
          if (errnoOf(err) !== 'ENOENT') throw err;
        }
        await this.sidecars.remove(Sidecars.stem(f));
      }
      if (removed.length) await this.generation.bump({ paths: removed, yanks: false });
    } catch (err) {
      throw asStorageError(err);
    }
    return removed;
  }

  /** Yanks (reason string, may be empty) or un-yanks (null) a release, then bumps the generation. */
  async yank(project: string, version: string, reason: string | null): Promise<void> {
    const file = path.join(this.layout.yankDir, encodeURIComponent(yankKey(project, version)));
    try {
      if (reason === null) await fs.rm(file, { force: true });
      else await writeAtomic(file, reason);
      await this.generation.bump({ paths: [], yanks: true });
    } catch (err) {
      throw asStorageError(err);
    }
  }
}
