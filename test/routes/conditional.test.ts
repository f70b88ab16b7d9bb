import { describe, expect, it } from 'vitest';
import { byteRange, ifRangeHolds } from '../../src/routes/conditional.js';

describe('byteRange', () => {
  it('serves the whole file without a header, for another unit, or for several ranges', () => {
    expect(byteRange(undefined, 100)).toBeNull();
    expect(byteRange('items=0-5', 100)).toBeNull();
    expect(byteRange('bytes=0-9,50-59', 100)).toBeNull();
    expect(byteRange('nonsense', 100)).toBeNull();
  });

  it('reads a first-last, an open-ended and a suffix range, clamped to the file', () => {
    expect(byteRange('bytes=10-19', 100)).toEqual({ start: 10, end: 19 });
    expect(byteRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(byteRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(byteRange('bytes=95-200', 100)).toEqual({ start: 95, end: 99 });
  });

  it('merges overlapping ranges into one, as pip resuming a download may send', () => {
    expect(byteRange('bytes=0-9,5-19', 100)).toEqual({ start: 0, end: 19 });
  });

  it('answers unsatisfiable for a range past the end', () => {
    expect(byteRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(byteRange('bytes=500-600', 100)).toBe('unsatisfiable');
  });
});

describe('ifRangeHolds', () => {
  const modified = Date.parse('2026-01-02T03:04:05.678Z');

  it('holds without If-Range, and for the current ETag only (strong comparison)', () => {
    expect(ifRangeHolds(undefined, '"abc"', modified)).toBe(true);
    expect(ifRangeHolds('"abc"', '"abc"', modified)).toBe(true);
    expect(ifRangeHolds('"old"', '"abc"', modified)).toBe(false);
    expect(ifRangeHolds('W/"abc"', '"abc"', modified)).toBe(false);
  });

  it('holds for a date at or after the last modification, to the second', () => {
    expect(ifRangeHolds('Fri, 02 Jan 2026 03:04:05 GMT', '"abc"', modified)).toBe(true);
    expect(ifRangeHolds('Fri, 02 Jan 2026 03:04:04 GMT', '"abc"', modified)).toBe(false);
    expect(ifRangeHolds('not a date', '"abc"', modified)).toBe(false);
  });
});
