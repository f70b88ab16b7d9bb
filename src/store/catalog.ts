import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { pipeline } from 'node:stream/promises';
import { constants as zlib, createGunzip, createGzip, gunzipSync } from 'node:zlib';
import type { ProjectInfo } from '../pypi/metadata.js';
import type { PackageType } from '../pypi/names.js';
import type { DistFile } from './dist-file.js';
import { errnoOf, READ_CHUNK } from './fs-util.js';
import type { VolumeLayout } from './layout.js';
import { SIDECAR_VERSION } from './sidecars.js';

/** Bumped whenever a record's shape changes; a catalog of another version is ignored, never misread. */
const CATALOG_VERSION = 1;

/** What the first line of the catalog says about the rest. */
export interface CatalogHeader {
  /** Generation token the writer's scan started from: the catalog holds every write up to it. */
  generation: string | null;
  /** The writer's fingerprint of what it lists: equal fingerprints, equal catalogs. */
  digest: string;
  files: number;
  /** Writer's clock, ISO 8601. */
  writtenAt: string;
}

export interface CatalogContents {
  header: CatalogHeader;
  /** Records by relative path, as sidecars hold them minus the long description. */
  files: Map<string, DistFile>;
}

export type CatalogWrite = 'written' | 'current' | 'recent';

export interface CatalogLogger {
  warn(obj: object, msg: string): void;
}

/** The header line is short; a block this size always holds it compressed. */
const HEADER_PEEK = 16 * 1024;
const RECORDS_PER_CHUNK = 256;

/**
 * The catalog, `.wheelhouse/catalog.ndjson.gz`: every record of the volume in one file, so a task
 * starting on an indexed volume reads one file instead of one sidecar per distribution (on EFS a
 * round trip each: minutes for 100,000 files). Written whole (temp file, fsync, rename) by a task
 * after a full scan, gzip'd newline-delimited JSON: a header line, then one line per record, each
 * release's metadata on a line of its own before the first record that names it.
 *
 * The catalog is a cache of the sidecars, never the truth: a reader trusts a record only while
 * the sidecar of the same name (path, size, mtime) is listed in `meta/`, and re-examines every
 * other file as if there were no catalog. A missing, damaged or foreign catalog costs speed only.
 */
export class Catalog {
  readonly file: string;
  private readonly log: CatalogLogger;

  constructor(layout: VolumeLayout, log: CatalogLogger) {
    this.file = path.join(layout.stateDir, 'catalog.ndjson.gz');
    this.log = log;
  }

  /** The whole catalog, or null when there is none or it cannot be used (logged). */
  async read(): Promise<CatalogContents | null> {
    const decoder = new Decoder();
    try {
      // A stream reads until EOF, never trusting a size another NFS client may have changed.
      await pipeline(
        createReadStream(this.file, { highWaterMark: READ_CHUNK }),
        createGunzip({ chunkSize: 64 * 1024 }),
        async (chunks: AsyncIterable<Buffer>) => {
          // A character split between two chunks must not be cut in half.
          const utf8 = new StringDecoder('utf8');
          let rest = '';
          for await (const chunk of chunks) {
            const parts = (rest + utf8.write(chunk)).split('\n');
            rest = parts.pop() ?? '';
            for (const line of parts) decoder.line(line);
          }
          decoder.line(rest + utf8.end());
        },
      );
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') this.log.warn({ err, file: this.file }, 'ignoring the catalog: it cannot be read whole');
      return null;
    }
    return decoder.header === null ? null : { header: decoder.header, files: decoder.files };
  }

