import { createHash } from 'node:crypto';
import { canonicalVersion, isPrerelease, versionComparator } from '../pypi/versions.js';
import { yankKey, type DistFile, type Yanks } from '../store/dist-file.js';
import { LayeredMap } from './layered-map.js';

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

  /** Each project's yank state as of this snapshot, to recognise an unchanged project in the next one. */
  private readonly yankStates: ReadonlyMap<string, string>;

  /**
   * Builds the view of `files`. Projects whose records (by identity) and yank state are the same
   * as in `previous` are reused as they are: a change to one project costs one project's work,
   * not a re-sort and re-hash of the whole volume.
   *
   * `changed`, when given with `previous`, names every path whose record may differ from
   * `previous.files` (added, replaced or gone): then only the projects they touch are looked at,
   * and a scan after one upload to a volume of 100,000 files costs one project's work.
   */
  constructor(files: ReadonlyMap<string, DistFile>, yanks: Yanks, previous?: Snapshot, changed?: ReadonlySet<string>) {
    this.files = files;
    this.yanks = yanks;
    const yankStates = yankStatesOf(yanks);
    const memo = new VersionMemo();
    const parts =
      previous && changed
        ? updateProjects(previous, files, yanks, yankStates, changed, memo)
        : buildProjects(files, yanks, yankStates, memo, previous);
    this.projects = parts.projects;
    this.byRelpath = parts.byRelpath;
    this.yankStates = yankStates;
    this.projectNames =
      previous && !parts.namesChanged && previous.projects.size === parts.projects.size
        ? previous.projectNames
        : [...parts.projects.keys()].sort();
    this.fileCount = parts.byRelpath.size;
    const h = createHash('sha1');
    h.update(this.projectNames.map((n) => parts.projects.get(n)?.fingerprint ?? '').join(''));
    this.fingerprint = h.digest('hex');
  }

  /** What the previous snapshot said of a project's yanks (for the builders below). */
  yankStateOf(project: string): string | undefined {
    return this.yankStates.get(project);
  }

  static empty(): Snapshot {
    return new Snapshot(new Map(), new Map());
  }
}

interface Parts {
  projects: ReadonlyMap<string, Project>;
  byRelpath: ReadonlyMap<string, IndexedFile>;
  /** Whether a project appeared or went away (the sorted name list must be made again). */
  namesChanged: boolean;
}

/** Every project from scratch, reusing those of `previous` whose records and yanks are the same. */
function buildProjects(
  files: ReadonlyMap<string, DistFile>,
  yanks: Yanks,
  yankStates: ReadonlyMap<string, string>,
  memo: VersionMemo,
  previous?: Snapshot,
): Parts {
  const grouped = new Map<string, DistFile[]>();
  for (const f of files.values()) {
    let list = grouped.get(f.project);
    if (!list) grouped.set(f.project, (list = []));
    list.push(f);
  }
  const projects = new Map<string, Project>();
  const byRelpath = new Map<string, IndexedFile>();
  let namesChanged = !previous;
  for (const [name, list] of grouped) {
    const old = previous?.projects.get(name);
    const prior = previous?.files;
    let project: Project;
    if (
      old &&
      prior &&
      previous.yankStateOf(name) === yankStates.get(name) &&
      old.files.length === list.length &&
      list.every((f) => prior.get(f.relpath) === f)
    ) {
      project = old;
    } else {
      if (!old) namesChanged = true;
      project = buildProject(name, list, yanks, yankStates.has(name), memo);
    }
    projects.set(name, project);
    for (const f of project.files) byRelpath.set(f.relpath, f);
  }
  return { projects, byRelpath, namesChanged };
}

/** `previous` with the projects that `changed` paths (or a change of yanks) touch made again. */
function updateProjects(
  previous: Snapshot,
  records: ReadonlyMap<string, DistFile>,
  yanks: Yanks,
  yankStates: ReadonlyMap<string, string>,
  changed: ReadonlySet<string>,
  memo: VersionMemo,
): Parts {
  const touched = new Set<string>();
  for (const rel of changed) {
    const before = previous.files.get(rel);
    const now = records.get(rel);
    if (before) touched.add(before.project);
    if (now) touched.add(now.project);
  }
  for (const name of yankStates.keys()) if (previous.yankStateOf(name) !== yankStates.get(name)) touched.add(name);
  for (const name of previous.projects.keys()) {
    if (previous.yankStateOf(name) !== undefined && !yankStates.has(name)) touched.add(name);
  }
  const projects = new Map<string, Project>();
  const goneProjects: string[] = [];
  const indexed = new Map<string, IndexedFile>();
  const goneFiles: string[] = [];
  let namesChanged = false;
  for (const name of touched) {
    const old = previous.projects.get(name);
    const list: DistFile[] = [];
    for (const f of old?.files ?? []) {
      goneFiles.push(f.relpath);
      const now = records.get(f.relpath);
      if (now && !changed.has(f.relpath)) list.push(now);
    }
    for (const rel of changed) {
      const now = records.get(rel);
      if (now?.project === name) list.push(now);
    }
    if (list.length === 0) {
      if (old) {
        goneProjects.push(name);
        namesChanged = true;
      }
      continue;
    }
    if (!old) namesChanged = true;
    const project = buildProject(name, list, yanks, yankStates.has(name), memo);
    projects.set(name, project);
    for (const f of project.files) indexed.set(f.relpath, f);
  }
  // Layers over the previous snapshot's maps: the change costs itself, not a copy of the volume.
  return {
    projects: LayeredMap.over(previous.projects, projects, goneProjects),
    byRelpath: LayeredMap.over(previous.byRelpath, indexed, goneFiles),
    namesChanged,
  };
}

