import { describe, expect, it } from 'vitest';
import { negotiate } from '../../src/pypi/negotiate.js';

const PIP_MODERN = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';

describe('negotiate (PEP 691)', () => {
  it('gives old pips (exactly text/html) HTML as text/html', () => expect(negotiate('text/html')).toBe('text'));
  it('gives pip >= 22.2 JSON', () => expect(negotiate(PIP_MODERN)).toBe('json'));
  it('gives clients without Accept text/html', () => expect(negotiate(undefined)).toBe('text'));
  it('gives */* (requests, poetry) text/html', () => expect(negotiate('*/*')).toBe('text'));
  it('honours q-values rather than list order', () =>
    expect(negotiate('text/html;q=0.2, application/vnd.pypi.simple.v1+json;q=0.9')).toBe('json'));
  it('answers latest+json with the v1 JSON', () => expect(negotiate('application/vnd.pypi.simple.latest+json')).toBe('json'));
  it('serves v1+html when asked for it only', () => expect(negotiate('application/vnd.pypi.simple.v1+html')).toBe('html'));
  it('returns null (406) when nothing offered is acceptable', () => {
    expect(negotiate('application/xml')).toBeNull();
    expect(negotiate('text/html;q=0, application/vnd.pypi.simple.v1+json;q=0')).toBeNull();
  });
  it('lets a more specific range override a wildcard', () => expect(negotiate('*/*;q=0.5, text/html;q=0')).toBe('html'));
  it('lets ?format= win over Accept', () => expect(negotiate('text/html', 'application/vnd.pypi.simple.v1+json')).toBe('json'));
  it('reports an unknown ?format=', () => expect(negotiate('text/html', 'application/json')).toBe('bad-format'));
});
