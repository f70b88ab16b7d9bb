// The container image, built from the project's Dockerfile with podman (docker/build-image.sh),
// run as production runs it: non-root, packages on a bind-mounted volume, logins from htpasswd,
// stopped with SIGTERM. Real twine and pip talk to it over the host network.
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
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
const user = 'ci';
const password = 'image-test-password';
const stopTimeoutS = 30;

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

let port = 0;
let base = '';
let packages = '';
let scratch = '';

describe('the container image', () => {
  beforeAll(async () => {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) {
      throw new Error('the image test builds and runs containers with rootful podman: run it as root on Linux');
    }
    const built = await run('bash', [join(repo, 'docker', 'build-image.sh'), image], { timeoutMs: 15 * 60_000 });
    if (built.code !== 0) {
      throw new Error(
        `podman could not build the image on this machine (docker/build-image.sh exited ${built.code}):\n${tail(built.stdout + built.stderr)}`,
      );
    }

    scratch = mkdtempSync(join(tmpdir(), 'wh-image-'));
    packages = join(scratch, 'packages');
    const secrets = join(scratch, 'secrets');
    mkdirSync(packages);
    mkdirSync(secrets);
    // The image runs as uid 1000, like the EFS access point: the volume must belong to it.
    chownSync(packages, 1000, 1000);
    const htpasswd = join(secrets, 'htpasswd');
    const made = await run('htpasswd', ['-cbB', htpasswd, user, password]);
    if (made.code !== 0) throw new Error(`htpasswd (apache2-utils) failed: ${made.stderr}`);
    chmodSync(htpasswd, 0o644);

    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await podman(['rm', '-f', container]);
    const started = await podman([
      'run',
      '-d',
      '--name',
      container,
      '--network=host',
      // Health timers need systemd, absent here; `podman healthcheck run` still works.
      '--health-interval=disable',
      '-e',
      `WHEELHOUSE_PORT=${port}`,
      '-e',
      'WHEELHOUSE_WORKERS=2',
      '-e',
      'WHEELHOUSE_AUTHENTICATE=update',
      '-e',
      'WHEELHOUSE_PASSWORDS=/run/secrets/htpasswd',
      '-v',
      `${packages}:/data/packages`,
      '-v',
      `${htpasswd}:/run/secrets/htpasswd:ro`,
      image,
    ]);
    if (started.code !== 0) throw new Error(`podman run failed:\n${started.stderr}`);
    await waitForHealth(`${base}/health`, 60_000);
  }, 16 * 60_000);

  afterAll(async () => {
    await podman(['rm', '-f', '-t', '0', container]);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('declares the non-root user, port, volume, stop signal and a curl-free HEALTHCHECK', async () => {
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
    expect((info.Healthcheck ?? config.Healthcheck)?.Test).toEqual(['CMD', 'node', 'dist/healthcheck.js']);
    expect(config.Labels['org.opencontainers.image.title']).toBe('wheelhouse');
  });

  it('runs the server as uid 1000, not root', async () => {
    const id = await podman(['exec', container, 'id', '-u']);
    expect(id.stdout.trim()).toBe('1000');
    const status = await podman(['exec', container, 'cat', '/proc/1/status']);
    expect(status.stdout).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
  });

  it('reports healthy through its HEALTHCHECK, and unhealthy when /health does not answer', async () => {
    const healthy = await podman(['healthcheck', 'run', container]);
    expect(healthy.code, healthy.stdout + healthy.stderr).toBe(0);
    const unused = await freePort();
    const probe = await podman(['exec', '-e', `WHEELHOUSE_PORT=${unused}`, container, 'node', 'dist/healthcheck.js']);
    expect(probe.code).toBe(1);
    expect(probe.stderr).toContain('health check failed');
  });

  it('accepts a twine upload from an htpasswd user, refuses a wrong password, and pip installs the upload', async () => {
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

      const target = join(scratch, 'target');
      const pip = await run(
        '/usr/bin/python3',
        [
          '-m',
          'pip',
          'install',
          '--target',
          target,
          '--index-url',
          `${base}/simple/`,
          '--no-cache-dir',
          '--timeout',
          '20',
          'wh-image-probe==1.0.3',
        ],
        { env: cleanPipEnv(), timeoutMs: 120_000 },
      );
      expect(pip.code, pip.stdout + pip.stderr).toBe(0);
      expect(existsSync(join(target, 'wh_image_probe.py'))).toBe(true);
      expect(existsSync(join(target, 'wh_image_probe-1.0.3.dist-info', 'METADATA'))).toBe(true);
    } finally {
      rmSync(join(wheel.path, '..'), { recursive: true, force: true });
    }
  });

  it('stops on SIGTERM within the stop timeout with exit code 0', async () => {
    const started = Date.now();
    const stop = await podman(['stop', '-t', String(stopTimeoutS), container], (stopTimeoutS + 30) * 1000);
    const tookMs = Date.now() - started;
    expect(stop.code, stop.stderr).toBe(0);
    // podman sends SIGKILL at the timeout: finishing well before it means the drain ended the process.
    expect(tookMs).toBeLessThan(stopTimeoutS * 1000 - 5000);
    const state = await podman(['inspect', '--format', '{{.State.ExitCode}} {{.State.Status}}', container]);
    expect(state.stdout.trim()).toBe('0 exited');
    const logs = await podman(['logs', container]);
    expect(logs.stdout + logs.stderr).toContain('SIGTERM');
  });
});
