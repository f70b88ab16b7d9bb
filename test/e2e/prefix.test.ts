// The index under a URL prefix behind a real reverse proxy (Debian's nginx), as behind a load
// balancer shared with other services: nginx routes /pypi/ to one server started with
// --base-path /pypi (the path passed on as it came, like an ALB path rule), and /tools/pypi/ to
// another with no prefix of its own, stripping it and saying so in X-Forwarded-Prefix. Real twine
// uploads and real pips (the oldest and the newest) install through both; every link of the
// pages answers through the proxy.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distFile } from '../helpers/dists.js';
import { pipByVersion, pipInstall, pips, twine, type Pip, type RunResult } from '../helpers/python.js';
import { freePort, startServer, tempDir, waitFor, type RunningServer } from '../helpers/server.js';

const NGINX = '/usr/sbin/nginx';
const USER = 'ci';
const PASS = 'a-long-upload-password';

let work: string;
let proxy: string;
let nginx: ChildProcess | undefined;
let nginxLog = '';
const undo: (() => unknown)[] = [];

const out = (r: RunResult): string => `${r.stdout}\n${r.stderr}`;

function nginxConfig(dir: string, port: number, kept: number, stripped: number): string {
  const upstream = (p: number, uri: string) => `proxy_pass http://127.0.0.1:${p}${uri};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_request_buffering off;`;
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_max_body_size 64m;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    # The path goes on as it came: the server knows its prefix (--base-path /pypi).
    location /pypi/ {
      ${upstream(kept, '')}
    }
    # The prefix is taken off here, and the server is told which (X-Forwarded-Prefix).
    location /tools/pypi/ {
      ${upstream(stripped, '/')}
      proxy_set_header X-Forwarded-Prefix /tools/pypi;
    }
    # Another service on the same host.
    location / {
      default_type text/plain;
      return 404 "another service\\n";
    }
  }
}
`;
}

beforeAll(async () => {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing: run "bash test/setup.sh" (it installs Debian's nginx)`);
  const t = tempDir('wh-prefix-e2e-');
  work = t.dir;
  undo.push(() => t.cleanup());
  const htpasswd = path.join(work, 'htpasswd');
  execFileSync('htpasswd', ['-c', '-b', '-B', '-C', '5', htpasswd, USER, PASS], { stdio: 'ignore' });
  const serve = async (name: string, args: string[]): Promise<RunningServer> => {
    const root = path.join(work, name);
    mkdirSync(root);
    const s = await startServer({
      root,
      // No load shedding: timing is not what these check, and the machine may be busy with other suites.
      args: ['--authenticate', 'update', '--passwords', htpasswd, '--max-event-loop-delay', '0', ...args],
      healthPath: args.includes('--base-path') ? '/pypi/health' : '/health',
    });
    undo.push(() => s.stop());
    return s;
  };
  const [kept, stripped] = await Promise.all([serve('kept', ['--base-path', '/pypi']), serve('stripped', [])]);

  const dir = path.join(work, 'nginx');
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, d), { recursive: true });
  const port = await freePort();
  writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig(dir, port, kept.port, stripped.port));
  // Workers run as root here, like the master: the temp folders are the test's own.
  nginx = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'user root;', '-e', path.join(dir, 'error.log')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  nginx.stderr?.on('data', (d: Buffer) => (nginxLog += d.toString()));
  undo.push(
    () =>
      new Promise<void>((resolve) => {
        if (!nginx || nginx.exitCode !== null) {
          resolve();
          return;
        }
        nginx.once('exit', () => resolve());
        nginx.kill('SIGTERM');
      }),
  );
  proxy = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (nginx?.exitCode !== null) throw new Error(`nginx exited: ${nginxLog}${readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
    return (await fetch(`${proxy}/pypi/health`).catch(() => null))?.status === 200;
  }, 20_000);
}, 120_000);

afterAll(async () => {
  for (const step of undo.reverse()) await step();
});

const DISTS = [
  'whtest_top-1.0-*.whl',
  'whtest-top-1.0.tar.gz',
  'whtest_left-1.0-*.whl',
  'whtest_right-1.0-*.whl',
  'whtest_base-1.0-*.whl',
  'whtest-base-1.1.tar.gz',
  'whtest_base-1.1-*.whl',
];

describe.each([
  ['/pypi', 'a server that knows its prefix (--base-path), the path passed on as it came'],
  ['/tools/pypi', 'a server told its prefix by the proxy that stripped it (X-Forwarded-Prefix)'],
])('under %s: %s', (prefix) => {
  const index = () => `${proxy}${prefix}`;

  it('takes twine uploads at the prefix and at its legacy URL', async () => {
    const upload = (url: string, files: string[]) =>
      twine(['upload', '--repository-url', url, '-u', USER, '-p', PASS, '--non-interactive', '--disable-progress-bar', ...files]);
    const first = await upload(`${index()}/`, DISTS.slice(0, 4).map(distFile));
    expect(first.code, out(first)).toBe(0);
    const second = await upload(`${index()}/legacy/`, DISTS.slice(4).map(distFile));
    expect(second.code, out(second)).toBe(0);
    const page = await fetch(`${index()}/simple/whtest-base/`);
    expect(await page.text()).toContain('whtest_base-1.1-py2.py3-none-any.whl');
  }, 120_000);

  const installs: [string, string, () => Pip][] = [
    ['the oldest pip', '/simple/', () => pips()[0] as Pip],
    ['the newest pip', '/simple/', () => pipByVersion('newest')],
    // pip pointed at the index's root asks /<prefix>/<project>/ and follows the 303.
    ['the oldest pip', '/', () => pips()[0] as Pip],
  ];
  it.each(installs)(
    'lets %s with --index-url <prefix>%s install a project and its dependencies',
    async (_label, path, pip) => {
      const { result, installed } = await pipInstall(pip(), `${index()}${path}`, ['whtest-top']);
      expect(result.code, out(result)).toBe(0);
      expect(installed).toEqual({ 'whtest-top': '1.0', 'whtest-left': '1.0', 'whtest-right': '1.0', 'whtest-base': '1.1' });
    },
    180_000,
  );

  it('answers the JSON API with URLs that work through the proxy', async () => {
    const res = await fetch(`${index()}/pypi/whtest-top/json`);
    const body = (await res.json()) as { info: { project_url: string }; urls: { url: string; digests: { sha256: string } }[] };
    expect(body.info.project_url).toBe(`${index()}/project/whtest-top/`);
    expect(body.urls.length).toBe(2);
    for (const file of body.urls) {
      expect(file.url.startsWith(`${index()}/packages/`)).toBe(true);
      expect((await fetch(file.url)).status).toBe(200);
    }
    expect((await fetch(body.info.project_url)).status).toBe(200);
    // Normalizing redirects keep the prefix too.
    const moved = await fetch(`${index()}/pypi/WHTest_Top/json`, { redirect: 'manual' });
    expect(moved.status).toBe(301);
    expect(moved.headers.get('location')).toBe(`${prefix}/pypi/whtest-top/json`);
  });

  it('serves pages for people whose every link answers through the proxy, and whose commands name it', async () => {
    const seen = new Map<string, number>();
    const queue = [`${index()}/`, `${index()}/search?q=whtest`];
    while (queue.length > 0 && seen.size < 60) {
      const url = queue.shift() ?? '';
      if (seen.has(url)) continue;
      const res = await fetch(url);
      seen.set(url, res.status);
      if (!(res.headers.get('content-type') ?? '').startsWith('text/html')) continue;
      const body = await res.text();
      for (const [, href = ''] of body.matchAll(/(?:href|action)="([^"#]+)/g)) {
        const next = new URL(href.replace(/&amp;/g, '&'), url);
        if (next.origin === proxy) queue.push(next.href);
      }
    }
    expect([...seen].filter(([, status]) => status !== 200)).toEqual([]);
    expect([...seen.keys()].every((u) => u.startsWith(`${index()}/`))).toBe(true);
    for (const page of ['/project/whtest-top/', '/project/whtest-left/', '/simple/', '/packages/']) {
      expect([...seen.keys()], page).toContain(`${index()}${page}`);
    }
    const project = await (await fetch(`${index()}/project/whtest-top/`)).text();
    expect(project).toContain(`pip install --index-url ${index()}/simple/ whtest-top`);
    expect(project).toContain(`<dt>Uploaded by</dt><dd>${USER}</dd>`);
  });
});

describe('outside the prefixes', () => {
  it('leaves the rest of the host to the other service', async () => {
    const other = await fetch(`${proxy}/simple/`);
    expect(other.status).toBe(404);
    expect(await other.text()).toBe('another service\n');
  });
});
