/**
 * The servers a bench run compares, each started on a free loopback port over its own copy
 * (hard links) of the corpus, and stopped again: wheelhouse with 1 or 2 processes, nginx serving
 * the same corpus as a static tree, and wheelhouse over a FUSE mount that behaves like EFS.
 */
import { existsSync, openSync, closeSync, statSync, readdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { linkOrCopy, makeStaticTree, type Corpus } from './corpus.js';
import { ensureDebianPackage, freePort, onCleanup, startProcess, stopProcess } from './lib/procs.js';
import { sleep } from './lib/stats.js';

export const REPO = resolve(import.meta.dirname, '..');

export type TargetName =
  | 'wheelhouse'
  | 'wheelhouse-token'
  | 'wheelhouse-2w'
  | 'nginx'
  | 'nginx-sha'
  | 'nginx-efs'
  | 'efs'
  | 'wheelhouse-before'
  | 'wheelhouse-2w-before'
  | 'fastify-floor'
  | 'fastify-floor-2w'
  | 'node-floor'
  | 'node-floor-2w';
export const ALL_TARGETS: TargetName[] = [
  'wheelhouse',
  'wheelhouse-token',
  'wheelhouse-2w',
  'nginx',
  'nginx-sha',
  'nginx-efs',
  'efs',
  'wheelhouse-before',
  'wheelhouse-2w-before',
  'fastify-floor',
  'fastify-floor-2w',
  'node-floor',
  'node-floor-2w',
];
export const DEFAULT_TARGETS: TargetName[] = ['wheelhouse', 'wheelhouse-token', 'wheelhouse-2w', 'nginx', 'efs'];

export interface Target {
  name: string;
  /** Index root: `/{pkg}/`, `/simple/`, `/packages/` hang below it. */
  url: string;
  user?: string;
  password?: string;
  /** Per-operation counters of the file system under the server, when it can tell. */
  fsStats?: () => Promise<Record<string, number>>;
  /** The server's process group (its primary and workers, or nginx's master and workers), for its CPU time. */
  pgid?: number;
  stop(): Promise<void>;
}

export interface Credentials {
  user: string;
  password: string;
  htpasswd: string;
  /** The same user with a {SHA} hash: nginx without bcrypt's CPU cost, the static-file limit. */
  htpasswdSha: string;
  /** The key API tokens are signed with (wheelhouse-token). */
  tokenKey: string;
}

/**
 * One bcrypt user, the hash `htpasswd -B` makes ($2y$, cost 5). nginx checks it with the
 * system crypt() (libxcrypt knows $2y$), wheelhouse with bcryptjs: both verify the same file.
 */
export async function makeCredentials(dir: string): Promise<Credentials> {
  const user = 'ci';
  const password = 'bench-' + Math.random().toString(36).slice(2, 10);
  const hash = bcrypt.hashSync(password, 5).replace(/^\$2[ab]\$/, '$2y$');
  const htpasswd = join(dir, 'htpasswd');
  await writeFile(htpasswd, `${user}:${hash}\n`, { mode: 0o644 });
  const htpasswdSha = join(dir, 'htpasswd-sha');
  const sha = createHash('sha1').update(password).digest('base64');
  await writeFile(htpasswdSha, `${user}:{SHA}${sha}\n`, { mode: 0o644 });
  return { user, password, htpasswd, htpasswdSha, tokenKey: randomBytes(36).toString('base64') };
}

/**
 * A download token made as a person makes one (`wheelhouse token create`), for the projects of
 * the corpus: every request of the profile then passes the per-project check, as a CI job's would.
 */
function downloadToken(key: string, projects: string): string {
  const r = spawnSync(
    process.execPath,
    [join(REPO, 'dist', 'main.js'), 'token', 'create', '--project', projects, '--action', 'download', '--expires', '1d'],
    {
      env: { ...process.env, WHEELHOUSE_TOKEN_KEY: key },
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`wheelhouse token create failed: ${r.stderr}`);
  return r.stdout.trim();
}

export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  // nginx workers run as nobody: they must be able to walk into the tree.
  await chmod(dir, 0o755);
  onCleanup(`temp dir ${dir}`, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function linkTree(corpus: Corpus, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  for (const f of corpus.files) await linkOrCopy(join(corpus.filesDir, f.filename), join(dest, f.filename));
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** `npm run build` when dist/ is missing or older than src/. */
export function ensureBuilt(log: (s: string) => void): void {
  const main = join(REPO, 'dist', 'main.js');
  if (!existsSync(join(REPO, 'src', 'main.ts'))) throw new Error('src/main.ts does not exist yet: nothing to benchmark');
  if (existsSync(main) && statSync(main).mtimeMs >= newestMtime(join(REPO, 'src'))) return;
  log('building dist/ (npm run build)');
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
}

async function waitHealthy(url: string, child: { exitCode: number | null }, logFile: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}; see ${logFile}`);
    try {
      const res = await fetch(new URL('health', url), { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await sleep(100);
  }
  throw new Error(`no healthy answer from ${url}health within ${timeoutMs} ms; see ${logFile}`);
}

export async function startWheelhouse(opts: {
  name: string;
  root: string;
  workers: number;
  creds: Credentials;
  logDir: string;
  extraArgs?: string[];
  /** Log in with user __token__ and this API token instead of the htpasswd user. */
  token?: string;
  /** Another build's dist/main.js (--before), for a before/after comparison in one run. */
  main?: string;
}): Promise<Target> {
  const port = await freePort();
  const args = [
    opts.main ?? join(REPO, 'dist', 'main.js'),
    '--root',
    opts.root,
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--workers',
    String(opts.workers),
    '--authenticate',
    'list,download,update',
    '--passwords',
    opts.creds.htpasswd,
    '--log-level',
    'warn',
    ...(opts.extraArgs ?? []),
  ];
  const login =
    opts.token === undefined ? { user: opts.creds.user, password: opts.creds.password } : { user: '__token__', password: opts.token };
  return startNodeServer({ name: opts.name, args, port, logDir: opts.logDir, ...login });
}

/** A Node server process on a loopback port, healthy before it is returned, stopped with its process group. */
async function startNodeServer(opts: {
  name: string;
  args: string[];
  port: number;
  logDir: string;
  user: string;
  password: string;
}): Promise<Target> {
  const logFile = join(opts.logDir, `${opts.name}.log`);
  const fd = openSync(logFile, 'a');
  const child = startProcess(process.execPath, opts.args, { cwd: REPO, logFd: fd });
  closeSync(fd);
  const off = onCleanup(`server ${opts.name}`, () => stopProcess(child));
  const url = `http://127.0.0.1:${opts.port}/`;
  await waitHealthy(url, child, logFile);
  return {
    name: opts.name,
    url,
    user: opts.user,
    password: opts.password,
    ...(child.pid !== undefined ? { pgid: child.pid } : {}),
    async stop() {
      off();
      await stopProcess(child);
    },
  };
}

export async function startNginx(opts: {
  name: string;
  corpus: Corpus;
  creds: Credentials;
  htpasswd: string;
  workDir: string;
  log: (s: string) => void;
  /** Serve the tree from the EFS-like mount, as wheelhouse's `efs` target serves its volume. */
  efs?: boolean;
}): Promise<Target> {
  const nginx = ensureDebianPackage('nginx', 'nginx', opts.log);
  if (!nginx) throw new Error('nginx is not installed and apt-get install nginx failed');
  let tree = join(opts.workDir, 'tree');
  await makeStaticTree(opts.corpus, tree);
  let mount: NfsMount | null = null;
  let offMount = () => {};
  if (opts.efs) {
    if (!existsSync(NFS_HELPER)) throw new Error('test/helpers/nfs-mount.ts is missing: no EFS-like mount');
    const { mountNfsLike } = (await import(NFS_HELPER)) as { mountNfsLike: MountNfsLike };
    const m = await mountNfsLike(tree, EFS_LIKE);
    offMount = onCleanup('efs-like mount', () => m.unmount());
    mount = m;
    tree = m.path;
  }
  const prefix = join(opts.workDir, 'nginx');
  for (const d of ['logs', 'body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(join(prefix, d), { recursive: true });
  const port = await freePort();
  const conf = join(prefix, 'nginx.conf');
  // auth_basic runs in the access phase and `return` before it, so the /{pkg}/ redirect goes
  // through try_files (after access) to a named location: every request checks the password.
  await writeFile(
    conf,
    `${opts.efs ? '# The FUSE mount is readable by the user who mounted it only.\nuser root root;\n' : ''}worker_processes auto;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 8192; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  map $http_accept $simple_index {
    "~application/vnd\\.pypi\\.simple\\.v1\\+json" index.json;
    default index.html;
  }
  map $uri $project_page {
    "~^/(?<p>[^/]+)/$" /simple/$p/;
  }
  server {
    listen 127.0.0.1:${port};
    root ${tree};
    absolute_redirect off;
    auth_basic "wheelhouse";
    auth_basic_user_file ${opts.htpasswd};
    location = /health { auth_basic off; return 200 "ok\\n"; }
    location ^~ /simple/ {
      types { text/html html; application/vnd.pypi.simple.v1+json json; }
      try_files $uri$simple_index $uri =404;
    }
    location ^~ /packages/ {
      types { }
      default_type application/octet-stream;
    }
    location ~ ^/[^/]+/$ { try_files /.none @project; }
    location @project { return 303 $project_page; }
  }
}
`,
  );
  const logFile = join(prefix, 'logs', 'stderr.log');
  const fd = openSync(logFile, 'a');
  const child = startProcess(nginx, ['-p', prefix, '-c', conf, '-e', join(prefix, 'logs', 'error.log')], { logFd: fd });
  closeSync(fd);
  const off = onCleanup(`server ${opts.name}`, () => stopProcess(child));
  const url = `http://127.0.0.1:${port}/`;
  await waitHealthy(url, child, join(prefix, 'logs', 'error.log'));
  return {
    name: opts.name,
    url,
    user: opts.creds.user,
    password: opts.creds.password,
    ...(child.pid !== undefined ? { pgid: child.pid } : {}),
    ...(mount ? { fsStats: () => mount.stats() } : {}),
    async stop() {
      off();
      await stopProcess(child);
      offMount();
      await mount?.unmount();
    },
  };
}

interface NfsMount {
  path: string;
  stats(): Promise<Record<string, number>>;
  unmount(): Promise<void>;
}
type MountNfsLike = (
  backing: string,
  opts: { attrTimeout: number; entryTimeout: number; metaDelayMs: number; readDelayMs: number },
) => Promise<NfsMount>;

export const NFS_HELPER = join(REPO, 'test', 'helpers', 'nfs-mount.ts');
/** EFS caches attributes on the client for seconds; the latencies are EFS's typical ones. */
const EFS_LIKE = { attrTimeout: 3, entryTimeout: 3, metaDelayMs: 1.5, readDelayMs: 2 };

/** wheelhouse (1 process) whose root is a FUSE mount adding EFS-like latency per operation. */
export async function startEfs(opts: { corpus: Corpus; creds: Credentials; workDir: string; logDir: string }): Promise<Target> {
  if (!existsSync(NFS_HELPER)) throw new Error('test/helpers/nfs-mount.ts is missing: no EFS-like mount');
  const { mountNfsLike } = (await import(NFS_HELPER)) as { mountNfsLike: MountNfsLike };
  const backing = join(opts.workDir, 'efs-backing');
  await linkTree(opts.corpus, backing);
  const mount = await mountNfsLike(backing, EFS_LIKE);
  const offMount = onCleanup('efs-like mount', () => mount.unmount());
  const server = await startWheelhouse({ name: 'efs', root: mount.path, workers: 1, creds: opts.creds, logDir: opts.logDir });
  return {
    ...server,
    fsStats: () => mount.stats(),
    async stop() {
      await server.stop();
      offMount();
      await mount.unmount();
    },
  };
}

export async function startTarget(
  name: TargetName,
  ctx: { corpus: Corpus; creds: Credentials; workDir: string; log: (s: string) => void; before?: string | undefined },
): Promise<Target> {
  const dir = join(ctx.workDir, `${name}-${ctx.corpus.kind}`);
  await mkdir(dir, { recursive: true });
  switch (name) {
    case 'wheelhouse':
    case 'wheelhouse-2w': {
      const root = join(dir, 'root');
      await linkTree(ctx.corpus, root);
      return startWheelhouse({ name, root, workers: name === 'wheelhouse' ? 1 : 2, creds: ctx.creds, logDir: dir });
    }
    case 'wheelhouse-before':
    case 'wheelhouse-2w-before': {
      if (!ctx.before) throw new Error(`${name} needs --before path/to/dist/main.js (another build)`);
      const root = join(dir, 'root');
      await linkTree(ctx.corpus, root);
      const workers = name === 'wheelhouse-before' ? 1 : 2;
      return startWheelhouse({ name, root, workers, creds: ctx.creds, logDir: dir, main: ctx.before });
    }
    case 'wheelhouse-token': {
      // The wheelhouse target with API tokens on: the same htpasswd too, the token as the login.
      const root = join(dir, 'root');
      await linkTree(ctx.corpus, root);
      return startWheelhouse({
        name,
        root,
        workers: 1,
        creds: ctx.creds,
        logDir: dir,
        extraArgs: ['--token-key', ctx.creds.tokenKey],
        token: downloadToken(ctx.creds.tokenKey, ctx.corpus.kind === 'reference' ? 'test-package-*' : '*'),
      });
    }
    case 'nginx':
    case 'nginx-sha':
    case 'nginx-efs': {
      // nginx-efs: the static-file limit on the EFS-like mount, to compare the efs target with.
      const htpasswd = name === 'nginx' ? ctx.creds.htpasswd : ctx.creds.htpasswdSha;
      const efs = name === 'nginx-efs';
      return startNginx({ name, corpus: ctx.corpus, creds: ctx.creds, htpasswd, workDir: dir, log: ctx.log, efs });
    }
    case 'efs':
      return startEfs({ corpus: ctx.corpus, creds: ctx.creds, workDir: dir, logDir: dir });
    case 'fastify-floor':
    case 'fastify-floor-2w':
    case 'node-floor':
    case 'node-floor-2w': {
      const kind = name.startsWith('node') ? 'node' : 'fastify';
      return startFloor({ name, kind, corpus: ctx.corpus, creds: ctx.creds, workDir: dir, workers: name.endsWith('-2w') ? 2 : 1 });
    }
  }
}

/** bench/floor-server.ts over the static tree nginx serves: what Node's HTTP server, and Fastify on it, cost alone. */
async function startFloor(opts: {
  name: string;
  kind: 'fastify' | 'node';
  corpus: Corpus;
  creds: Credentials;
  workDir: string;
  workers: number;
}): Promise<Target> {
  const tree = join(opts.workDir, 'tree');
  await makeStaticTree(opts.corpus, tree);
  const port = await freePort();
  const { user, password } = opts.creds;
  const args = [
    '--import',
    'tsx',
    join(REPO, 'bench', 'floor-server.ts'),
    opts.kind,
    tree,
    String(port),
    String(opts.workers),
    user,
    password,
  ];
  return startNodeServer({ name: opts.name, args, port, logDir: opts.workDir, user, password });
}
