import { randomBytes } from 'node:crypto';
import { promises as fs, constants } from 'node:fs';
import path from 'node:path';

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

  /**
   * Reads the token by open+read until EOF into a small buffer: readFile() would size its buffer
   * from a possibly stale cached file size. Returns null when no writer ever bumped it.
   */
  async read(): Promise<string | null> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.file, constants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const buf = Buffer.alloc(256);
      let length = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buf, length, buf.length - length, length);
        if (bytesRead === 0 || length + bytesRead >= buf.length) {
          length += bytesRead;
          break;
        }
        length += bytesRead;
      }
      return buf.subarray(0, length).toString('utf8').trim();
    } finally {
      await handle.close();
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