  /** Only the header: open and one read. Null when there is no usable catalog. */
  async readHeader(): Promise<CatalogHeader | null> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.file, 'r');
    } catch {
      return null;
    }
    try {
      const buf = Buffer.alloc(HEADER_PEEK);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      const text = gunzipSync(buf.subarray(0, bytesRead), { finishFlush: zlib.Z_SYNC_FLUSH }).toString('utf8');
      const nl = text.indexOf('\n');
      return nl < 0 ? null : parseHeader(JSON.parse(text.slice(0, nl)));
    } catch {
      return null;
    } finally {
      await handle.close();
    }
  }

  /**
   * Writes the catalog unless the one on the volume already has this digest ('current'), or
   * another task wrote one less than minAgeMs ago ('recent': every task rescans, and one fresh
   * catalog per interval is enough; a starting task reconciles what changed since).
   */
  async write(
    files: Iterable<DistFile>,
    tag: { generation: string | null; digest: string; count: number },
    minAgeMs: number,
  ): Promise<CatalogWrite> {
    const current = await this.readHeader();
    if (current?.digest === tag.digest) return 'current';
    if (current && Date.now() - Date.parse(current.writtenAt) < minAgeMs) return 'recent';
    const header = {
      catalog: CATALOG_VERSION,
      sidecar: SIDECAR_VERSION,
      generation: tag.generation,
      digest: tag.digest,
      files: tag.count,
      writtenAt: new Date().toISOString(),
    };
    const tmp = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      // flush: fsync before close, so the rename never publishes a file whose bytes are not down.
      await pipeline(Readable.from(lines(header, files)), createGzip({ level: 6 }), createWriteStream(tmp, { flags: 'wx', flush: true }));
      await fs.rename(tmp, this.file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    return 'written';
  }
}

/*
 * The lines after the header, each a JSON array whose first element says what it is:
 *   ["s", [string, ...]]   strings appended to the string table (numbered from 0 in order)
 *   ["l", [[n, ...], ...]] lists of strings by number, appended to the list table
 *   ["m", [...]]           one release's metadata (numbered from 0), strings and lists by number
 *   ["f", ...]             one record (see Encoder.record), strings and metadata by number
 * The table makes a reader's records share every repeated string (classifiers, dependencies,
 * URLs, names, versions) as the index keeps them, at no cost, and the file a third of the size.
 */

/** ProjectInfo's text fields, in catalog order. */
const INFO_TEXT = [
  'name',
  'version',
  'metadataVersion',
  'summary',
  'descriptionContentType',
  'author',
  'authorEmail',
  'maintainer',
  'maintainerEmail',
  'license',
  'licenseExpression',
  'keywords',
  'homePage',
  'downloadUrl',
  'requiresPython',
] as const;
/** ProjectInfo's list fields, in catalog order. */
const INFO_LISTS = ['requiresDist', 'providesExtra', 'classifiers', 'platform', 'dynamic', 'licenseFiles'] as const;
const NONE = -1;

class Encoder {
  private readonly strings = new Map<string, number>();
  private readonly lists = new Map<string, number>();
  private readonly infos = new Map<ProjectInfo, number>();
  private fresh: string[] = [];
  private freshLists: number[][] = [];

  private str(s: string): number {
    let n = this.strings.get(s);
    if (n === undefined) {
      this.strings.set(s, (n = this.strings.size));
      this.fresh.push(s);
    }
    return n;
  }

  private opt(s: string | null): number {
    return s === null ? NONE : this.str(s);
  }

  /** The lines for one record: new strings and metadata first, then the record. */
  lines(f: DistFile): string {
    let out = '';
    let info = NONE;
    if (f.info) {
      const known = this.infos.get(f.info);
      if (known === undefined) {
        const row = this.info(f.info);
        out += this.flush();
        out += `${JSON.stringify(['m', row])}\n`;
        this.infos.set(f.info, (info = this.infos.size));
      } else {
        info = known;
      }
    }
    const row = [
      'f',
      f.relpath,
      f.filename === f.relpath ? NONE : this.str(f.filename),
      this.str(f.project),
      this.str(f.displayName),
      this.str(f.version),
      f.packagetype,
      this.str(f.pythonVersion),
      f.size,
      f.mtimeMs,
      f.sha256,
      f.md5,
      f.blake2b256,
      this.opt(f.requiresPython),
      f.metadataSha256,
      f.uploadTime,
      info,
      this.opt(f.uploader ?? null),
      f.hashes ?? null,
    ];
    return out + this.flush() + `${JSON.stringify(row)}\n`;
  }

