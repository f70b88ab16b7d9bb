import type { Readable } from 'node:stream';
import type { ParsedFilename } from '../pypi/names.js';
import type { LinkHash } from '../pypi/render.js';
import { canonicalVersion } from '../pypi/versions.js';
import { yankKey } from '../store/dist-file.js';
import type { Published, Staged } from '../store/uploads.js';
import { BlobCache } from './blob-cache.js';
import type { IndexStatus, LiveIndex } from './live-index.js';
import { Pages } from './pages.js';
import type { FileSource, IndexWriter } from './ports.js';
import type { IndexedFile, Project, Snapshot } from './snapshot.js';

export interface IndexOptions {
  pageCacheBytes: number;
  /** The simple pages' link fragment (--hash-algo); sha256 when not given, null for none. */
  hashAlgo?: LinkHash | null;
  fileCacheBytes: number;
  fileCacheMaxFile: number;
  /**
   * Called after each write of this process and awaited before the write is answered: the cluster
   * workers of one task use it to make their siblings catch up, so a `twine upload` followed by a
   * `pip install` through the same port always finds the file.
   */
  announceWrite?: () => Promise<void>;
}

/**
 * What the routes see: every project of the volume, served from memory, and the writes. Sits
 * between the routes (which never touch the file system) and the store (which knows nothing of
 * HTTP); the refresh protocol that keeps it current is LiveIndex's.
 */
export class PackageIndex {
  readonly pages: Pages;
  private readonly live: LiveIndex;
  private readonly volume: FileSource & IndexWriter;
  private readonly blobs: BlobCache;
  private readonly fileCacheMaxFile: number;
  private readonly announceWrite: () => Promise<void>;

  constructor(live: LiveIndex, volume: FileSource & IndexWriter, opts: IndexOptions) {
    this.live = live;
    this.volume = volume;
    this.pages = new Pages(live, opts.pageCacheBytes, opts.hashAlgo === undefined ? 'sha256' : opts.hashAlgo);
    this.blobs = new BlobCache(opts.fileCacheBytes);
    this.fileCacheMaxFile = opts.fileCacheMaxFile;
    this.announceWrite = opts.announceWrite ?? (() => Promise.resolve());
  }

  get ready(): boolean {
    return this.live.ready;
  }

  get snapshot(): Snapshot {
    return this.live.snapshot;
  }

  status(): IndexStatus {
    return this.live.status();
  }

  // ---------------------------------------------------------------- reads (memory first)

  project(name: string): Project | undefined {
    return this.live.snapshot.projects.get(name);
  }

  file(relpath: string): IndexedFile | undefined {
    return this.live.snapshot.byRelpath.get(relpath);
  }

  /** PEP 658 bytes: read from the sidecar once, then from memory. */
  async metadata(file: IndexedFile): Promise<Buffer> {
    const data = await this.blobs.get(`m:${file.metadataSha256 ?? file.sha256}`, () => this.volume.readMetadata(file));
    return data ?? Buffer.alloc(0);
  }

  /** The long description of a file's metadata, for the JSON API. */
  async description(file: IndexedFile): Promise<string | null> {
    const text = await this.blobs.get(`d:${file.sha256}`, async () => Buffer.from((await this.volume.readDescription(file)) ?? '', 'utf8'));
    return text?.length ? text.toString('utf8') : null;
  }

  /**
   * Small files are held in memory, keyed by content hash so a replaced file is never served stale:
   * a burst of 510 downloads of one wheel becomes one read of the volume.
   */
  async cachedBytes(file: IndexedFile): Promise<Buffer | null> {
    return this.heldBytes(file) ?? this.loadBytes(file);
  }

  /** The file's bytes when they are in memory now, without waiting; undefined otherwise. */
  heldBytes(file: IndexedFile): Buffer | undefined {
    return file.size > this.fileCacheMaxFile ? undefined : this.blobs.peek(`f:${file.sha256}`);
  }

  private async loadBytes(file: IndexedFile): Promise<Buffer | null> {
    if (file.size > this.fileCacheMaxFile) return null;
    return this.blobs.get(`f:${file.sha256}`, async () => {
      const data = await this.volume.readWhole(file);
      return data.length === file.size ? data : null; // changed under us: stream it instead
    });
  }

  /**
   * Small content-addressed bytes from elsewhere (files of the upstream cache and their metadata),
   * held in the same memory as the volume's: keys are `f:<sha256>` and `m:<sha256>` as here.
   */
  held(key: string, load: () => Promise<Buffer | null>): Promise<Buffer | null> {
    return this.blobs.get(key, load);
  }

  openFile(file: IndexedFile, range?: { start: number; end: number }): Promise<Readable> {
    return this.volume.openFile(file, range);
  }

  // ---------------------------------------------------------------- writes

  stage(parsed: ParsedFilename, source: Readable, maxSize: number): Promise<Staged> {
    return this.volume.stage(parsed, source, maxSize);
  }

  /** Publishes a staged upload; a duplicate is listed again too (its first writer may have died before announcing it). */
  async publish(staged: Staged, overwrite: boolean, uploader: string | null = null): Promise<Published> {
    const result = await this.volume.publish(staged, { overwrite, uploader });
    this.live.applyLocal({ add: [result.file] });
    await this.announceWrite();
    return result;
  }

  async remove(files: readonly IndexedFile[]): Promise<string[]> {
    const removed = await this.volume.remove(files);
    this.live.applyLocal({ remove: files.map((f) => f.relpath) });
    await this.announceWrite();
    return removed;
  }

  async yank(project: string, version: string, reason: string | null): Promise<void> {
    const v = canonicalVersion(version);
    await this.volume.yank(project, v, reason);
    this.live.applyLocal({ yank: { key: yankKey(project, v), reason } });
    await this.announceWrite();
  }
}
