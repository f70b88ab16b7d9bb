import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DistFile } from './dist-file.js';
import { errnoOf, writeAtomic } from './fs-util.js';
import type { VolumeLayout } from './layout.js';

export const SIDECAR_VERSION = 1;
const RECORD = '.json';

/**
 * The records a listing of meta/ found, by stem. It keeps the names as listed: a scan holds one
 * listing until the next, and cut-down copies of 100,000 names would keep the names alive too.
 */
export class SidecarListing {
  private readonly names: ReadonlySet<string>;

  constructor(names: ReadonlySet<string>) {
    this.names = names;
  }

  get size(): number {
    return this.names.size;
  }

  has(stem: string): boolean {
    return this.names.has(stem + RECORD);
  }

  /** Stems of this listing that `later` no longer has. */
  *goneFrom(later: SidecarListing): Generator<string> {
    for (const name of this.names) if (!later.names.has(name)) yield name.slice(0, -RECORD.length);
  }
}

/**
 * Per-file records in `.wheelhouse/meta/`: hashes, metadata and upload time of each distribution,
 * computed once per volume so no other task and no restart hashes the file again, plus the
 * wheel's METADATA bytes for PEP 658.
 *
 * A sidecar's name carries the file's size and mtime, so a replaced file gets a new sidecar name
 * and a listing of meta/ tells every task about the change without a stat per file.
 */
export class Sidecars {
  private readonly dir: string;

  constructor(layout: VolumeLayout) {
    this.dir = layout.metaDir;
  }

  static stemOf(rel: string, size: number, mtimeMs: number): string {
    return `${encodeURIComponent(rel)}~${size}~${mtimeMs}`;
  }

  static stem(f: Pick<DistFile, 'relpath' | 'size' | 'mtimeMs'>): string {
    return Sidecars.stemOf(f.relpath, f.size, f.mtimeMs);
  }

  /** Every record present. */
  async list(): Promise<SidecarListing> {
    try {
      const names = await fs.readdir(this.dir);
      return new SidecarListing(new Set(names.filter((n) => n.endsWith(RECORD))));
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return new SidecarListing(new Set());
      throw err;
    }
  }

  /** The record of a stem, or null when it is missing, of another version, or damaged (a crashed writer). */
  async read(stem: string): Promise<DistFile | null> {
    try {
      const data = JSON.parse(await fs.readFile(path.join(this.dir, `${stem}.json`), 'utf8')) as Partial<DistFile> & { v?: number };
      if (data.v !== SIDECAR_VERSION) return null;
      delete data.v;
      return data as DistFile;
    } catch {
      return null;
    }
  }

  /** Writes a record (and a wheel's METADATA), each whole or not at all. */
  async write(record: DistFile, metadata: Buffer | null): Promise<void> {
    const stem = Sidecars.stem(record);
    if (metadata) await writeAtomic(path.join(this.dir, `${stem}.metadata`), metadata);
    await writeAtomic(path.join(this.dir, `${stem}${RECORD}`), JSON.stringify({ v: SIDECAR_VERSION, ...record }));
  }

  async remove(stem: string): Promise<void> {
    await Promise.all([
      fs.rm(path.join(this.dir, `${stem}.json`), { force: true }),
      fs.rm(path.join(this.dir, `${stem}.metadata`), { force: true }),
    ]);
  }

  /** The PEP 658 bytes kept beside a wheel's record; null when they are gone (volume cleaned by hand). */
  async readMetadata(file: DistFile): Promise<Buffer | null> {
    try {
      return await fs.readFile(path.join(this.dir, `${Sidecars.stem(file)}.metadata`));
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return null;
      throw err;
    }
  }
}
