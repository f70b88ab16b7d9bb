// Mounts a directory through nfsfs.py, a FUSE file system that behaves like one
// EFS client: stat() cached for seconds, open()+read() fresh. Two mounts of one
// directory stand in for two ECS tasks sharing a volume.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NfsMountOptions {
  /** Seconds the kernel trusts cached attributes (EFS: 3 to 60). Default 3. */
  attrTimeout?: number;
  /** Seconds the kernel trusts a name lookup, found or not found. Default 3. */
  entryTimeout?: number;
  /** Sleep per metadata call (getattr/lookup, readdir, open, access, rename, ...). */
  metaDelayMs?: number;
  /** Sleep per read call. */
  readDelayMs?: number;
}

export interface NfsMount {
  path: string;
  /** Calls that reached the file system since the mount, by operation name. */
  stats(): Promise<Record<string, number>>;
  unmount(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('./nfsfs.py', import.meta.url));
// Debian's python3-fusepy lives in the system interpreter; a pyenv python3 on
// PATH does not see it.
const PYTHON = '/usr/bin/python3';
const SETUP_HINT = 'run test/setup-fuse.sh (installs python3-fusepy and fuse3) as root';

let availability: { ok: true } | { ok: false; why: string } | undefined;

export function fuseAvailable(): { ok: true } | { ok: false; why: string } {
  availability ??= probe();
  return availability;
}

function probe(): { ok: true } | { ok: false; why: string } {
  if (process.platform !== 'linux') return { ok: false, why: `FUSE mounts need Linux, not ${process.platform}` };
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch (err) {
    return {
      ok: false,
      why: `/dev/fuse is not usable (${(err as Error).message}); a container needs --device /dev/fuse --cap-add SYS_ADMIN`,
    };
  }
  if (!/\bfuse\b/.test(readFileSync('/proc/filesystems', 'utf8'))) {
    return { ok: false, why: 'the kernel has no fuse file system (modprobe fuse)' };
  }
  if (!existsSync(PYTHON)) return { ok: false, why: `${PYTHON} is missing; ${SETUP_HINT}` };
  const py = spawnSync(PYTHON, ['-c', 'try:\n import fusepy\nexcept ImportError:\n import fuse'], { encoding: 'utf8' });
  if (py.status !== 0) {
    return { ok: false, why: `${PYTHON} cannot import fusepy: ${lastLine(py.stderr)}; ${SETUP_HINT}` };
  }
  return { ok: true };
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}

interface Live {
  dir: string;
  mountpoint: string;
  child: ChildProcess;
}
const live = new Set<Live>();

// A test that forgets to unmount, or a runner that exits mid-test, must not
// leave a mount behind. (A runner killed with SIGKILL is covered by nfsfs.py's
// --parent-pid.)
process.on('exit', () => {
  for (const m of live) {
    // Detach first, then SIGKILL: a SIGTERM'd nfsfs.py would write its last
    // counts into the temp dir while it is being removed.
    detach(m.mountpoint);
    m.child.kill('SIGKILL');
    try {
      if (!isMounted(m.mountpoint)) removeTempDir(m.dir);
    } catch {
      // A periodic write of the counts raced the removal: a small temp dir is left.
    }
  }
});

function isMounted(mountpoint: string): boolean {
  // /proc/mounts escapes space, tab, newline and backslash as octal.
  const escaped = mountpoint.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === escaped);
}

// Never a recursive delete: were the mount still live it would reach into the
// backing directory.
function removeTempDir(dir: string): void {
  rmdirSync(join(dir, 'mnt'));
  for (const name of readdirSync(dir)) rmSync(join(dir, name)); // stats files
  rmdirSync(dir);
}

function detach(mountpoint: string): void {
  for (const [cmd, args] of [
    ['fusermount', ['-uz', mountpoint]],
    ['fusermount3', ['-uz', mountpoint]],
    ['umount', ['-l', mountpoint]],
  ] as const) {
    if (!isMounted(mountpoint)) return;
    spawnSync(cmd, args, { stdio: 'ignore' });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function mountNfsLike(backing: string, opts: NfsMountOptions = {}): Promise<NfsMount> {
  const avail = fuseAvailable();
  if (!avail.ok) throw new Error(`Cannot mount an NFS-like FUSE file system: ${avail.why}`);

  const dir = mkdtempSync(join(tmpdir(), 'wh-nfs-'));
  const mountpoint = join(dir, 'mnt');
  const statsFile = join(dir, 'stats.json');
  mkdirSync(mountpoint);

  const args = [
    SCRIPT,
    resolve(backing),
    mountpoint,
    '--attr-timeout',
    String(opts.attrTimeout ?? 3),
    '--entry-timeout',
    String(opts.entryTimeout ?? 3),
    '--meta-delay-ms',
    String(opts.metaDelayMs ?? 0),
    '--read-delay-ms',
    String(opts.readDelayMs ?? 0),
    '--stats-file',
    statsFile,
    // Tied to the spawning thread: fine in vitest's forks pool and in a plain
    // process, but a worker thread that ends would take the mount with it.
    '--parent-pid',
    String(process.pid),
  ];
  const child = spawn(PYTHON, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr = (stderr + s).slice(-8000);
  });
  let exited: string | undefined;
  const exit = new Promise<void>((done) => {
    child.on('exit', (code, signal) => {
      exited = signal ? `signal ${signal}` : `code ${code}`;
      done();
    });
    child.on('error', (err) => {
      exited = err.message;
      done();
    });
  });
  const entry: Live = { dir, mountpoint, child };
  live.add(entry);

  const deadline = Date.now() + 10_000;
  while (!isMounted(mountpoint)) {
    if (exited !== undefined || Date.now() > deadline) {
      const why = exited !== undefined ? `nfsfs.py exited (${exited})` : 'not mounted within 10 s';
      child.kill('SIGKILL');
      await exit;
      detach(mountpoint);
      live.delete(entry);
      if (!isMounted(mountpoint)) removeTempDir(dir);
      throw new Error(`Cannot mount ${backing} at ${mountpoint}: ${why}.\nnfsfs.py stderr:\n${stderr.trim() || '(empty)'}`);
    }
    await sleep(20);
  }

  let unmounted: Promise<void> | undefined;
  return {
    path: mountpoint,

    async stats() {
      // nfsfs.py rewrites the file every 0.2 s; wait for one written after this
      // call so that calls already made are counted.
      const asked = Date.now();
      for (;;) {
        try {
          const { at_ms, ops } = JSON.parse(await readFile(statsFile, 'utf8')) as { at_ms: number; ops: Record<string, number> };
          if (at_ms > asked || exited !== undefined) return ops;
        } catch (err) {
          if (exited !== undefined) throw new Error(`nfsfs.py is gone (${exited}): ${(err as Error).message}`);
        }
        if (Date.now() - asked > 5_000) throw new Error(`nfsfs.py stopped writing ${statsFile}`);
        await sleep(50);
      }
    },

    unmount() {
      unmounted ??= (async () => {
        // nfsfs.py unmounts itself on SIGTERM (and writes its last counts).
        child.kill('SIGTERM');
        await Promise.race([exit, sleep(3_000)]);
        detach(mountpoint);
        if (exited === undefined) {
          child.kill('SIGKILL');
          await exit;
        }
        live.delete(entry);
        if (isMounted(mountpoint)) throw new Error(`${mountpoint} is still mounted`);
        removeTempDir(dir);
      })();
      return unmounted;
    },
  };
}
