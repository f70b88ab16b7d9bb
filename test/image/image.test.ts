// The container image, built from the project's Dockerfile with podman (docker/build-image.sh),
// run as the ECS task definition runs it: the settings of infra/tests/task-container.json (which
// the Terraform tests hold the task definition to) — uid 1000, a read-only root file system with
// a writable /tmp volume, an init process, the nofile limit, the module's WHEELHOUSE_* environment,
// the password as a secret — and two workers, as on a 2-vCPU task. Real twine and pip talk to it
// over the host network; it is stopped with SIGTERM within the task's stop timeout.
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWheel } from '../helpers/dists.js';
import { cleanPipEnv, run, twine, type RunResult } from '../helpers/python.js';
import { freePort } from '../helpers/server.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const podmanSh = join(repo, 'docker', 'podman.sh');
const image = 'wheelhouse:test';
const container = `wh-image-test-${process.pid}`;
const password = 'image-test-password-0123';

interface TaskContainer {
  user: string;
  readonlyRootFilesystem: boolean;
  stopTimeout: number;
  initProcessEnabled: boolean;
  healthCheck: string[];
  mountPoints: Record<string, string>;
  secrets: string[];
  nofile: number;
  environment: Record<string, string>;
}
const task = JSON.parse(readFileSync(join(repo, 'infra', 'tests', 'task-container.json'), 'utf8')) as TaskContainer;
const user = task.environment.WHEELHOUSE_USERNAME!;

/** The Node release the image is built on (docker/podman-env.sh, the same as the Dockerfile's digest). */
const nodeVersion = /^WH_NODE_VERSION=(\S+)$/m.exec(readFileSync(join(repo, 'docker', 'podman-env.sh'), 'utf8'))?.[1];

function podman(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return run('bash', [podmanSh, ...args], { timeoutMs });
}

async function waitForHealth(url: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const logs = await podman(['logs', '--tail', '40', container]);
  throw new Error(`${url} never answered 200 within ${ms} ms (last: ${last}); container logs:\n${logs.stdout}${logs.stderr}`);
}

function tail(text: string, lines = 40): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/** One raw request; returns the status line and headers as sent (fetch hides Keep-Alive). */
function rawHead(port: number, target: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
      socket.write(`GET ${target} HTTP/1.1\r\nHost: pypi.example.com\r\n${extra.join('')}\r\n`);
    });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      data += d;
      const end = data.indexOf('\r\n\r\n');
      if (end !== -1) {
        socket.destroy();
        resolve(data.slice(0, end));
      }
    });
    socket.on('error', reject);
  });
}

/** The server's help, to tell which options this build of the app knows. */
let help = '';
let nofile = 0;
let port = 0;
let base = '';
let packages = '';
let scratch = '';

