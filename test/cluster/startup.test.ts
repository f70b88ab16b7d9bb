// How a task with --workers 2 starts on a volume whose first scan is slow (every file hashed over
// an EFS-like mount): the container's probe (dist/healthcheck.js) must pass from the first answer
// on, through the whole scan, or ECS replaces the task before it ever serves; and once /health
// has said 200, the load balancer must never hear "loading" from it again.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mountNfsLike, type NfsMount } from '../helpers/nfs-mount.js';
import { collectJsonLogs, freePort, MAIN, REPO, tempDir } from '../helpers/server.js';
import { wheelBytes } from '../helpers/upload.js';

const PROBE = path.join(REPO, 'dist', 'healthcheck.js');
// Slower than EFS per call, so the scan of a few hundred files lasts long enough to watch.
const MOUNT = { attrTimeout: 3, entryTimeout: 3, metaDelayMs: 4, readDelayMs: 4 };
const FILES = 300;
/** The task definition's health check startPeriod (infra/ecs.tf): failures before it do not count, later ones do. */
const START_PERIOD_MS = 30_000;

const cleanups: (() => void)[] = [];
const mounts: NfsMount[] = [];
let proc: ChildProcess | null = null;

afterEach(async () => {
  const p = proc;
  proc = null;
  if (p && p.exitCode === null && p.signalCode === null) {
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }
});

afterAll(async () => {
  for (const m of mounts) await m.unmount();
  for (const c of cleanups) c();
});

/** A volume nobody has indexed yet, on its own EFS-like mount. */
async function slowVolume(): Promise<string> {
  const temp = tempDir('wh-startup-');
  const dir = temp.dir;
  cleanups.push(() => temp.cleanup());
  for (let i = 0; i < FILES; i++) {
    const w = wheelBytes(`startup-${String(i % 60).padStart(2, '0')}`, `1.0.${i}`);
    writeFileSync(path.join(dir, w.filename), w.bytes);
  }
  const m = await mountNfsLike(dir, MOUNT);
  mounts.push(m);
  return m.path;
}

interface Task {
  port: number;
  spawnedAt: number;
  logs: Record<string, unknown>[];
}

async function startTask(root: string, workers: number): Promise<Task> {
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WHEELHOUSE_')));
  const args = ['--root', root, '--port', String(port), '--host', '127.0.0.1', '--workers', String(workers)];
  const child = spawn(
    process.execPath,
    [MAIN, ...args, '--authenticate', '.', '--passwords', '.', '--watch', 'off', '--log-level', 'info'],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  proc = child;
  const task: Task = { port, spawnedAt: performance.now(), logs: [] };
  collectJsonLogs(child.stdout, task.logs);
  child.stderr.resume();
  return task;
}

/** One /health answer on a fresh connection, so successive calls reach either worker; null when nothing answers. */
function health(port: number): Promise<{ status: number; body: Record<string, unknown> } | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 3000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (s: string) => (text += s));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: {} });
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

/** The container probe, run as the image runs it. */
function probe(port: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PROBE], {
      env: { ...process.env, WHEELHOUSE_PORT: String(port), WHEELHOUSE_HOST: '127.0.0.1' },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('exit', (code) => resolve({ code, stderr: stderr.trim() }));
  });
}

interface Watch {
  probes: { at: number; code: number | null; stderr: string }[];
  answers: { at: number; status: number; body: Record<string, unknown> }[];
}

/** Probes and asks /health side by side until `done` says so (or the time runs out). */
async function watch(task: Task, done: (w: Watch) => boolean, timeoutMs = 150_000): Promise<Watch> {
  const w: Watch = { probes: [], answers: [] };
  const since = () => Math.round(performance.now() - task.spawnedAt);
  const probing = (async () => {
    while (!done(w) && since() < timeoutMs) {
      const at = since();
      w.probes.push({ at, ...(await probe(task.port)) });
    }
  })();
  while (!done(w) && since() < timeoutMs) {
    const round = await Promise.all([1, 2, 3, 4].map(() => health(task.port)));
    for (const a of round) if (a) w.answers.push({ at: since(), ...a });
    await new Promise((r) => setTimeout(r, 150));
  }
  await probing;
  return w;
}

