import { describe, expect, it } from 'vitest';
import { memoByHeader } from '../../src/pypi/header-memo.js';
import { negotiate } from '../../src/pypi/negotiate.js';
import { normalizeName } from '../../src/pypi/names.js';

describe('memoByHeader', () => {
  it('parses each distinct value once', () => {
    const seen: string[] = [];
    const parse = memoByHeader((h) => {
      seen.push(h);
      return h.length;
    });
    expect([parse('gzip'), parse('gzip, br'), parse('gzip'), parse('gzip, br')]).toEqual([4, 8, 4, 8]);
    expect(seen).toEqual(['gzip', 'gzip, br']);
  });

  it('keeps no value of a very long header, and stays bounded under many distinct ones', () => {
    const seen: string[] = [];
    const parse = memoByHeader((h) => {
      seen.push(h);
      return h.length;
    });
    const long = 'x'.repeat(600);
    parse(long);
    parse(long);
    expect(seen.filter((h) => h === long)).toHaveLength(2);

    parse('first');
    for (let i = 0; i < 300; i++) expect(parse(`value-${i}`)).toBe(`value-${i}`.length);
    // The memo was emptied on the way: the first value is parsed again, and still right.
    expect(parse('first')).toBe(5);
    expect(seen.filter((h) => h === 'first')).toHaveLength(2);
  });
});

describe('negotiate, asked again with the same header', () => {
  it('gives the same choice as the first time, header by header', () => {
    const headers = [
      'application/vnd.pypi.simple.v1+json',
      'text/html',
      'application/json',
      '*/*;q=0',
      'application/vnd.pypi.simple.v1+html, text/html;q=0.5',
    ];
    const first = headers.map((h) => negotiate(h));
    expect(first).toEqual(['json', 'text', null, null, 'html']);
    expect(headers.map((h) => negotiate(h))).toEqual(first);
  });
});

describe('normalizeName on names that look normalized', () => {
  it.each(['django', 'a-b-c', 'a1', '-a', 'a-', 'a--b', 'Ab', 'ab.c', 'a_b', 'é', 'x'])(
    'gives what the PEP 503 rule gives for %s',
    (name) => {
      expect(normalizeName(name)).toBe(name.replace(/[-_.]+/g, '-').toLowerCase());
    },
  );
});
