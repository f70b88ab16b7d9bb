/**
 * Coalesces concurrent work per key: while a call for a key is in flight, every further call
 * for that key gets the same promise instead of starting the work again. Nothing is remembered
 * once it settles (results and errors alike), so the next call after that starts afresh.
 */
export class SingleFlight<K, V> {
  private readonly inFlight = new Map<K, Promise<V>>();

  run(key: K, work: () => Promise<V>): Promise<V> {
    const running = this.inFlight.get(key);
    if (running) return running;
    const started = (async () => {
      try {
        return await work();
      } finally {
        this.inFlight.delete(key);
      }
    })();
    this.inFlight.set(key, started);
    return started;
  }

  /** True while a call for key is in flight. */
  has(key: K): boolean {
    return this.inFlight.has(key);
  }

  /** Keys in flight right now. */
  get size(): number {
    return this.inFlight.size;
  }
}
