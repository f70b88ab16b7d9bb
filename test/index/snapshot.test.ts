import { describe, expect, it } from 'vitest';
import { Snapshot } from '../../src/index/snapshot.js';
import type { DistFile } from '../../src/store/dist-file.js';

function file(project: string, version: string, extra: Partial<DistFile> = {}): DistFile {
  const filename = `${project.replace(/-/g, '_')}-${version}-py3-none-any.whl`;
  return {
    relpath: filename,
    filename,
    project,
    displayName: project,
    version,
    packagetype: 'bdist_wheel',
    pythonVersion: 'py3',
    size: 10,
    mtimeMs: 1,
    sha256: 'a'.repeat(64),
    md5: 'b'.repeat(32),
    blake2b256: 'c'.repeat(64),
    requiresPython: null,
    metadataSha256: null,
    uploadTime: '2026-01-01T00:00:00.000Z',
    info: null,
    ...extra,
  };
}

function snapshotOf(files: DistFile[], yanks = new Map<string, string>(), previous?: Snapshot): Snapshot {
  return new Snapshot(new Map(files.map((f) => [f.relpath, f])), yanks, previous);
}

describe('Snapshot', () => {
  it('groups files by project, sorted by PEP 440, with the latest final release', () => {
    const s = snapshotOf([file('alpha', '1.10'), file('alpha', '1.9'), file('alpha', '2.0rc1'), file('beta', '0.1')]);
    expect(s.projectNames).toEqual(['alpha', 'beta']);
    expect(s.projects.get('alpha')!.versions).toEqual(['1.9', '1.10', '2.0rc1']);
    expect(s.projects.get('alpha')!.latest).toBe('1.10');
    expect(s.fileCount).toBe(4);
  });

  it('reuses unchanged projects and rebuilds only the changed one', () => {
    const a = file('alpha', '1.0');
    const b = file('beta', '1.0');
    const first = snapshotOf([a, b]);
    const second = snapshotOf([a, b, file('beta', '2.0')], new Map(), first);
    expect(second.projects.get('alpha')).toBe(first.projects.get('alpha'));
    expect(second.projects.get('beta')).not.toBe(first.projects.get('beta'));
    expect(second.fingerprint).not.toBe(first.fingerprint);
  });

  it('rebuilds a project whose release was yanked, and marks its files', () => {
    const a = file('alpha', '1.0');
    const first = snapshotOf([a]);
    const second = snapshotOf([a], new Map([['alpha==1.0', 'broken']]), first);
    expect(second.projects.get('alpha')).not.toBe(first.projects.get('alpha'));
    expect(second.projects.get('alpha')!.files[0]!.yanked).toBe('broken');
    expect(second.projects.get('alpha')!.fingerprint).not.toBe(first.projects.get('alpha')!.fingerprint);
  });

  it('drops a project whose last file is gone', () => {
    const first = snapshotOf([file('alpha', '1.0'), file('beta', '1.0')]);
    const second = snapshotOf([file('beta', '1.0')], new Map(), first);
    expect(second.projectNames).toEqual(['beta']);
    expect(second.byRelpath.has('alpha-1.0-py3-none-any.whl')).toBe(false);
  });
});