const loads = (task: Task) => task.logs.filter((l) => l.msg === 'index rescanned' && l.kind === 'load');

describe('a task with --workers 2 on a volume whose first scan is slow', () => {
  it(
    'is live from its first answer: the probe passes through the whole scan, /health shows progress, and once 200 it never says loading',
    { timeout: 240_000 },
    async () => {
      const task = await startTask(await slowVolume(), 2);
      const bothServe = (w: Watch) => new Set(w.answers.filter((a) => a.status === 200).map((a) => a.body.pid)).size >= 2;
      const w = await watch(task, bothServe);

      const firstPass = w.probes.find((p) => p.code === 0);
      console.log(
        `--workers 2, ${FILES} files hashed over an EFS-like mount: first passing probe ${firstPass?.at ?? 'never'} ms after the start, ` +
          `first 200 after ${w.answers.find((a) => a.status === 200)?.at ?? 'never'} ms, ${w.probes.length} probes`,
      );
      expect(firstPass, JSON.stringify(w.probes.slice(0, 5))).toBeDefined();
      expect(firstPass!.at).toBeLessThan(START_PERIOD_MS);
      // From the first answer on, every probe passed: nothing for ECS to replace the task over.
      const later = w.probes.filter((p) => p.at >= firstPass!.at);
      expect(later.filter((p) => p.code !== 0)).toEqual([]);

      // While the first scan ran, the task said how far it got.
      const loading = w.answers.filter((a) => a.status === 503 && a.body.status === 'loading');
      expect(loading.length).toBeGreaterThan(0);
      expect(loading.some((a) => a.body.filesSeen === FILES && Number(a.body.filesHashed) < FILES)).toBe(true);

      // Once one answer was 200, every answer was: a worker still loading never took a connection.
      const first200 = w.answers.findIndex((a) => a.status === 200);
      expect(first200).toBeGreaterThanOrEqual(0);
      expect(w.answers.slice(first200).filter((a) => a.status !== 200)).toEqual([]);
      expect(bothServe(w)).toBe(true);

      // The volume was hashed once: the second worker started from the catalog the first one wrote.
      const [lead, follower] = loads(task);
      expect(lead).toMatchObject({ hashed: FILES });
      expect(follower).toMatchObject({ hashed: 0, sidecarsRead: 0, statted: 0 });
      expect(task.logs.some((l) => l.msg === 'catalog written')).toBe(true);
    },
  );

  it(
    'answers again within a second or so when the only listening worker dies during the first scan: a waiting one takes over',
    { timeout: 180_000 },
    async () => {
      const task = await startTask(await slowVolume(), 2);
      const loadingPid = (w: Watch) => w.answers.find((a) => a.body.status === 'loading')?.body.pid;
      // Killed once the other worker is built and waiting, as it is a few seconds into a long scan.
      const waiting = () => task.logs.some((l) => l.msg === 'worker ready; it loads once the first worker has');
      const first = await watch(task, (w) => loadingPid(w) !== undefined && waiting(), 60_000);
      const pid = Number(loadingPid(first));
      expect(pid).toBeGreaterThan(0);
      process.kill(pid, 'SIGKILL');
      const killedAt = Math.round(performance.now() - task.spawnedAt);

      const other = (w: Watch) =>
        w.answers.some((a) => a.at > killedAt && a.body.pid !== pid && (a.status === 200 || a.body.status === 'loading'));
      const after = await watch(task, other, 60_000);
      const back = after.answers.find((a) => a.at > killedAt && a.body.pid !== pid);
      console.log(`the listening worker killed at ${killedAt} ms; another answered ${back ? back.at - killedAt : 'never'} ms later`);
      expect(back).toBeDefined();
      // Well under the time a new worker takes to start (several seconds on a busy machine).
      expect(back!.at - killedAt).toBeLessThan(5_000);
    },
  );
});
