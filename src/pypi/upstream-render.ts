import { API_VERSION, packagePath, renderSimpleHtml, renderSimpleJson, warehouseBody, type SimpleFile } from './render.js';
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

function simpleFile(f: UpstreamFile, sized: boolean): SimpleFile {
  return {
    filename: f.filename,
    url: fileHref(f),
    sha256: f.sha256,
    fragment: `#sha256=${f.sha256}`,
    requiresPython: f.requiresPython,
    coreMetadata: f.coreMetadata || null,
    yanked: f.yanked,
    size: sized ? f.size : null,
    uploadTime: f.uploadTime,
  };
}

/** An upstream project's simple page in HTML: the upstream gives sha256, so its links carry that. */
export function renderUpstreamProjectHtml(project: UpstreamListing): string {
  return renderSimpleHtml(
    project.name,
    project.files.map((f) => simpleFile(f, false)),
  );
}

/**
 * An upstream project's simple page in JSON. PEP 700 makes `size` mandatory from api-version 1.1,
 * and an upstream that only speaks HTML gives no sizes: such a page is served as 1.0, without
 * sizes, rather than with sizes made up.
 */
export function renderUpstreamProjectJson(project: UpstreamListing): string {
  const sized = project.files.every((f) => f.size !== null);
  return renderSimpleJson(
    project.name,
    project.versions,
    project.files.map((f) => simpleFile(f, sized)),
    sized ? API_VERSION : '1.0',
  );
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
  return warehouseBody(info, project.versions, project.files, files, fileJson, version === undefined);
}
