import { createHash } from 'node:crypto';
import path from 'node:path';
import { parseCoreMetadata, projectInfo, type ProjectInfo } from '../pypi/metadata.js';
import type { ParsedFilename } from '../pypi/names.js';
import { readSdistPkgInfo, readWheelMetadata } from './archive.js';
import type { DistFile } from './dist-file.js';
import type { Digests } from './hashing.js';

export function sidecarStemOf(rel: string, size: number, mtimeMs: number): string {
  // The stem carries size and mtime, so a replaced file has a new sidecar name and a readdir of
  // meta/ tells every task about the change without a stat per file.
  return `${encodeURIComponent(rel)}~${size}~${mtimeMs}`;
}

/**
 * What the index holds of a record: all but the long description, which can be tens of KB per
 * file and is only wanted by the JSON API for one release at a time.
 */
export function forMemory(record: DistFile): DistFile {
  return record.info?.description ? { ...record, info: { ...record.info, description: null } } : record;
}

export function sidecarStem(f: DistFile): string {
  return sidecarStemOf(f.relpath, f.size, f.mtimeMs);
}

export async function readArchiveMetadata(
  file: string,
  size: number,
  parsed: ParsedFilename,
): Promise<{ metadata: Buffer | null; info: ProjectInfo | null }> {
  let metadata: Buffer | null = null;
  if (parsed.packagetype === 'bdist_wheel') metadata = await readWheelMetadata(file, size, parsed.project);
  else if (parsed.packagetype === 'sdist') metadata = await readSdistPkgInfo(file, size, parsed.extension);
  return { metadata, info: metadata ? projectInfo(parseCoreMetadata(metadata)) : null };
}

export function buildRecord(
  rel: string,
  parsed: ParsedFilename,
  size: number,
  mtimeMs: number,
  digests: Digests,
  metadata: Buffer | null,
  info: ProjectInfo | null,
  uploadTime: string,
): DistFile {
  return {
    relpath: rel,
    filename: path.posix.basename(rel),
    project: parsed.project,
    displayName: info?.name ?? parsed.name,
    version: parsed.version,
    packagetype: parsed.packagetype,
    pythonVersion: parsed.pythonVersion,
    size,
    mtimeMs,
    ...digests,
    requiresPython: info?.requiresPython ?? null,
    metadataSha256: metadata && parsed.packagetype === 'bdist_wheel' ? createHash('sha256').update(metadata).digest('hex') : null,
    uploadTime,
    info,
  };
}
