/**
 * A read-only map made of another one and a few changes on top: what a snapshot after one upload
 * is to the one before. Copying a map of 100,000 records at every poll that finds a change would
 * cost more than everything else the poll does; a layer costs the change. Layers are flattened
 * into a plain map once they hold many changes or stack deep, so a lookup stays a lookup or two.
 */
export class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  private readonly base: ReadonlyMap<K, V>;
  private readonly set: ReadonlyMap<K, V>;
  private readonly deleted: ReadonlySet<K>;
  private readonly depth: number;
  readonly size: number;

  private constructor(base: ReadonlyMap<K, V>, set: ReadonlyMap<K, V>, deleted: ReadonlySet<K>, depth: number, size: number) {
    this.base = base;
    this.set = set;
    this.deleted = deleted;
    this.depth = depth;
    this.size = size;
  }

  /**
   * `base` with `set` put and `deleted` taken out (a key in both is put). Returns a plain Map when
   * the layers would grow too deep or too large to be worth it.
   */
  static over<K, V>(base: ReadonlyMap<K, V>, set: ReadonlyMap<K, V>, deleted: Iterable<K>): ReadonlyMap<K, V> {
    const gone = new Set<K>();
    for (const k of deleted) if (!set.has(k) && base.has(k)) gone.add(k);
    let size = base.size - gone.size;
    for (const k of set.keys()) if (!base.has(k)) size++;
    const depth = base instanceof LayeredMap ? base.depth + 1 : 1;
    const changes = base instanceof LayeredMap ? base.changes() + set.size + gone.size : set.size + gone.size;
    const layered = new LayeredMap(base, set, gone, depth, size);
    if (depth > MAX_DEPTH || changes * FLATTEN_RATIO > size) return new Map(layered);
    return layered;
  }

  /** Changes held by this layer and the ones under it. */
  private changes(): number {
    const below = this.base instanceof LayeredMap ? this.base.changes() : 0;
    return below + this.set.size + this.deleted.size;
  }

  get(key: K): V | undefined {
    if (this.set.has(key)) return this.set.get(key);
    if (this.deleted.has(key)) return undefined;
    return this.base.get(key);
  }

  has(key: K): boolean {
    if (this.set.has(key)) return true;
    if (this.deleted.has(key)) return false;
    return this.base.has(key);
  }

  *entries(): MapIterator<[K, V]> {
    for (const [k, v] of this.base) if (!this.set.has(k) && !this.deleted.has(k)) yield [k, v];
    yield* this.set;
  }

  *keys(): MapIterator<K> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }
}

/** Lookups go through at most this many layers. */
const MAX_DEPTH = 8;
/** Flattened once the changes on top reach a 64th of the map (a copy then costs little per change). */
const FLATTEN_RATIO = 64;
