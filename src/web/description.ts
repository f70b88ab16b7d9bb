import MarkdownIt from 'markdown-it';
import sanitizeHtml from 'sanitize-html';
import { html, trusted, type Html } from './html.js';

export type DescriptionFormat = 'markdown' | 'rst' | 'plain';

/**
 * The format a `Description-Content-Type` names. Without one, core metadata says
 * reStructuredText (as PyPI assumes); an unknown type is shown as plain text.
 */
export function descriptionFormat(contentType: string | null): DescriptionFormat {
  const type = ((contentType ?? 'text/x-rst').split(';')[0] ?? '').trim().toLowerCase();
  if (type === 'text/markdown') return 'markdown';
  if (type === 'text/x-rst') return 'rst';
  return 'plain';
}

// Raw HTML is allowed in: READMEs use it (centred logos, <details>), and the sanitizer below is
// what decides what survives, not the Markdown parser.
const markdown = new MarkdownIt({ html: true, linkify: true, typographer: false });

/** An absolute http(s) URL, or null: the only links a metadata string may become. */
export function httpUrl(value: string | null | undefined): string | null {
  if (!value) return null;
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
}

const LINK_REL = 'nofollow noopener';

// The tags and attributes PyPI's README renderer keeps, less anything that loads, runs or styles:
// no style attribute, no class but ours, no id (an id could shadow the page's own anchors), no
// form, no media, no image (the page loads nothing from elsewhere, and its Content-Security-Policy
// would block it anyway).
const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: (
    'a abbr acronym b blockquote br code dd del details div dl dt em h1 h2 h3 h4 h5 h6 hr i ins kbd li ol p pre s samp ' +
    'small span strike strong sub summary sup table tbody td tfoot th thead tr tt u ul var'
  ).split(' '),
  allowedAttributes: {
    a: ['href', 'title', 'rel'],
    span: ['class'],
    pre: ['tabindex'],
    table: ['tabindex'],
    abbr: ['title'],
    acronym: ['title'],
    details: ['open'],
    ol: ['start', 'reversed'],
    th: ['align', 'colspan', 'rowspan', 'scope'],
    td: ['align', 'colspan', 'rowspan'],
  },
  allowedClasses: { span: ['image-alt'] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: {},
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  // Dropped with everything inside them, not only their tags.
  nonTextTags: 'script style textarea option noscript title iframe object embed svg math template select'.split(' '),
  parseStyleAttributes: false,
  transformTags: {
    a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, rel: LINK_REL } }),
    // An image shows as its alt text: the page loads nothing from elsewhere, and an image inside a
    // link (a badge) keeps the link readable.
    img: (_tagName, attribs) => ({
      tagName: 'span',
      attribs: { class: 'image-alt' },
      text: (attribs.alt ?? '').trim() || (attribs.title ?? '').trim() || 'image',
    }),
    // Code and wide tables scroll sideways: a keyboard must be able to reach them to scroll.
    pre: (tagName) => ({ tagName, attribs: { tabindex: '0' } }),
    table: (tagName) => ({ tagName, attribs: { tabindex: '0' } }),
    // The page has its own h1 and a "Description" h2: the README's outline goes below them.
    h1: 'h3',
    h2: 'h4',
    h3: 'h5',
    h4: 'h6',
    h5: 'h6',
  },
};

/** The home page text an operator gives (--welcome): HTML as pypiserver's welcome.html is, or Markdown. */
export interface Welcome {
  text: string;
  format: 'html' | 'markdown';
}

/** What pypiserver's welcome template could name, as wheelhouse knows it. */
export interface WelcomeValues {
  /** The index's root URL as the client reached it, with a trailing slash. */
  url: string;
  version: string;
  /** How many distribution files the index serves. */
  files: number;
  /** Paths of the file listing and of the simple index. */
  packages: string;
  simple: string;
}

// Bottle's {{NAME}} and {{!NAME}}, the names pypiserver's template gets.
const TEMPLATE_NAME = /\{\{\s*!?\s*(URL|VERSION|NUMPKGS|PACKAGES|SIMPLE)\s*\}\}/g;

/**
 * The operator's welcome text as markup safe to put in a page: pypiserver's template names filled
 * in, Markdown rendered, and the result through the same sanitizer as descriptions (the file is
 * the operator's, but a page of this server never carries a script, whoever wrote it).
 */
export function renderWelcome(welcome: Welcome, values: WelcomeValues): Html {
  const named: Record<string, string> = {
    URL: values.url,
    VERSION: values.version,
    NUMPKGS: String(values.files),
    PACKAGES: values.packages,
    SIMPLE: values.simple,
  };
  const text = welcome.text.replace(TEMPLATE_NAME, (_m, name: string) => named[name] ?? '');
  return trusted(sanitizeHtml(welcome.format === 'markdown' ? markdown.render(text) : text, SANITIZE));
}

/** More than any README needs; bounds the work one description can cost. */
const MAX_DESCRIPTION = 512 * 1024;

/**
 * A long description as markup safe to put in a page: Markdown rendered and sanitized;
 * reStructuredText and plain text as preformatted text. Null for an empty description.
 */
export function renderDescription(text: string | null, contentType: string | null): Html | null {
  if (text === null || text.trim() === '') return null;
  const source = text.length > MAX_DESCRIPTION ? text.slice(0, MAX_DESCRIPTION) : text;
  if (descriptionFormat(contentType) === 'markdown') {
    return trusted(sanitizeHtml(markdown.render(source), SANITIZE));
  }
  return html`<pre class="readme-text">${source}</pre>`;
}
