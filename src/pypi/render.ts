import type { ProjectInfo } from './metadata.js';
import type { PackageType } from './names.js';

/** A distribution as the simple API and the JSON API describe it. */
export interface ListedFile {
  /** Path relative to the package root, '/'-separated. */
  relpath: string;
  filename: string;
  version: string;
  packagetype: PackageType;
  pythonVersion: string;
  size: number;
  sha256: string;
  md5: string;
  blake2b256: string;
  /** Other digests by hashlib name, where computed. */
  hashes?: Readonly<Record<string, string>>;
  requiresPython: string | null;
  metadataSha256: string | null;
  /** PEP 592: false, or the reason ('' when none was given). */
  yanked: false | string;
  /** ISO 8601 UTC with milliseconds. */
  uploadTime: string;
  info: ProjectInfo | null;
}

export interface ListedProject {
  /** Normalized name. */
  name: string;
  displayName: string;
  /** Sorted by version. */
  files: readonly ListedFile[];
  /** Ascending (PEP 700 `versions`). */
  versions: readonly string[];
  latest: string;
}

export interface ProjectList {
  /** Normalized names, sorted. */
  projectNames: readonly string[];
  projects: ReadonlyMap<string, { displayName: string }>;
}

/** The digests a simple page may put in its file links: those every Python's hashlib has (PEP 503). */
export const LINK_HASHES = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'] as const;
export type LinkHash = (typeof LINK_HASHES)[number];

/**
 * A file link's `#<algo>=<hex>` fragment: the configured algorithm where the file's record has it,
 * else sha256 (which every record has, and pip checks whichever it is given); '' for none.
 */
function fragment(f: ListedFile, algo: LinkHash | null): string {
  if (algo === null) return '';
  const hex = algo === 'sha256' ? f.sha256 : algo === 'md5' ? f.md5 : f.hashes?.[algo];
  return hex === undefined ? `#sha256=${f.sha256}` : `#${algo}=${hex}`;
}

/** PEP 629: 1.1 because the JSON pages carry PEP 700's versions, size and upload-time. */
export const API_VERSION = '1.1';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Safe in text and in quoted attribute values alike. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** A file's URL path below the server root, without a leading slash: `packages/<relpath>`, each segment encoded. */
export function packagePath(relpath: string): string {
  return `packages/${encodePath(relpath)}`;
}

function encodePath(relpath: string): string {
  return relpath.split('/').map(encodeURIComponent).join('/');
}

/** A file's URL relative to a page `fromDepth` folders below the root (relative, so a path prefix in front keeps working). */
function fileHref(f: ListedFile, fromDepth: number): string {
  return '../'.repeat(fromDepth) + packagePath(f.relpath);
}

