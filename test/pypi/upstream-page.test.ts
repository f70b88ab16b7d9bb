import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pageFormatOf, parseUpstreamPage, UpstreamPageError, type UpstreamPage } from '../../src/pypi/upstream-page.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/upstream/${name}`, import.meta.url), 'utf8');
const PAGE_URL = 'https://pypi.org/simple/requests/';
const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';
const YANK_REASON = 'Yanked due to conflicts with CVE-2024-35195 mitigation';

function json(files: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ meta: { 'api-version': '1.1' }, name: 'demo', files, ...extra });
}

function html(body: string, head = ''): string {
  return `<!DOCTYPE html><html><head>${head}<title>Links for demo</title></head><body><h1>Links for demo</h1>${body}</body></html>`;
}

const SHA = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

function parseDemo(body: string, contentType = JSON_TYPE, url = 'https://upstream.example/simple/demo/'): UpstreamPage {
  return parseUpstreamPage({ body, contentType, url, project: 'demo' });
}

describe('parseUpstreamPage on pages shaped like pypi.org', () => {
  const fromJson = parseUpstreamPage({ body: fixture('pypi-requests.json'), contentType: JSON_TYPE, url: PAGE_URL, project: 'requests' });
  const fromHtml = parseUpstreamPage({
    body: fixture('pypi-requests.html'),
    contentType: 'text/html; charset=utf-8',
    url: PAGE_URL,
    project: 'requests',
  });

  it('reads every file of the JSON page with its hash, requires-python, yank, metadata hash, size and upload time', () => {
    expect(fromJson.format).toBe('json');
    expect(fromJson.apiVersion).toBe('1.4');
    expect(fromJson.versions).toEqual(['0.2.0', '2.31.0', '2.32.0', '2.32.3']);
    expect(fromJson.droppedCount).toBe(0);
    expect(fromJson.files.map((f) => f.filename)).toEqual([
      'requests-0.2.0.tar.gz',
      'requests-2.31.0-py3-none-any.whl',
      'requests-2.31.0.tar.gz',
      'requests-2.32.0-py3-none-any.whl',
      'requests-2.32.0.tar.gz',
      'requests-2.32.3-py3-none-any.whl',
      'requests-2.32.3.tar.gz',
    ]);
    expect(fromJson.files[5]).toEqual({
      filename: 'requests-2.32.3-py3-none-any.whl',
      url: 'https://files.pythonhosted.org/packages/f0/9a/6bb0eb61418a4ebd093f5c460e833b47eec82d3c0243eb50504f3d8d2836/requests-2.32.3-py3-none-any.whl',
      version: '2.32.3',
      packagetype: 'bdist_wheel',
      sha256: 'bd0c80ddb748e530fc1c4dec6b66909a820f246d37f72b3461438ce1fcd8a30a',
      requiresPython: '>=3.8',
      yanked: false,
      coreMetadata: 'a5eda711b145e6261252d2e52e0cbdb405a64aeac54cb0524184ff995b22ddf0',
      size: 64928,
      uploadTime: '2024-05-29T15:37:47.444489Z',
    });
    expect(fromJson.files[0]).toMatchObject({ packagetype: 'sdist', requiresPython: null, coreMetadata: false, size: 4860 });
    expect(fromJson.files[3]!.yanked).toBe(YANK_REASON);
  });

  it('reads the same files from the HTML page, unescaping requires-python and taking the hash from the fragment', () => {
    expect(fromHtml.format).toBe('html');
    expect(fromHtml.apiVersion).toBe('1.4');
    expect(fromHtml.versions).toBeNull();
    expect(fromHtml.droppedCount).toBe(0);
    // HTML carries no size or upload time (PEP 700 is JSON only); everything else agrees.
    expect(fromHtml.files).toEqual(fromJson.files.map((f) => ({ ...f, size: null, uploadTime: null })));
    expect(fromHtml.files[1]!.requiresPython).toBe('>=3.7');
    expect(fromHtml.files[1]!.url).not.toContain('#');
    expect(fromHtml.files[4]!.yanked).toBe(YANK_REASON);
  });
});

