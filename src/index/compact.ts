import type { ProjectInfo } from '../pypi/metadata.js';
import type { DistFile } from '../store/dist-file.js';
import type { IndexedFile } from './snapshot.js';

/**
 * Makes records cheap to hold. Records parsed from JSON (sidecars, the catalog) each carry their
 * own copy of every string: the classifiers, dependencies, URLs, author and summary repeated in
 * every file of a project, and the same metadata in every file of a release. Interned, a record
 * costs its digests, its path and a share of its release's metadata: about a third of the memory
 * (bench/scale.ts measures it).
 *
 * What it returns is shared between records: never mutate it (no record is ever mutated).
 *
 * One Compactor serves one scan: its tables are dropped with it, so strings of files that are
 * gone are not kept alive by a table.
 */
export class Compactor {
  private readonly strings = new Map<string, string>();
  private readonly lists = new Map<string, string[]>();
  private readonly urls = new Map<string, Record<string, string>>();
  private readonly infos = new Map<string, ProjectInfo>();
  /** Metadata objects already seen (the catalog shares one per release): compacted once. */
  private readonly seen = new Map<ProjectInfo, ProjectInfo>();

  /** The record as the index holds it: interned, and ready to serve as not yanked without a copy. */
  record(f: DistFile): IndexedFile {
    return indexed(f, this.str, f.info ? this.sharedInfo(f.info) : null);
  }

  /**
   * A record whose strings are shared already (the catalog's reader shares them as it reads),
   * made ready to serve as not yanked.
   */
  adopt(f: DistFile): IndexedFile {
    return indexed(f, same, f.info);
  }

  private readonly str = (s: string): string => {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    this.strings.set(s, s);
    return s;
  };

  private opt(s: string | null): string | null {
    return s === null ? null : this.str(s);
  }

  private list(items: readonly string[]): string[] {
    if (items.length === 0) return EMPTY;
    const key = items.join('\u0001');
    const known = this.lists.get(key);
    if (known) return known;
    const list = items.map((s) => this.str(s));
    this.lists.set(key, list);
    return list;
  }

  private projectUrls(urls: Record<string, string>): Record<string, string> {
    const entries = Object.entries(urls);
    if (entries.length === 0) return NO_URLS;
    const key = entries.map(([k, v]) => `${k}\u0001${v}`).join('\u0002');
    const known = this.urls.get(key);
    if (known) return known;
    const out = Object.fromEntries(entries.map(([k, v]) => [this.str(k), this.str(v)]));
    this.urls.set(key, out);
    return out;
  }

  private sharedInfo(i: ProjectInfo): ProjectInfo {
    let out = this.seen.get(i);
    if (!out) this.seen.set(i, (out = this.info(i)));
    return out;
  }

  /** The files of one release usually carry the same metadata: one object for all of them. */
  private info(i: ProjectInfo): ProjectInfo {
    const out: ProjectInfo = {
      name: this.opt(i.name),
      version: this.opt(i.version),
      metadataVersion: this.opt(i.metadataVersion),
      summary: this.opt(i.summary),
      description: null,
      descriptionContentType: this.opt(i.descriptionContentType),
      author: this.opt(i.author),
      authorEmail: this.opt(i.authorEmail),
      maintainer: this.opt(i.maintainer),
      maintainerEmail: this.opt(i.maintainerEmail),
      license: this.opt(i.license),
      licenseExpression: this.opt(i.licenseExpression),
      keywords: this.opt(i.keywords),
      homePage: this.opt(i.homePage),
      downloadUrl: this.opt(i.downloadUrl),
      requiresPython: this.opt(i.requiresPython),
      requiresDist: this.list(i.requiresDist),
      providesExtra: this.list(i.providesExtra),
      classifiers: this.list(i.classifiers),
      projectUrls: this.projectUrls(i.projectUrls),
      platform: this.list(i.platform),
      dynamic: this.list(i.dynamic),
      licenseFiles: this.list(i.licenseFiles),
    };
    // Interned parts make the key cheap to compare, and equal keys mean equal metadata.
    const key = [
      out.name,
      out.version,
      out.metadataVersion,
      out.summary,
      out.descriptionContentType,
      out.author,
      out.authorEmail,
      out.maintainer,
      out.maintainerEmail,
      out.license,
      out.licenseExpression,
      out.keywords,
      out.homePage,
      out.downloadUrl,
      out.requiresPython,
      out.requiresDist.join('\u0001'),
      out.providesExtra.join('\u0001'),
      out.classifiers.join('\u0001'),
      JSON.stringify(out.projectUrls),
      out.platform.join('\u0001'),
      out.dynamic.join('\u0001'),
      out.licenseFiles.join('\u0001'),
    ].join('\u0000');
    const known = this.infos.get(key);
    if (known) return known;
    this.infos.set(key, out);
    return out;
  }
}

/**
 * Every field spelled out in one order: all records then share one hidden class (a spread copy
 * gave each its own, a few hundred bytes apiece).
 */
function indexed(f: DistFile, str: (s: string) => string, info: ProjectInfo | null): IndexedFile {
  return {
    relpath: f.relpath,
    // Flat in the root, the name is the path: one string, not two.
    filename: f.filename === f.relpath ? f.relpath : str(f.filename),
    project: str(f.project),
    displayName: str(f.displayName),
    version: str(f.version),
    packagetype: f.packagetype,
    pythonVersion: str(f.pythonVersion),
    size: f.size,
    mtimeMs: f.mtimeMs,
    sha256: f.sha256,
    md5: f.md5,
    blake2b256: f.blake2b256,
    requiresPython: f.requiresPython === null ? null : str(f.requiresPython),
    metadataSha256: f.metadataSha256,
    uploadTime: f.uploadTime,
    info,
    yanked: false,
    ...(f.uploader !== undefined ? { uploader: str(f.uploader) } : {}),
    ...(f.hashes !== undefined ? { hashes: f.hashes } : {}),
  };
}

const same = (s: string): string => s;

// Never mutated, like everything a record holds: shared by every record that has no such field.
const EMPTY: string[] = [];
const NO_URLS: Record<string, string> = {};
