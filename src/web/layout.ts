import { ICON, STYLESHEET } from './assets.js';
import { html, type Html } from './html.js';
import type { SiteUrls } from './urls.js';

/** What every page needs to know about where it is served. */
export interface SiteContext {
  urls: SiteUrls;
  /** `scheme://host` as the client reached the server: for the commands people copy (pip, twine). */
  origin: string;
  /** The server's version, shown in the footer. */
  version: string;
}

/** The index URL pip takes, absolute because it is pasted into a terminal. */
export function indexUrl(site: SiteContext): string {
  return `${site.origin}${site.urls.simple()}`;
}

/** The upload URL twine and poetry take. */
export function uploadUrl(site: SiteContext): string {
  return `${site.origin}${site.urls.home()}`;
}

export function searchForm(site: SiteContext, opts: { query?: string; id: string; big?: boolean }): Html {
  return html`<form class="search${opts.big ? ' search-big' : ''}" role="search" action="${site.urls.search()}" method="get">
<label class="visually-hidden" for="${opts.id}">Search projects</label>
<input id="${opts.id}" type="search" name="q" value="${opts.query ?? ''}" placeholder="Search projects" maxlength="200"
 autocomplete="off" spellcheck="false">
<button type="submit">Search</button>
</form>`;
}

export interface PageOptions {
  /** Shown in the tab; " · wheelhouse" is added. */
  title: string;
  main: Html;
  /** The header's search box is left out where the page has its own (home, search). */
  headerSearch?: boolean;
  query?: string;
}

/** The document around a page's main content: landmarks, skip link, one stylesheet, no script. */
export function layout(site: SiteContext, page: PageOptions): string {
  const { urls } = site;
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} · wheelhouse</title>
<link rel="stylesheet" href="${urls.asset(STYLESHEET.name)}">
<link rel="icon" type="image/svg+xml" href="${urls.asset(ICON.name)}">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site-header">
<div class="wrap">
<a class="site-name" href="${urls.home()}">wheelhouse</a>
${page.headerSearch === false ? '' : searchForm(site, { query: page.query, id: 'site-search' })}
</div>
</header>
<main id="main" tabindex="-1">
${page.main}
</main>
<footer class="site-footer">
<div class="wrap">
<ul>
<li><a href="${urls.home()}">Home</a></li>
<li><a href="${urls.simple()}">Simple index</a></li>
<li><a href="${urls.packages()}">All files</a></li>
<li>wheelhouse ${site.version}</li>
</ul>
</div>
</footer>
</body>
</html>
`.value;
}
