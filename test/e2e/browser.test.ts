// The pages for people, in Debian's chromium driven by playwright-core: what a person sees and
// can do, whether the pages are accessible (axe-core), and that a hostile description runs nothing.
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import axe from 'axe-core';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyDists, makeWheel } from '../helpers/dists.js';
import { REPO, startServer, tempDir, type RunningServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags chromium reaches for Google's services, and this
// machine's closed network refuses them loudly.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SHOTS = path.join(REPO, '.test-results', 'screenshots');
const DOCS_SHOT = path.join(REPO, 'test', 'fixtures', 'screenshots', 'project-page.png');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

let server: RunningServer;
/** The package directory the server serves (a second server reads it under a prefix). */
let root: string;
/** What afterAll undoes, in reverse: only what beforeAll got to make. */
const undo: (() => unknown)[] = [];
let canary: Server;
let canaryUrl: string;
/** Every request the canary server got: any is a failure. */
const canaryHits: string[] = [];
const contexts: BrowserContext[] = [];

async function launch(
  opts: { bypassCSP?: boolean; viewport?: { width: number; height: number }; args?: string[]; javaScript?: boolean } = {},
): Promise<BrowserContext> {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'wh-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...ARGS, ...(opts.args ?? [])],
    viewport: opts.viewport ?? DESKTOP,
    bypassCSP: opts.bypassCSP ?? false,
    javaScriptEnabled: opts.javaScript ?? true,
  });
  contexts.push(context);
  return context;
}

/** A page that records every request it makes, every console error and every dialog. */
async function watchedPage(context: BrowserContext): Promise<{ page: Page; requests: string[]; errors: string[]; dialogs: string[] }> {
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  const dialogs: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  return { page, requests, errors, dialogs };
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** axe-core run in the page (through the devtools protocol, which the page's CSP does not govern). */
async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axe.source);
  const result = await page.evaluate<{ violations: AxeViolation[] }>("axe.run(document, { resultTypes: ['violations'] })");
  return result.violations;
}

function serious(violations: AxeViolation[]): string[] {
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run "bash test/setup.sh" (it installs Debian's chromium)`);
  await mkdir(SHOTS, { recursive: true });
  canary = createServer((req, res) => {
    canaryHits.push(req.url ?? '');
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
  undo.push(() => new Promise((resolve) => canary.close(resolve)));
  canaryUrl = `http://127.0.0.1:${(canary.address() as { port: number }).port}`;

  const tmp = tempDir('wh-browse-');
  root = tmp.dir;
  undo.push(() => {
    tmp.cleanup();
  });
  // Real wheels and sdists built by setuptools from Markdown READMEs, with dependencies.
  await copyDists(
    ['whtest_top-1.0-*.whl', 'whtest-top-1.0.tar.gz', 'whtest_left-1.0-*.whl', 'whtest_right-1.0-*.whl', 'whtest_base-*.whl'],
    root,
  );
  const rich = await makeWheel({
    name: 'whtest-rich',
    version: '2.3.0',
    summary: 'Rich text and beautiful tables in the terminal (a wheelhouse test package)',
    requiresPython: '>=3.8',
    requiresDist: ['whtest-top>=1.0', 'requests>=2.28', 'whtest-left ; extra == "left"'],
    metadataLines: [
      'Description-Content-Type: text/markdown; charset=UTF-8; variant=GFM',
      'License-Expression: MIT',
      'Author: Ada Lovelace',
      'Project-URL: Documentation, https://docs.example.com/whtest-rich/',
      'Project-URL: Source, https://git.example.com/whtest-rich',
      'Project-URL: Sneaky, javascript:window.__pwned=1',
      'Classifier: Programming Language :: Python :: 3',
    ],
    description: await readFile(path.join(REPO, 'test/fixtures/descriptions/rich.md'), 'utf8'),
  });
  const hostile = await makeWheel({
    name: 'whtest-hostile',
    version: '6.6.6',
    summary: `<script>window.__pwned='summary'</script><img src=x onerror="window.__pwned='summary-img'">`,
    requiresDist: ['whtest-top"><script>window.__pwned="dep"</script>'],
    metadataLines: [
      'Description-Content-Type: text/markdown',
      `Project-URL: Home, javascript:window.__pwned='project-url'`,
      'Project-URL: Canary, {{CANARY}}/project-url',
      `Author: <b onmouseover="window.__pwned='author'">Mallory</b>`,
    ].map((l) => l.replaceAll('{{CANARY}}', canaryUrl)),
    description: (await readFile(path.join(REPO, 'test/fixtures/descriptions/hostile.md'), 'utf8')).replaceAll('{{CANARY}}', canaryUrl),
  });
  for (const w of [rich, hostile]) await copyFile(w.path, path.join(root, w.filename));

  server = await startServer({ root, args: ['--authenticate', '.', '--passwords', '.'] });
  undo.push(() => server.stop());
  const yank = await fetch(`${server.url}/api/yank/whtest-base/1.1`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'Broke imports on Windows' }),
  });
  expect(yank.status).toBe(200);
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  for (const step of undo.reverse()) await step();
});

