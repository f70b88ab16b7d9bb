import { describe, expect, it } from 'vitest';
import { canonicalVersion, compareVersions, isPrerelease, sameVersion } from '../../src/pypi/versions.js';

describe('PEP 440 ordering', () => {
  it('sorts like pip', () => {
    const ordered = ['1.0.dev1', '1.0a1', '1.0b2.post3.dev4', '1.0rc1', '1.0', '1.0+local.1', '1.0.post1', '1.9', '1.10', '1!0.1'];
    const shuffled = [...ordered].reverse();
    expect(shuffled.sort(compareVersions)).toEqual(ordered);
  });
  it('puts versions PEP 440 cannot parse first instead of failing', () => {
    expect(['1.0', 'not-a-version', '0.1'].sort(compareVersions)).toEqual(['not-a-version', '0.1', '1.0']);
  });
  it('knows spellings of one version', () => {
    expect(canonicalVersion('2.0.0-RC1')).toBe('2.0.0rc1');
    expect(sameVersion('1.0.0RC1', '1.0.0rc1')).toBe(true);
    expect(sameVersion('1.0', '1.1')).toBe(false);
    expect(sameVersion('1.0', '1.0.0')).toBe(true);
  });
  it('tells pre-releases', () => {
    expect(isPrerelease('2.0rc1')).toBe(true);
    expect(isPrerelease('2.0.dev0')).toBe(true);
    expect(isPrerelease('2.0.post1')).toBe(false);
  });
});
