// The local cluster of docker/compose.yaml, run here without a Docker engine: three containers of
// the image sharing one package directory, with the settings the compose file gives them, behind
// nginx running docker/nginx-lb.conf (service names swapped for loopback ports). An upload through
// the balancer must reach every task through the generation file, as on EFS behind the ALB.
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWheel } from '../helpers/dists.js';
import { cleanPipEnv, run, twine, type RunResult } from '../helpers/python.js';
import { freePort } from '../helpers/server.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dockerDir = join(repo, 'docker');
const image = 'wheelhouse:test';
const tasks = ['wheelhouse-1', 'wheelhouse-2', 'wheelhouse-3'];
const containerOf = (task: string) => `wh-cluster-test-${process.pid}-${task}`;
// The example login of docker/htpasswd.example.
const user = 'ci';
const password = 'change-me-example';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  read_only?: boolean;
  tmpfs?: string[];
  init?: boolean;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

function podman(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return run('bash', [join(dockerDir, 'podman.sh'), ...args], { timeoutMs });
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${ms} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

async function loadCompose(): Promise<ComposeFile> {
  // PyYAML (Debian's python3-yaml) resolves the `<<: *wheelhouse` merge keys as compose does.
  if ((await run('/usr/bin/python3', ['-c', 'import yaml'])).code !== 0) {
    const apt = await run('apt-get', ['install', '-y', '-q', 'python3-yaml'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeoutMs: 300_000,
    });
    if (apt.code !== 0) throw new Error(`python3-yaml is needed to read docker/compose.yaml: ${apt.stderr}`);
  }
  const res = await run('/usr/bin/python3', [
    '-c',
    'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))',
    join(dockerDir, 'compose.yaml'),
  ]);
  if (res.code !== 0) throw new Error(`docker/compose.yaml does not parse: ${res.stderr}`);
  return JSON.parse(res.stdout) as ComposeFile;
}

let compose: ComposeFile;
let scratch = '';
let lbUrl = '';
const taskUrls = new Map<string, string>();
let nginx: ChildProcess | undefined;
let nginxLog = '';

describe('the local cluster (docker/compose.yaml, docker/nginx-lb.conf)', () => {
  beforeAll(async () => {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) {
      throw new Error('the cluster test runs containers with rootful podman: run it as root on Linux');
    }
    compose = await loadCompose();
    const built = await run('bash', [join(dockerDir, 'build-image.sh'), image], { timeoutMs: 15 * 60_000 });
    if (built.code !== 0) {
      throw new Error(
        `podman could not build the image (docker/build-image.sh exited ${built.code}):\n` +
          (built.stdout + built.stderr).trim().split('\n').slice(-40).join('\n'),
      );
    }

    scratch = mkdtempSync(join(tmpdir(), 'wh-cluster-'));
    const packages = join(scratch, 'packages');
    mkdirSync(packages);
    chownSync(packages, 1000, 1000);

    for (const task of tasks) {
      const service = compose.services[task];
      if (!service) throw new Error(`docker/compose.yaml has no service ${task}`);
      const port = await freePort();
      taskUrls.set(task, `http://127.0.0.1:${port}`);
      const env = Object.entries({ ...service.environment, WHEELHOUSE_PORT: String(port) }).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
      const volumes = (service.volumes ?? []).flatMap((v) => {
        const [src, ...rest] = v.split(':');
        // The named volume becomes one shared temp dir; relative binds are relative to docker/.
        const host = src === 'packages' ? packages : join(dockerDir, src!);
        return ['-v', [host, ...rest].join(':')];
      });
      await podman(['rm', '-f', containerOf(task)]);
      const started = await podman([
        'run',
        '-d',
        '--name',
        containerOf(task),
        '--network=host',
        '--health-interval=disable',
        // compose's read_only mounts nothing writable of its own; its tmpfs list does.
        ...(service.read_only ? ['--read-only', '--read-only-tmpfs=false'] : []),
        ...(service.tmpfs ?? []).flatMap((t) => ['--tmpfs', `${t}:rw,mode=1777`]),
        ...(service.init ? ['--init'] : []),
        ...env,
        ...volumes,
        image,
      ]);
      if (started.code !== 0) throw new Error(`podman run ${task} failed:\n${started.stderr}`);
    }

    const lbPort = await freePort();
    lbUrl = `http://127.0.0.1:${lbPort}`;
    let site = readFileSync(join(dockerDir, 'nginx-lb.conf'), 'utf8').replace(/listen 8080;/, `listen 127.0.0.1:${lbPort};`);
    for (const [task, url] of taskUrls) site = site.replace(`server ${task}:8080`, `server ${url.replace('http://', '')}`);
    const prefix = join(scratch, 'nginx');
    mkdirSync(prefix);
    writeFileSync(join(prefix, 'site.conf'), site);
    writeFileSync(
      join(prefix, 'nginx.conf'),
      [
        'worker_processes 1;',
        `pid ${prefix}/nginx.pid;`,
        `error_log ${prefix}/error.log warn;`,
        'events { worker_connections 256; }',
        'http {',
        '  access_log off;',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${prefix}/${t};`),
        `  include ${prefix}/site.conf;`,
        '}',
        '',
      ].join('\n'),
    );
    const check = await run('nginx', ['-t', '-p', prefix, '-c', join(prefix, 'nginx.conf')]);
    if (check.code !== 0) throw new Error(`nginx rejects docker/nginx-lb.conf:\n${check.stderr}`);
    nginx = spawn('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off; user root;'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    nginx.stderr?.setEncoding('utf8').on('data', (d: string) => (nginxLog += d));

    for (const [task, url] of taskUrls) {
      await until(`${task} healthy`, 60_000, async () => ((await fetch(`${url}/health`)).status === 200 ? true : undefined));
    }
    await until('the balancer answering', 10_000, async () => ((await fetch(`${lbUrl}/health`)).status === 200 ? true : undefined));
  }, 16 * 60_000);

  afterAll(async () => {
    nginx?.kill('SIGTERM');
    await Promise.all(tasks.map((t) => podman(['rm', '-f', '-t', '0', containerOf(t)])));
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('describes three tasks of one image on one named volume, run as ECS runs them, with uploads behind the example login', () => {
    const wh = tasks.map((t) => compose.services[t]!);
    for (const s of wh) {
      expect(s.build).toEqual({ context: '..', dockerfile: 'Dockerfile' });
      expect(s.volumes).toContain('packages:/data/packages');
      expect(s.environment).toMatchObject({
        WHEELHOUSE_AUTHENTICATE: 'update',
        WHEELHOUSE_PASSWORDS: '/run/secrets/htpasswd',
        WHEELHOUSE_WATCH: 'off',
        WHEELHOUSE_TRUST_PROXY: '1',
      });
      // As the ECS task definition runs the image.
      expect(s).toMatchObject({ read_only: true, tmpfs: ['/tmp'], init: true });
    }
    expect(new Set(wh.map((s) => s.image)).size).toBe(1);
    expect(Object.keys(compose.volumes)).toEqual(['packages']);
    const lb = compose.services.lb!;
    expect(lb.volumes).toContain('./nginx-lb.conf:/etc/nginx/conf.d/default.conf:ro');
    expect(lb.ports).toEqual(['8080:8080']);
    expect(Object.keys(lb.depends_on ?? {}).sort()).toEqual(tasks);
  });

  it('answers /metrics on a task but 404 through the balancer, as the ALB does', async () => {
    const [, direct] = [...taskUrls][0]!;
    const own = await fetch(`${direct}/metrics`);
    expect(own.status).toBe(200);
    expect(await own.text()).toContain('# HELP');
    expect((await fetch(`${lbUrl}/metrics`)).status).toBe(404);
  });

  it('shows a package uploaded through the balancer on every task within seconds, and pip installs it through the balancer', async () => {
    const wheel = await makeWheel({ name: 'wh-cluster-probe', version: '2.0' });
    try {
      const up = await twine(['upload', '--repository-url', `${lbUrl}/`, '-u', user, '-p', password, wheel.path], { timeoutMs: 60_000 });
      expect(up.code, up.stdout + up.stderr + nginxLog).toBe(0);

      // Two tasks never saw the upload; they learn of it from the generation file (1 s poll).
      const started = Date.now();
      for (const [task, url] of taskUrls) {
        await until(`${wheel.filename} listed by ${task}`, 10_000, async () => {
          const res = await fetch(`${url}/simple/wh-cluster-probe/`);
          return res.status === 200 && (await res.text()).includes(wheel.filename) ? true : undefined;
        });
      }
      expect(Date.now() - started).toBeLessThan(10_000);

      // Round-robin with no stickiness: whichever task answers, the page must be the same.
      for (let i = 0; i < 6; i++) {
        const res = await fetch(`${lbUrl}/simple/wh-cluster-probe/`);
        expect(res.status).toBe(200);
        expect(await res.text()).toContain(wheel.filename);
      }

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
          `${lbUrl}/simple/`,
          '--no-cache-dir',
          '--timeout',
          '20',
          'wh-cluster-probe==2.0',
        ],
        { env: cleanPipEnv(), timeoutMs: 120_000 },
      );
      expect(pip.code, pip.stdout + pip.stderr).toBe(0);
      expect(readFileSync(join(target, 'wh_cluster_probe.py'), 'utf8')).toContain('2.0');
    } finally {
      rmSync(join(wheel.path, '..'), { recursive: true, force: true });
    }
  });
});