describe('parseUpstreamPage, file by file', () => {
  it('drops a file without a sha256 (md5 only, or no hash at all) and says why', () => {
    const page = parseDemo(
      html(
        '<a href="/f/demo-1.0.tar.gz#md5=0123456789abcdef0123456789abcdef">demo-1.0.tar.gz</a>' +
          '<a href="/f/demo-1.1.tar.gz">demo-1.1.tar.gz</a>' +
          `<a href="/f/demo-1.2.tar.gz#sha256=${SHA}">demo-1.2.tar.gz</a>`,
      ),
      'text/html',
    );
    expect(page.files.map((f) => f.filename)).toEqual(['demo-1.2.tar.gz']);
    expect(page.droppedCount).toBe(2);
    expect(page.dropped).toEqual([
      { entry: 'demo-1.0.tar.gz', reason: 'no sha256 given' },
      { entry: 'demo-1.1.tar.gz', reason: 'no sha256 given' },
    ]);
  });

  it('drops JSON files whose hashes lack sha256 or carry a malformed one', () => {
    const page = parseDemo(
      json([
        { filename: 'demo-1.0.tar.gz', url: '/f/demo-1.0.tar.gz', hashes: {} },
        { filename: 'demo-1.1.tar.gz', url: '/f/demo-1.1.tar.gz', hashes: { sha256: 'xyz' } },
        { filename: 'demo-1.2.tar.gz', url: '/f/demo-1.2.tar.gz', hashes: { sha256: SHA.toUpperCase(), md5: 'x' } },
      ]),
    );
    expect(page.files.map((f) => [f.filename, f.sha256])).toEqual([['demo-1.2.tar.gz', SHA]]);
    expect(page.droppedCount).toBe(2);
  });

  it('resolves relative links against the page URL, or against <base href> when the page has one', () => {
    const rel = parseDemo(html(`<a href="../../packages/demo-1.0.tar.gz#sha256=${SHA}">demo-1.0.tar.gz</a>`), 'text/html');
    expect(rel.files[0]!.url).toBe('https://upstream.example/packages/demo-1.0.tar.gz');
    const based = parseDemo(
      html(`<a href="demo-1.0.tar.gz#sha256=${SHA}">demo-1.0.tar.gz</a>`, '<base href="https://cdn.example/files/">'),
      'text/html',
    );
    expect(based.files[0]!.url).toBe('https://cdn.example/files/demo-1.0.tar.gz');
    const fromJson = parseDemo(
      json([{ filename: 'demo-1.0.tar.gz', url: '../../p/demo-1.0.tar.gz#sha256=ignored', hashes: { sha256: SHA } }]),
    );
    expect(fromJson.files[0]!.url).toBe('https://upstream.example/p/demo-1.0.tar.gz');
  });

  it('names an HTML file by the last segment of its URL, percent-decoded, as pip does', () => {
    const page = parseDemo(html(`<a href="/f/demo-1.0%2Blocal-py3-none-any.whl#sha256=${SHA}">whatever the text says</a>`), 'text/html');
    expect(page.files[0]).toMatchObject({ filename: 'demo-1.0+local-py3-none-any.whl', version: '1.0+local' });
  });

  it('refuses file names that are paths, hidden, not distributions, or of another project', () => {
    const page = parseDemo(
      json([
        { filename: '../demo-1.0.tar.gz', url: '/a', hashes: { sha256: SHA } },
        { filename: '.demo-1.0.tar.gz', url: '/b', hashes: { sha256: SHA } },
        { filename: 'demo-1.0.exe', url: '/c', hashes: { sha256: SHA } },
        { filename: 'demo-1.0.tar.gz\n', url: '/d', hashes: { sha256: SHA } },
        { filename: 'mycorp_utils-99.0-py3-none-any.whl', url: '/e', hashes: { sha256: SHA } },
        { filename: 'Demo-2.0.tar.gz', url: '/f/Demo-2.0.tar.gz', hashes: { sha256: SHA } },
      ]),
    );
    expect(page.files.map((f) => f.filename)).toEqual(['Demo-2.0.tar.gz']);
    expect(page.dropped.map((d) => d.reason)).toEqual([
      'not a plain file name',
      'not a plain file name',
      'not a distribution file name',
      'not a plain file name',
      'a file of project mycorp-utils',
    ]);
  });

  it('refuses links that are not http(s) and keeps only the first of two entries with one file name', () => {
    const page = parseDemo(
      html(
        `<a href="file:///etc/demo-1.0.tar.gz#sha256=${SHA}">x</a>` +
          `<a href="javascript:alert(1)">y</a>` +
          `<a href="/one/demo-1.1.tar.gz#sha256=${SHA}">demo-1.1.tar.gz</a>` +
          `<a href="/two/demo-1.1.tar.gz#sha256=${SHA_B}">demo-1.1.tar.gz</a>` +
          '<a name="no-href">anchor</a>',
      ),
      'text/html',
    );
    expect(page.files).toHaveLength(1);
    expect(page.files[0]).toMatchObject({ url: 'https://upstream.example/one/demo-1.1.tar.gz', sha256: SHA });
    expect(page.dropped.map((d) => d.reason)).toEqual([
      'the link is not http(s) (file:)',
      'the link is not http(s) (javascript:)',
      'listed twice',
    ]);
  });

  it('reads yanks: an empty data-yanked is a yank without reason, and JSON true or a string likewise', () => {
    const fromHtml = parseDemo(
      html(
        `<a href="/f/demo-1.0.tar.gz#sha256=${SHA}" data-yanked>demo-1.0.tar.gz</a>` +
          `<a href="/f/demo-1.1.tar.gz#sha256=${SHA}" data-yanked="broken &amp; &quot;bad&quot;">demo-1.1.tar.gz</a>` +
          `<a href="/f/demo-1.2.tar.gz#sha256=${SHA}">demo-1.2.tar.gz</a>`,
      ),
      'text/html',
    );
    expect(fromHtml.files.map((f) => f.yanked)).toEqual(['', 'broken & "bad"', false]);
    const fromJson = parseDemo(
      json([
        { filename: 'demo-1.0.tar.gz', url: '/1', hashes: { sha256: SHA }, yanked: true },
        { filename: 'demo-1.1.tar.gz', url: '/2', hashes: { sha256: SHA }, yanked: 'gone' },
        { filename: 'demo-1.2.tar.gz', url: '/3', hashes: { sha256: SHA }, yanked: false },
        { filename: 'demo-1.3.tar.gz', url: '/4', hashes: { sha256: SHA } },
      ]),
    );
    expect(fromJson.files.map((f) => f.yanked)).toEqual(['', 'gone', false, false]);
  });

  it('takes the core-metadata hash from either key name, and treats a metadata file without a sha256 as absent', () => {
    const fromHtml = parseDemo(
      html(
        `<a href="/f/demo-1.0-py3-none-any.whl#sha256=${SHA}" data-dist-info-metadata="sha256=${SHA_B}">a</a>` +
          `<a href="/f/demo-1.1-py3-none-any.whl#sha256=${SHA}" data-core-metadata="true">b</a>` +
          `<a href="/f/demo-1.2-py3-none-any.whl#sha256=${SHA}" data-core-metadata="sha512=${'c'.repeat(128)}">c</a>` +
          `<a href="/f/demo-1.3-py3-none-any.whl#sha256=${SHA}" data-core-metadata="sha256=${SHA_B}" data-dist-info-metadata="true">d</a>`,
      ),
      'text/html',
    );
    expect(fromHtml.files.map((f) => f.coreMetadata)).toEqual([SHA_B, false, false, SHA_B]);
    const fromJson = parseDemo(
      json([
        { filename: 'demo-1.0-py3-none-any.whl', url: '/1', hashes: { sha256: SHA }, 'dist-info-metadata': { sha256: SHA_B } },
        { filename: 'demo-1.1-py3-none-any.whl', url: '/2', hashes: { sha256: SHA }, 'core-metadata': true },
        { filename: 'demo-1.2-py3-none-any.whl', url: '/3', hashes: { sha256: SHA }, 'core-metadata': { sha256: SHA_B } },
      ]),
    );
    expect(fromJson.files.map((f) => f.coreMetadata)).toEqual([SHA_B, false, SHA_B]);
  });

  it('keeps a file whose optional fields are malformed, leaving those fields out', () => {
    const page = parseDemo(
      json([
        {
          filename: 'demo-1.0.tar.gz',
          url: '/f/demo-1.0.tar.gz',
          hashes: { sha256: SHA },
          size: -3,
          'upload-time': 'yesterday',
          'requires-python': 42,
          yanked: { why: 1 },
          'core-metadata': 'sha256=nope',
        },
        { filename: 'demo-1.1.tar.gz', url: '/f/demo-1.1.tar.gz', hashes: { sha256: SHA }, 'requires-python': '  ', 'upload-time': null },
      ]),
    );
    expect(
      page.files.map(({ size, uploadTime, requiresPython, yanked, coreMetadata }) => ({
        size,
        uploadTime,
        requiresPython,
        yanked,
        coreMetadata,
      })),
    ).toEqual([
      { size: null, uploadTime: null, requiresPython: null, yanked: false, coreMetadata: false },
      { size: null, uploadTime: null, requiresPython: null, yanked: false, coreMetadata: false },
    ]);
  });

  it('drops a JSON entry that lacks filename, url or hashes, and keeps the rest of the page', () => {
    const page = parseDemo(
      json([
        { filename: 'demo-1.0.tar.gz', url: '/a' },
        { url: '/b', hashes: {} },
        'junk',
        { filename: 'demo-2.0.tar.gz', url: '/c', hashes: { sha256: SHA } },
      ]),
    );
    expect(page.files.map((f) => f.filename)).toEqual(['demo-2.0.tar.gz']);
    expect(page.droppedCount).toBe(3);
    expect(page.dropped[0]!.entry).toBe('demo-1.0.tar.gz');
    expect(page.dropped[0]!.reason).toMatch(/^malformed entry: .*hashes/);
  });

  it('caps the examples of dropped entries but counts them all', () => {
    const links = Array.from({ length: 30 }, (_, i) => `<a href="/f/demo-1.${i}.exe">demo-1.${i}.exe</a>`).join('');
    const page = parseDemo(html(links), 'text/html');
    expect(page.droppedCount).toBe(30);
    expect(page.dropped).toHaveLength(20);
  });
});

