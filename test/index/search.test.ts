import { describe, expect, it } from 'vitest';
import { MAX_QUERY, MAX_RESULTS, SearchIndex } from '../../src/index/search.js';
import { distFile, infoOf, snapshotOf } from '../helpers/snapshot.js';

function withSummary(name: string, summary: string, version = '1.0') {
  return distFile(name, version, { info: infoOf([`Name: ${name}`, `Version: ${version}`, `Summary: ${summary}`]) });
}

const files = [
  withSummary('requests', 'Python HTTP for Humans.'),
  withSummary('requests-toolbelt', 'A utility belt for advanced users of python-requests'),
  withSummary('types-requests', 'Typing stubs for requests'),
  withSummary('httpx', 'The next generation HTTP client.'),
  withSummary('req', 'A tiny thing'),
  withSummary('flask', 'A simple framework for building complex web applications.'),
  withSummary('aiohttp-client', 'Async http client/server framework'),
];

const names = (index: SearchIndex, q: string, limit?: number) => index.search(q, limit).hits.map((h) => `${h.entry.name}:${h.match}`);

describe('SearchIndex', () => {
  const index = SearchIndex.build(snapshotOf(files));

  it('ranks the exact name, then names starting with the query, then names containing it, then summary words', () => {
    expect(names(index, 'requests')).toEqual(['requests:exact', 'requests-toolbelt:prefix', 'types-requests:substring']);
    expect(names(index, 'req')).toEqual(['req:exact', 'requests:prefix', 'requests-toolbelt:prefix', 'types-requests:substring']);
    expect(names(index, 'http')).toEqual(['httpx:prefix', 'aiohttp-client:substring', 'requests:summary']);
  });

  it('matches names however they are spelled: case, dots, underscores and spaces', () => {
    expect(names(index, 'Requests_Toolbelt')).toEqual(['requests-toolbelt:exact']);
    expect(names(index, 'requests.toolbelt')).toEqual(['requests-toolbelt:exact']);
    expect(names(index, 'aiohttp client')[0]).toBe('aiohttp-client:exact');
  });

  it('needs every word of a summary query, whole words before word prefixes', () => {
    expect(names(index, 'web framework')).toEqual(['flask:summary']);
    // "http client" is also the dashed name "http-client", which aiohttp-client contains.
    expect(names(index, 'http client')).toEqual(['aiohttp-client:substring', 'httpx:summary']);
    expect(names(index, 'framew')).toEqual(['aiohttp-client:summary', 'flask:summary']);
    expect(names(index, 'humans python')).toEqual(['requests:summary']);
    expect(names(index, 'nothing-like-this')).toEqual([]);
  });

  it('bounds the results and says how many matched in all', () => {
    const result = index.search('e', 2);
    expect(result.hits).toHaveLength(2);
    expect(result.total).toBeGreaterThan(2);
    const many = SearchIndex.build(snapshotOf(Array.from({ length: 300 }, (_, i) => withSummary(`pkg-${i}`, 'x'))));
    expect(many.search('pkg', 1000).hits).toHaveLength(MAX_RESULTS);
    expect(many.search('pkg', 1000).total).toBe(300);
    expect(index.search('x'.repeat(10_000)).query).toHaveLength(MAX_QUERY);
  });

  it('finds nothing for an empty or blank query, or punctuation alone', () => {
    for (const q of ['', '   ', '--']) expect(index.search(q)).toMatchObject({ hits: [], total: 0 });
  });

  it('describes each hit with its display name, latest version, summary and last upload', () => {
    const snap = snapshotOf([
      withSummary('Demo_Pkg', 'old summary', '1.0'),
      distFile('demo-pkg', '2.0', {
        displayName: 'Demo_Pkg',
        uploadTime: '2026-05-01T00:00:00.000Z',
        info: infoOf(['Name: Demo_Pkg', 'Version: 2.0', 'Summary: new summary']),
      }),
    ]);
    const [hit] = SearchIndex.build(snap).search('demo').hits;
    expect(hit!.entry).toMatchObject({ name: 'demo-pkg', latest: '2.0', summary: 'new summary', updated: '2026-05-01T00:00:00.000Z' });
  });
});

describe('SearchIndex.for', () => {
  it('keeps the index while the snapshot is the same, and rebuilds only the changed projects when it is not', () => {
    const first = snapshotOf(files);
    const a = SearchIndex.build(first);
    expect(SearchIndex.for(first, a)).toBe(a);

    const second = snapshotOf(
      [...files.filter((f) => f.project !== 'flask'), withSummary('flask', 'A micro framework', '3.0')],
      new Map(),
      first,
    );
    const b = SearchIndex.for(second, a);
    expect(b).not.toBe(a);
    const entry = (i: SearchIndex, q: string) => i.search(q).hits[0]!.entry;
    expect(entry(b, 'requests')).toBe(entry(a, 'requests'));
    expect(entry(b, 'flask')).not.toBe(entry(a, 'flask'));
    expect(entry(b, 'flask').summary).toBe('A micro framework');
    expect(names(b, 'micro')).toEqual(['flask:summary']);
  });
});
