import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { makePage, PageCache } from '../../src/index/page-cache.js';

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
});
