import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { VolumeLayout } from './layout.js';

/** Removes temp files of uploads that died (a killed process, a lost client) older than maxAgeMs. */
export async function sweepIncoming(layout: VolumeLayout, maxAgeMs: number): Promise<number> {
  let removed = 0;
  let names: string[];
  try {
    names = await fs.readdir(layout.incomingDir);
  } catch {
    return 0;
  }
  const cutoff = Date.now() - maxAgeMs;
  for (const name of names) {
    const full = path.join(layout.incomingDir, name);
    const st = await fs.stat(full).catch(() => null);
    if (st && st.mtimeMs < cutoff) {
      await fs.rm(full, { force: true });
      removed++;
    }
  }
  return removed;
}

/** True when a directory is on a local file system, where inotify (chokidar) sees every write. */
export async function isLocalDisk(dir: string): Promise<boolean> {
  try {
    const mounts = (await fs.readFile('/proc/mounts', 'utf8')).split('\n').map((l) => l.split(' '));
    const real = await fs.realpath(dir);
    let best = { point: '', type: '' };
    for (const [, point, type] of mounts) {
      if (
        point &&
        type &&
        (real === point || real.startsWith(point.endsWith('/') ? point : point + '/')) &&
        point.length >= best.point.length
      ) {
        best = { point, type };
      }
    }
    return !/^(nfs|nfs4|cifs|smb3|fuse|9p|efs|virtiofs)/.test(best.type);
  } catch {
    return false; // not Linux: poll only
  }
}
