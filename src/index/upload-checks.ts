import { Errors } from '../errors.js';
import { field, parseCoreMetadata } from '../pypi/metadata.js';
import { isSafeBasename, normalizeName, parseFilename, type ParsedFilename } from '../pypi/names.js';
import { sameVersion } from '../pypi/versions.js';
import type { Staged } from '../store/store.js';

/** Form fields of a legacy upload (R33, R34): repeated fields keep every value. */
export type UploadFields = ReadonlyMap<string, readonly string[]>;

export function firstField(fields: UploadFields, name: string): string | undefined {
  const v = fields.get(name)?.[0]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

const UPLOAD_EXTENSIONS = ['.whl', '.tar.gz', '.zip'];

/**
 * Checks a filename before a byte of it is written (R41): a plain basename (no path, no
 * control characters), a wheel or sdist PyPI would accept (PEP 527 extensions), and a filetype
 * field that agrees with it. Legacy name spellings are accepted: they normalize to the project.
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
  const filetype = firstField(fields, 'filetype');
  if (filetype && filetype !== parsed.packagetype) {
    throw new Errors.BadRequest(`filetype '${filetype}' does not match the file '${filename}' (a ${parsed.packagetype})`);
  }
  return parsed;
}

const DIGESTS = [
  ['sha256_digest', 'sha256'],
  ['md5_digest', 'md5'],
  ['blake2_256_digest', 'blake2b256'],
] as const;

/**
 * Checks a staged upload against what the client said about it and what the file says about
 * itself: every supplied digest, the name and version fields, and the metadata inside.
 */
export function checkStagedUpload(staged: Staged, fields: UploadFields): void {
  for (const [name, key] of DIGESTS) {
    const supplied = firstField(fields, name);
    if (supplied !== undefined && supplied.toLowerCase() !== staged.digests[key]) throw new Errors.DigestMismatch(name);
  }
  const { parsed, filename } = staged;
  const name = firstField(fields, 'name');
  if (name !== undefined && normalizeName(name) !== parsed.project) {
    throw new Errors.NameMismatch(`The name field '${name}' does not match the file '${filename}' (project '${parsed.project}')`);
  }
  const version = firstField(fields, 'version');
  if (version !== undefined && !sameVersion(version, parsed.version)) {
    throw new Errors.NameMismatch(`The version field '${version}' does not match the file '${filename}' (version '${parsed.version}')`);
  }
  if (!staged.metadata) {
    throw new Errors.BadArchive(
      filename,
      parsed.packagetype === 'bdist_wheel' ? 'no *.dist-info/METADATA in the wheel' : 'no PKG-INFO in the sdist',
    );
  }
  const meta = parseCoreMetadata(staged.metadata);
  const metaName = field(meta, 'name');
  const metaVersion = field(meta, 'version');
  if (!metaName || !metaVersion) throw new Errors.BadArchive(filename, 'its metadata has no Name or no Version');
  if (normalizeName(metaName) !== parsed.project) {
    throw new Errors.NameMismatch(`The metadata of '${filename}' names the project '${metaName}', not '${parsed.name}'`);
  }
  if (!sameVersion(metaVersion, parsed.version)) {
    throw new Errors.NameMismatch(`The metadata of '${filename}' has version '${metaVersion}', not '${parsed.version}'`);
  }
}
