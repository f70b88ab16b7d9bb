import { infoFile } from '../pypi/render.js';
import type { IndexedFile, Project } from '../index/snapshot.js';
import type { ProjectInfo } from '../pypi/metadata.js';
import { isPrerelease } from '../pypi/versions.js';
import { httpUrl, renderDescription } from './description.js';
import { formatDate, formatSize, formatTime, parseRequirement } from './format.js';
import { html, type Html } from './html.js';
import { indexUrl, layout, type SiteContext } from './layout.js';
import type { SiteUrls } from './urls.js';

export interface ProjectPageInput {
  project: Project;
  /** The release shown; the project's latest when not given (the project page). */
  version?: string;
  /** The long description of the shown release, read from its sidecar by the caller. */
  description: string | null;
  /** Whether a project (normalized name) is on this index: its dependencies link to it only then. */
  isLocal: (name: string) => boolean;
}

interface Release {
  version: string;
  files: IndexedFile[];
  /** Every file yanked: the release is (PEP 592 yanks releases). */
  yanked: boolean;
  reason: string;
  uploaded: string;
}

function releases(project: Project): Release[] {
  const byVersion = new Map<string, IndexedFile[]>();
  for (const f of project.files) {
    const list = byVersion.get(f.version);
    if (list) list.push(f);
    else byVersion.set(f.version, [f]);
  }
  return project.versions
    .map((version) => {
      const files = byVersion.get(version) ?? [];
      const yanked = files.length > 0 && files.every((f) => f.yanked !== false);
      const reason = files.map((f) => (f.yanked === false ? '' : f.yanked)).find((r) => r !== '') ?? '';
      const uploaded = files.map((f) => f.uploadTime).sort()[0] ?? '';
      return { version, files, yanked, reason, uploaded };
    })
    .reverse();
}

function badges(release: Release, latest: string): Html {
  return html`${release.version === latest ? html` <span class="badge badge-latest">latest</span>` : ''}${
    isPrerelease(release.version) ? html` <span class="badge badge-pre">pre-release</span>` : ''
  }${release.yanked ? html` <span class="badge badge-yanked">yanked</span>` : ''}`;
}

/** Project URLs a person can follow: http(s) only, each once, the home page first. */
function projectLinks(info: ProjectInfo | null): { label: string; url: string }[] {
  if (!info) return [];
  const seen = new Set<string>();
  const out: { label: string; url: string }[] = [];
  const add = (label: string, value: string | null) => {
    const url = httpUrl(value);
    if (!url || seen.has(url)) return;
    seen.add(url);
    out.push({ label: label.trim() || url, url });
  };
  add('Homepage', info.homePage);
  for (const [label, url] of Object.entries(info.projectUrls)) add(label, url);
  add('Download', info.downloadUrl);
  return out;
}

/** License fields sometimes hold the whole license text: its first line is what fits in a sidebar. */
function shortLicense(info: ProjectInfo): string | null {
  const text = info.licenseExpression ?? info.license;
  if (!text) return null;
  const first = (text.trim().split('\n')[0] ?? '').trim();
  return first.length > 80 ? `${first.slice(0, 77)}…` : first;
}

function person(name: string | null, email: string | null): string | null {
  // Emails are shown, not linked: the only links metadata may become are http(s) ones.
  if (name && email) return `${name} (${email})`;
  return name ?? email;
}

