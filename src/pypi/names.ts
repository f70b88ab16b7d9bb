/** PEP 503 normalisation: runs of `-_.` become one `-`, lower case. */
export function normalizeName(name: string): string {
  // Names in requests are almost always normalized already: a test allocates nothing.
  return NORMALIZED.test(name) ? name : name.replace(/[-_.]+/g, '-').toLowerCase();
}

const NORMALIZED = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

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
  /** Wheel python tag (`py3`, `cp311`), egg python (`2.7`), or `source` for sdists (the upload form's `pyversion`). */
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
  if (lower.endsWith('.whl')) {
    const g = WHEEL.exec(filename)?.groups;
    if (!g?.name || !g.version || !g.py) return null;
    return finish(filename, g.name, g.version, 'bdist_wheel', g.py, '.whl');
  }
  if (lower.endsWith('.egg')) {
    const g = EGG.exec(filename)?.groups;
    if (!g?.name || !g.version) return null;
    return finish(filename, g.name, g.version, 'bdist_egg', g.py ?? 'any', '.egg');
  }
  const ext = SDIST_EXTENSIONS.find((e) => lower.endsWith(e));
  if (!ext) return null;
  const g = SDIST_STEM.exec(filename.slice(0, -ext.length))?.groups;
  if (!g?.name || !g.version) return null;
  return finish(filename, g.name, g.version, 'sdist', 'source', filename.slice(-ext.length));
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
