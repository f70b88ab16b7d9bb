import { describe, expect, it } from 'vitest';
import { canonicalVersion, compareVersions, findVersion, isPrerelease, sameVersion } from '../../src/pypi/versions.js';

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

describe('versions beyond a double', () => {
  it('never lets a version of 400 digits compare equal to another or normalize to "Infinity"', () => {
    const huge = '1'.repeat(400);
    const other = '2'.repeat(400);
    expect(canonicalVersion(huge)).toBe(huge);
    expect(sameVersion(huge, other)).toBe(false);
    expect(compareVersions(huge, other)).toBeLessThan(0);
    expect(compareVersions(huge, huge)).toBe(0);
    // Treated as a legacy string: before every ordinary release, never equal to it.
    expect(['1.0', huge].sort(compareVersions)).toEqual([huge, '1.0']);
  });

  it('finds a release by its own spelling first, else by PEP 440 equality', () => {
    expect(findVersion(['1.0', '1.0.0'], '1.0.0')).toBe('1.0.0');
    expect(findVersion(['1.0'], '1.0.0')).toBe('1.0');
    expect(findVersion(['1.0'], '1.1')).toBeUndefined();
  });
});
