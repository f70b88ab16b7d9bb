import { LRUCache } from 'lru-cache';

/**
 * Bytes kept in memory by key (small wheels, PEP 658 metadata, descriptions), loaded at most once
 * at a time: the first burst asks for the same wheel hundreds of times before one read has
 * finished, and one read serves them all. A loader answering null means "do not keep".
 */
export class BlobCache {
  private readonly lru: LRUCache<string, Buffer>;
  private readonly loading = new Map<string, Promise<Buffer | null>>();

  constructor(maxBytes: number) {
    this.lru = new LRUCache<string, Buffer>({ maxSize: Math.max(maxBytes, 1), sizeCalculation: (b) => b.length + 64 });
  }

  /** The bytes when held now: a burst's requests need no promise for them. */
  peek(key: string): Buffer | undefined {
    return this.lru.get(key);
  }

  get(key: string, load: () => Promise<Buffer | null>): Promise<Buffer | null> {
    const hit = this.lru.get(key);
    if (hit) return Promise.resolve(hit);
    let loading = this.loading.get(key);
    if (!loading) {
      loading = load()
        .then((data) => {
          if (data) this.lru.set(key, data);
          return data;
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, loading);
    }
    return loading;
  }
}