describe('a person using the index in a browser', () => {
  it('finds a project from the home page by searching, opens it and follows a dependency to its page, with JavaScript off', async () => {
    for (const [label, viewport] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      // The pages carry no script: the search form and every link work in a browser that runs none.
      const { page, errors } = await watchedPage(await launch({ viewport, javaScript: false }));
      await page.goto(`${server.url}/`);
      expect(await page.title()).toContain('wheelhouse');
      expect(await page.locator('#recent ~ ol.recent li').count()).toBeGreaterThan(0);
      await expect(page.locator('ol.recent').innerText()).resolves.toContain('whtest-rich 2.3.0');
      await shot(page, `home-${label}`);

      await page.getByRole('searchbox', { name: 'Search projects' }).fill('whtest');
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/search\?q=whtest$/);
      const results = page.locator('ol.results a.name');
      expect(await results.count()).toBeGreaterThanOrEqual(5);
      await shot(page, `search-${label}`);

      await page.getByRole('link', { name: 'whtest-top', exact: true }).click();
      await page.waitForURL(/\/project\/whtest-top\/$/);
      await expect(page.locator('h1').innerText()).resolves.toBe('whtest-top 1.0');
      // The README, rendered from Markdown: its "# whtest-top 1.0" is a heading below the page's own.
      await expect(page.locator('.readme h3').innerText()).resolves.toBe('whtest-top 1.0');
      await expect(page.locator('.install pre').innerText()).resolves.toBe(`pip install --index-url ${server.url}/simple/ whtest-top`);
      await shot(page, `project-${label}`);

      await page.locator('#dependencies ~ ul.deps').getByRole('link', { name: 'whtest-left' }).click();
      await page.waitForURL(/\/project\/whtest-left\/$/);
      await expect(page.locator('h1').innerText()).resolves.toBe('whtest-left 1.0');
      // The page fits the screen: nothing scrolls sideways but the boxes meant to.
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(viewport.width);
      expect(errors).toEqual([]);
    }
  });

  it('shows a Markdown README as formatted text, the yanked release marked, and files with their hashes', async () => {
    const { page, errors } = await watchedPage(await launch());
    await page.goto(`${server.url}/project/whtest-rich/`);
    const readme = page.locator('.readme');
    expect(await readme.locator('table th').allInnerTexts()).toEqual(['Option', 'Default', 'What it does']);
    expect(await readme.locator('pre code').count()).toBe(2);
    await expect(readme.getByRole('link', { name: 'link to the docs' }).getAttribute('rel')).resolves.toBe('nofollow noopener');
    // Images load nothing from elsewhere: the badge shows its alt text, still a link.
    expect(await readme.locator('img').count()).toBe(0);
    await expect(readme.getByRole('link', { name: 'build' }).getAttribute('href')).resolves.toBe('https://ci.example.com/whtest-rich');
    await expect(page.getByRole('link', { name: 'Documentation' }).getAttribute('href')).resolves.toBe(
      'https://docs.example.com/whtest-rich/',
    );
    expect(await page.getByRole('link', { name: 'Sneaky' }).count()).toBe(0);
    await expect(page.locator('.sidebar').innerText()).resolves.toContain('MIT');
    // Dependencies on this index are links; the others are named only.
    expect(await page.locator('#dependencies ~ ul.deps a').allInnerTexts()).toEqual(['whtest-top', 'whtest-left']);
    await expect(page.locator('#dependencies ~ ul.deps').first().innerText()).resolves.toContain('requests >=2.28');
    // Behind a proxy the commands people copy name the address they used: the Host header, and
    // the scheme and path prefix the (trusted) proxy passes on.
    await page.setExtraHTTPHeaders({ 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/tools/pypi' });
    await page.reload();
    await expect(page.locator('.install pre').innerText()).resolves.toBe(
      `pip install --index-url https://${new URL(server.url).host}/tools/pypi/simple/ whtest-rich`,
    );
    await page.setExtraHTTPHeaders({});
    // No proxy takes /tools/pypi/ off here, so that page's stylesheet was not found: expected.
    errors.length = 0;

    // The README's picture: the page as reached by a name, as behind a load balancer.
    const named = await watchedPage(
      await launch({
        viewport: { width: 1000, height: 760 },
        args: [`--host-resolver-rules=MAP pypi.internal.example 127.0.0.1:${server.port}`],
      }),
    );
    await named.page.setExtraHTTPHeaders({ 'x-forwarded-proto': 'https' });
    await named.page.goto('http://pypi.internal.example/project/whtest-rich/');
    await expect(named.page.locator('.install pre').innerText()).resolves.toBe(
      'pip install --index-url https://pypi.internal.example/simple/ whtest-rich',
    );
    const image = await named.page.screenshot({ path: path.join(SHOTS, 'project-rich.png') });
    if (process.env.WHEELHOUSE_UPDATE_SCREENSHOT === '1') {
      await mkdir(path.dirname(DOCS_SHOT), { recursive: true });
      await named.page.screenshot({ path: DOCS_SHOT });
    }
    expect(image.length).toBeGreaterThan(0);
    expect(named.errors).toEqual([]);

    await page.goto(`${server.url}/project/whtest-base/1.1/`);
    await expect(page.locator('.band .badge-yanked').innerText()).resolves.toBe('yanked');
    await expect(page.locator('.notice').first().innerText()).resolves.toContain('Broke imports on Windows');
    await expect(page.locator('.install pre').innerText()).resolves.toContain('whtest-base==1.1');
    const history = page.locator('ol.releases li');
    expect(await history.allInnerTexts()).toEqual([
      expect.stringMatching(/^2\.0\s+latest/),
      expect.stringMatching(/^1\.1\s+yanked\s+Broke imports on Windows/),
      expect.stringMatching(/^1\.0\s/),
    ]);
    await expect(page.locator('ul.files code.hash').first().innerText()).resolves.toMatch(/^[0-9a-f]{64}$/);
    await shot(page, 'release-yanked-desktop');
    expect(errors).toEqual([]);
  });

  it('answers an unknown project with a page that names it and suggests the closest names', async () => {
    const { page } = await watchedPage(await launch({ viewport: PHONE }));
    const res = await page.goto(`${server.url}/project/whtest-lef/`);
    expect(res?.status()).toBe(404);
    await expect(page.locator('h1').innerText()).resolves.toBe('Not found');
    await expect(page.locator('ol.results').innerText()).resolves.toContain('whtest-left');
    await shot(page, 'not-found-phone');
  });

  it('can be used with the keyboard alone: the first Tab reaches a skip link that moves focus to the content', async () => {
    const { page } = await watchedPage(await launch());
    await page.goto(`${server.url}/project/whtest-top/`);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.className')).toBe('skip');
    // Its focus outline is visible (the stylesheet's focus style, not the browser's default none).
    expect(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle')).toBe('solid');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement.id')).toBe('main');
  });
});

