// In-memory index data for tests of what is built from a snapshot (pages, search): records as the
// store makes them, with metadata parsed by the real parser.
import { createHash } from 'node:crypto';
import { Snapshot } from '../../src/index/snapshot.js';
import { parseCoreMetadata, projectInfo, type ProjectInfo } from '../../src/pypi/metadata.js';
import type { DistFile } from '../../src/store/dist-file.js';

/** ProjectInfo from METADATA header lines (`Name`, `Version` and `Metadata-Version` are added when missing). */
export function infoOf(lines: string[], body = ''): ProjectInfo {
  const has = (k: string) => lines.some((l) => l.toLowerCase().startsWith(`${k.toLowerCase()}:`));
  const head = [...(has('Metadata-Version') ? [] : ['Metadata-Version: 2.1']), ...lines];
  return projectInfo(parseCoreMetadata(`${head.join('\n')}\n\n${body}`));
}

export function distFile(project: string, version: string, extra: Partial<DistFile> = {}): DistFile {
  const filename = extra.filename ?? `${project.replace(/-/g, '_')}-${version}-py3-none-any.whl`;
  return {
    relpath: filename,
    filename,
    project,
    displayName: project,
    version,
    packagetype: 'bdist_wheel',
    pythonVersion: 'py3',
    size: 12_345,
    mtimeMs: 1,
    sha256: createHash('sha256').update(`${project}-${version}-${filename}`).digest('hex'),
    md5: 'b'.repeat(32),
    blake2b256: 'c'.repeat(64),
    requiresPython: null,
    metadataSha256: null,
    uploadTime: '2026-01-01T00:00:00.000Z',
    info: infoOf([`Name: ${project}`, `Version: ${version}`]),
    ...extra,
  };
}

export function snapshotOf(files: DistFile[], yanks: ReadonlyMap<string, string> = new Map(), previous?: Snapshot): Snapshot {
  return new Snapshot(new Map(files.map((f) => [f.relpath, f])), yanks, previous);
}
