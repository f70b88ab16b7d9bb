import { LRUCache } from 'lru-cache';
import type { Page } from './page-cache.js';

/**
 * Rendered pages whose rendering awaits something (a long description from its sidecar). A hit
 * is answered without a promise and without touching the volume; a miss renders once however
 * many requests for the same key arrive meanwhile, so a burst on a new page costs one sidecar read.
 * Keys carry everything the page depends on, so nothing needs explicit invalidation.
 */
export class AsyncPageCache {
  hits = 0;
  misses = 0;
  private readonly lru: LRUCache<string, Page>;
  private readonly rendering = new Map<string, Promise<Page>>();

  constructor(maxBytes: number) {
    this.lru = new LRUCache<string, Page>({
      maxSize: Math.max(maxBytes, 1024),
      sizeCalculation: (p) => p.body.length + (p.gzip?.length ?? 0) + 200,
    });
  }

  /** The page if it is held, counted as a hit. */
  peek(key: string): Page | undefined {
    const hit = this.lru.get(key);
    if (hit) this.hits++;
    return hit;
  }

  /** The held page, or the one `render` makes (shared with every caller asking for `key` meanwhile). */
  get(key: string, render: () => Promise<Page>): Page | Promise<Page> {
    const hit = this.peek(key);
    if (hit) return hit;
    let pending = this.rendering.get(key);
    if (!pending) {
      this.misses++;
      pending = render()
        .then((page) => {
          this.lru.set(key, page);
          return page;
        })
        .finally(() => this.rendering.delete(key));
      this.rendering.set(key, pending);
    }
    return pending;
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
}
