// A URL prefix, given by --base-path or by a trusted proxy's X-Forwarded-Prefix: every redirect,
// link and absolute URL the server writes carries it, and nothing is served outside it.
import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { makeWheel } from '../helpers/dists.js';
import { uploadBody } from '../helpers/forms.js';
import { tempDir } from '../helpers/server.js';

let root: string;
/** The wheel of Demo_Pkg 1.0, as its file is named. */
let demoFile: string;
const undo: (() => unknown)[] = [];

async function app(args: string[]): Promise<FastifyInstance> {
  const built = await buildTestApp(root, ['--watch', 'off', ...args]);
  undo.push(() => built.app.close());
  return built.app;
}

/** Every href and action of a page that stays on this server. */
function localLinks(body: string): string[] {
  return [...body.matchAll(/(?:href|action)="([^"]*)"/g)].map((m) => m[1] ?? '').filter((u) => !/^(https?:|#)/.test(u));
}

beforeAll(async () => {
  const t = tempDir('wh-prefix-');
  root = t.dir;
  undo.push(() => t.cleanup());
  const a = await makeWheel({ name: 'Demo_Pkg', version: '1.0', requiresDist: ['helper-lib'] });
  const b = await makeWheel({ name: 'helper-lib', version: '2.0' });
  demoFile = a.filename;
  for (const w of [a, b]) await copyFile(w.path, path.join(root, w.filename));
});

afterAll(async () => {
  for (const step of undo.reverse()) await step();
});

