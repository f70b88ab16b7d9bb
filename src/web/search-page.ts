import type { SearchHit, SearchResult } from '../index/search.js';
import { formatDate } from './format.js';
import { html, type Html } from './html.js';
import { layout, searchForm, type SiteContext } from './layout.js';

export function resultList(site: SiteContext, hits: readonly SearchHit[]): Html {
  return html`<ol class="results">
${hits.map(
  ({ entry }) => html`<li>
<a class="name" href="${site.urls.project(entry.name)}">${entry.displayName}</a> <span class="muted">${entry.latest}</span>${
    entry.updated ? html` <span class="muted">· <time datetime="${entry.updated}">${formatDate(entry.updated)}</time></span>` : ''
  }
${entry.summary ? html`<p>${entry.summary}</p>` : ''}
</li>
`,
)}</ol>`;
}

/** `/search?q=`: the ranked hits for a query, or the box alone before one is typed. */
export function renderSearchPage(site: SiteContext, result: SearchResult): string {
  const { query, hits, total } = result;
  const heading = query === '' ? 'Search projects' : html`Results for “${query}”`;
  let status: Html | string;
  if (query === '') status = 'Type a project name, part of one, or words from its summary.';
  else if (total === 0) status = 'No project on this index matches.';
  else if (total > hits.length) status = `The best ${hits.length} of ${total} matching projects.`;
  else status = total === 1 ? '1 matching project.' : `${total} matching projects.`;
  const main = html`<div class="band">
<div class="wrap">
<h1>${heading}</h1>
${searchForm(site, { query, id: 'search-page-q', big: true })}
</div>
</div>
<div class="wrap">
<p role="status">${status}</p>
${hits.length ? resultList(site, hits) : ''}
</div>`;
  return layout(site, { title: query === '' ? 'Search' : `Search: ${query}`, main, headerSearch: false });
}
