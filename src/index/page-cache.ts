import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { LRUCache } from 'lru-cache';

export interface Page {
  body: Buffer;
  /** Pre-compressed once, for pages worth it: compressing per response would burn the CPU in a burst. */
  gzip: Buffer | null;
  /** Strong ETag of `body`; the gzip variant's is `etag` with `-gz` before the closing quote. */
  etag: string;
  contentType: string;
}

// Below this, gzip saves less than the header and framing cost.
const GZIP_MIN = 512;

export function makePage(text: string, contentType: string): Page {
  const body = Buffer.from(text, 'utf8');
  const etag = `"${createHash('sha256').update(contentType).update('\0').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, gzip: body.length >= GZIP_MIN ? ownBytes(gzipSync(body, { level: 6 })) : null, etag, contentType };
}

/**
 * zlib returns a view of its 16 KiB output chunk: held in the cache, each page of a few hundred
 * compressed bytes would keep the whole chunk alive, unseen by the cache's byte budget.
 */
function ownBytes(view: Buffer): Buffer {
  if (view.byteLength === view.buffer.byteLength) return view;
  const own = Buffer.allocUnsafeSlow(view.byteLength);
  view.copy(own);
  return own;
}

/**
 * Rendered pages by key, in one byte budget: the index's pages and the pages for people alike.
 * Keys include the fingerprint of what a page shows, so a swap of the index leaves pages of
 * unchanged projects valid and nothing needs explicit invalidation.
 */
export class PageCache {
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

  get(key: string, render: () => Page): Page {
    const hit = this.lru.get(key);
    if (hit) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const page = render();
    this.lru.set(key, page);
    return page;
  }

  /**
   * For pages whose rendering awaits something (a long description from its sidecar). A hit is
   * answered without a promise; a miss renders once however many requests for the same key
   * arrive meanwhile, so a burst on a new page costs one read of the volume.
   */
  getAsync(key: string, render: () => Promise<Page>): Page | Promise<Page> {
    const hit = this.lru.get(key);
    if (hit) {
      this.hits++;
      return hit;
    }
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
