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
  /** The spelling of the oldest upload, for humans (PyPI keeps the first one too). */
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

  /** The raw records behind each project, to recognise an unchanged project in the next snapshot. */
  private readonly sources: ReadonlyMap<string, { files: Set<DistFile>; yanks: string }>;

  /**
   * Builds the view of `files`. Projects whose records (by identity) and yank state are the same
   * as in `previous` are reused as they are: a change to one project costs one project's work,
   * not a re-sort and re-hash of the whole volume.
   */
  constructor(files: ReadonlyMap<string, DistFile>, yanks: Yanks, previous?: Snapshot) {
    this.files = files;
    this.yanks = yanks;
    const grouped = new Map<string, DistFile[]>();
    for (const f of files.values()) {
      let list = grouped.get(f.project);
      if (!list) grouped.set(f.project, (list = []));
      list.push(f);
    }
    const projects = new Map<string, Project>();
    const sources = new Map<string, { files: Set<DistFile>; yanks: string }>();
    const byRelpath = new Map<string, IndexedFile>();
    for (const [name, list] of grouped) {
      const yankState = list.map((f) => yanks.get(yankKey(f.project, canonicalVersion(f.version))) ?? '\0').join('\0');
      const before = previous?.sources.get(name);
      const old = previous?.projects.get(name);
      let project: Project;
      if (old && before && before.yanks === yankState && before.files.size === list.length && list.every((f) => before.files.has(f))) {
        project = old;
        sources.set(name, before);
      } else {
        project = buildProject(
          name,
          list.map((f) => indexFile(f, yanks)),
        );
        sources.set(name, { files: new Set(list), yanks: yankState });
      }
      projects.set(name, project);
      for (const f of project.files) byRelpath.set(f.relpath, f);
    }
    this.projects = projects;
    this.sources = sources;
    this.byRelpath = byRelpath;
    this.projectNames = previous && sameKeys(previous.projects, projects) ? previous.projectNames : [...projects.keys()].sort();
    this.fileCount = byRelpath.size;
    const h = createHash('sha1');
    for (const n of this.projectNames) h.update(projects.get(n)?.fingerprint ?? '');
    this.fingerprint = h.digest('hex');
  }

  static empty(): Snapshot {
    return new Snapshot(new Map(), new Map());
  }
}

function indexFile(f: DistFile, yanks: Yanks): IndexedFile {
  const yanked = yanks.get(yankKey(f.project, canonicalVersion(f.version)));
  return { ...f, yanked: yanked === undefined ? false : yanked };
}

function sameKeys(a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const k of b.keys()) if (!a.has(k)) return false;
  return true;
}

function buildProject(name: string, files: IndexedFile[]): Project {
  files.sort((a, b) => compareVersions(a.version, b.version) || (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
  const versions: string[] = [];
  for (const f of files) if (versions[versions.length - 1] !== f.version) versions.push(f.version);
  const live = files.filter((f) => f.yanked === false).map((f) => f.version);
  const finals = live.filter((v) => !isPrerelease(v));
  const latest = finals.at(-1) ?? live.at(-1) ?? versions.at(-1) ?? '';
  // Display name: from the oldest upload's metadata, so a later odd spelling does not rename the project.
  const oldest = files.reduce((a, b) => (b.uploadTime < a.uploadTime ? b : a));
  const h = createHash('sha1');
  for (const f of files) {
    const yanked = f.yanked === false ? '-' : `y${f.yanked}`;
    h.update(
      `${f.relpath}\0${f.sha256}\0${yanked}\0${f.requiresPython ?? ''}\0${f.metadataSha256 ?? ''}\0${f.uploadTime}\0${f.uploader ?? ''}\n`,
    );
  }
  return { name, displayName: oldest.displayName, files, versions, latest, fingerprint: h.digest('hex') };
}
