import type { Readable } from 'node:stream';
import type { ParsedFilename } from '../pypi/names.js';
import type { CatalogContents, CatalogWrite } from '../store/catalog.js';
import type { DistFile } from '../store/dist-file.js';
import type { Change } from '../store/change-notes.js';
import type { PartialScanResult, ScanOptions, ScanResult } from '../store/scanner.js';
import type { PublishOptions, Published, Staged } from '../store/uploads.js';

/*
 * What the index needs of the volume, one interface per consumer: main.ts hands the store's
 * Volume in, and a test can hand in anything with these verbs. The index never sees paths.
 */

/** The refresh protocol: the generation token and scans. */
export interface IndexSource {
  init(): Promise<void>;
  readGeneration(): Promise<string | null>;
  /** False when the state folder is gone: the volume is unmounted or was swapped under us. */
  stateDirExists(): Promise<boolean>;
  scan(opts: ScanOptions): Promise<ScanResult>;
  /**
   * What the writers' notes say changed from `previous` (the token last read) up to `token`; null
   * when they cannot vouch for it and the volume must be listed (store/change-notes.ts).
   */
  changesUpTo(token: string, previous: string | null): Promise<Change | null>;
  /** Called before the volume is listed: the notes present now are accounted for by that listing. */
  syncChanges(): Promise<void>;
  /** Called when a scan failed: the next poll lists the volume. */
  forgetChanges(): void;
  /** Looks again at the paths of a change only. */
  examine(change: Change, previous: ReadonlyMap<string, DistFile>): Promise<PartialScanResult>;
  /** Every record as a task last wrote them down in one file, or null: a cache of the sidecars (store/catalog.ts). */
  readCatalog(): Promise<CatalogContents | null>;
  /** Writes the catalog unless the volume's has this digest, or is younger than minAgeMs. */
  writeCatalog(
    files: Iterable<DistFile>,
    tag: { generation: string | null; digest: string; count: number },
    minAgeMs: number,
  ): Promise<CatalogWrite>;
}

/** Serving files and what their sidecars keep. */
export interface FileSource {
  openFile(file: DistFile, range?: { start: number; end: number }): Promise<Readable>;
  readWhole(file: DistFile): Promise<Buffer>;
  readMetadata(file: DistFile): Promise<Buffer>;
  readDescription(file: DistFile): Promise<string | null>;
}

/** Writes: each ends with a bump of the generation file. */
export interface IndexWriter {
  stage(parsed: ParsedFilename, source: Readable, maxSize: number): Promise<Staged>;
  publish(staged: Staged, opts: PublishOptions): Promise<Published>;
  remove(files: readonly DistFile[]): Promise<string[]>;
  yank(project: string, version: string, reason: string | null): Promise<void>;
}

/** The refresher's chores: sweeping dead uploads and, on a local disk, watching for hand-copied files. */
export interface RefresherVolume {
  sweepIncoming(maxAgeMs: number): Promise<number>;
  /** Removes change notes old enough that every reader has seen them or lists the volume anyway. */
  pruneChanges(): Promise<number>;
  isLocalDisk(): Promise<boolean>;
  watch(onChange: (dirty: Set<string>) => void): { close(): Promise<void> };
}

export interface IndexLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
