/** PEP 503 normalisation: runs of `-_.` become one `-`, lower case. */
export function normalizeName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

const VALID_NAME = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

export function isValidProjectName(name: string): boolean {
  return VALID_NAME.test(name);
}

export type PackageType = 'bdist_wheel' | 'sdist' | 'bdist_egg';

export interface ParsedFilename {
  /** The whole filename parsed. */
  filename: string;
  /** The name as spelled in the filename. */
  name: string;
  /** Normalized project name. */
  project: string;
  version: string;
  packagetype: PackageType;
  /** Wheel python tag (`py3`, `cp311`), egg python (`2.7`), or `source` for sdists (R33 `pyversion`). */
  pythonVersion: string;
  extension: string;
}

const SDIST_EXTENSIONS = ['.tar.gz', '.tgz', '.tar.bz2', '.tbz', '.tar.xz', '.txz', '.zip', '.tar'] as const;

// {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl, per the wheel spec.
const WHEEL = /^(?<name>[^-\s]+?)-(?<version>[^-\s]+?)(?:-(?<build>\d[^-\s]*))?-(?<py>[^-\s]+?)-(?<abi>[^-\s]+?)-(?<plat>[^-\s]+?)\.whl$/i;
// Legacy sdists carry no separator between name and version other than '-': the version is the
// first '-'-separated part that starts with a digit after a non-empty name (pypiserver's heuristic).
const SDIST_STEM = /^(?<name>.+?)-(?<version>\d[^-\s]*)$/;
// name-version(-pyX.Y)(-platform).egg
const EGG = /^(?<name>[^-\s]+?)-(?<version>\d[^-\s]*?)(?:-py(?<py>\d\.\d+))?(?:-(?<plat>[^\s]+?))?\.egg$/i;

/**
 * Parses a distribution filename into project and version, or returns null when the name is
 * not a distribution we serve. Accepts the legacy spellings an existing pypiserver volume holds
 * (`Foo_Bar.baz-1.0.tar.gz`, `.zip`, `.tar.bz2`, `.egg`).
 */
export function parseFilename(filename: string): ParsedFilename | null {
  if (filename.startsWith('.') || /[\\/\0]/.test(filename)) return null;
  const lower = filename.toLowerCase();
  let m: RegExpExecArray | null;
  if (lower.endsWith('.whl')) {
    m = WHEEL.exec(filename);
    if (!m?.groups) return null;
    return finish(filename, m.groups.name!, m.groups.version!, 'bdist_wheel', m.groups.py!, '.whl');
  }
  if (lower.endsWith('.egg')) {
    m = EGG.exec(filename);
    if (!m?.groups) return null;
    return finish(filename, m.groups.name!, m.groups.version!, 'bdist_egg', m.groups.py ?? 'any', '.egg');
  }
  const ext = SDIST_EXTENSIONS.find((e) => lower.endsWith(e));
  if (!ext) return null;
  m = SDIST_STEM.exec(filename.slice(0, -ext.length));
  if (!m?.groups) return null;
  return finish(filename, m.groups.name!, m.groups.version!, 'sdist', 'source', filename.slice(-ext.length));
}

function finish(
  filename: string,
  name: string,
  version: string,
  packagetype: PackageType,
  pythonVersion: string,
  extension: string,
): ParsedFilename | null {
  // Wheel names escape '-' as '_'; either way the name must still be a valid project name.
  if (!isValidProjectName(name) || !/^[A-Za-z0-9.!+_]+$/.test(version)) return null;
  return { filename, name, project: normalizeName(name), version, packagetype, pythonVersion, extension };
}

/**
 * A filename safe to store flat in the root: a plain basename, no path, no control or shell-hostile
 * characters, not hidden.
 */
export function isSafeBasename(filename: string): boolean {
  return filename.length > 0 && filename.length <= 255 && !filename.startsWith('.') && /^[A-Za-z0-9._!+-]+$/.test(filename);
}
