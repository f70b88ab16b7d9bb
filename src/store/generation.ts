import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readFresh } from './read-fresh.js';

/**
 * The generation file: one small token on the shared volume that every writer replaces and every
 * reader polls. EFS guarantees close-to-open consistency, so open()+read() sees the newest token,
 * while stat() can be minutes stale and inotify never fires for another client's write. Hence:
 * never stat it, never append to it, replace it whole by rename.
 */
export class GenerationFile {
  readonly file: string;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'generation');
  }

  /** The current token, or null when no writer ever bumped it. Never stat(): see readFresh. */
  async read(): Promise<string | null> {
    try {
      return (await readFresh(this.file, 4096)).toString('utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** Publishes a fresh unique token: temp file, fsync, rename over. Returns the token. */
  async bump(): Promise<string> {
    const token = `${Date.now().toString(36)}-${randomBytes(12).toString('hex')}`;
    const tmp = `${this.file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await fs.open(tmp, 'wx');
    try {
      await handle.writeFile(`${token}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.rename(tmp, this.file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    return token;
  }
}
