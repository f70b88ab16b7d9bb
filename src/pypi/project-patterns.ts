import { normalizeName } from './names.js';

/**
 * Project names and patterns as tokens, trusted publishers and the ACL file name them.
 *
 * A pattern is a project name in which `*` stands for any run of characters (`mycorp-*`,
 * `*-plugin`, `*` for every project). Patterns are normalized like names (PEP 503: runs of `-_.`
 * become one `-`, lower case), so `MyCorp_*` and `mycorp-*` are the same pattern and match the
 * normalized name of a project however its files spell it. `mycorp-*` does not match `mycorp`.
 */

const PATTERN = /^[a-z0-9*-]+$/;

/** A pattern that cannot be used, with the text as written. */
export class ProjectPatternError extends Error {
  override name = 'ProjectPatternError';
}

/** The normalized form of a pattern; throws a ProjectPatternError naming it when it is not one. */
export function normalizePattern(pattern: string): string {
  const raw = pattern.trim();
  const normalized = normalizeName(raw).replace(/\*+/g, '*');
  if (raw === '' || !PATTERN.test(normalized)) {
    throw new ProjectPatternError(
      `"${pattern}" is not a project name or pattern: use letters, digits, '-', '_', '.' and '*' (as in mycorp-*)`,
    );
  }
  return normalized;
}

function compile(pattern: string): RegExp | string {
  if (!pattern.includes('*')) return pattern;
  // Only [a-z0-9-] is left between the stars: nothing to escape.
  return new RegExp(`^${pattern.split('*').join('.*')}$`);
}

/** A set of normalized patterns, compiled once, answering whether a project is among them. */
export class ProjectMatcher {
  readonly patterns: readonly string[];
  private readonly exact: ReadonlySet<string>;
  private readonly globs: readonly RegExp[];

  /** `patterns` as written by a person or read from a token; each is normalized (and checked). */
  constructor(patterns: Iterable<string>) {
    const normalized = [...new Set([...patterns].map(normalizePattern))];
    this.patterns = normalized;
    const exact = new Set<string>();
    const globs: RegExp[] = [];
    for (const p of normalized) {
      const c = compile(p);
      if (typeof c === 'string') exact.add(c);
      else globs.push(c);
    }
    this.exact = exact;
    this.globs = globs;
  }

  /** Whether the project (any spelling; it is normalized here) is matched by one of the patterns. */
  matches(project: string): boolean {
    const name = normalizeName(project);
    return this.exact.has(name) || this.globs.some((re) => re.test(name));
  }
}

/**
 * A glob over a plain string (a git ref such as `refs/tags/v*`): `*` matches any run of
 * characters, `/` included; everything else is literal and case-sensitive.
 */
export function globMatches(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`, 's');
  return re.test(value);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
