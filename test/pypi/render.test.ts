import { describe, expect, it } from 'vitest';
import { renderPackagesHtml, renderProjectHtml } from '../../src/pypi/render.js';
import { distFile, snapshotOf } from '../helpers/snapshot.js';

const file = distFile('demo-pkg', '1.0', { hashes: { sha512: 'e'.repeat(128) } });
const bare = distFile('demo-pkg', '2.0');
const project = snapshotOf([file, bare]).projects.get('demo-pkg')!;

describe('the file links of the simple pages (--hash-algo)', () => {
  it('carry #sha256= by default', () => {
    expect(renderProjectHtml(project)).toContain(`demo_pkg-1.0-py3-none-any.whl#sha256=${file.sha256}"`);
  });

  it('carry the configured digest, from the record', () => {
    expect(renderProjectHtml(project, 'md5')).toContain(`demo_pkg-1.0-py3-none-any.whl#md5=${file.md5}"`);
    expect(renderProjectHtml(project, 'sha512')).toContain(`demo_pkg-1.0-py3-none-any.whl#sha512=${'e'.repeat(128)}"`);
    expect(renderPackagesHtml(project.files, 'sha512')).toContain(`demo_pkg-1.0-py3-none-any.whl#sha512=${'e'.repeat(128)}"`);
  });

  it('fall back to sha256 for a file whose record lacks the configured digest', () => {
    expect(renderProjectHtml(project, 'sha512')).toContain(`demo_pkg-2.0-py3-none-any.whl#sha256=${bare.sha256}"`);
  });

  it('carry no fragment with --hash-algo off', () => {
    const page = renderProjectHtml(project, null);
    expect(page).toContain('href="../../packages/demo_pkg-1.0-py3-none-any.whl"');
    expect(page).not.toContain('#');
    expect(renderPackagesHtml(project.files, null)).not.toContain('#');
  });
});
