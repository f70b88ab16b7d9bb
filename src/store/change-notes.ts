import { promises as fs } from 'node:fs';
import path from 'node:path';
import { mapLimit, readFresh, writeAtomic } from './fs-util.js';
import type { VolumeLayout } from './layout.js';

/** What one generation bump changed: distribution paths (added, replaced or removed) and whether yanks did. */
export interface Change {
  paths: readonly string[];
  yanks: boolean;
}

/** A change as noted on the volume: with the token the writer read just before its bump (null: none could be read). */
export interface Note extends Change {
  after: string | null;
}

const NOTE_VERSION = 1;
/** A note names the files of one upload, removal or yank: kilobytes. Anything larger is not a note. */
const MAX_NOTE_BYTES = 1024 * 1024;
const READ_CONCURRENCY = 8;
/**
 * Notes older than this are pruned by the periodic full rescan. Long enough that a reader that
 * listed the folder within NOTE_TRUST_MS has seen every note younger than that, even with the
 * tasks' clocks minutes apart.
 */
export const NOTE_RETENTION_MS = 30 * 60_000;
/** How long a reader's last listing of the folder vouches for the notes it has seen. */
export const NOTE_TRUST_MS = 10 * 60_000;

/**
 * Writers' notes of what each bump of the generation file changed, in `.wheelhouse/changes/`, one
 * file per bump named after the token it publishes (tokens start with their time, so names sort
 * by age). A reader that sees a new token lists this small folder and looks again only at the
 * paths the new notes name, instead of listing the package folder and meta/: on a volume of
 * 100,000 files over EFS that listing is most of what a poll costs.
 *
 * A writer writes the note before it renames the token into place, and after the files it names
 * are linked and their sidecars written, so a reader that sees the token finds the note, and a
 * reader that finds the note finds the files.
 */
export class ChangeNotes {
  readonly dir: string;

  constructor(layout: VolumeLayout) {
    this.dir = layout.changesDir;
  }

  async write(token: string, note: Note): Promise<void> {
    const body = { v: NOTE_VERSION, paths: note.paths, yanks: note.yanks, after: note.after };
    await writeAtomic(path.join(this.dir, token), JSON.stringify(body));
  }

  /** The notes present, by name (temp files of notes being written are not notes yet). */
  async list(): Promise<string[]> {
    return (await fs.readdir(this.dir)).filter((n) => !n.startsWith('.') && !n.endsWith('.tmp'));
  }

  /** One note; throws when it is not one this version wrote (the caller then lists the volume). */
  async read(name: string): Promise<Note> {
    const data = JSON.parse((await readFresh(path.join(this.dir, name), MAX_NOTE_BYTES)).toString('utf8')) as unknown;
    if (!isNote(data)) throw new Error(`${name} in ${this.dir} is not a change note`);
    return { paths: data.paths, yanks: data.yanks, after: data.after };
  }

  /** Removes notes older than maxAgeMs by the time their name starts with. Returns how many. */
  async prune(maxAgeMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    for (const name of await this.list()) {
      const at = timeOfToken(name);
      if (at === null || now - at <= maxAgeMs) continue;
      await fs.rm(path.join(this.dir, name), { force: true });
      removed++;
    }
    return removed;
  }
}

/**
 * One reader's view of the notes: which ones its index already accounts for, and since when.
 * It only saves work. Whenever it cannot vouch for a change (a token with no note: a writer of an
 * older version or the token command; a note it cannot read; a listing older than NOTE_TRUST_MS,
 * after which notes it never saw may have been pruned) it answers null and the reader lists the
 * volume, as it would without notes.
 */
export class ChangeFeed {
  private readonly notes: ChangeNotes;
  private readonly now: () => number;
  private seen: ReadonlySet<string> | null = null;
  private listedAt = 0;

  constructor(notes: ChangeNotes, now: () => number = Date.now) {
    this.notes = notes;
    this.now = now;
  }

  /**
   * Before the volume is listed: every note present now names files the listing will see, so
   * they are accounted for. A folder that cannot be listed leaves the next poll listing too.
   */
  async sync(): Promise<void> {
    const at = this.now();
    try {
      this.seen = new Set(await this.notes.list());
      this.listedAt = at;
    } catch {
      this.seen = null;
    }
  }

  /**
   * What the notes this reader has not seen say changed, from `previous` (the token it last
   * read) up to `token`; null: list the volume. Each note says which token its writer's bump
   * followed: one that follows neither `previous` nor a noted token followed a bump nobody noted
   * (a task of an older version during an upgrade), whose change no note names.
   */
  async since(token: string, previous: string | null): Promise<Change | null> {
    const seen = this.seen;
    const at = this.now();
    if (seen === null || at - this.listedAt > NOTE_TRUST_MS) return null;
    let names: string[];
    try {
      names = await this.notes.list();
    } catch {
      return null;
    }
    const noted = new Set(names);
    if (!noted.has(token)) return null;
    const fresh = names.filter((n) => !seen.has(n)).sort();
    const read = new Map<string, Note>();
    try {
      await mapLimit(fresh, READ_CONCURRENCY, async (name) => {
        read.set(name, await this.notes.read(name));
      });
    } catch {
      return null;
    }
    const paths = new Set<string>();
    let yanks = false;
    // In the order of the notes' names (their times), whichever read finished first.
    for (const name of fresh) {
      const note = read.get(name);
      if (!note) return null;
      if (note.after === null || (note.after !== previous && !noted.has(note.after))) return null;
      for (const p of note.paths) paths.add(p);
      yanks ||= note.yanks;
    }
    this.seen = noted;
    this.listedAt = at;
    return { paths: [...paths], yanks };
  }

  /** After a scan failed: what it was to apply is not in the index, so the next poll lists the volume. */
  forget(): void {
    this.seen = null;
  }
}

/** A distribution path as writers note them: relative, '/'-separated, nothing hidden, no way out. */
function isNotedPath(p: unknown): p is string {
  return (
    typeof p === 'string' &&
    p.length > 0 &&
    p.length <= 1024 &&
    !p.startsWith('/') &&
    !p.includes('\\') &&
    !p.includes('\0') &&
    p.split('/').every((seg) => seg !== '' && !seg.startsWith('.'))
  );
}

function isNote(data: unknown): data is Note {
  if (typeof data !== 'object' || data === null) return false;
  const d = data as Record<string, unknown>;
  return (
    d.v === NOTE_VERSION &&
    Array.isArray(d.paths) &&
    d.paths.every(isNotedPath) &&
    typeof d.yanks === 'boolean' &&
    (d.after === null || typeof d.after === 'string')
  );
}

/** The time a generation token starts with (milliseconds, base 36), or null for a name that is not a token. */
function timeOfToken(name: string): number | null {
  const head = name.split('-', 1)[0] ?? '';
  if (!/^[0-9a-z]{1,12}$/.test(head)) return null;
  const ms = parseInt(head, 36);
  return Number.isSafeInteger(ms) ? ms : null;
}
