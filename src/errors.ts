import createError from '@fastify/error';

/**
 * Every error a user can meet, with its HTTP status and a message they can act on.
 * The store and the index throw these too: they carry a status but know nothing of HTTP.
 * The text goes in the body and, for uploads, in the status line, because twine prints
 * `resp.reason` and its `--skip-existing` looks for "File already exists" there.
 */
export const Errors = {
  NotFound: createError('WH_ERR_NOT_FOUND', 'Not found: %s', 404),
  OutsideBasePath: createError('WH_ERR_OUTSIDE_BASE_PATH', 'Not found: %s; this index is served under %s/', 404),
  ProjectNotFound: createError('WH_ERR_PROJECT_NOT_FOUND', 'No project named "%s" on this index', 404),
  VersionNotFound: createError('WH_ERR_VERSION_NOT_FOUND', 'Project "%s" has no version %s on this index', 404),
  FileNotFound: createError('WH_ERR_FILE_NOT_FOUND', 'No file named "%s" on this index', 404),
  ReadOnlyFile: createError(
    'WH_ERR_READ_ONLY_FILE',
    '"%s" is in the read-only package directory %s (a --root after the first): remove it there, or move it to the first',
    403,
  ),
  NotAcceptable: createError(
    'WH_ERR_NOT_ACCEPTABLE',
    'None of the types in Accept is served here; ask for text/html, ' +
      'application/vnd.pypi.simple.v1+html or application/vnd.pypi.simple.v1+json',
    406,
  ),
  BadFormat: createError(
    'WH_ERR_BAD_FORMAT',
    'Unknown ?format=%s; use application/vnd.pypi.simple.v1+json or application/vnd.pypi.simple.v1+html',
    406,
  ),
  RangeNotSatisfiable: createError('WH_ERR_RANGE', 'Range not satisfiable: the file has %s bytes', 416),

  // The upstream index (--upstream). pip retries a 502 and reads a 404 as "no such project", so a
  // failure of the upstream must never look like a 404.
  UpstreamUnavailable: createError(
    'WH_ERR_UPSTREAM_UNAVAILABLE',
    'The upstream index %s failed for "%s" (%s) and this index has no copy of it yet; retry later',
    502,
  ),
  UpstreamTimeout: createError(
    'WH_ERR_UPSTREAM_TIMEOUT',
    'The upstream index %s did not answer in time for "%s" and this index has no copy of it yet; retry later',
    504,
  ),
  UpstreamBadFile: createError(
    'WH_ERR_UPSTREAM_BAD_FILE',
    'The upstream index sent "%s" unlike its project page says (%s); nothing was kept. Retry later, or tell the operator of this index',
    502,
  ),
  UpstreamNotCached: createError(
    'WH_ERR_UPSTREAM_NOT_CACHED',
    '"%s" is not cached from the upstream index, and this index does not ask the upstream (--upstream-offline)',
    404,
  ),

  // Uploads: the legacy API twine and poetry speak.
  MissingAction: createError('WH_ERR_MISSING_ACTION', "Missing ':action' field: send :action=file_upload", 400),
  UnknownAction: createError('WH_ERR_UNKNOWN_ACTION', "Unsupported ':action' field: %s", 400),
  Gone: createError('WH_ERR_GONE', '%s', 410),
  BadProtocol: createError('WH_ERR_BAD_PROTOCOL', 'Unknown protocol version.', 400),
  MissingContent: createError('WH_ERR_MISSING_CONTENT', "Missing 'content' file-field: attach the distribution file as 'content'", 400),
  MissingField: createError('WH_ERR_MISSING_FIELD', "Missing '%s' field", 400),
  FieldTooLarge: createError('WH_ERR_FIELD_TOO_LARGE', 'The form field %s is larger than %s bytes', 413),
  FormTooLarge: createError('WH_ERR_FORM_TOO_LARGE', 'The form fields together are larger than %s bytes', 413),
  BadFilename: createError('WH_ERR_BAD_FILENAME', 'Invalid distribution filename "%s": %s', 400),
  BadVersion: createError('WH_ERR_BAD_VERSION', 'Invalid version "%s": %s', 400),
  NameMismatch: createError('WH_ERR_NAME_MISMATCH', '%s', 400),
  VersionMismatch: createError('WH_ERR_VERSION_MISMATCH', '%s', 400),
  FiletypeMismatch: createError('WH_ERR_FILETYPE_MISMATCH', "filetype '%s' does not match the file '%s' (a %s)", 400),
  DigestMismatch: createError(
    'WH_ERR_DIGEST_MISMATCH',
    'The digest supplied does not match a digest calculated from the uploaded file (%s).',
    400,
  ),
  BadArchive: createError('WH_ERR_BAD_ARCHIVE', 'Invalid distribution "%s": %s', 400),
  EmptyFile: createError('WH_ERR_EMPTY_FILE', 'The uploaded file "%s" is empty', 400),
  TooLarge: createError('WH_ERR_TOO_LARGE', 'Upload larger than the limit of %s bytes (--max-upload-size)', 413),
  BadMultipart: createError('WH_ERR_BAD_MULTIPART', 'Malformed upload body: %s', 400),
  FileExists: createError('WH_ERR_FILE_EXISTS', 'File already exists: %s', 409),
  BadBody: createError('WH_ERR_BAD_BODY', '%s', 400),

  // Access
  LoginRequired: createError('WH_ERR_LOGIN_REQUIRED', 'Login required %s', 401),
  BadLogin: createError('WH_ERR_BAD_LOGIN', 'Invalid user name or password for %s', 401),
  NoUsers: createError(
    'WH_ERR_NO_USERS',
    'Uploads are disabled: this server has no users. ' +
      'Start it with --passwords FILE (WHEELHOUSE_PASSWORDS) or WHEELHOUSE_USERNAME/WHEELHOUSE_PASSWORD',
    403,
  ),
  Forbidden: createError('WH_ERR_FORBIDDEN', '%s', 403),
  CrossSite: createError(
    'WH_ERR_CROSS_SITE',
    'Cross-site request refused: a page on another site may not change this index (use twine, poetry or a same-origin request)',
    403,
  ),
  Throttled: createError('WH_ERR_THROTTLED', 'Too many failed logins from your address; try again in %s seconds', 429),
  BadToken: createError('WH_ERR_BAD_TOKEN', 'API token refused: %s', 401),
  OutsideScope: createError('WH_ERR_OUTSIDE_SCOPE', '%s', 403),
  LoginsBusy: createError('WH_ERR_LOGINS_BUSY', 'Too many logins being checked at once; retry shortly', 503),

  // Server state
  NotReady: createError('WH_ERR_NOT_READY', 'The index is still loading; retry shortly', 503),
  Busy: createError('WH_ERR_BUSY', 'Server busy, retry shortly', 503),
  StorageFull: createError(
    'WH_ERR_STORAGE_FULL',
    'The package volume is full (%s); nothing was stored. Tell the operator of this index',
    507,
  ),
  StorageUnavailable: createError(
    'WH_ERR_STORAGE_UNAVAILABLE',
    'The package volume cannot be written (%s); nothing was stored. Retry later or tell the operator of this index',
    503,
  ),
} as const;

export interface UserFacingError extends Error {
  code: string;
  statusCode: number;
}

export function isUserFacing(err: unknown): err is UserFacingError {
  return (
    err instanceof Error &&
    typeof (err as Partial<UserFacingError>).code === 'string' &&
    (err as UserFacingError).code.startsWith('WH_ERR_') &&
    typeof (err as Partial<UserFacingError>).statusCode === 'number'
  );
}

/** Failures of the volume rather than of the request: logged at error level and counted. */
export function isStorageError(err: unknown): err is UserFacingError {
  return isUserFacing(err) && (err.code === 'WH_ERR_STORAGE_FULL' || err.code === 'WH_ERR_STORAGE_UNAVAILABLE');
}

/** A status line must be latin-1 without CR/LF; keep it short too. */
export function reasonPhrase(message: string): string {
  return message.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}
