import { normalizeName } from '../pypi/names.js';
import { infoFile } from '../pypi/render.js';
import type { Project, Snapshot } from './snapshot.js';

/** What search knows of one project, built once per project fingerprint. */
export interface SearchEntry {
  /** Normalized name: the key and the URL segment. */
  name: string;
  displayName: string;
  latest: string;
  /** The latest release's summary, '' when it has none. */
  summary: string;
  /** When the project last got a file (ISO time). */
  updated: string;
  /** Lower-case words of the summary and of the name, for word matches. */
  words: readonly string[];
}

/** How a hit matched, best first: the order results are ranked in. */
export type MatchKind = 'exact' | 'prefix' | 'substring' | 'summary';

export interface SearchHit {
  entry: SearchEntry;
  match: MatchKind;
}

export interface SearchResult {
  /** The query as searched (trimmed, cut to MAX_QUERY). */
  query: string;
  /** The best `limit` hits. */
  hits: SearchHit[];
  /** Every project that matched. */
  total: number;
}

/** Longer queries are cut: nobody types more, and each character costs a pass over every name. */
export const MAX_QUERY = 200;
/** The most hits one search returns, whatever limit is asked. */
export const MAX_RESULTS = 100;
const MAX_WORDS = 10;

function wordsOf(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

function entryFor(project: Project): SearchEntry {
  const summary = (infoFile(project, project.latest)?.info?.summary ?? '').trim();
  let updated = '';
  for (const f of project.files) if (f.uploadTime > updated) updated = f.uploadTime;
  const words = [...new Set([...wordsOf(summary), ...wordsOf(project.name)])];
  return { name: project.name, displayName: project.displayName, latest: project.latest, summary, updated, words };
}

const TIER: Record<MatchKind, number> = { exact: 0, prefix: 1, substring: 2, summary: 3 };

interface Scored {
  hit: SearchHit;
  /** Within a tier, lower is better. */
  score: number;
}

/**
 * Search over the names and summaries of one snapshot, from memory. Ranked: the exact name, then
 * names starting with the query, then names containing it, then projects whose summary (or name)
 * has every word of the query. A new snapshot reuses the entries of unchanged projects.
 */
export class SearchIndex {
  /** The snapshot fingerprint this index was built from. */
  readonly fingerprint: string;
  private readonly entries: readonly SearchEntry[];
  /** Entries by project name, with the project fingerprint they were built from. */
  private readonly byProject: ReadonlyMap<string, { fingerprint: string; entry: SearchEntry }>;

  private constructor(
    fingerprint: string,
    entries: SearchEntry[],
    byProject: ReadonlyMap<string, { fingerprint: string; entry: SearchEntry }>,
  ) {
    this.fingerprint = fingerprint;
    this.entries = entries;
    this.byProject = byProject;
  }

  static build(snapshot: Snapshot, previous?: SearchIndex): SearchIndex {
    const byProject = new Map<string, { fingerprint: string; entry: SearchEntry }>();
    const entries: SearchEntry[] = [];
    for (const name of snapshot.projectNames) {
      const project = snapshot.projects.get(name);
      if (!project) continue;
      const before = previous?.byProject.get(name);
      const entry = before?.fingerprint === project.fingerprint ? before.entry : entryFor(project);
      byProject.set(name, { fingerprint: project.fingerprint, entry });
      entries.push(entry);
    }
    return new SearchIndex(snapshot.fingerprint, entries, byProject);
  }

  /** This index if it was built from `snapshot`, else one that is (reusing what it can). */
  static for(snapshot: Snapshot, previous?: SearchIndex): SearchIndex {
    return previous?.fingerprint === snapshot.fingerprint ? previous : SearchIndex.build(snapshot, previous);
  }

  get size(): number {
    return this.entries.length;
  }

  search(rawQuery: string, limit = 20): SearchResult {
    const query = rawQuery.trim().slice(0, MAX_QUERY);
    const max = Math.max(0, Math.min(limit, MAX_RESULTS));
    // A name typed with spaces ("http client") means the dashed name.
    const name = normalizeName(query.replace(/\s+/g, '-')).replace(/^-+|-+$/g, '');
    const words = [...new Set(wordsOf(query))].slice(0, MAX_WORDS);
    if (name === '' && words.length === 0) return { query, hits: [], total: 0 };

    const scored: Scored[] = [];
    for (const entry of this.entries) {
      const s = name === '' ? null : matchName(entry.name, name);
      if (s) {
        scored.push({ hit: { entry, match: s.match }, score: s.score });
        continue;
      }
      const w = matchWords(entry.words, words);
      if (w !== null) scored.push({ hit: { entry, match: 'summary' }, score: w });
    }
    scored.sort(
      (a, b) =>
        TIER[a.hit.match] - TIER[b.hit.match] ||
        a.score - b.score ||
        (a.hit.entry.name < b.hit.entry.name ? -1 : a.hit.entry.name > b.hit.entry.name ? 1 : 0),
    );
    return { query, hits: scored.slice(0, max).map((s) => s.hit), total: scored.length };
  }
}

function matchName(candidate: string, query: string): { match: MatchKind; score: number } | null {
  if (candidate === query) return { match: 'exact', score: 0 };
  if (candidate.startsWith(query)) return { match: 'prefix', score: candidate.length };
  const at = candidate.indexOf(query);
  // Earlier and in a shorter name reads as the better match.
  if (at > 0) return { match: 'substring', score: at * 1000 + candidate.length };
  return null;
}

/** Every query word starts a word of the entry: score by how many are whole words (fewer partials is better). */
function matchWords(entryWords: readonly string[], queryWords: readonly string[]): number | null {
  if (queryWords.length === 0) return null;
  let partial = 0;
  for (const q of queryWords) {
    let found: 'whole' | 'prefix' | null = null;
    for (const w of entryWords) {
      if (w === q) {
        found = 'whole';
        break;
      }
      if (found === null && w.startsWith(q)) found = 'prefix';
    }
    if (found === null) return null;
    if (found === 'prefix') partial++;
  }
  return partial;
}