function sidebar(info: ProjectInfo | null, requiresPython: string | null): Html {
  const links = projectLinks(info);
  const meta: [string, string | null][] = info
    ? [
        ['License', shortLicense(info)],
        ['Author', person(info.author, info.authorEmail)],
        ['Maintainer', person(info.maintainer, info.maintainerEmail)],
        ['Requires Python', requiresPython],
        ['Keywords', info.keywords],
      ]
    : [['Requires Python', requiresPython]];
  const shown = meta.filter((m): m is [string, string] => m[1] !== null && m[1] !== '');
  return html`<div class="sidebar">
<nav class="page-nav" aria-label="On this page">
<h2>On this page</h2>
<ul>
<li><a href="#description">Description</a></li>
<li><a href="#dependencies">Dependencies</a></li>
<li><a href="#history">Release history</a></li>
<li><a href="#files">Files</a></li>
</ul>
</nav>
${
  links.length
    ? html`<h2>Project links</h2>
<ul class="links">
${links.map((l) => html`<li><a href="${l.url}" rel="nofollow noopener">${l.label}</a></li>\n`)}</ul>
`
    : ''
}${
    shown.length
      ? html`<h2>Meta</h2>
<dl>
${shown.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>\n`)}</dl>
`
      : ''
  }${
    info?.classifiers.length
      ? html`<h2>Classifiers</h2>
<ul class="classifiers">
${info.classifiers.map((c) => html`<li>${c}</li>\n`)}</ul>
`
      : ''
  }</div>`;
}

function dependencies(info: ProjectInfo | null, isLocal: (name: string) => boolean, urls: SiteUrls): Html {
  const values = info?.requiresDist ?? [];
  if (values.length === 0) return html`<p class="muted">None declared.</p>`;
  const groups = new Map<string, Html[]>();
  for (const value of values) {
    const req = parseRequirement(value);
    const item = !req
      ? html`<li>${value}</li>`
      : html`<li>${isLocal(req.project) ? html`<a href="${urls.project(req.project)}">${req.name}</a>` : html`<span>${req.name}</span>`}${
          req.rest ? html` <span class="muted">${req.rest}</span>` : ''
        }</li>`;
    const key = req?.extra ?? '';
    const list = groups.get(key);
    if (list) list.push(item);
    else groups.set(key, [item]);
  }
  const out: Html[] = [];
  const required = groups.get('');
  if (required) out.push(html`<ul class="deps">\n${required.map((i) => html`${i}\n`)}</ul>`);
  for (const [extra, items] of groups) {
    if (extra === '') continue;
    out.push(html`<h3>With the extra <code>${extra}</code></h3>\n<ul class="deps">\n${items.map((i) => html`${i}\n`)}</ul>`);
  }
  return html`${out.map((o) => html`${o}\n`)}`;
}

function fileEntry(f: IndexedFile, urls: SiteUrls): Html {
  // Known for uploads made with a login since uploaders were kept; never guessed otherwise.
  const uploader = f.uploader ?? null;
  const kind =
    f.packagetype === 'bdist_wheel' ? `Wheel (${f.pythonVersion})` : f.packagetype === 'sdist' ? 'Source' : `Egg (${f.pythonVersion})`;
  return html`<li>
<a class="filename" href="${urls.file(f.relpath)}">${f.filename}</a>${
    f.yanked === false ? '' : html` <span class="badge badge-yanked">yanked</span>`
  }
<dl>
<dt>Type</dt><dd>${kind}</dd>
<dt>Size</dt><dd>${formatSize(f.size)}</dd>
<dt>SHA256</dt><dd><code class="hash">${f.sha256}</code></dd>
<dt>Uploaded</dt><dd><time datetime="${f.uploadTime}">${formatTime(f.uploadTime)}</time></dd>
${uploader ? html`<dt>Uploaded by</dt><dd>${uploader}</dd>\n` : ''}${
    f.requiresPython ? html`<dt>Requires Python</dt><dd>${f.requiresPython}</dd>\n` : ''
  }</dl>
</li>
`;
}

function historyEntry(r: Release, shown: string, project: Project, urls: SiteUrls): Html {
  const current = r.version === shown;
  const when = html`<span class="when"><time datetime="${r.uploaded}">${formatDate(r.uploaded)}</time></span>`;
  return html`<li${current ? html` class="current"` : ''}><a href="${urls.release(project.name, r.version)}"${
    current ? html` aria-current="page"` : ''
  }>${r.version}</a>${badges(r, project.latest)}${r.yanked && r.reason ? html` <span class="muted">${r.reason}</span>` : ''}${when}</li>
`;
}

/** `/project/<name>/` and `/project/<name>/<version>/`, modelled on PyPI's project pages. */
export function renderProjectPage(site: SiteContext, input: ProjectPageInput): string {
  const { project, isLocal } = input;
  const { urls } = site;
  const shown = input.version ?? project.latest;
  const all = releases(project);
  const release = all.find((r) => r.version === shown) ?? { version: shown, files: [], yanked: false, reason: '', uploaded: '' };
  const info = infoFile(project, shown)?.info ?? null;
  const requiresPython = release.files.find((f) => f.requiresPython)?.requiresPython ?? null;
  const name = project.displayName;
  const pinned = input.version !== undefined;
  // A yanked release installs only when pinned (PEP 592), so its line pins it.
  const install = `pip install --index-url ${indexUrl(site)} ${project.name}${pinned || release.yanked ? `==${shown}` : ''}`;
  const latestUrl = urls.release(project.name, project.latest);
  const description = renderDescription(input.description, info?.descriptionContentType ?? null);

  const main = html`<div class="band">
<div class="wrap">
<div class="title-row"><h1>${name} ${shown}</h1>${badges(release, project.latest)}</div>
${info?.summary ? html`<p class="summary">${info.summary}</p>\n` : ''}${
    release.yanked
      ? html`<div class="notice" role="note"><strong>This release is yanked.</strong> pip installs it only when pinned to it exactly${
          release.reason ? html`. Reason: ${release.reason}` : ''
        }.</div>\n`
      : ''
  }${
    shown !== project.latest
      ? html`<div class="notice notice-info" role="note">This is not the newest release of ${name}: that is <a href="${latestUrl}">${
          project.latest
        }</a>.</div>\n`
      : ''
  }<div class="install">
<p class="install-label" id="install-label">Install from this index</p>
<pre aria-labelledby="install-label"><code>${install}</code></pre>
</div>
</div>
</div>
<div class="wrap columns">
${sidebar(info, requiresPython)}
<div class="content">
<section aria-labelledby="description">
<h2 id="description">Description</h2>
${description ? html`<div class="readme">\n${description}\n</div>` : html`<p class="muted">This release has no description.</p>`}
</section>
<section aria-labelledby="dependencies">
<h2 id="dependencies">Dependencies</h2>
${dependencies(info, isLocal, urls)}</section>
<section aria-labelledby="history">
<h2 id="history">Release history</h2>
<ol class="releases">
${all.map((r) => historyEntry(r, shown, project, urls))}</ol>
</section>
<section aria-labelledby="files">
<h2 id="files">Files for ${name} ${shown}</h2>
<ul class="files">
${release.files.map((f) => fileEntry(f, urls))}</ul>
</section>
</div>
</div>`;
  return layout(site, { title: pinned ? `${name} ${shown}` : name, main });
}
