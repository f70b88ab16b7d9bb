import { API_VERSION, escapeHtml, htmlPage, packagePath } from './render.js';
import type { UpstreamFile } from './upstream-page.js';

/**
 * A project served from the upstream index, as this index's pages show it: every file under this
 * server's own `/packages/` URLs (flat, by filename), with what the upstream page said of it.
 */
export interface UpstreamListing {
  /** Normalized name. */
  name: string;
  /** Sorted by version, then filename. */
  files: readonly UpstreamFile[];
  /** Every version with files, ascending. */
  versions: readonly string[];
  /** Highest non-yanked final release, else highest non-yanked, else highest. */
  latest: string;
}

/** The file's URL relative to a project page (`/simple/<name>/`), as local files are linked. */
function fileHref(f: UpstreamFile): string {
  return `../../${packagePath(f.filename)}`;
}

/** PEP 503 project page with PEP 592/658 attributes; PEP 714: only `data-core-metadata`. */
export function renderUpstreamProjectHtml(project: UpstreamListing): string {
  let body = '';
  for (const f of project.files) {
    let attrs = `href="${escapeHtml(fileHref(f))}#sha256=${f.sha256}"`;
    if (f.requiresPython) attrs += ` data-requires-python="${escapeHtml(f.requiresPython)}"`;
    if (f.coreMetadata) attrs += ` data-core-metadata="sha256=${f.coreMetadata}"`;
    if (f.yanked !== false) attrs += ` data-yanked="${escapeHtml(f.yanked)}"`;
    body += `    <a ${attrs}>${escapeHtml(f.filename)}</a><br>\n`;
  }
  return htmlPage(`Links for ${project.name}`, body);
}

/**
 * PEP 691 project page. PEP 700 makes `size` mandatory from api-version 1.1, and an upstream that
 * only speaks HTML gives no sizes: such a page is served as 1.0, without sizes, rather than with
 * sizes made up.
 */
export function renderUpstreamProjectJson(project: UpstreamListing): string {
  const sized = project.files.every((f) => f.size !== null);
  return JSON.stringify({
    meta: { 'api-version': sized ? API_VERSION : '1.0' },
    name: project.name,
    versions: project.versions,
    files: project.files.map((f) => ({
      filename: f.filename,
      url: fileHref(f),
      hashes: { sha256: f.sha256 },
      ...(f.requiresPython ? { 'requires-python': f.requiresPython } : {}),
      'core-metadata': f.coreMetadata ? { sha256: f.coreMetadata } : false,
      yanked: f.yanked === false ? false : f.yanked === '' ? true : f.yanked,
      ...(sized && f.size !== null ? { size: f.size } : {}),
      ...(f.uploadTime !== null ? { 'upload-time': f.uploadTime } : {}),
    })),
  });
}

/**
 * Warehouse's `/pypi/<project>/json` for a project from upstream: releases and files as the
 * upstream page gives them (renovate and dependabot read versions from it). Nothing here comes
 * from the files' metadata, which this index has not read: `info` holds the name, the version and
 * what the files say.
 */
export function renderUpstreamWarehouseJson(project: UpstreamListing, baseUrl: string, version: string | undefined): string {
  const fileJson = (f: UpstreamFile) => ({
    comment_text: '',
    'core-metadata': f.coreMetadata ? { sha256: f.coreMetadata } : false,
    digests: { sha256: f.sha256 },
    downloads: -1,
    filename: f.filename,
    has_sig: false,
    packagetype: f.packagetype,
    python_version: f.packagetype === 'sdist' ? 'source' : (/-([^-]+)-[^-]+-[^-]+\.whl$/.exec(f.filename)?.[1] ?? ''),
    requires_python: f.requiresPython,
    size: f.size,
    upload_time: f.uploadTime?.replace(/\.\d+Z$|Z$/, '') ?? null,
    upload_time_iso_8601: f.uploadTime,
    url: `${baseUrl}/${packagePath(f.filename)}`,
    yanked: f.yanked !== false,
    yanked_reason: f.yanked === false || f.yanked === '' ? null : f.yanked,
  });
  const shown = version ?? project.latest;
  const files = project.files.filter((f) => f.version === shown);
  const projectUrl = `${baseUrl}/simple/${project.name}/`;
  const info = {
    name: project.name,
    version: shown,
    package_url: projectUrl,
    project_url: projectUrl,
    release_url: projectUrl,
    requires_python: files.find((f) => f.requiresPython)?.requiresPython ?? '',
    summary: '',
    yanked: files.length > 0 && files.every((f) => f.yanked !== false),
    yanked_reason: files.find((f) => f.yanked)?.yanked || null,
  };
  const body: Record<string, unknown> = { info, last_serial: 0 };
  if (version === undefined) {
    const releases: Record<string, unknown[]> = {};
    for (const v of project.versions) releases[v] = project.files.filter((f) => f.version === v).map(fileJson);
    body.releases = releases;
  }
  body.urls = files.map(fileJson);
  body.vulnerabilities = [];
  return JSON.stringify(body);
}