/**
 * The record with its yank state. A record that already reads as not yanked (the index makes its
 * records so) is used as it is: no second copy of every record of the volume.
 */
function indexFile(f: DistFile, yanked: string | undefined): IndexedFile {
  if (yanked === undefined && isUnyanked(f)) return f;
  return { ...f, yanked: yanked ?? false };
}

function isUnyanked(f: DistFile): f is IndexedFile {
  return (f as Partial<IndexedFile>).yanked === false;
}

/**
 * Yank entries grouped by project: comparing a project's string with the previous snapshot's tells
 * whether its yank state changed, without a PEP 440 parse per file of the volume.
 */
function yankStatesOf(yanks: Yanks): Map<string, string> {
  const byProject = new Map<string, string[]>();
  for (const [key, reason] of yanks) {
    const project = key.slice(0, key.indexOf('=='));
    let list = byProject.get(project);
    if (!list) byProject.set(project, (list = []));
    list.push(`${key}\0${reason}`);
  }
  const out = new Map<string, string>();
  for (const [project, list] of byProject) out.set(project, list.sort().join('\n'));
  return out;
}

/**
 * PEP 440 work done once per distinct version while one snapshot is built: a project of 2,000
 * CI builds is sorted by comparing ranks, not by parsing two versions per comparison.
 */
class VersionMemo {
  private readonly canon = new Map<string, string>();
  private readonly pre = new Map<string, boolean>();
  private readonly compare = versionComparator();

  canonical(v: string): string {
    let c = this.canon.get(v);
    if (c === undefined) this.canon.set(v, (c = canonicalVersion(v)));
    return c;
  }

  prerelease(v: string): boolean {
    let p = this.pre.get(v);
    if (p === undefined) this.pre.set(v, (p = isPrerelease(v)));
    return p;
  }

  /**
   * Each distinct version's place in PEP 440 order; spellings of one version share theirs. Files
   * arrive in the order the catalog kept, already sorted: a sorted run costs one comparison per
   * version, and the ranks reuse those comparisons.
   */
  ranks(versions: Iterable<string>): Map<string, number> {
    const seen = new Map<string, number>();
    const cmp = (a: string, b: string) => {
      const key = `${a}\0${b}`;
      let c = seen.get(key);
      if (c === undefined) seen.set(key, (c = this.compare(a, b)));
      return c;
    };
    const distinct = [...new Set(versions)].sort(cmp);
    const out = new Map<string, number>();
    let rank = 0;
    distinct.forEach((v, i) => {
      const before = distinct[i - 1];
      if (before !== undefined && cmp(before, v) !== 0) rank++;
      out.set(v, rank);
    });
    return out;
  }
}

function buildProject(name: string, records: DistFile[], yanks: Yanks, hasYanks: boolean, memo: VersionMemo): Project {
  const files = records.map((f) => indexFile(f, hasYanks ? yanks.get(yankKey(f.project, memo.canonical(f.version))) : undefined));
  const rank = memo.ranks(files.map((f) => f.version));
  const rankOf = (v: string) => rank.get(v) ?? 0;
  files.sort((a, b) => rankOf(a.version) - rankOf(b.version) || (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
  const versions: string[] = [];
  for (const f of files) if (versions[versions.length - 1] !== f.version) versions.push(f.version);
  const live = files.filter((f) => f.yanked === false).map((f) => f.version);
  // From the top down: the highest version is usually a final release, and one look settles it.
  const latest = live.findLast((v) => !memo.prerelease(v)) ?? live.at(-1) ?? versions.at(-1) ?? '';
  // Display name: from the oldest upload's metadata, so a later odd spelling does not rename the project.
  const oldest = files.reduce((a, b) => (b.uploadTime < a.uploadTime ? b : a));
  const lines = files.map((f) => {
    const yanked = f.yanked === false ? '-' : `y${f.yanked}`;
    const fields = [f.relpath, f.sha256, yanked, f.requiresPython ?? '', f.metadataSha256 ?? '', f.uploadTime, f.uploader ?? ''];
    return `${fields.join('\0')}\n`;
  });
  const fingerprint = createHash('sha1').update(lines.join('')).digest('hex');
  return { name, displayName: oldest.displayName, files, versions, latest, fingerprint };
}
