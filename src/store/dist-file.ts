import type { ProjectInfo } from '../pypi/metadata.js';
import type { PackageType } from '../pypi/names.js';

/**
 * One distribution file as the index knows it. Everything here is computed once per file and
 * per volume, and kept in a sidecar so no other task and no restart hashes the file again.
 */
export interface DistFile {
  /** Path relative to the root, '/'-separated (files in subfolders are served too). */
  relpath: string;
  filename: string;
  /** Normalized project name. */
  project: string;
  /** The project name as the file spells it (metadata Name when known). */
  displayName: string;
  version: string;
  packagetype: PackageType;
  pythonVersion: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  md5: string;
  blake2b256: string;
  /**
   * Digests of other algorithms by hashlib name (sha512, ...), kept once computed: what
   * --hash-algo puts in the simple pages' links when it is neither sha256 nor md5.
   */
  hashes?: Record<string, string>;
  requiresPython: string | null;
  /** sha256 of the wheel's METADATA bytes, served as `<file>.metadata` (PEP 658); null for sdists. */
  metadataSha256: string | null;
  /** ISO 8601 UTC: when this volume first got the file (upload time, or mtime for files copied in). */
  uploadTime: string;
  /**
   * The login that uploaded the file. Absent for files copied onto the volume, uploads to an
   * open server, and records written before uploaders were kept.
   */
  uploader?: string;
  info: ProjectInfo | null;
}

/** Yank state per release (PEP 592): key `${project}==${version}`, value the reason ('' for none given). */
export type Yanks = ReadonlyMap<string, string>;

export function yankKey(project: string, version: string): string {
  return `${project}==${version}`;
}
