import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Revocations } from '../../src/store/revocations.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'wh-revoked-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('Revocations', () => {
  it('reads an empty set when nothing was ever revoked', async () => {
    expect(await new Revocations(root).ids()).toEqual(new Set());
  });

  it('writes one file per id under .wheelhouse/revoked and reads the ids back', async () => {
    const r = new Revocations(root);
    expect(
      await r.revoke('0123456789abcdef01234567', { by: 'cli:ann@laptop', reason: 'leaked', time: new Date(Date.UTC(2030, 0, 1)) }),
    ).toBe(true);
    expect(readdirSync(join(root, '.wheelhouse', 'revoked'))).toEqual(['0123456789abcdef01234567']);
    expect(JSON.parse(readFileSync(join(root, '.wheelhouse', 'revoked', '0123456789abcdef01234567'), 'utf8'))).toEqual({
      id: '0123456789abcdef01234567',
      time: '2030-01-01T00:00:00.000Z',
      by: 'cli:ann@laptop',
      reason: 'leaked',
    });
    expect(await new Revocations(root).ids()).toEqual(new Set(['0123456789abcdef01234567']));
  });

  it('keeps the first record when an id is revoked twice', async () => {
    const r = new Revocations(root);
    expect(await r.revoke('aaaa', { reason: 'first' })).toBe(true);
    expect(await r.revoke('aaaa', { reason: 'second' })).toBe(false);
    expect((await r.list()).map((x) => x.reason)).toEqual(['first']);
  });

  it('loses nothing when two writers revoke many ids at once', async () => {
    const a = new Revocations(root);
    const b = new Revocations(root);
    const ids = Array.from({ length: 40 }, (_, i) => `id${i}`);
    await Promise.all(ids.map((id, i) => (i % 2 ? a : b).revoke(id)));
    expect(await a.ids()).toEqual(new Set(ids));
    expect(readdirSync(join(root, '.wheelhouse', 'revoked')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('ignores temp files of a revocation in progress and counts a file made by hand', async () => {
    const r = new Revocations(root);
    await r.revoke('real');
    writeFileSync(join(r.dir, '.half.abc.tmp'), '{"id":');
    writeFileSync(join(r.dir, 'touched'), '');
    expect(await r.ids()).toEqual(new Set(['real', 'touched']));
    expect((await r.list()).map((x) => x.id)).toEqual(['touched', 'real']);
  });

  it('refuses an id that could not be a token id (no path tricks)', async () => {
    await expect(new Revocations(root).revoke('../generation')).rejects.toThrow(/is not a token id/);
    await expect(new Revocations(root).revoke('')).rejects.toThrow(/is not a token id/);
  });
});
