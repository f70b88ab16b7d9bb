import { createHash, type Hash } from 'node:crypto';
import { Transform, Writable } from 'node:stream';
import { blake2b } from '@noble/hashes/blake2';
import { bytesToHex } from '@noble/hashes/utils';
import { Errors } from '../errors.js';

export interface Digests {
  sha256: string;
  md5: string;
  blake2b256: string;
  /** Digests of the `extra` algorithms asked for, by hashlib name; absent when none were. */
  hashes?: Record<string, string>;
}

/**
 * sha256 + md5 + blake2b-256 in one pass, plus any `extra` node:crypto algorithms (sha512 for
 * the simple pages' links, say), with an optional size limit (streamed, never buffered).
 */
export class MultiHash extends Transform {
  size = 0;
  private readonly sha256 = createHash('sha256');
  private readonly md5 = createHash('md5');
  private readonly blake = blake2b.create({ dkLen: 32 });
  private readonly extra: [string, Hash][];

  private readonly maxSize: number;

  constructor(maxSize = Infinity, extra: readonly string[] = []) {
    super();
    this.maxSize = maxSize;
    this.extra = extra.map((name) => [name, createHash(name)]);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.size += chunk.length;
    if (this.size > this.maxSize) {
      cb(new Errors.TooLarge(String(this.maxSize)));
      return;
    }
    this.sha256.update(chunk);
    this.md5.update(chunk);
    this.blake.update(chunk);
    for (const [, h] of this.extra) h.update(chunk);
    cb(null, chunk);
  }

  digests(): Digests {
    const out: Digests = { sha256: this.sha256.digest('hex'), md5: this.md5.digest('hex'), blake2b256: bytesToHex(this.blake.digest()) };
    if (this.extra.length > 0) out.hashes = Object.fromEntries(this.extra.map(([name, h]) => [name, h.digest('hex')]));
    return out;
  }
}

/** Digests of the `names` algorithms only, streamed: for records that lack one a page now wants. */
export class ExtraHash extends Transform {
  size = 0;
  private readonly hashes: [string, Hash][];

  constructor(names: readonly string[]) {
    super();
    this.hashes = names.map((name) => [name, createHash(name)]);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.size += chunk.length;
    for (const [, h] of this.hashes) h.update(chunk);
    cb(null, chunk);
  }

  digests(): Record<string, string> {
    return Object.fromEntries(this.hashes.map(([name, h]) => [name, h.digest('hex')]));
  }
}

/** The digests of bytes already in memory, as MultiHash gives them. */
export function digestsOf(bytes: Buffer, extra: readonly string[] = []): Digests {
  const out: Digests = {
    sha256: createHash('sha256').update(bytes).digest('hex'),
    md5: createHash('md5').update(bytes).digest('hex'),
    blake2b256: bytesToHex(blake2b(bytes, { dkLen: 32 })),
  };
  if (extra.length > 0) out.hashes = Object.fromEntries(extra.map((name) => [name, createHash(name).update(bytes).digest('hex')]));
  return out;
}

export function sink(): Writable {
  return new Writable({ write: (_chunk, _enc, cb) => cb() });
}
