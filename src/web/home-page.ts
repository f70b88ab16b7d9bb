import { infoFile } from '../pypi/render.js';
import type { Project } from '../index/snapshot.js';
import { formatTime } from './format.js';
import { html, type Html } from './html.js';
import { indexUrl, layout, searchForm, uploadUrl, type SiteContext } from './layout.js';

export interface RecentRelease {
  project: Project;
  version: string;
  /** When its newest file came. */
  uploaded: string;
  summary: string;
}

/** The `limit` releases that got a file most recently, newest first. */
export function recentReleases(projects: Iterable<Project>, limit: number): RecentRelease[] {
  const top: { project: Project; version: string; uploaded: string }[] = [];
  for (const project of projects) {
    const newest = new Map<string, string>();
    for (const f of project.files) {
      const t = newest.get(f.version);
      if (t === undefined || f.uploadTime > t) newest.set(f.version, f.uploadTime);
    }
    for (const [version, uploaded] of newest) {
      const last = top.at(-1);
      if (top.length === limit && last && uploaded <= last.uploaded) continue;
      let i = top.length;
      while (i > 0 && (top[i - 1]?.uploaded ?? '') < uploaded) i--;
      top.splice(i, 0, { project, version, uploaded });
      if (top.length > limit) top.pop();
    }
  }
  return top.map((r) => ({ ...r, summary: infoFile(r.project, r.version)?.info?.summary ?? '' }));
}

export interface HomePageInput {
  projectCount: number;
  fileCount: number;
  recent: readonly RecentRelease[];
  /** Every project, for the list at the end; null where there are too many to list. */
  projects: readonly Project[] | null;
  /** The operator's text (--welcome), rendered and sanitized; null for none. */
  welcome?: Html | null;
}

function usage(site: SiteContext): Html {
  const simple = indexUrl(site);
  const upload = uploadUrl(site);
  return html`<h2 id="use">Use this index</h2>
<h3>Install with pip</h3>
<pre><code>pip install --index-url ${simple} PACKAGE</code></pre>
<p>or for good, in <code>pip.conf</code>:</p>
<pre><code>[global]
index-url = ${simple}</code></pre>
<h3>Upload with twine</h3>
<pre><code>twine upload --repository-url ${upload} dist/*</code></pre>
<p>or in <code>~/.pypirc</code>:</p>
<pre><code>[distutils]
index-servers = wheelhouse

[wheelhouse]
repository = ${upload}
username = USER</code></pre>
<h3>poetry</h3>
<pre><code>poetry source add --priority=primary wheelhouse ${simple}
poetry config repositories.wheelhouse ${upload}
poetry publish -r wheelhouse</code></pre>`;
}

/** `/`: a search box, what changed lately, and how to point pip, twine and poetry here. */
export function renderHomePage(site: SiteContext, input: HomePageInput): string {
  const { urls } = site;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const main = html`<div class="band">
<div class="wrap">
<h1>wheelhouse</h1>
<p class="summary">A private Python package index: ${plural(input.projectCount, 'project')}, ${plural(input.fileCount, 'file')}.</p>
${searchForm(site, { id: 'home-q', big: true })}
</div>
</div>
<div class="wrap columns">
<div class="sidebar">
<nav class="page-nav" aria-label="On this page">
<h2>On this page</h2>
<ul>
<li><a href="#recent">Recent uploads</a></li>
<li><a href="#use">Use this index</a></li>
${input.projects ? html`<li><a href="#projects">All projects</a></li>` : ''}
</ul>
</nav>
<h2>Indexes</h2>
<ul>
<li><a href="${urls.simple()}">Simple index</a> (for pip)</li>
<li><a href="${urls.packages()}">All files</a></li>
<li><a href="${urls.health()}">Health</a></li>
</ul>
</div>
<div class="content">
${
  input.welcome
    ? html`<section class="readme welcome" aria-label="About this index">
${input.welcome}
</section>
`
    : ''
}<h2 id="recent">Recent uploads</h2>
${
  input.recent.length
    ? html`<ol class="recent">
${input.recent.map(
  (r) => html`<li>
<a class="name" href="${urls.release(r.project.name, r.version)}">${r.project.displayName} ${r.version}</a>
<span class="muted">· <time datetime="${r.uploaded}">${formatTime(r.uploaded)}</time></span>
${r.summary ? html`<p>${r.summary}</p>` : ''}
</li>
`,
)}</ol>`
    : html`<p class="muted">Nothing has been uploaded yet.</p>`
}
${usage(site)}
${
  input.projects
    ? html`<h2 id="projects">All projects</h2>
<ul class="names">
${input.projects.map((p) => html`<li><a href="${urls.project(p.name)}">${p.displayName}</a></li>\n`)}</ul>`
    : ''
}
</div>
</div>`;
  return layout(site, { title: 'Private Python package index', main, headerSearch: false });
}
