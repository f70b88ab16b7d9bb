import { describe, expect, it } from 'vitest';
import { ProjectMatcher, globMatches, normalizePattern } from '../../src/pypi/project-patterns.js';

describe('normalizePattern', () => {
  it('normalizes like a PEP 503 name and keeps the stars', () => {
    expect(normalizePattern('MyCorp_*')).toBe('mycorp-*');
    expect(normalizePattern(' Foo.Bar__baz ')).toBe('foo-bar-baz');
    expect(normalizePattern('a**')).toBe('a*');
  });

  it('refuses what no project name can be', () => {
    for (const bad of ['', ' ', 'a/b', 'a b', '../x', 'x?'])
      expect(() => normalizePattern(bad), bad).toThrow(/is not a project name or pattern/);
  });
});

describe('ProjectMatcher', () => {
  const m = new ProjectMatcher(['mycorp-*', 'Tools', '*-plugin']);

  it('matches exact names and globs against the normalized project name', () => {
    for (const yes of ['mycorp-lib', 'MyCorp_Lib', 'mycorp.a.b', 'tools', 'TOOLS', 'x-plugin', 'mycorp-x-plugin']) {
      expect(m.matches(yes), yes).toBe(true);
    }
  });

  it('does not match names the patterns leave out', () => {
    for (const no of ['mycorp', 'mycorplib', 'tools-extra', 'plugin', 'other']) expect(m.matches(no), no).toBe(false);
  });

  it('matches everything with *', () => {
    expect(new ProjectMatcher(['*']).matches('anything-at-all')).toBe(true);
  });
});

describe('globMatches', () => {
  it('matches refs with * across slashes and everything else literally', () => {
    expect(globMatches('refs/tags/v*', 'refs/tags/v1.2.3')).toBe(true);
    expect(globMatches('refs/heads/release/*', 'refs/heads/release/2026/q1')).toBe(true);
    expect(globMatches('refs/tags/v*', 'refs/heads/v1')).toBe(false);
    expect(globMatches('refs/heads/main', 'refs/heads/main')).toBe(true);
    expect(globMatches('refs/heads/ma.n', 'refs/heads/main')).toBe(false);
  });
});
