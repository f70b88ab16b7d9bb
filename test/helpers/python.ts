// Real Python clients for end-to-end tests: the pips installed by test/setup.sh (one per version),
// Debian's twine and poetry. Every run gets a clean environment so the machine's pip config and
// local mirrors never answer in place of the index under test.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

export interface Pip {
  pip: string;
  python: string;
  run(args: string[], opts?: RunOptions): Promise<RunResult>;
}

interface ManifestEntry {
  pip: string;
  python: string;
  exe: string;
  kind: 'venv' | 'target';
  path: string;
}

export function testCacheDir(): string {
  return process.env.WHEELHOUSE_TEST_CACHE ?? join(homedir(), '.cache', 'wheelhouse-test');
}

const TWINE = '/usr/bin/twine';
const POETRY = '/usr/bin/poetry';

/** Runs a program to completion; a timeout kills it and reports code -1 with the reason in stderr. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) stderr += `\n[killed after ${timeoutMs} ms: ${cmd} ${args.join(' ')}]`;
      resolve({ code: code ?? (signal ? -1 : 0), stdout, stderr });
    });
  });
}

// One scratch HOME per test process: pip, twine and poetry must find no ~/.pypirc, ~/.config
// or ~/.netrc of the machine. Removed when the process exits.
let scratchHome: string | undefined;
function scratchDir(): string {
  if (!scratchHome) {
    scratchHome = mkdtempSync(join(tmpdir(), 'wh-home-'));
    const dir = scratchHome;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return scratchHome;
}

/**
 * The environment for any Python client run. PIP_NO_CACHE_DIR is "off" because pip 18.1 crashes
 * on a true value (it stores the number as the cache path); every pip since reads any boolean as
 * "disable the cache".
 */
export function cleanPipEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('PIP_') || k.startsWith('TWINE_') || k.startsWith('POETRY_')) continue;
    if (['PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV', 'PYENV_VERSION', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME', 'XDG_DATA_HOME'].includes(k))
      continue;
    env[k] = v;
  }
  const home = scratchDir();
  Object.assign(env, {
    HOME: home,
    PIP_CONFIG_FILE: '/dev/null',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    PIP_NO_CACHE_DIR: 'off',
    PIP_NO_INPUT: '1',
    PYTHONNOUSERSITE: '1',
    PYTHONWARNINGS: 'ignore',
    PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring',
  });
  return { ...env, ...extra };
}

let manifest: Pip[] | undefined;

