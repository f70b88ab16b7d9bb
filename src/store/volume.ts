import { promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import type { ParsedFilename } from '../pypi/names.js';
import { Catalog, type CatalogContents, type CatalogWrite } from './catalog.js';
import { ChangeFeed, ChangeNotes, NOTE_RETENTION_MS, type Change } from './change-notes.js';
import type { DistFile } from './dist-file.js';
import { GenerationFile } from './generation.js';
import { VolumeLayout } from './layout.js';
import { isLocalDisk, sweepIncoming } from './maintenance.js';
import { FileReader } from './reader.js';
import { Scanner, type PartialScanResult, type ScanOptions, type ScanResult } from './scanner.js';
import { Sidecars } from './sidecars.js';
import { Uploads, type PublishOptions, type Published, type Staged } from './uploads.js';
import { watchRoot, type RootWatcher } from './watcher.js';

export interface VolumeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const silent: VolumeLogger = { info() {}, warn() {}, error() {} };

export interface VolumeOptions {
  /** Serve links whose target is outside the package directory. */
  followExternalLinks?: boolean;
  /** Known files a full rescan re-checks by stat (see store/scanner.ts). */
  verifyPerScan?: number;
  /** Digests every record must carry besides sha256, md5 and blake2b (hashlib names, e.g. sha512). */
  extraDigests?: readonly string[];
  /** Package directories served read-only beside the root (pypiserver's extra roots). */
  readOnlyRoots?: readonly string[];
}

/**
 * The package volume: the one object through which the rest of the server reaches the file
 * system. It wires the parts that each own one job (layout, sidecars, scanning, reading, writing,
 * the generation file) and offers each consumer only the verbs it needs.
 */
export class Volume {
  readonly layout: VolumeLayout;
  private readonly generation: GenerationFile;
  private readonly notes: ChangeNotes;
  private readonly feed: ChangeFeed;
  private readonly catalog: Catalog;
  private readonly scanner: Scanner;
  private readonly reader: FileReader;
  private readonly uploads: Uploads;
  private readonly log: VolumeLogger;

  constructor(root: string, log: VolumeLogger = silent, opts: VolumeOptions = {}) {
    this.log = log;
    this.layout = new VolumeLayout(root, opts.readOnlyRoots ?? []);
    const sidecars = new Sidecars(this.layout);
    const followExternalLinks = opts.followExternalLinks ?? false;
    const extraDigests = opts.extraDigests ?? [];
    this.notes = new ChangeNotes(this.layout);
    this.feed = new ChangeFeed(this.notes);
    this.generation = new GenerationFile(this.layout.stateDir, log, this.notes);
    this.catalog = new Catalog(this.layout, log);
    this.scanner = new Scanner(this.layout, sidecars, log, {
      followExternalLinks,
      extraDigests,
      ...(opts.verifyPerScan !== undefined ? { verifyPerScan: opts.verifyPerScan } : {}),
    });
    this.reader = new FileReader(this.layout, sidecars, { followExternalLinks });
    this.uploads = new Uploads(this.layout, sidecars, this.generation, log, { extraDigests });
  }

  get root(): string {
    return this.layout.root;
  }

  /**
   * Creates the state folders and the generation file. Readers must never poll a missing name: an
   * NFS client caches "no such file" for as long as its directory cache lasts (30-60 s on EFS),
   * and would miss the first real bump for that long. A volume that cannot be written (mounted
   * read-only) is still served.
   */
  async init(): Promise<void> {
    await fs.mkdir(this.layout.root, { recursive: true });
    try {
      for (const dir of [this.layout.metaDir, this.layout.incomingDir, this.layout.yankDir, this.layout.changesDir])
        await fs.mkdir(dir, { recursive: true });
      if ((await this.generation.read()) === null) await this.generation.bump();
    } catch (err) {
      this.log.error({ err, root: this.layout.root }, 'the package directory cannot be written: serving it read-only');
    }
  }

  // The refresh protocol's needs (see index/ports.ts).
  readGeneration(): Promise<string | null> {
    return this.generation.read();
  }

  async stateDirExists(): Promise<boolean> {
    try {
      return (await fs.stat(this.layout.stateDir)).isDirectory();
    } catch {
      return false;
    }
  }

  scan(opts: ScanOptions): Promise<ScanResult> {
    return this.scanner.scan(opts);
  }

  changesUpTo(token: string, previous: string | null): Promise<Change | null> {
    return this.feed.since(token, previous);
  }

  syncChanges(): Promise<void> {
    return this.feed.sync();
  }

  forgetChanges(): void {
    this.feed.forget();
  }

  examine(change: Change, previous: ReadonlyMap<string, DistFile>): Promise<PartialScanResult> {
    return this.scanner.examine(change, previous);
  }

  readCatalog(): Promise<CatalogContents | null> {
    return this.catalog.read();
  }

  writeCatalog(
    files: Iterable<DistFile>,
    tag: { generation: string | null; digest: string; count: number },
    minAgeMs: number,
  ): Promise<CatalogWrite> {
    return this.catalog.write(files, tag, minAgeMs);
  }

  // Reads.
  openFile(file: DistFile, range?: { start: number; end: number }): Promise<Readable> {
    return this.reader.openFile(file, range);
  }

  readWhole(file: DistFile): Promise<Buffer> {
    return this.reader.readWhole(file);
  }

  readMetadata(file: DistFile): Promise<Buffer> {
    return this.reader.readMetadata(file);
  }

  readDescription(file: DistFile): Promise<string | null> {
    return this.reader.readDescription(file);
  }

  // Writes.
  stage(parsed: ParsedFilename, source: Readable, maxSize: number): Promise<Staged> {
    return this.uploads.stage(parsed, source, maxSize);
  }

  publish(staged: Staged, opts: PublishOptions): Promise<Published> {
    return this.uploads.publish(staged, opts);
  }

  remove(files: readonly DistFile[]): Promise<string[]> {
    return this.uploads.remove(files);
  }

  yank(project: string, version: string, reason: string | null): Promise<void> {
    return this.uploads.yank(project, version, reason);
  }

  // Maintenance, for the refresher.
  sweepIncoming(maxAgeMs: number): Promise<number> {
    return sweepIncoming(this.layout, maxAgeMs);
  }

  pruneChanges(): Promise<number> {
    return this.notes.prune(NOTE_RETENTION_MS);
  }

  isLocalDisk(): Promise<boolean> {
    return isLocalDisk(this.layout.root);
  }

  watch(onChange: (dirty: Set<string>) => void): RootWatcher {
    return watchRoot(this.layout.root, onChange, this.log);
  }
}
