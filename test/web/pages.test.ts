import { describe, expect, it } from 'vitest';
import { SearchIndex } from '../../src/index/search.js';
import { formatSize, formatTime, parseRequirement } from '../../src/web/format.js';
import { recentReleases, renderHomePage } from '../../src/web/home-page.js';
import type { SiteContext } from '../../src/web/layout.js';
import { renderNotFoundPage } from '../../src/web/not-found-page.js';
import { renderProjectPage } from '../../src/web/project-page.js';
import { renderSearchPage } from '../../src/web/search-page.js';
import { normalizeBasePath, siteUrls } from '../../src/web/urls.js';
import { distFile, infoOf, snapshotOf } from '../helpers/snapshot.js';

const site: SiteContext = { urls: siteUrls(''), origin: 'https://pypi.example.com', version: '9.9.9' };

const demo = [
  distFile('demo-pkg', '1.0', { displayName: 'Demo_Pkg', uploadTime: '2026-01-01T10:00:00.000Z' }),
  distFile('demo-pkg', '1.1', { displayName: 'Demo_Pkg', uploadTime: '2026-02-01T10:00:00.000Z' }),
  distFile('demo-pkg', '2.0', {
    displayName: 'Demo_Pkg',
    uploadTime: '2026-03-01T10:00:00.000Z',
    requiresPython: '>=3.9',
    size: 1_234_567,
    info: infoOf([
      'Name: Demo_Pkg',
      'Version: 2.0',
      'Summary: Does <b>demo</b> things',
      'Description-Content-Type: text/markdown',
      'Home-page: https://home.example/',
      'Project-URL: Source, https://git.example/demo',
      'Project-URL: Evil, javascript:alert(1)',
      'Project-URL: Relative, /etc/passwd',
      'Author: Ada <script>',
      'Author-email: ada@example.com',
      'License: MIT License\n        Permission is hereby granted',
      'Requires-Dist: local-dep>=1',
      'Requires-Dist: Remote_Dep[socks] (>=2) ; python_version < "3.11"',
      'Requires-Dist: Local_Dep ; extra == "extra-one"',
    ]),
  }),
  distFile('demo-pkg', '2.0', {
    displayName: 'Demo_Pkg',
    filename: 'demo_pkg-2.0.tar.gz',
    packagetype: 'sdist',
    pythonVersion: 'source',
    uploadTime: '2026-03-01T10:00:05.000Z',
  }),
  distFile('local-dep', '1.0', { uploadTime: '2025-06-01T00:00:00.000Z' }),
];
const yanks = new Map([['demo-pkg==1.1', 'Broken <wheel>']]);
const snapshot = snapshotOf(demo, yanks);
const project = snapshot.projects.get('demo-pkg')!;
const isLocal = (n: string) => snapshot.projects.has(n);

/** The markup on one line: the line breaks between tags are not what these tests are about. */
function flat(markup: string): string {
  return markup.replace(/\n/g, '');
}

function page(version?: string, description: string | null = '# Hello\n\n<script>alert(1)</script>text') {
  return flat(renderProjectPage(site, { project, version, description, isLocal }));
}

describe('siteUrls', () => {
  it('builds every link from one base path', () => {
    for (const base of ['/pypi', 'pypi', '/pypi/', 'pypi/']) expect(normalizeBasePath(base)).toBe('/pypi');
    expect(normalizeBasePath('/')).toBe('');
    const u = siteUrls('/pypi/');
    expect(u.home()).toBe('/pypi/');
    expect(u.project('a-b')).toBe('/pypi/project/a-b/');
    expect(u.release('a', '1.0+local')).toBe('/pypi/project/a/1.0%2Blocal/');
    expect(u.search('x y&z')).toBe('/pypi/search?q=x%20y%26z');
    expect(u.file('sub/a b-1.0.tar.gz')).toBe('/pypi/packages/sub/a%20b-1.0.tar.gz');
    expect(siteUrls().project('a')).toBe('/project/a/');
  });

  it('leaves no path in a page that does not come from it', () => {
    const prefixed: SiteContext = { ...site, urls: siteUrls('/pypi') };
    const pages = [
      renderProjectPage(prefixed, { project, description: null, isLocal }),
      renderHomePage(prefixed, {
        projectCount: 2,
        fileCount: 5,
        recent: recentReleases(snapshot.projects.values(), 5),
        projects: [project],
      }),
      renderSearchPage(prefixed, SearchIndex.build(snapshot).search('demo')),
      renderNotFoundPage(prefixed, { message: 'x', query: 'x', suggestions: [] }),
    ];
    for (const p of pages) {
      const paths = [...p.matchAll(/(?:href|action)="([^"]*)"/g)].map((m) => m[1]!).filter((h) => !/^(https?:|#)/.test(h));
      expect(paths.length).toBeGreaterThan(3);
      expect(paths.filter((h) => !h.startsWith('/pypi/') && h !== '/pypi/search')).toEqual([]);
    }
  });
});

