import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readFresh } from './fs-util.js';

/**
 * Revoked API token ids on the shared volume: one file per id under `<root>/.wheelhouse/revoked/`,
 * so two tasks revoking at once each add their own file and neither is lost (a shared list file
 * would need a lock NFS does not give). Each file is written whole to a hidden temp name and linked
 * into place, so a reader never sees half of one, and a second revocation of the same id keeps the
 * first record.
 *
 * Readers only list the directory. The writer bumps the generation file afterwards (the caller's
 * job, as for any write), and every task re-reads the set when the generation changes.
 */

export interface Revocation {
  id: string;
  /** ISO 8601, UTC. */
  time: string;
  /** Who revoked it (a user, or `cli:<user>@<host>`). */
  by?: string;
  reason?: string;
}

const ID = /^[A-Za-z0-9_-]{1,128}$/;

export function revokedDir(root: string): string {
  return path.join(root, '.wheelhouse', 'revoked');
}

export class Revocations {
  readonly dir: string;

  constructor(root: string) {
    this.dir = revokedDir(root);
  }

  /** Records a revocation; resolves true if the id was not revoked before. */
  async revoke(id: string, info: { by?: string; reason?: string; time?: Date } = {}): Promise<boolean> {
    if (!ID.test(id)) throw new Error(`"${id}" is not a token id (wheelhouse token inspect TOKEN shows it)`);
    await fs.mkdir(this.dir, { recursive: true });
    const record: Revocation = { id, time: (info.time ?? new Date()).toISOString(), by: info.by, reason: info.reason };
    const tmp = path.join(this.dir, `.${id}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await fs.open(tmp, 'wx');
    try {
      await handle.writeFile(`${JSON.stringify(record)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.link(tmp, path.join(this.dir, id));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  /** The revoked ids: one directory listing, no file read. */
  async ids(): Promise<Set<string>> {
    try {
      return new Set((await fs.readdir(this.dir)).filter((n) => !n.startsWith('.') && ID.test(n)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
      throw err;
    }
  }

  /** Every revocation with its record, oldest first (for people; the server needs only ids()). */
  async list(): Promise<Revocation[]> {
    const out: Revocation[] = [];
    for (const id of await this.ids()) {
      try {
        const record = JSON.parse((await readFresh(path.join(this.dir, id), 64 * 1024)).toString('utf8')) as Partial<Revocation>;
        out.push({ ...record, id, time: typeof record.time === 'string' ? record.time : '' });
      } catch {
        // Unreadable or hand-made (e.g. `touch <id>`): still a revocation.
        out.push({ id, time: '' });
      }
    }
    return out.sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
  }
}
