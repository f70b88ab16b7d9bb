/**
 * The one stylesheet of the pages for people. Kept as a string so it ships inside the build and is
 * served from memory under a content-hashed name. Colours meet WCAG AA contrast on their
 * backgrounds; layout is one column on a phone and two from 48rem up.
 */
export const STYLESHEET_TEXT = `
:root {
  --ink: #1b1f24;
  --muted: #4f5863;
  --paper: #ffffff;
  --band: #f3f5f8;
  --line: #d3d9e0;
  --brand: #17375e;
  --brand-ink: #ffffff;
  --link: #0a58a8;
  --focus: #f2a900;
  --ok-ink: #145a2a;
  --ok-bg: #e2f3e7;
  --warn-ink: #8a1b1b;
  --warn-bg: #fde9e9;
  --note-ink: #5b4300;
  --note-bg: #fff4d1;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  color-scheme: light;
}
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0; color: var(--ink); background: var(--paper);
  font: 1rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", sans-serif;
  overflow-wrap: break-word;
}
a { color: var(--link); text-underline-offset: 0.15em; }
a:hover { text-decoration-thickness: 2px; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; border-radius: 2px; }
h1, h2, h3 { line-height: 1.25; }
h1 { font-size: 1.9rem; margin: 0 0 0.25rem; }
h2 { font-size: 1.35rem; margin: 2rem 0 0.75rem; }
h3 { font-size: 1.1rem; margin: 1.25rem 0 0.5rem; }
code, pre, kbd, samp { font-family: var(--mono); font-size: 0.92em; }
pre {
  background: var(--band); border: 1px solid var(--line); border-radius: 6px; padding: 0.75rem 1rem;
  white-space: pre-wrap; overflow-wrap: anywhere;
}
.readme pre { white-space: pre; overflow-wrap: normal; overflow-x: auto; }
.wrap { max-width: 74rem; margin: 0 auto; padding: 0 1rem; }

.skip { position: absolute; left: -999px; top: 0; background: var(--paper); color: var(--link); padding: 0.5rem 1rem; z-index: 10; }
.skip:focus { left: 0.5rem; top: 0.5rem; }
.visually-hidden {
  position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}

.site-header { background: var(--brand); color: var(--brand-ink); }
.site-header .wrap {
  display: flex; flex-wrap: wrap; align-items: center; gap: 0.75rem 1.5rem; padding-top: 0.75rem;
  padding-bottom: 0.75rem;
}
.site-name { color: var(--brand-ink); font-weight: 700; font-size: 1.2rem; text-decoration: none; }
.site-name:hover { text-decoration: underline; }
.site-header :focus-visible { outline-color: var(--focus); }
.site-nav { display: flex; gap: 1rem; margin-left: auto; }
.site-nav a { color: var(--brand-ink); }
.search { display: flex; flex: 1 1 18rem; max-width: 32rem; }
.search input {
  flex: 1; min-width: 0; font: inherit; padding: 0.45rem 0.65rem; border: 1px solid #8a9bb0; border-right: 0;
  border-radius: 6px 0 0 6px; color: var(--ink); background: var(--paper);
}
.search button {
  font: inherit; padding: 0.45rem 0.9rem; border: 1px solid #8a9bb0; border-radius: 0 6px 6px 0;
  background: #e8edf3; color: var(--ink); cursor: pointer;
}
.search button:hover { background: #d5dde8; }
.search-big { max-width: 40rem; margin: 1rem 0 0; }
.search-big input { padding: 0.65rem 0.8rem; }

main { display: block; padding-bottom: 3rem; }
.band { background: var(--band); border-bottom: 1px solid var(--line); padding: 1.75rem 0 1.5rem; margin-bottom: 1.5rem; }
.band p { margin: 0.25rem 0; }
.summary { font-size: 1.1rem; color: var(--muted); }
.muted { color: var(--muted); }
.title-row { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.25rem 0.75rem; }

.install { margin-top: 1rem; max-width: 48rem; }
.install pre { background: var(--paper); margin: 0.25rem 0 0; }
.install-label { font-weight: 600; margin: 0; }

.badge {
  display: inline-block; font-size: 0.8rem; font-weight: 600; line-height: 1.4; padding: 0.05rem 0.5rem;
  border-radius: 999px; vertical-align: middle;
}
.badge-latest { color: var(--ok-ink); background: var(--ok-bg); }
.badge-yanked { color: var(--warn-ink); background: var(--warn-bg); }
.badge-pre { color: var(--note-ink); background: var(--note-bg); }

.notice {
  border-left: 4px solid var(--warn-ink); background: var(--warn-bg); color: var(--ink); padding: 0.75rem 1rem;
  margin: 1rem 0; border-radius: 0 6px 6px 0;
}
.notice-info { border-left-color: var(--note-ink); background: var(--note-bg); }

.columns { display: grid; grid-template-columns: minmax(0, 1fr); gap: 1.5rem; }
@media (min-width: 48rem) {
  .columns { grid-template-columns: 17rem minmax(0, 1fr); gap: 2.5rem; }
}
.sidebar h2 { font-size: 1.05rem; margin: 1.25rem 0 0.4rem; }
.sidebar h2:first-child { margin-top: 0; }
.sidebar ul { list-style: none; margin: 0; padding: 0; }
.sidebar li { margin: 0.2rem 0; }
.sidebar dl { margin: 0; }
.sidebar dt { font-weight: 600; margin-top: 0.5rem; }
.sidebar dd { margin: 0; }

.readme { line-height: 1.6; }
.readme h3 { font-size: 1.45rem; margin-top: 1.5rem; }
.readme h4 { font-size: 1.2rem; margin: 1.25rem 0 0.5rem; }
.readme h5, .readme h6 { font-size: 1rem; margin: 1rem 0 0.5rem; }
.readme a:not([href]) { color: inherit; }
.readme :first-child { margin-top: 0; }
.readme table { display: block; overflow-x: auto; border-collapse: collapse; margin: 1rem 0; }
.readme th, .readme td { border: 1px solid var(--line); padding: 0.35rem 0.65rem; text-align: left; }
.readme blockquote { margin: 1rem 0; padding: 0 1rem; color: var(--muted); border-left: 4px solid var(--line); }
.readme img { max-width: 100%; }
.readme .image-alt { border: 1px dashed var(--line); border-radius: 4px; padding: 0 0.3rem; font-size: 0.9em; }
.readme-text { white-space: pre-wrap; overflow-wrap: anywhere; }

.releases, .files, .results, .recent { list-style: none; margin: 0; padding: 0; }
.releases li {
  display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.25rem 0.75rem; padding: 0.45rem 0;
  border-bottom: 1px solid var(--line);
}
.releases .when { margin-left: auto; color: var(--muted); font-size: 0.92rem; }
.releases .current { font-weight: 700; }
.files li { border: 1px solid var(--line); border-radius: 6px; padding: 0.75rem 1rem; margin: 0 0 0.75rem; }
.files .filename { font-weight: 600; overflow-wrap: anywhere; }
.files dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.15rem 1rem; margin: 0.5rem 0 0; }
.files dt { color: var(--muted); }
.files dd { margin: 0; }
.hash { overflow-wrap: anywhere; word-break: break-all; }

.results li, .recent li { padding: 0.75rem 0; border-bottom: 1px solid var(--line); }
.results .name, .recent .name { font-weight: 600; font-size: 1.05rem; }
.results p, .recent p { margin: 0.15rem 0 0; }
.names { columns: 14rem; padding-left: 1.1rem; }

.site-footer { border-top: 1px solid var(--line); color: var(--muted); font-size: 0.9rem; padding: 1.25rem 0 2rem; }
.site-footer ul { list-style: none; display: flex; flex-wrap: wrap; gap: 0.5rem 1.25rem; padding: 0; margin: 0; }

@media (max-width: 30rem) {
  h1 { font-size: 1.55rem; }
  .site-nav { margin-left: 0; }
  .releases .when { margin-left: 0; width: 100%; }
}
@media print {
  .site-header, .search, .site-footer, .skip { display: none; }
}
`;
