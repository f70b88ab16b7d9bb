import { createReadStream, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import yauzl from 'yauzl';
import { normalizeName } from '../pypi/names.js';
import { READ_CHUNK } from './fs-util.js';

export class ArchiveError extends Error {
  override name = 'ArchiveError';
}

const MAX_METADATA = 8 * 1024 * 1024;

/**
 * How much of an sdist is decompressed while looking for PKG-INFO. Real sdists compress 3-10x;
 * a gzip of zeros compresses 1000x, and 8 MB of it is 8 GiB to inflate: bound the work by the
 * file's own size instead of trusting it.
 */
export function sdistInflateLimit(compressedSize: number): number {
  return Math.min(512 * 1024 * 1024, Math.max(64 * 1024 * 1024, compressedSize * 16));
}

function inflateBudget(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > limit) cb(new ArchiveError(`no PKG-INFO within the first ${Math.round(limit / 1024 / 1024)} MiB of the unpacked archive`));
      else cb(null, chunk);
    },
  });
}
const BLOCK = 256 * 1024;
const MAX_BLOCKS = 16;

/**
 * Serves yauzl's reads from 256 KiB blocks, each read once. yauzl reads the central directory
 * with two small reads per entry: on a local disk that is free, on EFS each is a round trip, and
 * a wheel of a thousand files cost seconds to open. The central directory and the dist-info
 * entries sit together at the end of a wheel, so a few blocks hold everything we read.
 */
class BlockReader extends yauzl.RandomAccessReader {
  private readonly blocks = new Map<number, Promise<Buffer>>();
  private readonly handle: FileHandle;
  private readonly size: number;

  constructor(handle: FileHandle, size: number) {
    super();
    this.handle = handle;
    this.size = size;
  }

  private block(i: number): Promise<Buffer> {
    let b = this.blocks.get(i);
    if (!b) {
      const oldest = this.blocks.keys().next();
      if (this.blocks.size >= MAX_BLOCKS && !oldest.done) this.blocks.delete(oldest.value);
      b = this.readBlock(i);
      this.blocks.set(i, b);
    }
    return b;
  }

  private async readBlock(i: number): Promise<Buffer> {
    const start = i * BLOCK;
    const buf = Buffer.allocUnsafe(Math.min(BLOCK, this.size - start));
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await this.handle.read(buf, got, buf.length - got, start + got);
      if (bytesRead === 0) break; // shorter than its size said: yauzl reports the EOF
      got += bytesRead;
    }
    return buf.subarray(0, got);
  }

  private async readAt(target: Buffer, offset: number, length: number, position: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const at = position + done;
      const block = await this.block(Math.floor(at / BLOCK));
      const from = at % BLOCK;
      if (from >= block.length) break;
      const n = block.copy(target, offset + done, from, Math.min(block.length, from + length - done));
      done += n;
    }
    return done;
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (err: Error | null, bytesRead?: number) => void,
  ): void {
    this.readAt(buffer, offset, length, position).then((n) => callback(null, n), callback);
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const readAt = (target: Buffer, offset: number, length: number, position: number) => this.readAt(target, offset, length, position);
    return Readable.from(
      (async function* () {
        for (let at = start; at < end;) {
          const chunk = Buffer.allocUnsafe(Math.min(BLOCK, end - at));
          const n = await readAt(chunk, 0, chunk.length, at);
          if (n === 0) return;
          yield chunk.subarray(0, n);
          at += n;
        }
      })(),
      { objectMode: false },
    );
  }

  override close(callback: (err: Error | null) => void): void {
    // yauzl turns a close error into an 'error' event nobody listens to after the read; a read-only
    // handle that fails to close has nothing left to lose.
    this.handle.close().then(
      () => callback(null),
      () => callback(null),
    );
  }
}