  /** A list of strings by number: releases repeat their classifiers and dependencies. */
  private list(items: readonly string[]): number {
    const ids = items.map((s) => this.str(s));
    const key = ids.join(',');
    let n = this.lists.get(key);
    if (n === undefined) {
      this.lists.set(key, (n = this.lists.size));
      this.freshLists.push(ids);
    }
    return n;
  }

  private info(i: ProjectInfo): unknown[] {
    return [
      ...INFO_TEXT.map((k) => this.opt(i[k])),
      ...INFO_LISTS.map((k) => this.list(i[k])),
      this.list(Object.entries(i.projectUrls).flat()),
    ];
  }

  private flush(): string {
    let out = '';
    if (this.fresh.length > 0) out += `${JSON.stringify(['s', this.fresh])}\n`;
    if (this.freshLists.length > 0) out += `${JSON.stringify(['l', this.freshLists])}\n`;
    this.fresh = [];
    this.freshLists = [];
    return out;
  }
}

/** Reads the lines Encoder wrote. A line that does not read as what it says is an error: the catalog is not used. */
class Decoder {
  header: CatalogHeader | null = null;
  readonly files = new Map<string, DistFile>();
  private readonly strings: string[] = [];
  private readonly infos: ProjectInfo[] = [];
  private readonly lists: string[][] = [];
  private readonly urlObjects = new Map<string[], Record<string, string>>();

  line(text: string): void {
    if (text === '') return;
    const data = JSON.parse(text) as unknown;
    if (this.header === null) {
      this.header = parseHeader(data);
      if (this.header === null) throw new CatalogError('not a catalog of this version');
      return;
    }
    if (!Array.isArray(data)) throw new CatalogError('a line is not an array');
    const kind: unknown = data[0];
    if (kind === 's') {
      const added: unknown = data[1];
      if (!Array.isArray(added)) throw new CatalogError('bad string table line');
      for (const s of added) {
        if (!str(s)) throw new CatalogError('bad string table line');
        this.strings.push(s);
      }
    } else if (kind === 'l') {
      const added: unknown = data[1];
      if (!Array.isArray(added)) throw new CatalogError('bad list table line');
      for (const ids of added) {
        if (!Array.isArray(ids)) throw new CatalogError('bad list table line');
        this.lists.push(ids.map((n) => this.str(n)));
      }
    } else if (kind === 'm') {
      const row: unknown = data[1];
      if (!Array.isArray(row)) throw new CatalogError('bad metadata line');
      this.infos.push(this.info(row));
    } else if (kind === 'f') {
      const record = this.record(data);
      this.files.set(record.relpath, record);
    } else {
      throw new CatalogError('unknown line');
    }
  }

  private str(n: unknown): string {
    const s = num(n) ? this.strings[n] : undefined;
    if (s === undefined) throw new CatalogError('string number out of range');
    return s;
  }

  private opt(n: unknown): string | null {
    return n === NONE ? null : this.str(n);
  }

  /** Lists are shared as the table holds them: every release with the same classifiers has one array. */
  private list(n: unknown): string[] {
    const list = num(n) ? this.lists[n] : undefined;
    if (list === undefined) throw new CatalogError('list number out of range');
    return list;
  }

  /** Project URLs, stored as a list of label, URL, label, URL: one object per distinct list. */
  private urls(n: unknown): Record<string, string> {
    const pairs = this.list(n);
    let urls = this.urlObjects.get(pairs);
    if (!urls) {
      urls = {};
      for (let i = 0; i + 1 < pairs.length; i += 2) urls[pairs[i] ?? ''] = pairs[i + 1] ?? '';
      this.urlObjects.set(pairs, urls);
    }
    return urls;
  }