/** The pips installed by test/setup.sh, oldest first. */
export function pips(): Pip[] {
  if (manifest) return manifest;
  const file = join(testCacheDir(), 'pips.json');
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run "bash test/setup.sh" first (npm test does)`);
  }
  const entries = JSON.parse(readFileSync(file, 'utf8')) as ManifestEntry[];
  manifest = entries.map((e): Pip => ({
    pip: e.pip,
    python: e.python,
    run(args, opts = {}) {
      const extra: Record<string, string> = e.kind === 'target' ? { PYTHONPATH: e.path } : {};
      return run(e.exe, ['-m', 'pip', ...args], {
        env: cleanPipEnv({ ...extra, ...opts.env }),
        cwd: opts.cwd,
        timeoutMs: opts.timeoutMs,
      });
    },
  }));
  return manifest;
}

function versionKey(v: string): number[] {
  return v.split('.').map((n) => Number.parseInt(n, 10));
}

/** A pip by exact version ('18.1', '23.0.1') or 'newest'. */
export function pipByVersion(v: string): Pip {
  const all = pips();
  if (v === 'newest') {
    const sorted = [...all].sort((a, b) => {
      const [x, y] = [versionKey(a.pip), versionKey(b.pip)];
      for (let i = 0; i < Math.max(x.length, y.length); i++) {
        const d = (x[i] ?? 0) - (y[i] ?? 0);
        if (d !== 0) return d;
      }
      return 0;
    });
    const last = sorted.at(-1);
    if (!last) throw new Error('no pip in the manifest: run "bash test/setup.sh"');
    return last;
  }
  const found = all.find((p) => p.pip === v);
  if (!found) throw new Error(`pip ${v} is not set up (have: ${all.map((p) => p.pip).join(', ')}); see test/setup.sh`);
  return found;
}

/** PEP 503 normalization, as the clients compare names. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

function headerField(text: string, field: string): string | undefined {
  const m = new RegExp(`^${field}:[ \\t]*(.*)$`, 'mi').exec(text);
  return m?.[1]?.trim();
}

/** What a pip --target folder holds: normalized name -> version, from each dist-info/egg-info. */
export function installedIn(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir)) {
    const file = entry.endsWith('.dist-info') ? 'METADATA' : entry.endsWith('.egg-info') ? 'PKG-INFO' : undefined;
    if (!file || !existsSync(join(dir, entry, file))) continue;
    const text = readFileSync(join(dir, entry, file), 'utf8');
    const name = headerField(text, 'Name');
    const version = headerField(text, 'Version');
    if (name && version) out[normalizeName(name)] = version;
  }
  return out;
}

export interface PipInstallOptions extends RunOptions {
  /** Extra pip arguments, before the requirements. */
  args?: string[];
  /** Keep the target folder (its path is returned) instead of removing it. */
  keep?: boolean;
}

/** `pip install --target <fresh dir>` from one index only; reports what landed there. */
export async function pipInstall(
  pip: Pip,
  indexUrl: string,
  reqs: string[],
  opts: PipInstallOptions = {},
): Promise<{ result: RunResult; installed: Record<string, string>; target: string }> {
  const target = mkdtempSync(join(tmpdir(), `wh-pip${pip.pip}-`));
  const args = [
    'install',
    '--target',
    target,
    '--index-url',
    indexUrl,
    '--no-cache-dir',
    '--disable-pip-version-check',
    '--no-input',
    '--timeout',
    '20',
    ...(opts.args ?? []),
    ...reqs,
  ];
  const result = await pip.run(args, { env: opts.env, cwd: opts.cwd, timeoutMs: opts.timeoutMs ?? 120_000 });
  const installed = installedIn(target);
  if (!opts.keep) await rm(target, { recursive: true, force: true });
  return { result, installed, target };
}

/** Debian's twine (4.0.2), never prompting, no keyring, no ~/.pypirc. */
export function twine(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(TWINE, args, {
    env: cleanPipEnv({ TWINE_NON_INTERACTIVE: '1', ...opts.env }),
    cwd: opts.cwd,
    timeoutMs: opts.timeoutMs,
  });
}

/**
 * Debian's poetry (1.3.2) with its own config, cache and data folders under the project, so runs
 * share nothing (no cached index pages, no stored credentials) with each other or the machine.
 */
export function poetry(args: string[], opts: RunOptions & { cwd: string }): Promise<RunResult> {
  const state = join(opts.cwd, '.poetry-state');
  const dirs = { POETRY_CONFIG_DIR: join(state, 'config'), POETRY_CACHE_DIR: join(state, 'cache'), POETRY_DATA_DIR: join(state, 'data') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  return run(POETRY, ['--no-ansi', '--no-interaction', ...args], {
    env: cleanPipEnv({ ...dirs, ...opts.env }),
    cwd: opts.cwd,
    timeoutMs: opts.timeoutMs ?? 180_000,
  });
}

export interface PoetryProjectOptions {
  indexUrl: string;
  deps: Record<string, string>;
  username?: string;
  password?: string;
  /** The project's python constraint; poetry resolves for every version it allows. */
  python?: string;
  /** The source's name in pyproject.toml (credentials are looked up by it). */
  sourceName?: string;
}

const toml = (s: string): string => JSON.stringify(s);

/** The build backend of every poetry project the tests make. */
const POETRY_BUILD_SYSTEM = ['[build-system]', 'requires = ["poetry-core>=1.0.0"]', 'build-backend = "poetry.core.masonry.api"', ''];

/**
 * A minimal poetry 1.3 project whose only source is the index under test (`default = true`
 * turns PyPI off). Credentials go to the project's poetry.toml as http-basic.<source>, which
 * poetry reads like its global config.
 */
export function makePoetryProject(dir: string, opts: PoetryProjectOptions): void {
  const source = opts.sourceName ?? 'wheelhouse';
  mkdirSync(join(dir, 'whtest_consumer'), { recursive: true });
  writeFileSync(join(dir, 'whtest_consumer', '__init__.py'), '');
  const deps = Object.entries(opts.deps).map(([name, spec]) => `${toml(name)} = ${toml(spec)}`);
  writeFileSync(
    join(dir, 'pyproject.toml'),
    [
      '[tool.poetry]',
      'name = "whtest-consumer"',
      'version = "0.1.0"',
      'description = "Consumer project for wheelhouse tests"',
      'authors = ["Wheelhouse Tests <tests@example.invalid>"]',
      '',
      '[tool.poetry.dependencies]',
      `python = ${toml(opts.python ?? '^3.11')}`,
      ...deps,
      '',
      '[[tool.poetry.source]]',
      `name = ${toml(source)}`,
      `url = ${toml(opts.indexUrl)}`,
      'default = true',
      '',
      ...POETRY_BUILD_SYSTEM,
    ].join('\n'),
  );
  if (opts.username !== undefined || opts.password !== undefined) {
    writeFileSync(
      join(dir, 'poetry.toml'),
      [`[http-basic.${source}]`, `username = ${toml(opts.username ?? '')}`, `password = ${toml(opts.password ?? '')}`, ''].join('\n'),
    );
  }
}

/** A poetry project to publish: a package with an empty module, built by poetry-core. */
export function makePublishableProject(dir: string, opts: { name: string; version: string; description: string }): void {
  const module = opts.name.replace(/-/g, '_');
  mkdirSync(join(dir, module), { recursive: true });
  writeFileSync(join(dir, module, '__init__.py'), `__version__ = ${toml(opts.version)}\n`);
  writeFileSync(
    join(dir, 'pyproject.toml'),
    [
      '[tool.poetry]',
      `name = ${toml(opts.name)}`,
      `version = ${toml(opts.version)}`,
      `description = ${toml(opts.description)}`,
      'authors = ["Wheelhouse Tests <tests@example.invalid>"]',
      '',
      '[tool.poetry.dependencies]',
      'python = ">=3.7"',
      '',
      ...POETRY_BUILD_SYSTEM,
    ].join('\n'),
  );
}
