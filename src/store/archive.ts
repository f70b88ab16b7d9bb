import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import yauzl from 'yauzl';
import { normalizeName } from '../pypi/names.js';

export class ArchiveError extends Error {
  override name = 'ArchiveError';
}

const MAX_METADATA = 8 * 1024 * 1024;

async function openZip(file: string): Promise<yauzl.ZipFile> {
  try {
    return await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, strictFileNames: false });
  } catch (err) {
    throw new ArchiveError(`not a valid zip file (${(err as Error).message})`);
  }
}

/**
 * The exact bytes of `<name>-<version>.dist-info/METADATA` (PEP 658 serves them verbatim, and the
 * advertised hash is of these bytes). yauzl reads the central directory and then only that entry,
 * so a 150 MB wheel costs a few KB of reads.
 */
export async function readWheelMetadata(file: string, project: string): Promise<Buffer> {
  const zip = await openZip(file);
  try {
    const candidates: yauzl.Entry[] = [];
    for await (const entry of zip.eachEntry()) {
      if (/^[^/]+\.dist-info\/METADATA$/.test(entry.fileName)) candidates.push(entry);
    }
    if (candidates.length === 0) throw new ArchiveError('no *.dist-info/METADATA in the wheel');
    // A wheel may vendor other dist-info dirs; the wheel's own is the one named after its project.
    const own =
      candidates.find((e) => normalizeName(e.fileName.split('/')[0]!.replace(/\.dist-info$/, '').replace(/-[^-]*$/, '')) === project) ??
      candidates[0]!;
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
export async function readSdistPkgInfo(file: string, extension: string): Promise<Buffer | null> {
  const ext = extension.toLowerCase();
  if (ext === '.zip') return readZipPkgInfo(file);
  if (ext !== '.tar.gz' && ext !== '.tgz' && ext !== '.tar') return null;
  const extract = tarStream.extract();
  let found: Buffer | null = null;
  extract.on('entry', (header, stream, next) => {
    if (found === null && /^[^/]+\/PKG-INFO$/.test(header.name.replace(/^\.\//, '')) && (header.size ?? 0) <= MAX_METADATA) {
      const chunks: Buffer[] = [];
      stream.on('data', (c) => chunks.push(c as Buffer));
      stream.on('end', () => {
        found = Buffer.concat(chunks);
        // Stop reading the rest of a possibly large archive.
        extract.destroy();
      });
    } else {
      stream.on('end', next);
      stream.resume();
    }
  });
  const source = createReadStream(file);
  try {
    if (ext === '.tar') await pipeline(source, extract);
    else await pipeline(source, createGunzip(), extract);
  } catch (err) {
    if (found === null) throw new ArchiveError(`not a valid ${ext} archive (${(err as Error).message})`);
  }
  return found;
}

async function readZipPkgInfo(file: string): Promise<Buffer | null> {
  const zip = await openZip(file);
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
