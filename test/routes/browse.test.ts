import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveIndex } from '../../src/index/live-index.js';
import type { Volume } from '../../src/store/volume.js';
import { CONTENT_SECURITY_POLICY } from '../../src/routes/browse.js';
import { buildTestApp } from '../helpers/app.js';
import { makeWheel } from '../helpers/dists.js';
import { uploadBody } from '../helpers/forms.js';
import { tempDir } from '../helpers/server.js';

let app: FastifyInstance;
let live: LiveIndex;
let root: string;
/** What afterAll undoes, in reverse: only what beforeAll got to make. */
const undo: (() => unknown)[] = [];

async function addWheel(opts: Parameters<typeof makeWheel>[0]): Promise<void> {
  const w = await makeWheel(opts);
  await copyFile(w.path, path.join(root, w.filename));
}

/** Counts every call into the store: the file system is reached only through it. */
function countStoreCalls(of: Volume): { calls: string[] } {
  const calls: string[] = [];
  const store = of as unknown as Record<string, unknown>;
  // Calls from outside the store only: one it makes to itself is part of the same read.
  let depth = 0;
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(store))) {
    const fn = store[name];
    if (name === 'constructor' || typeof fn !== 'function') continue;
    store[name] = function (this: unknown, ...args: unknown[]) {
      if (depth === 0) calls.push(name);
      depth++;
      try {
        return (fn as (...a: unknown[]) => unknown).apply(this, args);
      } finally {
        depth--;
      }
    };
  }
  return { calls };
}

beforeAll(async () => {
  const tmp = tempDir();
  root = tmp.dir;
  undo.push(() => {
    tmp.cleanup();
  });
  await addWheel({ name: 'Demo_Pkg', version: '1.0' });
  await addWheel({
    name: 'Demo_Pkg',
    version: '2.0',
    summary: 'Demo <things>',
    requiresDist: ['helper-lib>=1', 'later-lib'],
    metadataLines: ['Description-Content-Type: text/markdown'],
    description: '# Demo README\n\nSome **bold** text.\n\n<script>alert(1)</script>',
  });
  await addWheel({ name: 'helper-lib', version: '1.5' });
  ({ app, live } = await buildTestApp(root, ['--watch', 'off']));
  undo.push(() => app.close());
});

afterAll(async () => {
  for (const step of undo.reverse()) await step();
});

describe('headers of the pages for people', () => {
  it('every page carries a strict Content-Security-Policy, nosniff and a Referrer-Policy', async () => {
    for (const url of ['/', '/project/demo-pkg/', '/project/demo-pkg/1.0/', '/search?q=demo', '/project/nope/']) {
      const res = await app.inject(url);
      expect(res.headers['content-type'], url).toBe('text/html; charset=utf-8');
      expect(res.headers['content-security-policy'], url).toBe(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      );
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      expect(res.headers['referrer-policy'], url).toBe('same-origin');
    }
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe');
  });

  it('answers 304 to a matching If-None-Match, for the plain and the gzip variant', async () => {
    for (const url of ['/', '/project/demo-pkg/', '/project/demo-pkg/1.0/', '/search?q=demo']) {
      const first = await app.inject(url);
      expect(first.statusCode).toBe(200);
      const etag = first.headers.etag as string;
      expect(etag).toMatch(/^"[\w-]+"$/);
      const again = await app.inject({ url, headers: { 'if-none-match': etag } });
      expect(again.statusCode, url).toBe(304);
      expect(again.body).toBe('');
      const gz = await app.inject({ url, headers: { 'accept-encoding': 'gzip' } });
      expect(gz.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(gz.rawPayload).toString()).toBe(first.body);
      const gzAgain = await app.inject({ url, headers: { 'accept-encoding': 'gzip', 'if-none-match': gz.headers.etag as string } });
      expect(gzAgain.statusCode).toBe(304);
    }
  });
});

