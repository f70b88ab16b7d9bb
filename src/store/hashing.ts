import { createHash } from 'node:crypto';
import { Transform, Writable } from 'node:stream';
import { blake2b } from '@noble/hashes/blake2';
import { bytesToHex } from '@noble/hashes/utils';
import { Errors } from '../errors.js';

export interface Digests {
  sha256: string;
  md5: string;
  blake2b256: string;
}

/** sha256 + md5 + blake2b-256 in one pass, with an optional size limit (streamed, never buffered). */
export class MultiHash extends Transform {
  size = 0;
  private readonly sha256 = createHash('sha256');
  private readonly md5 = createHash('md5');
  private readonly blake = blake2b.create({ dkLen: 32 });

  private readonly maxSize: number;

  constructor(maxSize = Infinity) {
    super();
    this.maxSize = maxSize;
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
    cb(null, chunk);
  }

  digests(): Digests {
    return { sha256: this.sha256.digest('hex'), md5: this.md5.digest('hex'), blake2b256: bytesToHex(this.blake.digest()) };
  }
}

/** The digests of bytes already in memory. */
export function digestsOf(bytes: Buffer): Digests {
  return {
    sha256: createHash('sha256').update(bytes).digest('hex'),
    md5: createHash('md5').update(bytes).digest('hex'),
    blake2b256: bytesToHex(blake2b(bytes, { dkLen: 32 })),
  };
}

export function sink(): Writable {
  return new Writable({ write: (_chunk, _enc, cb) => cb() });
}
