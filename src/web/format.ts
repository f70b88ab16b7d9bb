import { normalizeName } from '../pypi/names.js';

/** Sizes as PyPI shows them: decimal units, one decimal. */
export function formatSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} bytes`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit] ?? ''}`;
}

/** `2024-05-01 10:00 UTC` from an ISO time: the same for every reader, so a page can be cached. */
export function formatTime(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1] ?? ''} ${m[2] ?? ''} UTC` : iso;
}

export function formatDate(iso: string): string {
  return iso.slice(0, 10);
}

export interface Requirement {
  /** As written in the metadata. */
  name: string;
  /** PEP 503 normalized: the key to its page. */
  project: string;
  /** Whatever follows the name: extras, specifiers, markers. */
  rest: string;
  /** The extra this requirement belongs to, when its marker names one. */
  extra: string | null;
}

const REQUIREMENT = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(.*)$/s;
const EXTRA = /\bextra\s*==\s*(['"])([^'"]+)\1/;

/** A `Requires-Dist` value split into its project name and the rest (PEP 508), or null when it has no name. */
export function parseRequirement(value: string): Requirement | null {
  const m = REQUIREMENT.exec(value);
  const name = m?.[1];
  if (!name) return null;
  const rest = (m[2] ?? '').trim();
  return { name, project: normalizeName(name), rest, extra: EXTRA.exec(rest)?.[2] ?? null };
}