/** PEP 700 wants microseconds and a Z: 2024-05-01T10:00:00.123000Z. */
function uploadTime(iso: string): string {
  return iso.replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function htmlPage(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="pypi:repository-version" content="${API_VERSION}">
    <title>${escapeHtml(title)}</title>
  </head>
  <body>
    <h1>${escapeHtml(title)}</h1>
${body}  </body>
</html>
`;
}

export function renderRootHtml(snapshot: ProjectList): string {
  let body = '';
  for (const name of snapshot.projectNames) {
    body += `    <a href="${encodeURIComponent(name)}/">${escapeHtml(name)}</a><br>\n`;
  }
  return htmlPage('Simple index', body);
}

export function renderRootJson(snapshot: ProjectList): string {
  return JSON.stringify({
    meta: { 'api-version': API_VERSION },
    projects: snapshot.projectNames.map((n) => ({ name: snapshot.projects.get(n)?.displayName ?? n })),
  });
}

/** One file as a project page lists it, wherever the file comes from (the volume or the upstream). */
export interface SimpleFile {
  filename: string;
  /** Relative to the project page. */
  url: string;
  sha256: string;
  /** The HTML link's `#algo=hex` fragment ('' for none). */
  fragment: string;
  requiresPython: string | null;
  /** sha256 of the PEP 658 metadata file, null when there is none. */
  coreMetadata: string | null;
  /** PEP 592: false, or the reason ('' when none was given). */
  yanked: false | string;
  /** null leaves the field out (PEP 700 makes it mandatory only from api-version 1.1). */
  size: number | null;
  uploadTime: string | null;
}

/**
 * PEP 503 project page with PEP 592/658 attributes; PEP 714: only `data-core-metadata`, never the
 * old name pips misread.
 */
export function renderSimpleHtml(displayName: string, files: readonly SimpleFile[]): string {
  let body = '';
  for (const f of files) {
    let attrs = `href="${escapeHtml(f.url)}${f.fragment}"`;
    if (f.requiresPython) attrs += ` data-requires-python="${escapeHtml(f.requiresPython)}"`;
    if (f.coreMetadata) attrs += ` data-core-metadata="sha256=${f.coreMetadata}"`;
    if (f.yanked !== false) attrs += ` data-yanked="${escapeHtml(f.yanked)}"`;
    body += `    <a ${attrs}>${escapeHtml(f.filename)}</a><br>\n`;
  }
  return htmlPage(`Links for ${displayName}`, body);
}

/** PEP 691 + PEP 700 project page. */
export function renderSimpleJson(
  name: string,
  versions: readonly string[],
  files: readonly SimpleFile[],
  apiVersion = API_VERSION,
): string {
  return JSON.stringify({
    meta: { 'api-version': apiVersion },
    name,
    versions,
    files: files.map((f) => ({
      filename: f.filename,
      url: f.url,
      hashes: { sha256: f.sha256 },
      ...(f.requiresPython ? { 'requires-python': f.requiresPython } : {}),
      'core-metadata': f.coreMetadata ? { sha256: f.coreMetadata } : false,
      yanked: f.yanked === false ? false : f.yanked === '' ? true : f.yanked,
      ...(f.size !== null ? { size: f.size } : {}),
      ...(f.uploadTime !== null ? { 'upload-time': f.uploadTime } : {}),
    })),
  });
}

function simpleFile(f: ListedFile, hashAlgo: LinkHash | null): SimpleFile {
  return {
    filename: f.filename,
    url: fileHref(f, 2),
    sha256: f.sha256,
    fragment: fragment(f, hashAlgo),
    requiresPython: f.requiresPython,
    coreMetadata: f.metadataSha256,
    yanked: f.yanked,
    size: f.size,
    uploadTime: uploadTime(f.uploadTime),
  };
}

/** A local project's simple page in HTML; `hashAlgo` is the links' fragment (--hash-algo), null for none. */
export function renderProjectHtml(project: ListedProject, hashAlgo: LinkHash | null = 'sha256'): string {
  return renderSimpleHtml(
    project.displayName,
    project.files.map((f) => simpleFile(f, hashAlgo)),
  );
}

/** A local project's simple page in JSON. */
export function renderProjectJson(project: ListedProject): string {
  return renderSimpleJson(
    project.name,
    project.versions,
    project.files.map((f) => simpleFile(f, 'sha256')),
  );
}

/** `/packages/`: every file, like pypiserver's listing. */
export function renderPackagesHtml(all: Iterable<ListedFile>, hashAlgo: LinkHash | null = 'sha256'): string {
  const files = [...all].sort((a, b) => (a.relpath < b.relpath ? -1 : 1));
  let body = '';
  for (const f of files) {
    body += `    <a href="${escapeHtml(encodePath(f.relpath))}${fragment(f, hashAlgo)}">${escapeHtml(f.relpath)}</a><br>\n`;
  }
  return htmlPage('Index of packages', body);
}

/** The file whose metadata describes a release on the JSON API: its wheel if any, else any file with metadata. */
export function infoFile<F extends ListedFile>(project: { files: readonly F[] }, version: string): F | undefined {
  const files = project.files.filter((f) => f.version === version);
  return files.find((f) => f.packagetype === 'bdist_wheel' && f.info) ?? files.find((f) => f.info);
}

/**
 * Warehouse's `/pypi/<project>/json` and `/pypi/<project>/<version>/json`.
 * `version` undefined means the latest, with every release listed.
 */
export function renderWarehouseJson(
  project: ListedProject,
  baseUrl: string,
  version: string | undefined,
  description: string | null,
): string {
  const fileJson = (f: ListedFile) => ({
    comment_text: '',
    'core-metadata': f.metadataSha256 ? { sha256: f.metadataSha256 } : false,
    digests: { blake2b_256: f.blake2b256, md5: f.md5, sha256: f.sha256 },
    downloads: -1,
    filename: f.filename,
    has_sig: false,
    md5_digest: f.md5,
    packagetype: f.packagetype,
    python_version: f.pythonVersion,
    requires_python: f.requiresPython,
    size: f.size,
    upload_time: f.uploadTime.replace(/\.\d+Z$/, ''),
    upload_time_iso_8601: uploadTime(f.uploadTime),
    url: `${baseUrl}/${packagePath(f.relpath)}`,
    yanked: f.yanked !== false,
    yanked_reason: f.yanked === false || f.yanked === '' ? null : f.yanked,
  });
  const shown = version ?? project.latest;
  const files = project.files.filter((f) => f.version === shown);
  const meta = infoFile(project, shown)?.info ?? null;
  const projectUrl = `${baseUrl}/project/${project.name}/`;
  const info = {
    author: meta?.author ?? '',
    author_email: meta?.authorEmail ?? '',
    bugtrack_url: null,
    classifiers: meta?.classifiers ?? [],
    description: description ?? '',
    description_content_type: meta?.descriptionContentType ?? null,
    docs_url: null,
    download_url: meta?.downloadUrl ?? '',
    downloads: { last_day: -1, last_month: -1, last_week: -1 },
    dynamic: meta?.dynamic ?? [],
    home_page: meta?.homePage ?? '',
    keywords: meta?.keywords ?? '',
    license: meta?.license ?? '',
    license_expression: meta?.licenseExpression ?? null,
    license_files: meta?.licenseFiles ?? [],
    maintainer: meta?.maintainer ?? '',
    maintainer_email: meta?.maintainerEmail ?? '',
    name: meta?.name ?? project.displayName,
    package_url: projectUrl,
    platform: meta?.platform.join(', ') || null,
    project_url: projectUrl,
    project_urls: meta && Object.keys(meta.projectUrls).length ? meta.projectUrls : null,
    provides_extra: meta?.providesExtra ?? [],
    release_url: `${projectUrl}${shown}/`,
    requires_dist: meta && meta.requiresDist.length ? meta.requiresDist : null,
    requires_python: files.find((f) => f.requiresPython)?.requiresPython ?? '',
    summary: meta?.summary ?? '',
    version: shown,
    yanked: files.length > 0 && files.every((f) => f.yanked !== false),
    yanked_reason: files.find((f) => f.yanked)?.yanked || null,
  };
  return warehouseBody(info, project.versions, project.files, files, fileJson, version === undefined);
}

/**
 * Warehouse's JSON API around its `info`: every release's files on the project URL (none on a
 * release URL), then the shown release's files as `urls`.
 */
export function warehouseBody<F extends { version: string }>(
  info: object,
  versions: readonly string[],
  all: readonly F[],
  shown: readonly F[],
  fileJson: (f: F) => unknown,
  withReleases: boolean,
): string {
  const body: Record<string, unknown> = { info, last_serial: 0 };
  if (withReleases) {
    const releases: Record<string, unknown[]> = {};
    for (const v of versions) releases[v] = all.filter((f) => f.version === v).map(fileJson);
    body.releases = releases;
  }
  body.urls = shown.map(fileJson);
  body.vulnerabilities = [];
  return JSON.stringify(body);
}
