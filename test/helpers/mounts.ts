// Real file systems that fail the way volumes do: a tmpfs with a handful of inodes (a full disk)
// and a read-only bind mount. Both need root, which the test machines and CI have.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Mount {
  path: string;
  unmount(): void;
}

function mount(args: string[], target: string): Mount {
  mkdirSync(target, { recursive: true });
  execFileSync('mount', [...args, target]);
  return {
    path: target,
    unmount: () => {
      execFileSync('umount', ['-l', target]);
    },
  };
}

/** A tmpfs limited to `inodes` files and folders and `size` bytes. */
export function mountTmpfs(target: string, opts: { inodes: number; size?: string }): Mount {
  return mount(['-t', 'tmpfs', '-o', `size=${opts.size ?? '64m'},nr_inodes=${opts.inodes}`, 'tmpfs'], target);
}

/** `source` seen read-only at `target`, as a volume mounted read-only (or a snapshot) is. */
export function mountReadOnly(source: string, target: string): Mount {
  const m = mount(['--bind', source], target);
  execFileSync('mount', ['-o', 'remount,bind,ro', target]);
  return m;
}

/**
 * Takes every free inode of the file system holding `dir` with empty files in `dir` (a dot-folder,
 * so nothing is listed), then frees `keep` of them. Returns a function that frees the rest.
 */
export function fillInodes(dir: string, keep: number, limit = 10_000): () => void {
  mkdirSync(dir, { recursive: true });
  const made: string[] = [];
  for (;;) {
    // Only ever meant for a tmpfs of a few hundred inodes: never fill a real disk.
    if (made.length >= limit) {
      for (const f of made) rmSync(f, { force: true });
      throw new Error(`${dir} still takes files after ${limit}: not the small file system it should be`);
    }
    const file = path.join(dir, `f${made.length}`);
    try {
      writeFileSync(file, '');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
      throw err;
    }
    made.push(file);
  }
  const release = (n: number) => {
    for (const f of made.splice(0, n)) rmSync(f, { force: true });
  };
  release(keep);
  return () => release(made.length);
}