describe('the container image, run as the ECS task definition runs it', () => {
  beforeAll(async () => {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) {
      throw new Error('the image test builds and runs containers with rootful podman: run it as root on Linux');
    }
    const built = await run('bash', [join(repo, 'docker', 'build-image.sh'), image], { timeoutMs: 15 * 60_000 });
    if (built.code !== 0) {
      throw new Error(
        `podman could not build the image here (docker/build-image.sh exited ${built.code}):\n${tail(built.stdout + built.stderr)}`,
      );
    }

    scratch = mkdtempSync(join(tmpdir(), 'wh-image-'));
    packages = join(scratch, 'packages');
    mkdirSync(packages);
    // The image runs as uid 1000, like the EFS access point: the volume must belong to it.
    chownSync(packages, 1000, 1000);

    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env = {
      ...task.environment,
      // Host networking here: a free port instead of 8080. Two workers, as on a 2-vCPU task.
      WHEELHOUSE_PORT: String(port),
      WHEELHOUSE_WORKERS: '2',
      // The task gets it from Secrets Manager (the only secret of the default task definition).
      WHEELHOUSE_PASSWORD: password,
    };
    expect(task.secrets).toEqual(['WHEELHOUSE_PASSWORD']);
    expect(task.readonlyRootFilesystem).toBe(true);
    expect(task.initProcessEnabled).toBe(true);
    // The task's limit, unless this host's own hard limit is lower (a container cannot exceed it).
    const hostLimit = (await run('bash', ['-c', 'ulimit -Hn'])).stdout.trim();
    nofile = hostLimit === 'unlimited' ? task.nofile : Math.min(task.nofile, Number(hostLimit));
    // Naming one limit drops podman's configured others: nproc as docker/podman-env.sh sets it.
    const hostProcs = (await run('bash', ['-c', 'ulimit -Hu'])).stdout.trim();
    const nproc = hostProcs === 'unlimited' ? 32768 : Math.min(32768, Number(hostProcs));
    await podman(['rm', '-f', container]);
    const started = await podman([
      'run',
      '-d',
      '--name',
      container,
      '--network=host',
      // Health timers need systemd, absent here; `podman healthcheck run` still works.
      '--health-interval=disable',
      '--user',
      task.user,
      // Read-only as on ECS, which (unlike podman's default) mounts no tmpfs of its own: /tmp is
      // the task definition's "tmp" volume, the packages its EFS volume.
      '--read-only',
      '--read-only-tmpfs=false',
      '--tmpfs',
      `${task.mountPoints.tmp}:rw,mode=1777`,
      '-v',
      `${packages}:${task.mountPoints.packages}`,
      '--init',
      '--ulimit',
      `nofile=${nofile}:${nofile}`,
      '--ulimit',
      `nproc=${nproc}:${nproc}`,
      ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      image,
    ]);
    if (started.code !== 0) throw new Error(`podman run failed:\n${started.stderr}`);
    await waitForHealth(`${base}/health`, 60_000);
    help = (await podman(['exec', container, 'node', 'dist/main.js', '--help'])).stdout;
  }, 16 * 60_000);

  afterAll(async () => {
    await podman(['rm', '-f', '-t', '0', container]);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('declares the non-root user, port, volume, stop signal, a curl-free HEALTHCHECK and its local base', async () => {
    const res = await podman(['image', 'inspect', '--format', 'json', image]);
    expect(res.code, res.stderr).toBe(0);
    const [info] = JSON.parse(res.stdout) as [{ Config: Record<string, unknown>; Healthcheck?: { Test: string[] } }];
    const config = info.Config as {
      User: string;
      ExposedPorts: Record<string, unknown>;
      Volumes: Record<string, unknown>;
      StopSignal: string;
      Cmd: string[];
      Env: string[];
      Healthcheck?: { Test: string[] };
      Labels: Record<string, string>;
    };
    expect(config.User).toBe('1000:1000');
    expect(Object.keys(config.ExposedPorts)).toEqual(['8080/tcp']);
    expect(Object.keys(config.Volumes)).toEqual(['/data/packages']);
    expect(config.StopSignal).toBe('SIGTERM');
    expect(config.Cmd).toEqual(['node', 'dist/main.js']);
    expect(config.Env).toEqual(expect.arrayContaining(['NODE_ENV=production', 'WHEELHOUSE_ROOT=/data/packages']));
    // podman shows it beside Config (docker inside it); an OCI-format build would have none.
    expect((info.Healthcheck ?? config.Healthcheck)?.Test).toEqual(task.healthCheck);
    expect(config.Labels['org.opencontainers.image.title']).toBe('wheelhouse');
    // Built here on the local base, which never takes the official image's name.
    expect(config.Labels['org.opencontainers.image.base.name']).toBe(`localhost/wheelhouse-node:${nodeVersion}-bookworm-slim`);
  });

  it('serves with the Node LTS of the image, which carries no npm, npx, corepack or yarn', async () => {
    expect(nodeVersion).toMatch(/^(22|24)\./);
    const health = (await (await fetch(`${base}/health`)).json()) as { pid: number };
    // The very process that answered: its binary and its version.
    const exe = await podman(['exec', container, 'readlink', `/proc/${health.pid}/exe`]);
    expect(exe.stdout.trim()).toBe('/usr/local/bin/node');
    const version = await podman(['exec', container, `/proc/${health.pid}/exe`, '--version']);
    expect(version.stdout.trim()).toBe(`v${nodeVersion}`);
    const tools = await podman([
      'exec',
      container,
      'sh',
      '-c',
      'for t in npm npx corepack yarn yarnpkg; do command -v $t; done; ls /usr/local/lib',
    ]);
    expect(tools.stdout.trim()).toBe('');
  });

  it('runs the server as uid 1000 under an init process, on a read-only root with /tmp and the volume writable', async () => {
    const health = (await (await fetch(`${base}/health`)).json()) as { pid: number };
    const status = await podman(['exec', container, 'cat', `/proc/${health.pid}/status`]);
    expect(status.stdout).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    // With initProcessEnabled the node processes are not PID 1: the init reaps and forwards signals.
    expect(health.pid).not.toBe(1);
    const init = await podman(['exec', container, 'cat', '/proc/1/comm']);
    expect(init.stdout.trim()).not.toBe('node');

    const root = await podman(['exec', container, 'sh', '-c', 'touch /app/probe 2>&1; touch /tmp/probe && echo tmp-ok']);
    expect(root.stdout).toContain('Read-only file system');
    expect(root.stdout).toContain('tmp-ok');
    const limits = await podman(['exec', container, 'sh', '-c', `grep 'open files' /proc/${health.pid}/limits`]);
    expect(limits.stdout).toMatch(new RegExp(`\\s${nofile}\\s+${nofile}\\s`));
  });

  it('reports healthy through its HEALTHCHECK, and unhealthy when /health does not answer', async () => {
    const healthy = await podman(['healthcheck', 'run', container]);
    expect(healthy.code, healthy.stdout + healthy.stderr).toBe(0);
    const unused = await freePort();
    const probe = await podman(['exec', '-e', `WHEELHOUSE_PORT=${unused}`, container, 'node', 'dist/healthcheck.js']);
    expect(probe.code).toBe(1);
    expect(probe.stderr).toContain('health check failed');
  });

  it('keeps the whole index behind the login, takes a twine upload from the task user and pip installs it with the login', async () => {
    expect(task.environment.WHEELHOUSE_AUTHENTICATE).toBe('download,list,update');
    expect((await fetch(`${base}/simple/`)).status).toBe(401);
    const wheel = await makeWheel({ name: 'wh-image-probe', version: '1.0.3' });
    try {
      const refused = await twine(['upload', '--repository-url', `${base}/`, '-u', user, '-p', 'not-the-password', wheel.path], {
        timeoutMs: 60_000,
      });
      expect(refused.code).not.toBe(0);
      expect(readdirSync(packages).filter((f) => f.endsWith('.whl'))).toEqual([]);

      const up = await twine(['upload', '--repository-url', `${base}/`, '-u', user, '-p', password, wheel.path], { timeoutMs: 60_000 });
      expect(up.code, up.stdout + up.stderr).toBe(0);
      // Written by the container's user, so every task of the service can later replace it.
      const stored = readdirSync(packages, { recursive: true })
        .map(String)
        .find((f) => f.endsWith(wheel.filename));
      expect(stored, `uploaded file under ${packages}`).toBeDefined();
      expect(statSync(join(packages, stored!)).uid).toBe(1000);

      const pip = (index: string, target: string) =>
        run(
          '/usr/bin/python3',
          ['-m', 'pip', 'install', '--target', target, '--index-url', index, '--no-cache-dir', '--timeout', '20', 'wh-image-probe==1.0.3'],
          { env: cleanPipEnv({ PIP_NO_INPUT: '1' }), timeoutMs: 120_000 },
        );
      const anonymous = await pip(`${base}/simple/`, join(scratch, 'anonymous'));
      expect(anonymous.code).not.toBe(0);
      const target = join(scratch, 'target');
      const installed = await pip(`http://${user}:${password}@127.0.0.1:${port}/simple/`, target);
      expect(installed.code, installed.stdout + installed.stderr).toBe(0);
      expect(existsSync(join(target, 'wh_image_probe.py'))).toBe(true);
      expect(existsSync(join(target, 'wh_image_probe-1.0.3.dist-info', 'METADATA'))).toBe(true);
    } finally {
      rmSync(join(wheel.path, '..'), { recursive: true, force: true });
    }
  });

  it("keeps idle connections open longer than the ALB's idle timeout (WHEELHOUSE_KEEP_ALIVE_TIMEOUT)", async (ctx) => {
    // The option comes with the server's side of the deployment; an app without it ignores the variable.
    if (!help.includes('--keep-alive-timeout')) ctx.skip('this build of the server has no --keep-alive-timeout yet');
    const seconds = Number(task.environment.WHEELHOUSE_KEEP_ALIVE_TIMEOUT!.replace(/s$/, ''));
    const head = await rawHead(port, '/health');
    expect(head).toMatch(new RegExp(`^keep-alive: timeout=${seconds}\\b`, 'im'));
  });

  it('logs the right-most X-Forwarded-For entry as the client, never one the client wrote (WHEELHOUSE_TRUST_PROXY=1)', async (ctx) => {
    // The hop count comes with the server's side of the deployment; before it, the flag was a boolean.
    if (!/--trust-proxy VALUE/.test(help)) ctx.skip('this build of the server takes --trust-proxy as a boolean');
    expect(task.environment.WHEELHOUSE_TRUST_PROXY).toBe('1');
    await rawHead(port, '/health?xff-probe', { 'X-Forwarded-For': '203.0.113.9, 198.51.100.7', Connection: 'close' });
    await new Promise((r) => setTimeout(r, 500));
    const logs = await podman(['logs', container]);
    const line = (logs.stdout + logs.stderr).split('\n').find((l) => l.includes('xff-probe'));
    expect(line, 'a request log line for the probe').toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ ip: '198.51.100.7' });
  });

  it('stops on SIGTERM within the stop timeout of the task definition, with exit code 0', async () => {
    const started = Date.now();
    const stop = await podman(['stop', '-t', String(task.stopTimeout), container], (task.stopTimeout + 30) * 1000);
    const tookMs = Date.now() - started;
    expect(stop.code, stop.stderr).toBe(0);
    // podman sends SIGKILL at the timeout: finishing well before it means the drain ended the process.
    expect(tookMs).toBeLessThan(task.stopTimeout * 1000 - 5000);
    const state = await podman(['inspect', '--format', '{{.State.ExitCode}} {{.State.Status}}', container]);
    expect(state.stdout.trim()).toBe('0 exited');
    const logs = await podman(['logs', container]);
    expect(logs.stdout + logs.stderr).toContain('SIGTERM');
  });
});
