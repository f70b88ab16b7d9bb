import { createHash } from 'node:crypto';
import path from 'node:path';
import { parseCoreMetadata, projectInfo, type CoreMetadata } from '../pypi/metadata.js';
import type { ParsedFilename } from '../pypi/names.js';
import { readSdistPkgInfo, readWheelMetadata } from './archive.js';
import type { DistFile } from './dist-file.js';
import type { Digests } from './hashing.js';

/** What a distribution says about itself: the raw core metadata (PEP 658 serves it verbatim), parsed once. */
export interface ArchiveMetadata {
  /** Wheel METADATA or sdist PKG-INFO bytes; null when the archive has none or is a kind not read. */
  raw: Buffer | null;
  parsed: CoreMetadata | null;
}

/** The metadata of a distribution, from its file or from its bytes when they were read already. */
export async function readArchiveMetadata(source: string | Buffer, size: number, parsed: ParsedFilename): Promise<ArchiveMetadata> {
  let raw: Buffer | null = null;
  if (parsed.packagetype === 'bdist_wheel') raw = await readWheelMetadata(source, size, parsed.project);
  else if (parsed.packagetype === 'sdist') raw = await readSdistPkgInfo(source, size, parsed.extension);
  return { raw, parsed: raw ? parseCoreMetadata(raw) : null };
}

/** The record of one distribution, from its name, its bytes' digests and its metadata. */
export function buildRecord(
  rel: string,
  parsed: ParsedFilename,
  file: { size: number; mtimeMs: number; digests: Digests; uploadTime: string; uploader?: string | null },
  metadata: ArchiveMetadata,
): DistFile {
  const info = metadata.parsed ? projectInfo(metadata.parsed) : null;
  const isWheel = parsed.packagetype === 'bdist_wheel';
  return {
    relpath: rel,
    filename: path.posix.basename(rel),
    project: parsed.project,
    displayName: info?.name ?? parsed.name,
    version: parsed.version,
    packagetype: parsed.packagetype,
    pythonVersion: parsed.pythonVersion,
    size: file.size,
    mtimeMs: file.mtimeMs,
    ...file.digests,
    requiresPython: info?.requiresPython ?? null,
    metadataSha256: metadata.raw && isWheel ? createHash('sha256').update(metadata.raw).digest('hex') : null,
    uploadTime: file.uploadTime,
    ...(file.uploader ? { uploader: file.uploader } : {}),
    info,
  };
}

/**
 * What the index holds of a record: all but the long description, which can be tens of KB per
 * file and is only wanted by the JSON API for one release at a time.
 */
export function forMemory(record: DistFile): DistFile {
  return record.info?.description ? { ...record, info: { ...record.info, description: null } } : record;
}
