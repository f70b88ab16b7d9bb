import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChangeFeed, ChangeNotes, NOTE_RETENTION_MS, NOTE_TRUST_MS } from '../../src/store/change-notes.js';
import { GenerationFile } from '../../src/store/generation.js';
import { eachTempRoot } from '../helpers/volume.js';

const temp = eachTempRoot();

async function setUp() {
  const volume = await temp.volume();
  const notes = new ChangeNotes(volume.layout);
  let now = Date.now();
  const clock = { advance: (ms: number) => (now += ms) };
  const feed = new ChangeFeed(notes, () => now);
  const generation = new GenerationFile(volume.layout.stateDir, { warn() {}, error() {} }, notes);
  return { volume, notes, feed, generation, clock };
}

describe('change notes', () => {
  it('are written by a bump, named after its token, before the token is published', async () => {
    const { notes, generation } = await setUp();
    const token = await generation.bump({ paths: ['a-1.0.tar.gz'], yanks: false });
    expect(await notes.list()).toEqual([token]);
    expect(await notes.read(token)).toMatchObject({ paths: ['a-1.0.tar.gz'], yanks: false });
    // A bump without a change writes none.
    await generation.bump();
    expect(await notes.list()).toEqual([token]);
  });

  it('vouch for a new token only when it has a note, and then give the paths of every note not seen yet', async () => {
    const { feed, generation } = await setUp();
    await feed.sync();
    const start = await generation.read();
    await generation.bump({ paths: ['a-1.0.tar.gz'], yanks: false });
    const second = await generation.bump({ paths: ['b-1.0.tar.gz'], yanks: true });
    expect(await feed.since(second, start)).toEqual({ paths: ['a-1.0.tar.gz', 'b-1.0.tar.gz'], yanks: true });
    // Seen: the next token only brings its own.
    const third = await generation.bump({ paths: ['c-1.0.tar.gz'], yanks: false });
    expect(await feed.since(third, second)).toEqual({ paths: ['c-1.0.tar.gz'], yanks: false });
    // A token nobody noted (an older writer): the volume must be listed.
    const noteless = await generation.bump();
    expect(await feed.since(noteless, third)).toBeNull();
  });

  it('say nothing when a bump nobody noted came between the last token read and a noted one', async () => {
    const { feed, generation } = await setUp();
    await feed.sync();
    const start = await generation.read();
    const first = await generation.bump({ paths: ['a-1.0.tar.gz'], yanks: false });
    expect(await feed.since(first, start)).not.toBeNull();
    // A task of an older version uploads and bumps without a note, then a current one uploads.
    await generation.bump();
    const after = await generation.bump({ paths: ['b-1.0.tar.gz'], yanks: false });
    expect(await feed.since(after, first)).toBeNull();
  });

  it('say nothing before the reader has listed them once, or when its last listing is older than the trust window', async () => {
    const { feed, generation, clock } = await setUp();
    const token = await generation.bump({ paths: ['a-1.0.tar.gz'], yanks: false });
    expect(await feed.since(token, null)).toBeNull();
    await feed.sync();
    clock.advance(NOTE_TRUST_MS + 1);
    const later = await generation.bump({ paths: ['b-1.0.tar.gz'], yanks: false });
    expect(await feed.since(later, token)).toBeNull();
    // The same, within the window: vouched for.
    await feed.sync();
    const next = await generation.bump({ paths: ['c-1.0.tar.gz'], yanks: false });
    expect(await feed.since(next, later)).toEqual({ paths: ['c-1.0.tar.gz'], yanks: false });
  });

  it('say nothing when a note cannot be read as one, or after the reader forgot them (a failed scan)', async () => {
    const { feed, notes, generation } = await setUp();
    await feed.sync();
    const start = await generation.read();
    const token = await generation.bump({ paths: ['a-1.0.tar.gz'], yanks: false });
    await writeFile(path.join(notes.dir, token), `{"v":1,"paths":["../../etc/passwd"],"yanks":false,"after":"${start}"}`);
    expect(await feed.since(token, start)).toBeNull();
    await writeFile(path.join(notes.dir, token), 'not json');
    expect(await feed.since(token, start)).toBeNull();

    await feed.sync();
    const next = await generation.bump({ paths: ['b-1.0.tar.gz'], yanks: false });
    feed.forget();
    expect(await feed.since(next, token)).toBeNull();
  });

  it('older than the retention are pruned; recent notes and names that are not tokens stay', async () => {
    const { notes, generation } = await setUp();
    const old = `${(Date.now() - NOTE_RETENTION_MS - 60_000).toString(36)}-aa`;
    await notes.write(old, { paths: [], yanks: true, after: null });
    const recent = await generation.bump({ paths: ['a-1.0.tar.gz'], yanks: false });
    await writeFile(path.join(notes.dir, 'README'), 'kept');
    expect(await notes.prune(NOTE_RETENTION_MS)).toBe(1);
    expect((await readdir(notes.dir)).sort()).toEqual(['README', recent].sort());
  });
});
