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
 * Rendered pages by key. Keys include the project's fingerprint, so a swap of the index leaves
 * pages of unchanged projects valid and nothing needs explicit invalidation.
 */
export class PageCache {
  hits = 0;
  misses = 0;
  private readonly lru: LRUCache<string, Page>;

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

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
}