describe('below a URL prefix (--base-path)', () => {
  it('finds a project by searching and follows a dependency, every page styled, nothing asked for outside the prefix', async () => {
    const prefixed = await startServer({
      root,
      args: ['--authenticate', '.', '--passwords', '.', '--base-path', '/pypi'],
      healthPath: '/pypi/health',
    });
    undo.push(() => prefixed.stop());
    const { page, requests, errors } = await watchedPage(await launch({ viewport: PHONE }));
    await page.goto(`${prefixed.url}/pypi/`);
    await page.getByRole('searchbox', { name: 'Search projects' }).fill('whtest-to');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/pypi\/search\?q=whtest-to$/);
    await page.getByRole('link', { name: 'whtest-top', exact: true }).click();
    await page.waitForURL(/\/pypi\/project\/whtest-top\/$/);
    await expect(page.locator('.install pre').innerText()).resolves.toBe(`pip install --index-url ${prefixed.url}/pypi/simple/ whtest-top`);
    await page.locator('#dependencies ~ ul.deps').getByRole('link', { name: 'whtest-left' }).click();
    await page.waitForURL(/\/pypi\/project\/whtest-left\/$/);
    // The stylesheet came: the header has its colour, not the browser's transparent default.
    expect(await page.evaluate("getComputedStyle(document.querySelector('.site-header')).backgroundColor")).not.toBe('rgba(0, 0, 0, 0)');
    expect(requests.filter((u) => !u.startsWith(`${prefixed.url}/pypi/`))).toEqual([]);
    expect(errors).toEqual([]);
    await shot(page, 'prefix-phone');
  });
});

