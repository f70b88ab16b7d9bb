import { randomBytes } from 'node:crypto';
import { close, open, read, promises as fs, constants } from 'node:fs';
import { Errors } from '../errors.js';

/** Large sequential reads: on EFS every read is a round trip, whatever its size. */
export const READ_CHUNK = 1024 * 1024;

/** The `code` of a Node system error (`ENOENT`, `ENOSPC`...), if it is one. */
export function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
const UNAVAILABLE = new Set(['EROFS', 'EIO', 'EACCES', 'EPERM', 'ESTALE', 'ETIMEDOUT', 'ENOENT', 'ENOTDIR', 'EISDIR', 'EMFILE', 'ENFILE']);

/**
 * A failure to write the volume, as the error a client should see: a full volume is 507, a
 * volume that cannot be written (read-only, gone, I/O errors) is 503. Neither is the client's
 * fault, so neither may read as a 400. Anything else is returned as it is.
 */
export function asStorageError(err: unknown): unknown {
  const code = errnoOf(err);
  if (code === undefined) return err;
  const what = `${code}: ${(err as Error).message.replace(/^[A-Z]+: /, '')}`;
  if (FULL.has(code)) return Object.assign(new Errors.StorageFull(code), { cause: err, detail: what });
  if (UNAVAILABLE.has(code)) return Object.assign(new Errors.StorageUnavailable(code), { cause: err, detail: what });
  return err;
}

/** Writes a file whole or not at all: temp name beside it, then rename over. */
export async function writeAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, data, { flag: 'wx' });
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** Runs fn over items with at most `limit` in flight. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = items.values();
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (let item = queue.next(); !item.done; item = queue.next()) await fn(item.value);
  });
  await Promise.all(workers);
}

export class TooLargeFileError extends Error {
  override name = 'TooLargeFileError';
}

/**
 * Reads a whole file by open + read until EOF. On NFS/EFS, open() gives fresh bytes but the size
 * fstat() reports right after can still be another client's old one, and readFile() sizes its
 * read from it: a file another host rewrote could come back truncated.
 */
export async function readFresh(file: string, maxBytes = 16 * 1024 * 1024): Promise<Buffer> {
  return readToEnd(await fs.open(file, constants.O_RDONLY), maxBytes, file);
}

/**
 * readFresh for a file of at most maxBytes read every second (the generation file): open, one
 * read, close on the callback API. A read of a regular file returns less than asked only at its
 * end, so one read of maxBytes + 1 tells a whole file from a too large one. Half the CPU of
 * readFresh, which is most of what an idle process spends.
 */
export function readSmallFresh(file: string, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    open(file, constants.O_RDONLY, (err, fd) => {
      if (err) {
        reject(err);
        return;
      }
      const buf = Buffer.allocUnsafe(maxBytes + 1);
      read(fd, buf, 0, buf.length, 0, (readErr, bytesRead) => {
        close(fd, (closeErr) => {
          const failed = readErr ?? closeErr;
          if (failed) reject(failed);
          else if (bytesRead > maxBytes) reject(new TooLargeFileError(`${file} is larger than ${maxBytes} bytes`));
          else resolve(buf.subarray(0, bytesRead));
        });
      });
    });
  });
}

/**
 * Reads an open file from its start to EOF, then closes it. `chunk` sizes the reads: a file's
 * size plus one reads it in one read and finds EOF with the next.
 */
export async function readToEnd(handle: fs.FileHandle, maxBytes: number, name: string, chunk = 64 * 1024): Promise<Buffer> {
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(chunk, READ_CHUNK));
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw new TooLargeFileError(`${name} is larger than ${maxBytes} bytes`);
      chunks.push(buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}