describe('GET /project/<name>/ and /project/<name>/<version>/', () => {
  it('renders the latest release with its Markdown description from the sidecar, sanitized', async () => {
    const res = await app.inject('/project/demo-pkg/');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<h1>Demo_Pkg 2.0</h1>');
    expect(res.body).toContain('<p class="summary">Demo &lt;things&gt;</p>');
    expect(res.body).toContain('<h3>Demo README</h3>');
    expect(res.body).toContain('<strong>bold</strong>');
    expect(res.body).not.toContain('<script');
    expect(res.body).toContain('pip install --index-url http://localhost:80/simple/ demo-pkg');
  });

  it('redirects any other spelling of the name or version, and a missing slash, to the canonical URL with one 301', async () => {
    const cases: [string, string][] = [
      ['/project/Demo_Pkg/', '/project/demo-pkg/'],
      ['/project/demo.pkg/', '/project/demo-pkg/'],
      ['/project/demo-pkg', '/project/demo-pkg/'],
      ['/project/Demo_Pkg', '/project/demo-pkg/'],
      ['/project/DEMO-PKG/1.0/', '/project/demo-pkg/1.0/'],
      ['/project/demo-pkg/2.0.0/', '/project/demo-pkg/2.0/'],
      ['/project/Demo_Pkg/2.0.0/', '/project/demo-pkg/2.0/'],
      ['/project/demo-pkg/1.0', '/project/demo-pkg/1.0/'],
    ];
    for (const [from, to] of cases) {
      const res = await app.inject(from);
      expect(res.statusCode, from).toBe(301);
      expect(res.headers.location, from).toBe(to);
    }
  });

  it('answers an unknown project or version with a 404 page a person can read, suggesting near names', async () => {
    const project = await app.inject('/project/demo-pk/');
    expect(project.statusCode).toBe(404);
    expect(project.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(project.body).toContain('<p>No project named &quot;demo-pk&quot; on this index</p>');
    expect(project.body).toContain('href="/project/demo-pkg/"');
    const version = await app.inject('/project/demo-pkg/9.9/');
    expect(version.statusCode).toBe(404);
    expect(version.body).toContain('<p>Project &quot;Demo_Pkg&quot; has no version 9.9 on this index</p>');
    const hostile = await app.inject('/project/%3Cscript%3E/');
    expect(hostile.statusCode).toBe(404);
    expect(hostile.body).not.toContain('<script>');
  });

  it('serves a repeated request without calling the store at all, and a burst of first requests reads the description once', async () => {
    await addWheel({
      name: 'burst-pkg',
      version: '1.0',
      metadataLines: ['Description-Content-Type: text/markdown'],
      description: '# Burst',
    });
    // No file cache: a description is not kept in memory apart from the pages made from it.
    const own = await buildTestApp(root, ['--watch', 'off', '--file-cache-size', '0']);
    try {
      const { calls } = countStoreCalls(own.server.volume);
      const burst = await Promise.all(Array.from({ length: 20 }, () => own.app.inject('/project/burst-pkg/')));
      expect(burst.every((r) => r.statusCode === 200 && r.body.includes('<h3>Burst</h3>'))).toBe(true);
      expect(calls).toEqual(['readDescription']);
      for (const url of ['/project/burst-pkg/1.0/', '/project/demo-pkg/', '/', '/search?q=burst']) await own.app.inject(url);
      calls.length = 0;
      for (let i = 0; i < 5; i++) {
        for (const url of ['/project/burst-pkg/', '/project/burst-pkg/1.0/', '/project/demo-pkg/', '/', '/search?q=burst']) {
          const headers = i % 2 ? { 'accept-encoding': 'gzip' } : {};
          expect((await own.app.inject({ url, headers })).statusCode).toBe(200);
        }
      }
      expect(calls).toEqual([]);
    } finally {
      await own.app.close();
    }
  });

  it('keeps its pages in the index page cache, counted by its metrics', async () => {
    const metric = async (name: string): Promise<number> => {
      const text = (await app.inject('/metrics')).body;
      return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    };
    const hits = await metric('wheelhouse_page_cache_hits_total');
    const misses = await metric('wheelhouse_page_cache_misses_total');
    const entries = await metric('wheelhouse_page_cache_entries');
    expect((await app.inject('/project/helper-lib/1.5/')).statusCode).toBe(200);
    expect(await metric('wheelhouse_page_cache_misses_total')).toBe(misses + 1);
    expect(await metric('wheelhouse_page_cache_entries')).toBe(entries + 1);
    expect((await app.inject('/project/helper-lib/1.5/')).statusCode).toBe(200);
    expect(await metric('wheelhouse_page_cache_hits_total')).toBe(hits + 1);
  });

  it('shows who uploaded a file, from the login that uploaded it', async () => {
    const t = tempDir('wh-uploader-');
    const users = path.join(t.dir, '.htpasswd');
    await writeFile(users, 'ada:a-long-password\n');
    const own = await buildTestApp(t.dir, ['--watch', 'off', '--authenticate', 'update', '--passwords', users]);
    try {
      const w = await makeWheel({ name: 'signed-pkg', version: '1.0' });
      const form = uploadBody(w);
      const upload = await own.app.inject({
        method: 'POST',
        url: '/',
        payload: form.payload,
        headers: { ...form.headers, authorization: `Basic ${Buffer.from('ada:a-long-password').toString('base64')}` },
      });
      expect(upload.statusCode, upload.body).toBe(200);
      const page = await own.app.inject('/project/signed-pkg/');
      expect(page.body).toContain('<dt>Uploaded by</dt><dd>ada</dd>');
    } finally {
      await own.app.close();
      t.cleanup();
    }
  });

  it('links a dependency once its project arrives on the index, though the dependent project did not change', async () => {
    const before = await app.inject('/project/demo-pkg/');
    expect(before.body).toContain('<a href="/project/helper-lib/">helper-lib</a>');
    expect(before.body).toContain('<span>later-lib</span>');
    await addWheel({ name: 'later-lib', version: '0.1' });
    await live.rescan({ full: true });
    const after = await app.inject('/project/demo-pkg/');
    expect(after.body).toContain('<a href="/project/later-lib/">later-lib</a>');
    expect(after.headers.etag).not.toBe(before.headers.etag);
  });

  it('answers HEAD like GET, without a body', async () => {
    const res = await app.inject({ method: 'HEAD', url: '/project/demo-pkg/' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
  });
});

describe('the JSON API points at these pages', () => {
  it('project_url and release_url of /pypi/<name>/json answer 200', async () => {
    const { info } = (await app.inject('/pypi/demo-pkg/json')).json();
    for (const url of [info.project_url as string, info.release_url as string, info.package_url as string]) {
      const res = await app.inject(new URL(url).pathname);
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toContain('<h1>Demo_Pkg 2.0</h1>');
    }
    const old = (await app.inject('/pypi/demo-pkg/1.0/json')).json();
    const res = await app.inject(new URL(old.info.release_url as string).pathname);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<h1>Demo_Pkg 1.0</h1>');
  });
});

describe('GET /search', () => {
  it('ranks matches from memory and escapes the query', async () => {
    const res = await app.inject('/search?q=%3Cb%3Edemo');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Results for “&lt;b&gt;demo”');
    const order = async (q: string) =>
      [...(await app.inject(`/search?q=${q}`)).body.matchAll(/<a class="name" href="\/project\/([^/]+)\/">/g)].map((m) => m[1]);
    expect(await order('helper-lib')).toEqual(['helper-lib']);
    expect(await order('lib')).toContain('helper-lib');
    expect(await order('demo')).toEqual(['demo-pkg']);
    expect((await app.inject('/search?q=Demo_Pkg')).body).toMatch(/<a class="name" href="\/project\/demo-pkg\/">Demo_Pkg<\/a>/);
  });

  it('shows the search box alone without a query, and takes a very long query without failing', async () => {
    const empty = await app.inject('/search');
    expect(empty.statusCode).toBe(200);
    expect(empty.body).toContain('Type a project name');
    expect((await app.inject(`/search?q=${'a'.repeat(5000)}`)).statusCode).toBe(200);
  });
});

describe('GET /static/<asset>', () => {
  it('serves the stylesheet the pages name, cached for a year, and 404 for any other name', async () => {
    const page = await app.inject('/');
    const href = /<link rel="stylesheet" href="([^"]+)">/.exec(page.body)![1]!;
    expect(href).toMatch(/^\/static\/style\.[0-9a-f]{12}\.css$/);
    const css = await app.inject(href);
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(css.body).toContain(':focus-visible');
    expect((await app.inject({ url: href, headers: { 'if-none-match': css.headers.etag as string } })).statusCode).toBe(304);
    const icon = /<link rel="icon" type="image\/svg\+xml" href="([^"]+)">/.exec(page.body)![1]!;
    expect((await app.inject(icon)).headers['content-type']).toBe('image/svg+xml');
    expect((await app.inject('/static/style.000000000000.css')).statusCode).toBe(404);
    expect((await app.inject('/favicon.ico')).statusCode).toBe(404);
    // Projects named like these pages keep their pypiserver-style URL.
    for (const name of ['static', 'project', 'search']) {
      const res = await app.inject(`/${name}/`);
      expect(res.statusCode, name).toBe(303);
      expect(res.headers.location).toBe(`/simple/${name}/`);
    }
  });
});
