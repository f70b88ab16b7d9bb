import { randomBytes } from 'node:crypto';
import { Piscina } from 'piscina';
import { Errors } from '../errors.js';
import { bcryptCost, schemeOf, verifyCheapHash } from './htpasswd.js';

export interface PasswordCheckerOptions {
  /** Threads hashing at once; each takes a core while it runs. */
  threads: number;
  /** Checks waiting for a thread; past this, logins are refused with 503 until the queue drains. */
  maxQueued: number;
}

const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Checks passwords against htpasswd hashes without blocking the event loop: bcrypt runs in a small
 * pool of worker threads at a lower CPU priority than the server, with a bounded queue, so a wave
 * of wrong passwords costs CPU but never stalls `/health` or the index. Cheap schemes are checked
 * inline.
 */
export class PasswordChecker {
  private readonly pool: Piscina;
  /** Checks run in the pool, for metrics. */
  verifications = 0;

  constructor(opts: PasswordCheckerOptions) {
    this.pool = new Piscina({
      filename: new URL('./bcrypt-worker.mjs', import.meta.url).href,
      minThreads: 0,
      maxThreads: Math.max(1, opts.threads),
      maxQueue: Math.max(0, opts.maxQueued),
      idleTimeout: 60_000,
      // Hashing yields the CPU to the event loop (Linux; ignored elsewhere).
      niceIncrement: 10,
    });
  }

  /** Whether `password` matches `hash`. Throws LoginsBusy (503) when too many checks are waiting. */
  async verify(password: string, hash: string): Promise<boolean> {
    if (schemeOf(hash) !== 'bcrypt') return verifyCheapHash(password, hash);
    this.verifications++;
    try {
      return (await this.pool.run({ password, hash })) as boolean;
    } catch (err) {
      // piscina's refusal when its queue is full carries no code, only this message.
      if ((err as Error).message === 'Task queue is at limit') throw new Errors.LoginsBusy();
      throw err;
    }
  }

  /**
   * A hash no password matches, costing as much to check as the costliest of `hashes`: checking
   * an unknown user against it makes "no such user" take as long as "wrong password", so response
   * times do not tell which user names exist.
   */
  static decoyFor(hashes: Iterable<string>): string {
    let cost: number | null = null;
    for (const h of hashes) {
      const c = bcryptCost(h);
      if (c !== null && (cost === null || c > cost)) cost = c;
    }
    if (cost === null) return `{SHA}${randomBytes(20).toString('base64')}`;
    const salt = Array.from(randomBytes(53), (b) => BCRYPT_ALPHABET.charAt(b % 64)).join('');
    return `$2b$${String(cost).padStart(2, '0')}$${salt}`;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
