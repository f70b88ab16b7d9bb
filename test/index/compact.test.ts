import { describe, expect, it } from 'vitest';
import { Compactor } from '../../src/index/compact.js';
import { distFile } from '../helpers/snapshot.js';

describe('Compactor', () => {
  it('keeps every field a page shows: the uploader and the digests --hash-algo asked for included', () => {
    const f = distFile('alpha', '1.0', { uploader: 'alice', hashes: { sha512: 'e'.repeat(128) } });
    const compactor = new Compactor();
    expect(compactor.record(f)).toEqual({ ...f, yanked: false });
    expect(compactor.adopt(f)).toEqual({ ...f, yanked: false });
  });

  it('adds no field a record does not have', () => {
    const f = distFile('alpha', '1.0');
    expect(Object.keys(new Compactor().record(f)).sort()).toEqual(Object.keys({ ...f, yanked: false }).sort());
  });
});
