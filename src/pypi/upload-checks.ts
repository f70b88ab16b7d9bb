import { Errors } from '../errors.js';
import { field, type CoreMetadata } from './metadata.js';
import { isSafeBasename, normalizeName, parseFilename, type ParsedFilename } from './names.js';
import { isPep440, sameVersion } from './versions.js';

/**
 * The rules an upload must pass, as pure functions: the legacy upload API's fields against the
 * file's name, its bytes' digests and its own metadata. No I/O: the route reads the form, the
 * store stages the bytes, and these decide.
 */

/** Form fields of a legacy upload: repeated fields (classifiers, requires_dist) keep every value. */
export type UploadFields = ReadonlyMap<string, readonly string[]>;

export function firstField(fields: UploadFields, name: string): string | undefined {
  const v = fields.get(name)?.[0]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

const UPLOAD_EXTENSIONS = ['.whl', '.tar.gz', '.zip'];

/**
 * Checks a filename before a byte of it is written: a plain basename (no path, no control
 * characters), a wheel or sdist PyPI would accept (PEP 527 extensions), a PEP 440 version, and a
 * filetype field that agrees with it. Legacy name spellings are accepted: they normalize to the
 * project.
 */
export function checkUploadFilename(filename: string, fields: UploadFields): ParsedFilename {
  if (!isSafeBasename(filename)) {
    throw new Errors.BadFilename(filename, 'a plain file name is expected, without any path, spaces or control characters');
  }
  const lower = filename.toLowerCase();
  if (!UPLOAD_EXTENSIONS.some((e) => lower.endsWith(e))) {
    throw new Errors.BadFilename(filename, 'only .whl, .tar.gz and .zip distributions can be uploaded (PEP 527)');
  }
  const parsed = parseFilename(filename);
  if (!parsed) {
    throw new Errors.BadFilename(filename, 'expected name-version(-build)-python-abi-platform.whl or name-version.tar.gz');
  }
  if (!isPep440(parsed.version)) {
    throw new Errors.BadVersion(parsed.version, 'versions must follow PEP 440 (e.g. 1.0, 2.1.0rc1, 1.0.post1)');
  }
  const filetype = firstField(fields, 'filetype');
  if (filetype && filetype !== parsed.packagetype) throw new Errors.FiletypeMismatch(filetype, filename, parsed.packagetype);
  return parsed;
}

const DIGESTS = [
  ['sha256_digest', 'sha256'],
  ['md5_digest', 'md5'],
  ['blake2_256_digest', 'blake2b256'],
] as const;

/** What the checks need to know of a staged upload. */
export interface StagedFacts {
  parsed: ParsedFilename;
  digests: { sha256: string; md5: string; blake2b256: string };
  metadata: { parsed: CoreMetadata | null };
}

/**
 * Checks a staged upload against what the client said about it and what the file says about
 * itself: every supplied digest, the name and version fields, and the metadata inside.
 */
export function checkStagedUpload(staged: StagedFacts, fields: UploadFields): void {
  for (const [name, key] of DIGESTS) {
    const supplied = firstField(fields, name);
    if (supplied !== undefined && supplied.toLowerCase() !== staged.digests[key]) throw new Errors.DigestMismatch(name);
  }
  const { parsed } = staged;
  const { filename } = parsed;
  const name = firstField(fields, 'name');
  if (name !== undefined && normalizeName(name) !== parsed.project) {
    throw new Errors.NameMismatch(`The name field '${name}' does not match the file '${filename}' (project '${parsed.project}')`);
  }
  const version = firstField(fields, 'version');
  if (version !== undefined && !sameVersion(version, parsed.version)) {
    throw new Errors.VersionMismatch(`The version field '${version}' does not match the file '${filename}' (version '${parsed.version}')`);
  }
  const meta = staged.metadata.parsed;
  if (!meta) {
    throw new Errors.BadArchive(
      filename,
      parsed.packagetype === 'bdist_wheel' ? 'no *.dist-info/METADATA in the wheel' : 'no PKG-INFO in the sdist',
    );
  }
  const metaName = field(meta, 'name');
  const metaVersion = field(meta, 'version');
  if (!metaName || !metaVersion) throw new Errors.BadArchive(filename, 'its metadata has no Name or no Version');
  if (normalizeName(metaName) !== parsed.project) {
    throw new Errors.NameMismatch(`The metadata of '${filename}' names the project '${metaName}', not '${parsed.name}'`);
  }
  if (!sameVersion(metaVersion, parsed.version)) {
    throw new Errors.VersionMismatch(`The metadata of '${filename}' has version '${metaVersion}', not '${parsed.version}'`);
  }
}
