import { LRUCache } from 'lru-cache';

export interface ThrottleLimits {
  /** Failed logins for one user from one address before that pair is refused. */
  maxFailures: number;
  /** Failed logins from one address, whatever the user, before the address is refused. */
  maxFailuresPerAddress: number;
  windowMs: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = { maxFailures: 10, maxFailuresPerAddress: 100, windowMs: 60_000 };

/**
 * Failed-login throttling. Only failures count, so the many correct logins behind one NAT address
 * cost nothing; per user and address, so a client with a stale password locks out its own user
 * name only, and a looser per-address bound stops guessing across user names. A guess counts from
 * the moment its check starts: 200 guesses sent at once get 10 checks, not 200.
 */
export interface LoginThrottle {
  /** Seconds this user from this address must still wait, from what this process knows now. */
  blockedFor(ip: string, user: string): number;
  /** Reserves a check: 0 when granted (settle() must follow), else the seconds to wait. */
  reserve(ip: string, user: string): Promise<number>;
  /** Ends a reserved check. */
  settle(ip: string, user: string, ok: boolean): void;
  /** A failure known without a check (a remembered wrong password). */
  fail(ip: string, user: string): void;
}

interface Window {
  start: number;
  failures: number;
  pending: number;
}

/** The throttle's state in one process (the cluster primary holds the task's). */
export class LocalThrottle implements LoginThrottle {
  private readonly windows: LRUCache<string, Window>;
  private readonly limits: ThrottleLimits;
  /** Told when a key starts being refused, until when (ms): the cluster tells every worker. */
  onBlocked: ((ip: string, user: string | null, untilMs: number) => void) | null = null;

  constructor(limits: ThrottleLimits = DEFAULT_THROTTLE) {
    this.limits = limits;
    this.windows = new LRUCache({ max: 50_000, ttl: limits.windowMs });
  }

  blockedFor(ip: string, user: string, now = Date.now()): number {
    return Math.max(
      this.waitFor(ip, this.limits.maxFailuresPerAddress, now),
      this.waitFor(pairKey(ip, user), this.limits.maxFailures, now),
    );
  }

  reserve(ip: string, user: string, now = Date.now()): Promise<number> {
    return Promise.resolve(this.reserveNow(ip, user, now));
  }

  reserveNow(ip: string, user: string, now = Date.now()): number {
    const wait = this.blockedFor(ip, user, now);
    if (wait > 0) return wait;
    for (const key of [ip, pairKey(ip, user)]) this.window(key, now).pending++;
    return 0;
  }

  settle(ip: string, user: string, ok: boolean, now = Date.now()): void {
    for (const key of [ip, pairKey(ip, user)]) {
      const w = this.windows.get(key);
      if (w && w.pending > 0) w.pending--;
    }
    if (!ok) this.fail(ip, user, now);
  }

  fail(ip: string, user: string, now = Date.now()): void {
    const keys: [string, number, string | null][] = [
      [ip, this.limits.maxFailuresPerAddress, null],
      [pairKey(ip, user), this.limits.maxFailures, user],
    ];
    for (const [key, max, who] of keys) {
      const w = this.window(key, now);
      w.failures++;
      if (w.failures === max) this.onBlocked?.(ip, who, w.start + this.limits.windowMs);
    }
  }

  private window(key: string, now: number): Window {
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.limits.windowMs) {
      // A new window starts with the first check or failure; the entry's TTL ends it.
      w = { start: now, failures: 0, pending: w?.pending ?? 0 };
      this.windows.set(key, w);
    }
    return w;
  }

  private waitFor(key: string, max: number, now: number): number {
    const w = this.windows.get(key);
    if (!w || now - w.start >= this.limits.windowMs || w.failures + w.pending < max) return 0;
    return Math.max(1, Math.ceil((w.start + this.limits.windowMs - now) / 1000));
  }
}

export function pairKey(ip: string, user: string): string {
  return `${ip}\0${user}`;
}
