import { clean, compare, eq, valid } from '@renovatebot/pep440';

/**
 * Whether a version is PEP 440 and safe to compare as one. The parser reads numbers as floats, so
 * a segment longer than a double's exact range (a version of 400 ones) would compare equal to
 * other huge ones and normalize to "Infinity": such versions are handled as legacy strings.
 */
export function isPep440(v: string): boolean {
  return !/\d{16,}/.test(v) && valid(v) !== null;
}

/**
 * PEP 440 ordering. Versions PEP 440 cannot parse (legacy files on an old volume) sort before
 * every valid one, among themselves by string, so one odd file never breaks a project page.
 */
export function compareVersions(a: string, b: string): number {
  const va = isPep440(a);
  const vb = isPep440(b);
  if (va && vb) return compare(a, b);
  if (va !== vb) return va ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * compareVersions for sorting many versions at once: whether each one is PEP 440 is found out
 * once, not at every comparison (a project of 2,000 CI builds sorts in a few milliseconds).
 */
export function versionComparator(): (a: string, b: string) => number {
  const valid = new Map<string, boolean>();
  const isValid = (v: string) => {
    let ok = valid.get(v);
    if (ok === undefined) valid.set(v, (ok = isPep440(v)));
    return ok;
  };
  return (a, b) => {
    const va = isValid(a);
    const vb = isValid(b);
    if (va && vb) return compare(a, b);
    if (va !== vb) return va ? 1 : -1;
    return a < b ? -1 : a > b ? 1 : 0;
  };
}

/** The canonical spelling of a version (`2.0.0-RC1` -> `2.0.0rc1`), or the input if not PEP 440. */
export function canonicalVersion(v: string): string {
  return isPep440(v) ? (clean(v) ?? v) : v;
}

/** PEP 440 equality: `1.0` is `1.0.0` is `1.0.0-0`... and `1.0RC1` is `1.0rc1`. */
export function sameVersion(a: string, b: string): boolean {
  if (isPep440(a) && isPep440(b)) return eq(a, b);
  return a === b;
}

/** The version of `versions` a request names: the same spelling first, else the PEP 440-equal one. */
export function findVersion(versions: readonly string[], wanted: string): string | undefined {
  return versions.find((v) => v === wanted) ?? versions.find((v) => sameVersion(v, wanted));
}

/** Pre-releases and dev releases are not "latest" on warehouse's JSON API unless nothing else exists. */
export function isPrerelease(v: string): boolean {
  return /(a|b|rc|c|alpha|beta|pre|preview|dev)\d*/i.test(canonicalVersion(v).replace(/\+.*$/, ''));
}