describe('parseUpstreamPage, the page as a whole', () => {
  it('refuses a major api-version other than 1 (PEP 629) and accepts any 1.x', () => {
    expect(() => parseDemo(json([], { meta: { 'api-version': '2.0' } }))).toThrow(UpstreamPageError);
    expect(() => parseDemo(html('', '<meta name="pypi:repository-version" content="2.1">'), 'text/html')).toThrow(/api-version 2.1/);
    expect(parseDemo(json([], { meta: { 'api-version': '1.9' } })).apiVersion).toBe('1.9');
    expect(parseDemo(json([], { meta: {} })).apiVersion).toBeNull();
  });

  it('refuses a body that is not a simple-API page', () => {
    expect(() => parseDemo('{"files": 3}')).toThrow(/not a PEP 691 project page/);
    expect(() => parseDemo('<html>')).toThrow(/does not parse/);
    expect(() => parseDemo('{"info": {}}', 'application/json')).toThrow(/not a simple-API page: Content-Type application\/json/);
    expect(() => parseDemo('<html></html>', null as unknown as string)).toThrow(/Content-Type \(none\)/);
  });

  it('refuses a project name that is not normalized, since it names the page on the volume', () => {
    expect(() => parseUpstreamPage({ body: json([]), contentType: JSON_TYPE, url: PAGE_URL, project: 'Demo_Pkg' })).toThrow(
      UpstreamPageError,
    );
    expect(() => parseUpstreamPage({ body: json([]), contentType: JSON_TYPE, url: PAGE_URL, project: '../x' })).toThrow(UpstreamPageError);
  });

  it('knows the content types pip accepts and no others', () => {
    expect(pageFormatOf('application/vnd.pypi.simple.v1+json')).toBe('json');
    expect(pageFormatOf('application/vnd.pypi.simple.v1+html; charset=utf-8')).toBe('html');
    expect(pageFormatOf('Text/HTML')).toBe('html');
    expect(pageFormatOf('application/json')).toBeNull();
    expect(pageFormatOf(undefined)).toBeNull();
  });
});
