import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { pairKey, type LoginThrottle } from '../auth/throttle.js';
import type { LiveIndex } from '../index/live-index.js';
import { isMessage, type Message } from './messages.js';
import { ANNOUNCE_TIMEOUT_MS } from './primary.js';

function send(m: Message): void {
  process.send?.(m);
}

/**
 * Tells the primary this worker's server is built, and waits for its word: whether to listen
 * before loading (see primary.ts).
 */
export function awaitStart(): Promise<{ listenFirst: boolean }> {
  return new Promise((resolve) => {
    const onMessage = (msg: unknown) => {
      if (!isMessage(msg) || msg.wheelhouse !== 'start') return;
      process.off('message', onMessage);
      resolve({ listenFirst: msg.listenFirst });
    };
    process.on('message', onMessage);
    send({ wheelhouse: 'ready' });
  });
}

/** Tells the primary this worker's index is in: the workers waiting for it start. */
export function tellLoaded(): void {
  send({ wheelhouse: 'loaded' });
}

/**
 * A worker's side of write announcements: answers its siblings' by polling, and returns the
 * function the index awaits after each of its own writes.
 */
export function joinSiblings(getLive: () => LiveIndex | null, log: Logger): () => Promise<void> {
  const waiting = new Map<number, () => void>();
  let next = 0;
  process.on('message', (msg: unknown) => {
    if (!isMessage(msg)) return;
    if (msg.wheelhouse === 'catch-up') {
      const live = getLive();
      // A worker still loading lists the write with its first scan anyway.
      const caughtUp = live?.ready
        ? live.poll().then(
            () => undefined,
            (err: unknown) => log.warn({ err }, 'catching up with a sibling write failed'),
          )
        : Promise.resolve();
      void caughtUp.then(() => send({ wheelhouse: 'caught-up', id: msg.id }));
    } else if (msg.wheelhouse === 'announced') {
      waiting.get(msg.id)?.();
    }
  });
  return () =>
    new Promise<void>((resolve) => {
      const id = ++next;
      const done = () => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve();
      };
      // The primary answers within its own limit; this one only covers a primary that is gone.
      const timer = setTimeout(done, ANNOUNCE_TIMEOUT_MS + 1_000);
      waiting.set(id, done);
      send({ wheelhouse: 'wrote', id });
    });
}

/**
 * The login throttle of a worker: the counting happens in the primary, shared by every worker of
 * the task; refusals the primary announces are kept here so a remembered login is refused without
 * a round trip.
 */
export class ClusterThrottle implements LoginThrottle {
  private readonly blocked = new LRUCache<string, number>({ max: 50_000 });
  private readonly replies = new Map<number, (wait: number) => void>();
  private next = 0;

  constructor() {
    process.on('message', (msg: unknown) => {
      if (!isMessage(msg)) return;
      if (msg.wheelhouse === 'throttle-reserved') {
        this.replies.get(msg.id)?.(msg.wait);
        this.replies.delete(msg.id);
      } else if (msg.wheelhouse === 'throttle-blocked') {
        this.blocked.set(msg.user === null ? msg.ip : pairKey(msg.ip, msg.user), msg.until);
      }
    });
  }

  blockedFor(ip: string, user: string, now = Date.now()): number {
    const until = Math.max(this.blocked.get(ip) ?? 0, this.blocked.get(pairKey(ip, user)) ?? 0);
    if (until <= now) return 0;
    return Math.ceil((until - now) / 1000);
  }

  reserve(ip: string, user: string): Promise<number> {
    if (!process.connected) return Promise.resolve(0);
    return new Promise((resolve) => {
      const id = ++this.next;
      this.replies.set(id, resolve);
      send({ wheelhouse: 'throttle-reserve', id, ip, user });
    });
  }

  settle(ip: string, user: string, ok: boolean): void {
    send({ wheelhouse: 'throttle-settle', ip, user, ok });
  }

  fail(ip: string, user: string): void {
    send({ wheelhouse: 'throttle-fail', ip, user });
  }
}
