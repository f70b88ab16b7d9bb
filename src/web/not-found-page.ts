import type { SearchHit } from '../index/search.js';
import { html } from './html.js';
import { layout, searchForm, type SiteContext } from './layout.js';
import { resultList } from './search-page.js';

/** A 404 a person can act on: what was not found, and the projects whose names come closest. */
export function renderNotFoundPage(
  site: SiteContext,
  input: { message: string; query: string; suggestions: readonly SearchHit[] },
): string {
  const main = html`<div class="band">
<div class="wrap">
<h1>Not found</h1>
<p>${input.message}</p>
${searchForm(site, { query: input.query, id: 'not-found-q', big: true })}
</div>
</div>
<div class="wrap">
${
  input.suggestions.length
    ? html`<h2>Projects with a similar name</h2>
${resultList(site, input.suggestions)}`
    : html`<p><a href="${site.urls.home()}">Back to the home page</a></p>`
}
</div>`;
  return layout(site, { title: 'Not found', main, headerSearch: false });
}