describe('--base-path /pypi', () => {
  let pypi: FastifyInstance;
  beforeAll(async () => {
    pypi = await app(['--base-path', '/pypi/']);
  });

  it('serves the index below the prefix, with the relative links of the simple pages unchanged', async () => {
    const rootPage = await pypi.inject('/pypi/simple/');
    expect(rootPage.statusCode).toBe(200);
    expect(rootPage.body).toContain('<a href="demo-pkg/">demo-pkg</a>');
    const project = await pypi.inject('/pypi/simple/demo-pkg/');
    expect(project.body).toMatch(new RegExp(`href="\\.\\./\\.\\./packages/${demoFile.replace(/\./g, '\\.')}#sha256=[0-9a-f]{64}"`));
    const file = await pypi.inject(`/pypi/packages/${demoFile}`);
    expect(file.statusCode).toBe(200);
    expect((await pypi.inject('/pypi/health')).statusCode).toBe(200);
    expect((await pypi.inject('/pypi/?x=1')).statusCode).toBe(200);
    expect((await pypi.inject('/pypi')).statusCode).toBe(200);
  });

  it('answers 404 outside the prefix, however the prefix is spelled', async () => {
    for (const url of ['/simple/', '/health', '/', '/pypix/simple/', '/%70ypi/simple/', '/PYPI/simple/', '/metrics']) {
      const res = await pypi.inject(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.body, url).toContain('this index is served under /pypi/');
    }
  });

  it('keeps the prefix in every redirect', async () => {
    const cases: [string, number, string][] = [
      ['/pypi/simple', 301, '/pypi/simple/'],
      ['/pypi/simple/Demo_Pkg/', 301, '/pypi/simple/demo-pkg/'],
      ['/pypi/simple/Demo_Pkg', 301, '/pypi/simple/demo-pkg/'],
      ['/pypi/packages', 301, '/pypi/packages/'],
      ['/pypi/Demo_Pkg/', 303, '/pypi/simple/demo-pkg/'],
      ['/pypi/demo-pkg', 303, '/pypi/simple/demo-pkg/'],
      ['/pypi/pypi/Demo_Pkg/json', 301, '/pypi/pypi/demo-pkg/json'],
      ['/pypi/Demo_Pkg/json', 301, '/pypi/demo-pkg/json'],
      ['/pypi/project/Demo_Pkg/', 301, '/pypi/project/demo-pkg/'],
      ['/pypi/project/demo-pkg', 301, '/pypi/project/demo-pkg/'],
      ['/pypi/project/demo-pkg/1.0.0/', 301, '/pypi/project/demo-pkg/1.0/'],
      ['/pypi/project/', 303, '/pypi/simple/project/'],
    ];
    for (const [from, status, to] of cases) {
      const res = await pypi.inject(from);
      expect(res.statusCode, from).toBe(status);
      expect(res.headers.location, from).toBe(to);
    }
  });

  it('puts the prefix in the JSON API URLs', async () => {
    const res = await pypi.inject({ url: '/pypi/pypi/demo-pkg/json', headers: { host: 'tools.example.com' } });
    const body = res.json<{ info: { project_url: string; release_url: string }; urls: { url: string }[] }>();
    expect(body.urls[0]?.url).toBe(`http://tools.example.com/pypi/packages/${demoFile}`);
    expect(body.info.project_url).toBe('http://tools.example.com/pypi/project/demo-pkg/');
    expect(body.info.release_url).toBe('http://tools.example.com/pypi/project/demo-pkg/1.0/');
    const followed = await pypi.inject(new URL(body.urls[0]?.url ?? '').pathname);
    expect(followed.statusCode).toBe(200);
  });

  it('links every page for people below the prefix, and each of those links answers', async () => {
    const seen = new Set<string>();
    const queue = ['/pypi/', '/pypi/search?q=demo', '/pypi/project/nope/'];
    while (queue.length) {
      const url = queue.shift() ?? '';
      if (seen.has(url)) continue;
      seen.add(url);
      const res = await pypi.inject(url);
      expect(res.statusCode === 200 || url === '/pypi/project/nope/', `${url}: ${res.statusCode}`).toBe(true);
      if (!String(res.headers['content-type']).startsWith('text/html')) continue;
      for (const link of localLinks(res.body)) {
        // The simple pages' links are relative (so any prefix keeps them working); the others carry it.
        if (!url.startsWith('/pypi/simple/') && !url.startsWith('/pypi/packages/'))
          expect(link, `${url} links to ${link}`).toMatch(/^\/pypi\//);
        const target = new URL(link.replace(/&amp;/g, '&'), `http://x${url}`);
        expect(target.pathname, `${url} links to ${link}`).toMatch(/^\/pypi\//);
        if (seen.size < 80) queue.push(target.pathname + target.search);
      }
    }
    for (const kind of ['/pypi/project/demo-pkg/', '/pypi/project/helper-lib/', '/pypi/simple/', '/pypi/packages/', '/pypi/health']) {
      expect([...seen], kind).toContain(kind);
    }
    const home = await pypi.inject({ url: '/pypi/', headers: { host: 'tools.example.com' } });
    expect(home.body).toContain('pip install --index-url http://tools.example.com/pypi/simple/ PACKAGE');
    expect(home.body).toContain('twine upload --repository-url http://tools.example.com/pypi/ dist/*');
  });

  it('takes uploads at the prefix and its legacy URL', async () => {
    for (const [url, name] of [
      ['/pypi/', 'up-one'],
      ['/pypi', 'up-two'],
      ['/pypi/legacy/', 'up-three'],
    ] as const) {
      const w = await makeWheel({ name, version: '1.0' });
      const form = uploadBody(w);
      const res = await pypi.inject({ method: 'POST', url, payload: form.payload, headers: form.headers });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
      expect((await pypi.inject(`/pypi/simple/${name}/`)).statusCode).toBe(200);
    }
  });

  it('names the prefix in the login hint', async () => {
    const users = path.join(root, '.htpasswd');
    await writeFile(users, 'ada:a-long-password\n');
    const locked = await app(['--base-path', '/pypi', '--authenticate', 'list,update', '--passwords', users]);
    const res = await locked.inject({ url: '/pypi/simple/', headers: { host: 'tools.example.com' } });
    expect(res.statusCode).toBe(401);
    expect(res.body).toContain('pip install --index-url http://USER:PASS@tools.example.com/pypi/simple/ PACKAGE');
  });
});

describe('--base-path with trusted publishing', () => {
  it('answers /_/oidc/ at the root of the host, where the publish action asks, and below the prefix; nothing else outside it', async () => {
    const publishers = JSON.stringify({ publishers: [{ issuer: 'github', repository: 'o/r', workflow: 'release.yml', projects: ['p'] }] });
    const pypi = await app(['--base-path', '/pypi', '--token-key', 'k'.repeat(32), '--trusted-publishers-json', publishers]);
    for (const url of ['/_/oidc/audience', '/pypi/_/oidc/audience']) {
      const res = await pypi.inject(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.json(), url).toEqual({ audience: 'wheelhouse' });
    }
    const mint = await pypi.inject({ method: 'POST', url: '/_/oidc/mint-token', payload: { token: 'not-a-jwt' } });
    expect(mint.statusCode).toBe(422);
    for (const url of ['/_/other', '/_/oidcx/audience', '/simple/']) {
      const res = await pypi.inject(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.body, url).toContain('this index is served under /pypi/');
    }
  });
});

describe('X-Forwarded-Prefix', () => {
  const prefixed = (url: string, prefix: string, extra: Partial<InjectOptions> = {}): InjectOptions => ({
    url,
    headers: { 'x-forwarded-prefix': prefix, host: 'tools.example.com' },
    ...extra,
  });

  it('from the trusted proxy, puts what it took off in front of every URL the server writes', async () => {
    const open = await app([]);
    const redirect = await open.inject(prefixed('/Demo_Pkg/', '/tools/pypi'));
    expect(redirect.headers.location).toBe('/tools/pypi/simple/demo-pkg/');
    const page = await open.inject(prefixed('/project/demo-pkg/', '/tools/pypi/'));
    expect(localLinks(page.body).every((l) => l.startsWith('/tools/pypi/'))).toBe(true);
    expect(page.body).toContain('pip install --index-url http://tools.example.com/tools/pypi/simple/ demo-pkg');
    const json = (await open.inject(prefixed('/pypi/demo-pkg/json', '/tools/pypi'))).json<{ urls: { url: string }[] }>();
    expect(json.urls[0]?.url).toBe(`http://tools.example.com/tools/pypi/packages/${demoFile}`);
    // The same page without the header is another page: pages are cached per prefix.
    const plain = await open.inject({ url: '/project/demo-pkg/', headers: { host: 'tools.example.com' } });
    expect(localLinks(plain.body).every((l) => !l.startsWith('/tools/'))).toBe(true);
    expect(plain.headers.etag).not.toBe(page.headers.etag);
  });

  it('goes in front of --base-path', async () => {
    const pypi = await app(['--base-path', '/pypi']);
    const res = await pypi.inject(prefixed('/pypi/simple', '/edge'));
    expect(res.headers.location).toBe('/edge/pypi/simple/');
  });

  it('is ignored from a peer that is not a trusted proxy, and when it is not a plain path', async () => {
    const none = await app(['--trust-proxy', 'false']);
    expect((await none.inject(prefixed('/Demo_Pkg/', '/tools'))).headers.location).toBe('/simple/demo-pkg/');
    const listed = await app(['--trust-proxy', '10.0.0.7']);
    expect((await listed.inject(prefixed('/Demo_Pkg/', '/tools'))).headers.location).toBe('/simple/demo-pkg/');
    expect((await listed.inject(prefixed('/Demo_Pkg/', '/tools', { remoteAddress: '10.0.0.7' }))).headers.location).toBe(
      '/tools/simple/demo-pkg/',
    );
    const open = await app([]);
    for (const bad of ['//evil.example', 'https://evil.example', '/a/../b', '/a b', 'tools', '/"><script>', `/${'a'.repeat(300)}`]) {
      expect((await open.inject(prefixed('/Demo_Pkg/', bad))).headers.location, bad).toBe('/simple/demo-pkg/');
    }
  });
});
