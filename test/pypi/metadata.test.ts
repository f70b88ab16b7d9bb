import { describe, expect, it } from 'vitest';
import { field, fields, parseCoreMetadata, projectInfo } from '../../src/pypi/metadata.js';

const METADATA = `Metadata-Version: 2.1
Name: Foo_Bar.baz
Version: 1.0
Summary: A test
Requires-Python: >=3.8, <4
Requires-Dist: requests (>=2)
Requires-Dist: idna; extra == "x"
Project-URL: Homepage, https://example.com
License: line one
        line two
Classifier: Programming Language :: Python :: 3

The long description
spans lines.
`;

describe('parseCoreMetadata', () => {
  const meta = parseCoreMetadata(METADATA);
  it('reads single fields case-insensitively', () => {
    expect(field(meta, 'name')).toBe('Foo_Bar.baz');
    expect(field(meta, 'Requires-Python')).toBe('>=3.8, <4');
  });
  it('keeps every value of repeated fields', () => expect(fields(meta, 'requires-dist')).toEqual(['requests (>=2)', 'idna; extra == "x"']));
  it('joins folded continuation lines', () => expect(field(meta, 'license')).toBe('line one\nline two'));
  it('takes the body as the description', () => expect(field(meta, 'description')).toBe('The long description\nspans lines.'));
  it('maps to the JSON API info', () => {
    const info = projectInfo(meta);
    expect(info.projectUrls).toEqual({ Homepage: 'https://example.com' });
    expect(info.requiresPython).toBe('>=3.8, <4');
    expect(info.classifiers).toHaveLength(1);
  });
});
