import { createHash } from 'node:crypto';
import { canonicalVersion, compareVersions, isPrerelease } from '../pypi/versions.js';
import { yankKey, type DistFile, type Yanks } from '../store/dist-file.js';

export interface IndexedFile extends DistFile {
  /** PEP 592: false, or the reason ('' when none was given). */
  yanked: false | string;
}

export interface Project {
  /** Normalized name: the key and the URL segment. */
  name: string;
  /** First-seen spelling, for humans (R42). */
  displayName: string;
  /** Sorted by version, then filename. */
  files: IndexedFile[];
  /** Every version with files, ascending (PEP 700 `versions`). */
  versions: string[];
  /** Highest non-yanked final release, else highest non-yanked, else highest. */
  latest: string;
  /** Changes whenever anything a page shows changes: part of the page cache key. */
  fingerprint: string;
}

/**
 * An immutable view of the whole volume. A new one is built off to the side and swapped in whole,
 * so a request never sees a half-built index.
 */
export class Snapshot {
  readonly projects: ReadonlyMap<string, Project>;
  /** Project names sorted, for the root pages. */
  readonly projectNames: readonly string[];
  readonly byRelpath: ReadonlyMap<string, IndexedFile>;
  readonly files: ReadonlyMap<string, DistFile>;
  readonly yanks: Yanks;
  readonly fingerprint: string;
  readonly fileCount: number;

  constructor(files: ReadonlyMap<string, DistFile>, yanks: Yanks) {
    this.files = files;
    this.yanks = yanks;
    const grouped = new Map<string, IndexedFile[]>();
    const byRelpath = new Map<string, IndexedFile>();
    for (const f of files.values()) {
      const yanked = yanks.get(yankKey(f.project, canonicalVersion(f.version)));
      const indexed: IndexedFile = { ...f, yanked: yanked === undefined ? false : yanked };
      byRelpath.set(f.relpath, indexed);
      let list = grouped.get(f.project);
      if (!list) grouped.set(f.project, (list = []));
      list.push(indexed);
    }
    const projects = new Map<string, Project>();
    for (const [name, list] of grouped) projects.set(name, buildProject(name, list));
    this.projects = projects;
    this.byRelpath = byRelpath;
    this.projectNames = [...projects.keys()].sort();
    this.fileCount = byRelpath.size;
    const h = createHash('sha1');
    for (const n of this.projectNames) h.update(projects.get(n)!.fingerprint);
    this.fingerprint = h.digest('hex');
  }

  static empty(): Snapshot {
    return new Snapshot(new Map(), new Map());
  }
}

function buildProject(name: string, files: IndexedFile[]): Project {
  files.sort((a, b) => compareVersions(a.version, b.version) || (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
  const versions: string[] = [];
  for (const f of files) if (versions[versions.length - 1] !== f.version) versions.push(f.version);
  const live = files.filter((f) => f.yanked === false).map((f) => f.version);
  const finals = live.filter((v) => !isPrerelease(v));
  const latest = finals.at(-1) ?? live.at(-1) ?? versions.at(-1)!;
  // Display name: from the oldest upload's metadata, so a later odd spelling does not rename the project.
  const oldest = [...files].sort((a, b) => (a.uploadTime < b.uploadTime ? -1 : 1))[0]!;
  const h = createHash('sha1');
  for (const f of files) {
    h.update(`${f.relpath}\0${f.sha256}\0${f.yanked === false ? '-' : 'y' + f.yanked}\0${f.requiresPython ?? ''}\0${f.metadataSha256 ?? ''}\0${f.uploadTime}\n`);
  }
  return { name, displayName: oldest.displayName, files, versions, latest, fingerprint: h.digest('hex') };
}