describe('renderProjectPage', () => {
  it('shows the latest release: name, summary escaped, the pip line for this index, requires-python', () => {
    const out = page();
    expect(out).toContain('<h1>Demo_Pkg 2.0</h1>');
    expect(out).toContain('<p class="summary">Does &lt;b&gt;demo&lt;/b&gt; things</p>');
    expect(out).toContain('<code>pip install --index-url https://pypi.example.com/simple/ demo-pkg</code>');
    expect(out).toContain('<dt>Requires Python</dt><dd>&gt;=3.9</dd>');
    expect(out).toContain('<title>Demo_Pkg · wheelhouse</title>');
  });

  it('renders the description it is given, sanitized', () => {
    const out = page();
    expect(out).toContain('<h3>Hello</h3>');
    expect(out).toContain('text');
    expect(out).not.toContain('<script>alert(1)');
    expect(page(undefined, null)).toContain('This release has no description.');
  });

  it('links dependencies only to projects on this index, grouped by extra', () => {
    const out = page();
    expect(out).toContain('<li><a href="/project/local-dep/">local-dep</a> <span class="muted">&gt;=1</span></li>');
    expect(out).toContain(
      '<li><span>Remote_Dep</span> <span class="muted">[socks] (&gt;=2) ; python_version &lt; &quot;3.11&quot;</span></li>',
    );
    expect(out).not.toContain('href="/project/remote-dep/"');
    expect(out).toMatch(
      /<h3>With the extra <code>extra-one<\/code><\/h3><ul class="deps"><li><a href="\/project\/local-dep\/">Local_Dep<\/a>/,
    );
  });

  it('links project URLs only when they are http(s), with rel="nofollow noopener"', () => {
    const out = page();
    expect(out).toContain('<li><a href="https://home.example/" rel="nofollow noopener">Homepage</a></li>');
    expect(out).toContain('<li><a href="https://git.example/demo" rel="nofollow noopener">Source</a></li>');
    expect(out).not.toContain('javascript:');
    expect(out).not.toContain('/etc/passwd');
    expect(out).not.toContain('>Evil<');
  });

  it('shows people as text (no mailto) and only the first line of a license text', () => {
    const out = page();
    expect(out).toContain('<dd>Ada &lt;script&gt; (ada@example.com)</dd>');
    expect(out).not.toContain('mailto:');
    expect(out).toContain('<dd>MIT License</dd>');
    expect(out).not.toContain('Permission is hereby granted');
  });

  it('lists the release history newest first, marking the latest, the current one and a yanked one with its reason', () => {
    const out = page('1.1');
    const history = out.slice(out.indexOf('<ol class="releases">'), out.indexOf('</ol>', out.indexOf('<ol class="releases">')));
    const versions = [...history.matchAll(/<a href="\/project\/demo-pkg\/([^/]+)\/"/g)].map((m) => m[1]);
    expect(versions).toEqual(['2.0', '1.1', '1.0']);
    expect(history).toContain('<a href="/project/demo-pkg/2.0/">2.0</a> <span class="badge badge-latest">latest</span>');
    expect(history).toContain(
      '<li class="current"><a href="/project/demo-pkg/1.1/" aria-current="page">1.1</a> ' +
        '<span class="badge badge-yanked">yanked</span> <span class="muted">Broken &lt;wheel&gt;</span>',
    );
    expect(history).not.toMatch(/1\.0<\/a> <span class="badge/);
  });

  it('warns on a yanked release and pins it in the pip line, and points an old release to the newest', () => {
    const out = page('1.1');
    expect(out).toContain('<strong>This release is yanked.</strong>');
    expect(out).toContain('Reason: Broken &lt;wheel&gt;');
    expect(out).toContain('demo-pkg==1.1</code>');
    expect(out).toContain('that is <a href="/project/demo-pkg/2.0/">2.0</a>');
    expect(page('2.0')).not.toContain('This release is yanked');
    expect(page('2.0')).not.toContain('not the newest release');
  });

  it('lists the files of the release with size, sha256, upload time and, when known, the uploader', () => {
    const out = page();
    const wheel = project.files.find((f) => f.filename === 'demo_pkg-2.0-py3-none-any.whl')!;
    expect(out).toContain(`<a class="filename" href="/packages/demo_pkg-2.0-py3-none-any.whl">demo_pkg-2.0-py3-none-any.whl</a>`);
    expect(out).toContain('<dt>Size</dt><dd>1.2 MB</dd>');
    expect(out).toContain(`<dt>SHA256</dt><dd><code class="hash">${wheel.sha256}</code></dd>`);
    expect(out).toContain('<dt>Uploaded</dt><dd><time datetime="2026-03-01T10:00:00.000Z">2026-03-01 10:00 UTC</time></dd>');
    expect(out).toContain('<dt>Type</dt><dd>Source</dd>');
    expect(out).not.toContain('Uploaded by');
    const withUploader = renderProjectPage(site, {
      project: { ...project, files: project.files.map((f) => (f.packagetype === 'sdist' ? { ...f, uploader: '<eve>' } : f)) },
      description: null,
      isLocal,
    });
    expect(withUploader.match(/Uploaded by/g)).toHaveLength(1);
    expect(withUploader).toContain('<dt>Uploaded by</dt><dd>&lt;eve&gt;</dd>');
  });

  it('is a whole document with one stylesheet by hashed name and no script or inline style', () => {
    const out = page();
    expect(out.startsWith('<!DOCTYPE html><html lang="en">')).toBe(true);
    expect(out).toMatch(/<link rel="stylesheet" href="\/static\/style\.[0-9a-f]{12}\.css">/);
    expect(out).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(out).not.toMatch(/<script|<style|style=/);
    for (const landmark of ['<header class="site-header">', '<main id="main"', '<footer class="site-footer">', 'role="search"']) {
      expect(out).toContain(landmark);
    }
    expect(out).toContain('<label class="visually-hidden" for="site-search">Search projects</label>');
  });
});

describe('renderHomePage and recentReleases', () => {
  it('lists releases by their newest upload, newest first, bounded', () => {
    const recent = recentReleases(snapshot.projects.values(), 2);
    expect(recent.map((r) => `${r.project.name} ${r.version}`)).toEqual(['demo-pkg 2.0', 'demo-pkg 1.1']);
    expect(recent[0]!.uploaded).toBe('2026-03-01T10:00:05.000Z');
    expect(recentReleases(snapshot.projects.values(), 10)).toHaveLength(4);
  });

  it('keeps what the welcome page told: pip, pip.conf, twine, .pypirc and poetry set up for this index', () => {
    const out = flat(
      renderHomePage(site, {
        projectCount: 2,
        fileCount: 5,
        recent: recentReleases(snapshot.projects.values(), 5),
        projects: [project],
      }),
    );
    expect(out).toContain('pip install --index-url https://pypi.example.com/simple/ PACKAGE');
    expect(out).toContain('index-url = https://pypi.example.com/simple/');
    expect(out).toContain('twine upload --repository-url https://pypi.example.com/ dist/*');
    expect(out).toContain('repository = https://pypi.example.com/');
    expect(out).toContain('poetry source add --priority=primary wheelhouse https://pypi.example.com/simple/');
    expect(out).toContain('2 projects, 5 files');
    expect(out).toContain('<a class="name" href="/project/demo-pkg/2.0/">Demo_Pkg 2.0</a>');
    expect(out).toContain('<form class="search search-big" role="search" action="/search" method="get">');
  });
});

describe('renderSearchPage and renderNotFoundPage', () => {
  it('shows the query escaped, counts, and each hit with its latest version and summary', () => {
    const result = SearchIndex.build(snapshot).search('<demo>');
    const out = flat(renderSearchPage(site, result));
    expect(out).toContain('<h1>Results for “&lt;demo&gt;”</h1>');
    expect(out).toContain('value="&lt;demo&gt;"');
    expect(out).toContain('1 matching project.');
    expect(out).toContain('<a class="name" href="/project/demo-pkg/">Demo_Pkg</a> <span class="muted">2.0</span>');
    expect(out).toContain('<p>Does &lt;b&gt;demo&lt;/b&gt; things</p>');
  });

  it('says when nothing matches and when hits were cut', () => {
    expect(renderSearchPage(site, { query: 'zzz', hits: [], total: 0 })).toContain('No project on this index matches.');
    const hits = SearchIndex.build(snapshot).search('d').hits;
    expect(renderSearchPage(site, { query: 'd', hits: hits.slice(0, 1), total: 2 })).toContain('The best 1 of 2 matching projects.');
  });

  it('explains a 404 and suggests near names', () => {
    const out = flat(
      renderNotFoundPage(site, {
        message: 'No project named “<x>”.',
        query: 'demo',
        suggestions: SearchIndex.build(snapshot).search('demo').hits,
      }),
    );
    expect(out).toContain('<p>No project named “&lt;x&gt;”.</p>');
    expect(out).toContain('href="/project/demo-pkg/"');
  });
});

describe('format helpers', () => {
  it('formats sizes and times as PyPI shows them', () => {
    expect(formatSize(999)).toBe('999 bytes');
    expect(formatSize(1000)).toBe('1.0 kB');
    expect(formatSize(12_345_678)).toBe('12.3 MB');
    expect(formatTime('2026-03-01T10:00:05.123Z')).toBe('2026-03-01 10:00 UTC');
  });

  it('splits a requirement into its name and the rest', () => {
    expect(parseRequirement('Foo.Bar[x]>=1; extra == "dev"')).toEqual({
      name: 'Foo.Bar',
      project: 'foo-bar',
      rest: '[x]>=1; extra == "dev"',
      extra: 'dev',
    });
    expect(parseRequirement('requests')).toEqual({ name: 'requests', project: 'requests', rest: '', extra: null });
    expect(parseRequirement('  ; nonsense')).toBeNull();
  });
});
