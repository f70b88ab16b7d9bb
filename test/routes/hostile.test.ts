// What a hostile client can send the read and upload routes, and what it must get: bounded
// memory for a form, no cross-site writes, headers a browser cannot misread, and pages the
// client cannot make us render again and again.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DESCRIPTION_BYTES, MAX_FIELD_BYTES, MAX_FORM_BYTES } from '../../src/routes/upload-form.js';
import { buildTestApp } from '../helpers/app.js';
import { makeWheel } from '../helpers/dists.js';
import { multipart, uploadBody, type Part } from '../helpers/forms.js';
import { tempDir } from '../helpers/server.js';

let app: FastifyInstance;
let root: string;
let cleanup: () => void;
let wheel: { filename: string; bytes: Buffer };

beforeAll(async () => {
  ({ dir: root, cleanup } = tempDir('wh-hostile-'));
  ({ app } = await buildTestApp(root));
  wheel = await makeWheel({ name: 'demo_pkg', version: '1.0' });
});
afterAll(async () => {
  await app.close();
  cleanup();
});

describe('upload forms with huge text fields', () => {
  it('refuses one field over its limit with 413, naming the field', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/',
      ...uploadBody(wheel, { fields: { summary: 'x'.repeat(MAX_FIELD_BYTES + 1) } }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.body).toContain("The form field 'summary' is larger than 65536 bytes");
  });

  it('accepts a long description up to its own limit', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/',
      ...uploadBody(wheel, { fields: { description: 'd'.repeat(3 * 1024 * 1024) } }),
    });
    expect(res.statusCode, res.body).toBe(200);
  });

  it('refuses a description past its limit', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/',
      ...uploadBody(wheel, { fields: { description: 'd'.repeat(MAX_DESCRIPTION_BYTES + 10) } }),
    });
    expect(res.statusCode).toBe(413);
  });

  it('refuses many fields that together exceed the form limit, before reading them all', async () => {
    const field = 'c'.repeat(60 * 1024);
    const count = Math.ceil((MAX_FORM_BYTES * 4) / field.length); // four times the limit in total
    const parts: Part[] = [{ name: ':action', value: 'file_upload' }];
    for (let i = 0; i < count; i++) parts.push({ name: 'classifiers', value: field });
    const res = await app.inject({ method: 'POST', url: '/', ...multipart(parts) });
    expect(res.statusCode).toBe(413);
    expect(res.body).toContain(`The form fields together are larger than ${MAX_FORM_BYTES} bytes`);
    // The refused upload may still be sending: the connection is closed after the answer.
    expect(res.headers.connection).toBe('close');
  });
});

describe('cross-site writes from browsers', () => {
  const removeForm = () => ({
    payload: 'name=demo_pkg&version=1.0&:action=remove_pkg',
    headers: { 'content-type': 'application/x-www-form-urlencoded', host: 'pypi.internal' },
  });

  it.each([
    ['an Origin of another site', { origin: 'https://evil.example' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'sec-fetch-site': 'same-site' }],
    ['Origin: null (a sandboxed frame)', { origin: 'null' }],
  ])('refuses a remove_pkg form carrying %s with 403, and removes nothing', async (_what, extra) => {
    const up = await app.inject({ method: 'POST', url: '/', ...uploadBody(wheel) });
    expect(up.statusCode).toBe(200);
    const form = removeForm();
    const res = await app.inject({ method: 'POST', url: '/', payload: form.payload, headers: { ...form.headers, ...extra } });
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('Cross-site request refused');
    expect((await app.inject('/simple/demo-pkg/')).body).toContain(wheel.filename);
  });

  it('lets the same request through without Origin (twine, poetry, curl) and from the same origin', async () => {
    for (const extra of [{}, { origin: 'http://pypi.internal', 'sec-fetch-site': 'same-origin' }]) {
      expect((await app.inject({ method: 'POST', url: '/', ...uploadBody(wheel) })).statusCode).toBe(200);
      const form = removeForm();
      const res = await app.inject({ method: 'POST', url: '/', payload: form.payload, headers: { ...form.headers, ...extra } });
      expect(res.statusCode, res.body).toBe(200);
    }
  });
});

describe('headers a browser cannot misread', () => {
  it('sends nosniff on every response and a strict CSP on HTML', async () => {
    await app.inject({ method: 'POST', url: '/', ...uploadBody(wheel) });
    for (const url of ['/', '/simple/', '/simple/demo-pkg/', '/packages/', `/packages/${wheel.filename}`, '/health', '/nope/x/y']) {
      const res = await app.inject(url);
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      if (String(res.headers['content-type']).startsWith('text/html')) {
        expect(res.headers['content-security-policy'], url).toMatch(/default-src 'none'.*frame-ancestors 'none'/);
      }
    }
  });
});

describe('absolute URLs', () => {
  it('never takes the host from X-Forwarded-Host, which any client can send', async () => {
    await app.inject({ method: 'POST', url: '/', ...uploadBody(wheel) });
    const res = await app.inject({ url: '/pypi/demo-pkg/json', headers: { host: 'pypi.internal', 'x-forwarded-host': 'evil.example' } });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain('evil.example');
    expect(res.json().urls[0].url).toMatch(/^http:\/\/pypi\.internal\/packages\//);
    const home = await app.inject({ url: '/', headers: { host: 'pypi.internal', 'x-forwarded-host': 'evil.example' } });
    expect(home.body).not.toContain('evil.example');
  });

  it('does not echo a Host header that is not a host name', async () => {
    const res = await app.inject({ url: '/', headers: { host: 'a"><script>x</script>' } });
    expect(res.body).not.toContain('<script>x');
  });
});

describe('the page for people', () => {
  it('is rendered once and then served from the page cache', async () => {
    const { app: fresh, index } = await buildTestApp(root);
    try {
      await fresh.inject('/');
      const misses = index.pages.cache.misses;
      for (let i = 0; i < 20; i++) expect((await fresh.inject('/')).statusCode).toBe(200);
      expect(index.pages.cache.misses).toBe(misses);
      const etag = (await fresh.inject('/')).headers.etag as string;
      expect((await fresh.inject({ url: '/', headers: { 'if-none-match': etag } })).statusCode).toBe(304);
    } finally {
      await fresh.close();
    }
  });
});
