import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Change, ChangeNotes } from './change-notes.js';
import { errnoOf, readSmallFresh, TooLargeFileError } from './fs-util.js';

/** A token is a few dozen bytes; anything much larger is not ours. */
const MAX_TOKEN_BYTES = 4096;

export interface GenerationLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * The generation file: one small token on the shared volume that every writer replaces and every
 * reader polls. EFS guarantees close-to-open consistency, so open()+read() sees the newest token,
 * while stat() can be minutes stale and inotify never fires for another client's write. Hence:
 * never stat it, never append to it, replace it whole by rename.
 *
 * A generation entry that is not a small file (a directory, a huge file) would make every task
 * fail its polls and every upload fail its bump, so the fleet would go unhealthy together; it is
 * replaced with a fresh token instead, which every task then reads as one more change.
 */
export class GenerationFile {
  readonly file: string;
  private readonly log: GenerationLogger | undefined;

  private readonly notes: ChangeNotes | undefined;

  constructor(stateDir: string, log?: GenerationLogger, notes?: ChangeNotes) {
    this.file = path.join(stateDir, 'generation');
    this.log = log;
    this.notes = notes;
  }

  /** The current token, or null when no writer ever bumped it. Never stat(): see readFresh (open-to-close consistency on NFS). */
  async read(): Promise<string | null> {
    try {
      return (await readSmallFresh(this.file, MAX_TOKEN_BYTES)).toString('utf8').trim();
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return null;
      if (!isDamaged(err)) throw err;
      this.log?.error({ err, file: this.file }, 'the generation file is damaged; replacing it');
      return this.bump();
    }
  }

  /**
   * Publishes a fresh unique token: temp file, fsync, rename over. Returns the token. With a
   * change, a note of it goes first (store/change-notes.ts); a note that cannot be written only
   * makes the readers list the volume for this token.
   */
  async bump(change?: Change): Promise<string> {
    const token = `${Date.now().toString(36)}-${randomBytes(12).toString('hex')}`;
    if (change && this.notes) {
      // The token this one follows, so readers can tell when a bump without a note came between.
      const after = await readSmallFresh(this.file, MAX_TOKEN_BYTES).then(
        (b) => b.toString('utf8').trim(),
        () => null,
      );
      await this.notes.write(token, { ...change, after }).catch((err: unknown) => {
        this.log?.warn({ err, dir: this.notes?.dir }, 'could not write a change note; other tasks list the volume to find this change');
      });
    }
    const tmp = `${this.file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await fs.open(tmp, 'wx');
    try {
      await handle.writeFile(`${token}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      try {
        await fs.rename(tmp, this.file);
      } catch (err) {
        // rename() cannot replace a directory: clear the damaged entry and try once more.
        if (!['EISDIR', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR'].includes(errnoOf(err) ?? '')) throw err;
        this.log?.error({ err, file: this.file }, 'the generation file is damaged; replacing it');
        await fs.rm(this.file, { recursive: true, force: true });
        await fs.rename(tmp, this.file);
      }
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    return token;
  }
}

function isDamaged(err: unknown): boolean {
  return err instanceof TooLargeFileError || errnoOf(err) === 'EISDIR';
}
