import { clean, compare, eq, valid } from '@renovatebot/pep440';

/**
 * PEP 440 ordering. Versions PEP 440 cannot parse (legacy files on an old volume) sort before
 * every valid one, among themselves by string, so one odd file never breaks a project page.
 */
export function compareVersions(a: string, b: string): number {
  const va = valid(a) !== null;
  const vb = valid(b) !== null;
  if (va && vb) return compare(a, b);
  if (va !== vb) return va ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The canonical spelling of a version (`2.0.0-RC1` -> `2.0.0rc1`), or the input if not PEP 440. */
export function canonicalVersion(v: string): string {
  return clean(v) ?? v;
}

/** PEP 440 equality: `1.0` is `1.0.0` is `1.0.0-0`... and `1.0RC1` is `1.0rc1`. */
export function sameVersion(a: string, b: string): boolean {
  if (valid(a) !== null && valid(b) !== null) return eq(a, b);
  return a === b;
}

/** Pre-releases and dev releases are not "latest" on warehouse's JSON API unless nothing else exists. */
export function isPrerelease(v: string): boolean {
  return /(a|b|rc|c|alpha|beta|pre|preview|dev)\d*/i.test(canonicalVersion(v).replace(/\+.*$/, ''));
}