async function openZip(file: string, size: number): Promise<yauzl.ZipFile> {
  const handle = await fs.open(file, 'r');
  try {
    return await yauzl.fromRandomAccessReaderPromise(new BlockReader(handle, size), size, {
      lazyEntries: true,
      autoClose: false,
      strictFileNames: false,
    });
  } catch (err) {
    await handle.close();
    throw new ArchiveError(`not a valid zip file (${(err as Error).message})`);
  }
}

/**
 * The exact bytes of `<name>-<version>.dist-info/METADATA` (PEP 658 serves them verbatim, and the
 * advertised hash is of these bytes). yauzl reads the central directory and then only that entry,
 * so a 150 MB wheel costs a few KB of reads.
 */
export async function readWheelMetadata(file: string, size: number, project: string): Promise<Buffer> {
  const zip = await openZip(file, size);
  try {
    const candidates: yauzl.Entry[] = [];
    for await (const entry of zip.eachEntry()) {
      if (/^[^/]+\.dist-info\/METADATA$/.test(entry.fileName)) candidates.push(entry);
    }
    // A wheel may vendor other dist-info dirs; the wheel's own is the one named after its project.
    const distName = (e: yauzl.Entry) => normalizeName(e.fileName.replace(/\.dist-info\/METADATA$/, '').replace(/-[^-]*$/, ''));
    const own = candidates.find((e) => distName(e) === project) ?? candidates[0];
    if (!own) throw new ArchiveError('no *.dist-info/METADATA in the wheel');
    if (own.uncompressedSize > MAX_METADATA) throw new ArchiveError('METADATA is implausibly large');
    const stream = await zip.openReadStreamPromise(own);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    throw new ArchiveError(`unreadable zip file (${(err as Error).message})`);
  } finally {
    zip.close();
  }
}

/** PKG-INFO of an sdist (`<top>/PKG-INFO`), or null when the archive has none or is a kind we do not read. */
export async function readSdistPkgInfo(file: string, size: number, extension: string): Promise<Buffer | null> {
  const ext = extension.toLowerCase();
  if (ext === '.zip') return readZipPkgInfo(file, size);
  if (ext !== '.tar.gz' && ext !== '.tgz' && ext !== '.tar') return null;
  const extract = tarStream.extract();
  // Set from the entry callback; the pipeline below ends early (destroyed) once it is.
  const found: { pkgInfo: Buffer | null } = { pkgInfo: null };
  extract.on('entry', (header, stream, next) => {
    // A failed or cut-short archive fails the pipeline below; the entry's own copy of that error has nothing to add.
    stream.on('error', () => undefined);
    if (found.pkgInfo === null && /^[^/]+\/PKG-INFO$/.test(header.name.replace(/^\.\//, '')) && header.size <= MAX_METADATA) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => {
        if (Buffer.isBuffer(c)) chunks.push(c);
      });
      stream.on('end', () => {
        found.pkgInfo = Buffer.concat(chunks);
        // Stop reading the rest of a possibly large archive.
        extract.destroy();
      });
    } else {
      stream.on('end', next);
      stream.resume();
    }
  });
  const source = createReadStream(file, { highWaterMark: READ_CHUNK });
  try {
    const limit = sdistInflateLimit(size);
    if (ext === '.tar') await pipeline(source, inflateBudget(limit), extract);
    else await pipeline(source, createGunzip(), inflateBudget(limit), extract);
  } catch (err) {
    if (found.pkgInfo !== null) return found.pkgInfo;
    if (err instanceof ArchiveError) throw err;
    throw new ArchiveError(`not a valid ${ext} archive (${(err as Error).message})`);
  }
  return found.pkgInfo;
}

async function readZipPkgInfo(file: string, size: number): Promise<Buffer | null> {
  const zip = await openZip(file, size);
  try {
    for await (const entry of zip.eachEntry()) {
      if (/^[^/]+\/PKG-INFO$/.test(entry.fileName) && entry.uncompressedSize <= MAX_METADATA) {
        const chunks: Buffer[] = [];
        for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      }
    }
    return null;
  } finally {
    zip.close();
  }
}