  private info(row: unknown[]): ProjectInfo {
    const text = (k: (typeof INFO_TEXT)[number]) => this.opt(row[INFO_TEXT.indexOf(k)]);
    const list = (k: (typeof INFO_LISTS)[number]) => this.list(row[INFO_TEXT.length + INFO_LISTS.indexOf(k)]);
    const projectUrls = this.urls(row[INFO_TEXT.length + INFO_LISTS.length]);
    // Spelled out, field by field: every object then has one shape, as the ones parsed from sidecars do.
    return {
      name: text('name'),
      version: text('version'),
      metadataVersion: text('metadataVersion'),
      summary: text('summary'),
      description: null,
      descriptionContentType: text('descriptionContentType'),
      author: text('author'),
      authorEmail: text('authorEmail'),
      maintainer: text('maintainer'),
      maintainerEmail: text('maintainerEmail'),
      license: text('license'),
      licenseExpression: text('licenseExpression'),
      keywords: text('keywords'),
      homePage: text('homePage'),
      downloadUrl: text('downloadUrl'),
      requiresPython: text('requiresPython'),
      requiresDist: list('requiresDist'),
      providesExtra: list('providesExtra'),
      classifiers: list('classifiers'),
      projectUrls,
      platform: list('platform'),
      dynamic: list('dynamic'),
      licenseFiles: list('licenseFiles'),
    };
  }

  private record(row: unknown[]): DistFile {
    const [, relpath, filename, project, displayName, version, packagetype, pythonVersion, size, mtimeMs, sha256, md5, blake2b256] = row;
    // Catalogs written before uploaders and other digests were kept end after `info`.
    const [requiresPython, metadataSha256, uploadTime, info, uploaderRef = NONE, hashes = null] = row.slice(13);
    if (!str(relpath) || !isPackageType(packagetype) || !num(size) || !num(mtimeMs)) throw new CatalogError('bad record');
    if (!str(sha256) || !str(md5) || !str(blake2b256) || !optStr(metadataSha256) || !str(uploadTime)) throw new CatalogError('bad record');
    const infoRow = info === NONE ? null : num(info) ? this.infos[info] : undefined;
    if (infoRow === undefined) throw new CatalogError('metadata number out of range');
    if (!isDigests(hashes)) throw new CatalogError('bad record');
    const uploader = this.opt(uploaderRef);
    return {
      relpath,
      filename: filename === NONE ? relpath : this.str(filename),
      project: this.str(project),
      displayName: this.str(displayName),
      version: this.str(version),
      packagetype,
      pythonVersion: this.str(pythonVersion),
      size,
      mtimeMs,
      sha256,
      md5,
      blake2b256,
      requiresPython: this.opt(requiresPython),
      metadataSha256,
      uploadTime,
      info: infoRow,
      ...(uploader !== null ? { uploader } : {}),
      ...(hashes !== null ? { hashes } : {}),
    };
  }
}

class CatalogError extends Error {
  override name = 'CatalogError';
}

const PACKAGE_TYPES: readonly string[] = ['bdist_wheel', 'sdist', 'bdist_egg'] satisfies PackageType[];
const isPackageType = (v: unknown): v is PackageType => typeof v === 'string' && PACKAGE_TYPES.includes(v);
const str = (v: unknown): v is string => typeof v === 'string';
const num = (v: unknown): v is number => typeof v === 'number';
const optStr = (v: unknown): v is string | null => v === null || typeof v === 'string';
const isDigests = (v: unknown): v is Record<string, string> | null =>
  v === null || (typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((d) => typeof d === 'string'));

function* lines(header: object, files: Iterable<DistFile>): Generator<string> {
  yield `${JSON.stringify(header)}\n`;
  const encoder = new Encoder();
  let batch = '';
  let n = 0;
  for (const f of files) {
    batch += encoder.lines(f);
    if (++n % RECORDS_PER_CHUNK === 0) {
      yield batch;
      batch = '';
    }
  }
  if (batch) yield batch;
}

function parseHeader(data: unknown): CatalogHeader | null {
  if (typeof data !== 'object' || data === null) return null;
  const h = data as Partial<CatalogHeader> & { catalog?: unknown; sidecar?: unknown };
  if (h.catalog !== CATALOG_VERSION || h.sidecar !== SIDECAR_VERSION) return null;
  if (typeof h.digest !== 'string' || typeof h.files !== 'number' || typeof h.writtenAt !== 'string') return null;
  return { generation: typeof h.generation === 'string' ? h.generation : null, digest: h.digest, files: h.files, writtenAt: h.writtenAt };
}
