import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { makePage, PageCache, type Page } from '../../src/index/page-cache.js';

const page = (text: string): Page => makePage(text, 'text/html; charset=utf-8');

describe('makePage', () => {
  it('holds a compressed body in memory of its own size, so the cache’s byte budget is what pages keep alive', () => {
    const text = Array.from({ length: 200 }, (_, i) => `<a href="/packages/demo-1.${i}.0-py3-none-any.whl">demo</a>`).join('\n');
    const page = makePage(text, 'text/html');
    expect(page.gzip).not.toBeNull();
    const gzip = page.gzip ?? Buffer.alloc(0);
    expect(gunzipSync(gzip).toString('utf8')).toBe(text);
    expect(gzip.buffer.byteLength).toBe(gzip.byteLength);
  });

  it('leaves a short page uncompressed', () => {
    expect(makePage('<p>hi</p>', 'text/html').gzip).toBeNull();
  });
});

describe('PageCache', () => {
  it('renders a key once and answers it from memory after', () => {
    const cache = new PageCache(1 << 20);
    let renders = 0;
    const render = () => {
      renders++;
      return makePage('page', 'text/plain');
    };
    cache.get('k', render);
    cache.get('k', render);
    expect([renders, cache.hits, cache.misses]).toEqual([1, 1, 1]);
  });

  it('renders an awaited page once for every request that asks while it renders, then answers without a promise', async () => {
    const cache = new PageCache(1024 * 1024);
    let renders = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const render = async () => {
      renders++;
      await gate;
      return page('<p>project</p>');
    };
    const waiting = Array.from({ length: 10 }, () => cache.getAsync('project', render));
    expect(waiting.every((p) => p instanceof Promise)).toBe(true);
    release();
    const pages = await Promise.all(waiting.map((p) => Promise.resolve(p)));
    expect(new Set(pages).size).toBe(1);
    expect(renders).toBe(1);
    const again = cache.getAsync('project', render);
    expect(again).not.toBeInstanceOf(Promise);
    expect(again).toBe(pages[0]);
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 1 });
  });

  it('keeps index pages and awaited pages in one byte budget: new pages of either kind push out the oldest', async () => {
    // Random text, so gzip cannot make the pages small: each holds 4 kB plus its gzip copy.
    const text = () => randomBytes(2000).toString('hex');
    const cache = new PageCache(6 * 4000);
    cache.get('simple:a', () => page(text()));
    await cache.getAsync('project:a', () => Promise.resolve(page(text())));
    await cache.getAsync('project:b', () => Promise.resolve(page(text())));
    cache.get('simple:b', () => page(text()));
    expect(cache.bytes).toBeLessThanOrEqual(6 * 4000);
    expect(cache.size).toBeLessThan(4);
    let rendered = false;
    cache.get('simple:a', () => {
      rendered = true;
      return page(text());
    });
    expect(rendered).toBe(true);
  });

  it('drops a failed render, so the next request tries again', async () => {
    const cache = new PageCache(1024 * 1024);
    await expect(cache.getAsync('p', () => Promise.reject(new Error('volume gone')))).rejects.toThrow('volume gone');
    await expect(cache.getAsync('p', () => Promise.resolve(page('ok')))).resolves.toMatchObject({
      contentType: 'text/html; charset=utf-8',
    });
    expect(cache.size).toBe(1);
  });
});