describe('accessibility (axe-core)', () => {
  const pages = ['/', '/search?q=whtest', '/project/whtest-rich/', '/project/whtest-base/1.1/', '/project/whtest-top/', '/project/nope/'];
  for (const [label, viewport] of [
    ['desktop', DESKTOP],
    ['phone', PHONE],
  ] as const) {
    it(`finds no serious or critical violation on any page at ${label} width`, async () => {
      const { page } = await watchedPage(await launch({ viewport }));
      const found: string[] = [];
      for (const url of pages) {
        await page.goto(`${server.url}${url}`);
        found.push(...serious(await axeViolations(page)).map((v) => `${url}: ${v}`));
      }
      expect(found).toEqual([]);
    });
  }
});

describe('a hostile package description', () => {
  for (const bypassCSP of [false, true]) {
    const unless = bypassCSP ? ', even with its Content-Security-Policy off' : '';
    it(`runs no script, opens no dialog and loads nothing it names${unless}`, async () => {
      const { page, requests, dialogs } = await watchedPage(await launch({ bypassCSP }));
      canaryHits.length = 0;
      await page.goto(`${server.url}/project/whtest-hostile/`);
      await page.waitForLoadState('networkidle');
      // Hover and focus everything a handler could hang on, then look.
      for (const a of await page.locator('.readme a, .readme details, .sidebar a').all()) await a.hover();
      await page.waitForTimeout(300);
      expect(await page.evaluate('window.__pwned')).toBeUndefined();
      expect(dialogs).toEqual([]);
      expect(canaryHits).toEqual([]);
      expect(requests.filter((u) => !u.startsWith(server.url))).toEqual([]);

      const hrefs = await page.evaluate<string[]>("Array.from(document.querySelectorAll('a[href]'), (a) => a.href)");
      expect(hrefs.filter((h) => !/^https?:/i.test(h))).toEqual([]);
      const handlers = await page.evaluate(`Array.from(document.querySelectorAll('*')).flatMap((el) =>
        Array.from(el.attributes)
          .filter((a) => /^on/i.test(a.name) || a.name === 'style' || a.name === 'srcdoc')
          .map((a) => el.tagName + ' ' + a.name))`);
      expect(handlers).toEqual([]);
      const foreign = await page.evaluate(
        `document.querySelectorAll('script, iframe, object, embed, svg, math, style, base, meta[http-equiv], video, audio, img,' +
          'link[href*="127.0.0.1"], form[action*="127.0.0.1"]').length`,
      );
      expect(foreign).toBe(0);
      // The description cannot take the page's own anchors or classes either.
      expect(await page.evaluate("document.querySelector('#main').tagName")).toBe('MAIN');
      expect(await page.locator('.readme [class~="skip"], .readme [id]').count()).toBe(0);
      await expect(page.locator('.readme').innerText()).resolves.toContain('End of the description.');
      await shot(page, `hostile${bypassCSP ? '-no-csp' : ''}`);
    });
  }
});
