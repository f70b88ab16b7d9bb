import type { IndexedFile, Project, Snapshot } from './snapshot.js';

/** PEP 629: 1.1 because the JSON pages carry PEP 700's versions, size and upload-time. */
export const API_VERSION = '1.1';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** URL path of a file relative to `/simple/<project>/` (relative so a path prefix in front of the server keeps working). */
function fileHref(f: IndexedFile, fromDepth: number): string {
  return `${'../'.repeat(fromDepth)}packages/${f.relpath.split('/').map(encodeURIComponent).join('/')}`;
}

/** PEP 700 wants microseconds and a Z: 2024-05-01T10:00:00.123000Z. */
function uploadTime(iso: string): string {
  return iso.replace(/\.(\d{3})Z$/, '.$1000Z');
}

function htmlPage(title: string, body: string): string {
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

export function renderRootHtml(snapshot: Snapshot): string {
  let body = '';
  for (const name of snapshot.projectNames) {
    body += `    <a href="${encodeURIComponent(name)}/">${escapeHtml(name)}</a><br>\n`;
  }
  return htmlPage('Simple index', body);
}

export function renderRootJson(snapshot: Snapshot): string {
  return JSON.stringify({
    meta: { 'api-version': API_VERSION },
    projects: snapshot.projectNames.map((n) => ({ name: snapshot.projects.get(n)!.displayName })),
  });
}

/** PEP 503 project page with PEP 592/658/714 attributes (never `data-dist-info-metadata`: R14). */
export function renderProjectHtml(project: Project): string {
  let body = '';
  for (const f of project.files) {
    let attrs = `href="${escapeHtml(fileHref(f, 2))}#sha256=${f.sha256}"`;
    if (f.requiresPython) attrs += ` data-requires-python="${escapeHtml(f.requiresPython)}"`;
    if (f.metadataSha256) attrs += ` data-core-metadata="sha256=${f.metadataSha256}"`;
    if (f.yanked !== false) attrs += ` data-yanked="${escapeHtml(f.yanked)}"`;
    body += `    <a ${attrs}>${escapeHtml(f.filename)}</a><br>\n`;
  }
  return htmlPage(`Links for ${project.displayName}`, body);
}

/** PEP 691 + PEP 700 project page. */
export function renderProjectJson(project: Project): string {
  return JSON.stringify({
    meta: { 'api-version': API_VERSION },
    name: project.name,
    versions: project.versions,
    files: project.files.map((f) => ({
      filename: f.filename,
      url: fileHref(f, 2),
      hashes: { sha256: f.sha256 },
      ...(f.requiresPython ? { 'requires-python': f.requiresPython } : {}),
      'core-metadata': f.metadataSha256 ? { sha256: f.metadataSha256 } : false,
      yanked: f.yanked === false ? false : f.yanked === '' ? true : f.yanked,
      size: f.size,
      'upload-time': uploadTime(f.uploadTime),
    })),
  });
}

/** `/packages/`: every file, like pypiserver's listing. */
export function renderPackagesHtml(snapshot: Snapshot): string {
  const files = [...snapshot.byRelpath.values()].sort((a, b) => (a.relpath < b.relpath ? -1 : 1));
  let body = '';
  for (const f of files) {
    body += `    <a href="${escapeHtml(f.relpath.split('/').map(encodeURIComponent).join('/'))}#sha256=${f.sha256}">${escapeHtml(f.relpath)}</a><br>\n`;
  }
  return htmlPage('Index of packages', body);
}

/** The file whose metadata describes a release on the JSON API: its wheel if any, else any file with metadata. */
export function infoFile(project: Project, version: string): IndexedFile | undefined {
  const files = project.files.filter((f) => f.version === version);
  return files.find((f) => f.packagetype === 'bdist_wheel' && f.info) ?? files.find((f) => f.info);
}

/**
 * Warehouse's `/pypi/<project>/json` (R30) and `/pypi/<project>/<version>/json` (R31).
 * `version` undefined means the latest, with every release listed.
 */
export function renderWarehouseJson(project: Project, baseUrl: string, version: string | undefined, description: string | null): string {
  const fileJson = (f: IndexedFile) => ({
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
    url: `${baseUrl}/packages/${f.relpath.split('/').map(encodeURIComponent).join('/')}`,
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
  const body: Record<string, unknown> = { info, last_serial: 0 };
  if (version === undefined) {
    const releases: Record<string, unknown[]> = {};
    for (const v of project.versions) releases[v] = [];
    for (const f of project.files) releases[f.version]!.push(fileJson(f));
    body.releases = releases;
  }
  body.urls = files.map(fileJson);
  body.vulnerabilities = [];
  return JSON.stringify(body);
}

/** `GET /`: what a person needs to start using this index. */
export function renderWelcome(snapshot: Snapshot, baseUrl: string, version: string): string {
  const list = snapshot.projectNames
    .map((n) => {
      const p = snapshot.projects.get(n)!;
      return `      <li><a href="simple/${encodeURIComponent(n)}/">${escapeHtml(p.displayName)}</a> ${escapeHtml(p.latest)}</li>`;
    })
    .join('\n');
  const b = escapeHtml(baseUrl);
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>wheelhouse</title>
    <style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;line-height:1.5}pre{background:#f4f4f4;padding:.75rem;overflow-x:auto}</style>
  </head>
  <body>
    <h1>wheelhouse</h1>
    <p>A private Python package index: ${snapshot.projects.size} projects, ${snapshot.fileCount} files. Version ${escapeHtml(version)}.</p>
    <h2>Install with pip</h2>
    <pre>pip install --index-url ${b}/simple/ PACKAGE</pre>
    <p>or for good, in <code>pip.conf</code>:</p>
    <pre>[global]
index-url = ${b}/simple/</pre>
    <h2>Upload with twine</h2>
    <pre>twine upload --repository-url ${b}/ dist/*</pre>
    <p>or in <code>~/.pypirc</code>:</p>
    <pre>[distutils]
index-servers = wheelhouse

[wheelhouse]
repository = ${b}/
username = USER</pre>
    <h2>poetry</h2>
    <pre>poetry source add --priority=primary wheelhouse ${b}/simple/
poetry config repositories.wheelhouse ${b}/
poetry publish -r wheelhouse</pre>
    <h2>Projects</h2>
    <p><a href="simple/">simple index</a> · <a href="packages/">all files</a> · <a href="health">health</a></p>
    <ul>
${list}
    </ul>
  </body>
</html>
`;
}
