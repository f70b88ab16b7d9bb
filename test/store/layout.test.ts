import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { VolumeLayout } from '../../src/store/layout.js';

describe('VolumeLayout', () => {
  const layout = new VolumeLayout('/srv/new', ['/srv/old', '/mnt/older']);

  it('places a path in the first directory, or under ~N/ in the N-th one given', () => {
    expect(layout.resolve('a-1.0.tar.gz')).toBe('/srv/new/a-1.0.tar.gz');
    expect(layout.resolve('~2/sub/a-1.0.tar.gz')).toBe('/srv/old/sub/a-1.0.tar.gz');
    expect(layout.resolve('~3/a-1.0.tar.gz')).toBe('/mnt/older/a-1.0.tar.gz');
    expect(layout.readOnlyRootOf('~3/a-1.0.tar.gz')?.dir).toBe('/mnt/older');
    expect(layout.readOnlyRootOf('a-1.0.tar.gz')).toBeUndefined();
    // A folder of that name in the first directory when there is no such root is just a folder.
    expect(layout.resolve('~4/a-1.0.tar.gz')).toBe(path.join('/srv/new', '~4/a-1.0.tar.gz'));
  });

  it('refuses a path that leaves its directory, even into another root, or is hidden', () => {
    for (const bad of ['~2/../new/a-1.0.tar.gz', '~2/../../etc/passwd', '../etc/passwd', '~2/.wheelhouse/x', '.wheelhouse/generation']) {
      expect(() => layout.resolve(bad), bad).toThrow(/No file named/);
    }
  });
});
