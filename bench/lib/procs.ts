import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

type Cleanup = () => Promise<void> | void;

// Last registered runs first, so a server stops before the mount or temp dir under it goes away.
const cleanups: Array<{ name: string; fn: Cleanup }> = [];
const children = new Set<ChildProcess>();

export function onCleanup(name: string, fn: Cleanup): () => void {
  const entry = { name, fn };
  cleanups.push(entry);
  return () => {
    const i = cleanups.indexOf(entry);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

export async function runCleanups(): Promise<void> {
  while (cleanups.length) {
    const { name, fn } = cleanups.pop()!;
    try {
      await fn();
    } catch (err) {
      console.error(`cleanup of ${name} failed: ${(err as Error).message}`);
    }
  }
}

/** Ctrl-C, SIGTERM and a crash still stop every server and remove every temp dir. */
export function installSignalHandlers(): void {
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    void runCleanups().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => stop(130));
  process.once('SIGTERM', () => stop(143));
  // If the process ends without running the async cleanups, at least no server outlives it.
  process.once('exit', () => {
    for (const child of children) killGroup(child, 'SIGKILL');
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal); // the server's own workers are in its process group
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** Starts a command in its own process group, tracked for cleanup. */
export function startProcess(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; logFd?: number }): ChildProcess {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', opts.logFd ?? 'ignore', opts.logFd ?? 'ignore'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export async function stopProcess(child: ChildProcess, graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  // Workers of a cluster may linger a moment after their primary.
  killGroup(child, 'SIGKILL');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const out = r.stdout.trim();
  return r.status === 0 && out ? out : undefined;
}

export function aptInstall(pkg: string): boolean {
  if (!which('apt-get')) return false;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 120_000 });
  return spawnSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'ignore', env, timeout: 300_000 }).status === 0;
}

/** Installs a Debian package when a command is missing (CI machines start bare). */
export function ensureDebianPackage(cmd: string, pkg: string, log: (s: string) => void): string | undefined {
  const find = () => which(cmd) ?? which(`/usr/sbin/${cmd}`);
  const found = find();
  if (found) return found;
  log(`${cmd} not found: apt-get install -y ${pkg}`);
  return aptInstall(pkg) ? find() : undefined;
}
