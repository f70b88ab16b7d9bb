// One index for CI: real pip (oldest and newest) and poetry install chains whose private parts
// live on the volume and whose public parts come through a real upstream (the fake PyPI on two
// loopback ports), against real server processes sharing one volume. Then the upstream is
// stopped and the installs are repeated from the cache, on the same process and on a new one.
// Along the way: a higher version of a private name offered upstream is never served, a denied
// name is never fetched, a file with a wrong hash is refused and never kept, a 510-client burst on
// an uncached project costs at most one upstream request per process, three processes share what
// one cached, the cache stays under its size limit, and --upstream-offline asks nobody.
import { randomBytes, createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyDists, distFiles, makeWheel, sha256File } from '../helpers/dists.js';
import { cleanPipEnv, makePoetryProject, pipByVersion, pipInstall, poetry, run, type RunResult } from '../helpers/python.js';
import { startServer, tempDir, type RunningServer } from '../helpers/server.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream-server.js';

const OPEN = ['--authenticate', '.', '--passwords', '.', '--watch', 'off'];
/** Several pip and poetry runs in one test, on a machine that may be busy with other suites. */
const SLOW = 300_000;
const out = (r: RunResult): string => `${r.stdout}\n${r.stderr}`;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let dir: string;
let cleanup: (() => void) | undefined;
let root: string;
let up: FakeUpstream;
let upstreamArgs: string[];
/** Three processes on one volume; a is the one the clients use first. */
let a: RunningServer;
let b: RunningServer;
let c: RunningServer;
const servers: RunningServer[] = [];
/** Every file a client may be handed, private or public: basename -> sha256. */
const hashes = new Map<string, string>();
type Wheel = Awaited<ReturnType<typeof makeWheel>>;
let higherPrivate: Wheel;
let denied: Wheel;
let wrongHash: Wheel;
let burst: Wheel;

async function start(args: string[], at = root): Promise<RunningServer> {
  const s = await startServer({ root: at, args: [...OPEN, ...args] });
  servers.push(s);
  return s;
}

function cached(at = root): string[] {
  const files = path.join(at, '.wheelhouse', 'upstream', 'files');
  return existsSync(files) ? readdirSync(files) : [];
}

function incoming(at = root): string[] {
  const d = path.join(at, '.wheelhouse', 'incoming');
  return existsSync(d) ? readdirSync(d) : [];
}

beforeAll(async () => {
  const temp = tempDir('wh-e2e-upstream-');
  dir = temp.dir;
  cleanup = () => {
    temp.cleanup();
  };
  root = path.join(dir, 'packages');
  await mkdir(root);
  // Private: the head of the chain and the top of the diamond.
  for (const f of await copyDists(['whtest_chain_a-*.whl', 'whtest-chain-a-*.tar.gz', 'whtest_top-*.whl', 'whtest-top-*.tar.gz'], root)) {
    hashes.set(path.basename(f), await sha256File(f));
  }
  // Public, from upstream: the rest of both, a higher version of the private name, a name the
  // operator denies, a file whose page gives a wrong hash, and a project for the burst.
  higherPrivate = await makeWheel({ name: 'whtest-chain-a', version: '9.0', tag: 'py2.py3-none-any' });
  denied = await makeWheel({ name: 'mycorp-secret', version: '1.0', tag: 'py2.py3-none-any' });
  wrongHash = await makeWheel({ name: 'whtest-wronghash', version: '1.0', tag: 'py2.py3-none-any' });
  burst = await makeWheel({ name: 'whtest-burst', version: '1.0', tag: 'py2.py3-none-any' });
  const publicFiles = [
    ...distFiles('whtest?chain?b-*'),
    ...distFiles('whtest?chain?c-*'),
    ...distFiles('whtest?left-*'),
    ...distFiles('whtest?right-*'),
    ...distFiles('whtest?base-*'),
  ];
  for (const f of publicFiles) hashes.set(path.basename(f), await sha256File(f));
  up = await startUpstream({ files: [...publicFiles, higherPrivate.path, denied.path, wrongHash.path, burst.path] });
  up.fault({ file: wrongHash.filename }, { kind: 'wrong-hash' });
  upstreamArgs = ['--upstream', up.indexUrl, '--upstream-deny', 'mycorp-*'];
  a = await start(upstreamArgs);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await (up as FakeUpstream | undefined)?.stop();
  cleanup?.();
});

const CHAIN = { 'whtest-chain-a': '1.0', 'whtest-chain-b': '1.0', 'whtest-chain-c': '1.0' };

describe('installs through one index, private and public together', { timeout: SLOW }, () => {
  for (const version of ['18.1', 'newest']) {
    it(`pip ${version} installs a chain and a diamond whose heads are private and whose dependencies come from upstream`, async () => {
      const pip = pipByVersion(version);
      const { result, installed } = await pipInstall(pip, `${a.url}/simple/`, ['whtest-chain-a', 'whtest-top'], { args: ['-vv'] });
      expect(result.code, out(result)).toBe(0);
      expect(installed).toMatchObject({ ...CHAIN, 'whtest-top': '1.0', 'whtest-left': '1.0', 'whtest-right': '1.0' });
      // The legacy resolver of pip 18.1 may settle the diamond on either base (see pip.test.ts).
      expect(['1.1', '2.0']).toContain(installed['whtest-base']);
      if (version === 'newest') {
        expect(out(result)).toContain(`Fetched page ${a.url}/simple/whtest-chain-b/ as application/vnd.pypi.simple.v1+json`);
        expect(out(result)).toContain(
          `Obtaining dependency information for whtest-chain-b from ${a.url}/packages/whtest_chain_b-1.0-py2.py3-none-any.whl.metadata`,
        );
      }
      // The private names were never looked up upstream, though it offers a higher version of one.
      expect(up.pageHits('whtest-chain-a')).toBe(0);
      expect(up.pageHits('whtest-top')).toBe(0);
      expect(up.fileHits(higherPrivate.filename)).toBe(0);
    });
  }

  it('poetry locks and installs the same through the one source, with the hashes the files really have', async () => {
    const project = path.join(dir, 'poetry-consumer');
    await mkdir(project);
    makePoetryProject(project, { indexUrl: `${a.url}/simple/`, deps: { 'whtest-chain-a': '*', 'whtest-top': '*' } });
    const env = { POETRY_VIRTUALENVS_IN_PROJECT: 'true', POETRY_VIRTUALENVS_CREATE: 'true' };
    const lock = await poetry(['lock'], { cwd: project, env });
    expect(lock.code, out(lock)).toBe(0);
    const locked = await readLock(project);
    expect(Object.fromEntries(locked.map((p) => [p.name, p.version]))).toEqual({
      ...CHAIN,
      'whtest-top': '1.0',
      'whtest-left': '1.0',
      'whtest-right': '1.0',
      'whtest-base': '1.1',
    });
    for (const p of locked) {
      for (const f of p.files) expect(f.hash, `${p.name} ${f.file}`).toBe(`sha256:${hashes.get(f.file) ?? 'unknown'}`);
    }
    const install = await poetry(['install'], { cwd: project, env });
    expect(install.code, out(install)).toBe(0);
    const probe = await run(path.join(project, '.venv', 'bin', 'python'), ['-c', 'import whtest_chain_c, whtest_base; print("ok")'], {
      env: cleanPipEnv(),
    });
    expect(probe.stdout.trim(), probe.stderr).toBe('ok');
  });

  it('never serves the higher version the upstream offers for a private name', async () => {
    const { result } = await pipInstall(pipByVersion('newest'), `${a.url}/simple/`, ['whtest-chain-a==9.0']);
    expect(result.code).not.toBe(0);
    expect(out(result)).toMatch(/No matching distribution found for whtest-chain-a==9\.0/);
    expect((await fetch(`${a.url}/packages/${higherPrivate.filename}`)).status).toBe(404);
    expect(up.pageHits('whtest-chain-a')).toBe(0);
  });

  it('never fetches a denied name', async () => {
    const { result } = await pipInstall(pipByVersion('newest'), `${a.url}/simple/`, ['mycorp-secret']);
    expect(result.code).not.toBe(0);
    expect(out(result)).toMatch(/No matching distribution found for mycorp-secret/);
    expect(up.pageHits('mycorp-secret')).toBe(0);
    expect(up.requests.filter((r) => r.path.includes('mycorp'))).toEqual([]);
  });

  it('refuses a file whose bytes do not match the upstream page with 502, and keeps nothing of it', async () => {
    const res = await fetch(`${a.url}/packages/${wrongHash.filename}`);
    expect(res.status).toBe(502);
    expect(await res.text()).toContain(wrongHash.filename);
    const { result } = await pipInstall(pipByVersion('newest'), `${a.url}/simple/`, ['whtest-wronghash']);
    expect(result.code).not.toBe(0);
    expect(out(result)).toContain('502');
    expect(cached()).not.toContain(sha256(wrongHash.bytes));
    expect(incoming()).toEqual([]);
  });
});

describe('three processes on one volume', { timeout: SLOW }, () => {
  it('a burst of 510 clients on an uncached project and file costs at most one upstream request per process', async () => {
    b = await start(upstreamArgs);
    c = await start(upstreamArgs);
    const trio = [a, b, c];
    // Slow answers, so the whole burst arrives while the first requests are still in flight.
    up.fault({ project: 'whtest-burst' }, { kind: 'slow', delayMs: 50, chunkBytes: 64 });
    up.fault({ file: burst.filename }, { kind: 'slow', delayMs: 50, chunkBytes: 128 });
    const before = { page: up.pageHits('whtest-burst'), file: up.fileHits(burst.filename) };
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 510 }, async (_, i) => {
        const base = trio[i % 3]!.url;
        const page = await fetch(`${base}/simple/whtest-burst/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
        const listed = (await page.json()) as { files: { filename: string; url: string; hashes: { sha256: string } }[] };
        const file = listed.files[0]!;
        const res = await fetch(new URL(file.url, `${base}/simple/whtest-burst/`));
        return res.status === 200 && sha256(Buffer.from(await res.arrayBuffer())) === file.hashes.sha256;
      }),
    );
    const drainMs = performance.now() - started;
    const pages = up.pageHits('whtest-burst') - before.page;
    const files = up.fileHits(burst.filename) - before.file;
    console.log(
      `510-client burst over 3 processes: ${pages} upstream page requests, ${files} file requests, drained in ${Math.round(drainMs)} ms`,
    );
    expect(results.filter(Boolean)).toHaveLength(510);
    expect(pages).toBeGreaterThanOrEqual(1);
    expect(pages).toBeLessThanOrEqual(3);
    expect(files).toBeGreaterThanOrEqual(1);
    expect(files).toBeLessThanOrEqual(3);
    up.clearFaults();
    up.fault({ file: wrongHash.filename }, { kind: 'wrong-hash' });
  });

  it('a file cached through one process is served by the others without an upstream request', async () => {
    const wheel = 'whtest_left-1.0-py2.py3-none-any.whl';
    // Cached by a's installs above; b and c had never served it.
    const before = up.fileHits(wheel);
    expect(before).toBe(1);
    for (const s of [b, c]) {
      const res = await fetch(`${s.url}/packages/${wheel}`);
      expect(res.status).toBe(200);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(hashes.get(wheel));
    }
    expect(up.fileHits(wheel)).toBe(before);
  });
});

describe('with the upstream stopped', { timeout: SLOW }, () => {
  it('installs again on fresh targets from the cache, with pip 18.1 and the newest pip', async () => {
    // pip 18.1 takes whichever whtest-base it meets first (1.1 or 2.0, by the interpreter's hash
    // seed), so the run before may have cached only one of them; a process that has not seen the
    // upstream fail lists both. Both go through the cache while the upstream is up.
    for (const file of ['whtest_base-1.1-py2.py3-none-any.whl', 'whtest_base-2.0-py2.py3-none-any.whl']) {
      const res = await fetch(`${a.url}/packages/${file}`);
      expect(res.status, file).toBe(200);
      await res.arrayBuffer();
    }
    await up.stop();
    for (const version of ['18.1', 'newest']) {
      const { result, installed } = await pipInstall(pipByVersion(version), `${a.url}/simple/`, ['whtest-chain-a', 'whtest-top']);
      expect(result.code, out(result)).toBe(0);
      expect(installed).toMatchObject({ ...CHAIN, 'whtest-top': '1.0', 'whtest-left': '1.0', 'whtest-right': '1.0' });
    }
  });

  it('installs from the cache through a wheelhouse process started after the upstream went away', async () => {
    const late = await start(upstreamArgs);
    for (const version of ['18.1', 'newest']) {
      const { result, installed } = await pipInstall(pipByVersion(version), `${late.url}/simple/`, ['whtest-chain-a', 'whtest-top']);
      expect(result.code, out(result)).toBe(0);
      expect(installed).toMatchObject({ ...CHAIN, 'whtest-top': '1.0', 'whtest-left': '1.0', 'whtest-right': '1.0' });
    }
    // poetry installs its lock file in a fresh project through it too.
    const project = path.join(dir, 'poetry-again');
    await mkdir(project);
    for (const f of ['pyproject.toml', 'poetry.lock']) cpSync(path.join(dir, 'poetry-consumer', f), path.join(project, f));
    cpSync(path.join(dir, 'poetry-consumer', 'whtest_consumer'), path.join(project, 'whtest_consumer'), { recursive: true });
    makePoetryProject(project, { indexUrl: `${late.url}/simple/`, deps: { 'whtest-chain-a': '*', 'whtest-top': '*' } });
    const env = { POETRY_VIRTUALENVS_IN_PROJECT: 'true', POETRY_VIRTUALENVS_CREATE: 'true' };
    const install = await poetry(['install'], { cwd: project, env });
    expect(install.code, out(install)).toBe(0);
    // A project never fetched cannot come from anywhere: 502 naming the upstream, not 404.
    const res = await fetch(`${late.url}/simple/whtest-never-seen/`);
    expect(res.status).toBe(502);
    expect(await res.text()).toContain(up.indexUrl);
    const health = await fetch(`${late.url}/health`);
    expect(health.status).toBe(200);
  });

  it('--upstream-offline serves what is cached and asks nobody, even once the upstream is back', async () => {
    await up.start();
    up.resetCounts();
    const offline = await start([...upstreamArgs, '--upstream-offline']);
    const { result, installed } = await pipInstall(pipByVersion('newest'), `${offline.url}/simple/`, ['whtest-chain-a']);
    expect(result.code, out(result)).toBe(0);
    expect(installed).toEqual(CHAIN);
    const missing = await fetch(`${offline.url}/simple/whtest-offline-unseen/`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('--upstream-offline');
    expect(up.requests).toEqual([]);
  });
});

describe('the size limit', { timeout: SLOW }, () => {
  it('evicts the least recently used upstream files to stay under --upstream-cache-max-size, never a local file', async () => {
    const evictTemp = tempDir('wh-e2e-upstream-evict-');
    const evictRoot = evictTemp.dir;
    let undoEviction: () => Promise<unknown> = () => Promise.resolve();
    try {
      // Three wheels of about 600 KB each that do not compress, under a 1 MiB limit.
      const big = await Promise.all(
        [1, 2, 3].map((n) =>
          makeWheel({
            name: `whtest-big${n}`,
            version: '1.0',
            extraFiles: { [`big${n}/data.txt`]: randomBytes(450_000).toString('base64') },
          }),
        ),
      );
      const local = await makeWheel({ name: 'whtest-local', version: '1.0' });
      cpSync(local.path, path.join(evictRoot, local.filename));
      const bigUp = await startUpstream({ files: big.map((w) => w.path) });
      try {
        const s = await start(['--upstream', bigUp.indexUrl, '--upstream-cache-max-size', '1MiB'], evictRoot);
        undoEviction = () => s.stop();
        for (const w of big) expect((await fetch(`${s.url}/packages/${w.filename}`)).status).toBe(200);
        const files = cached(evictRoot);
        const bytes = files.reduce((sum, f) => sum + statSync(path.join(evictRoot, '.wheelhouse', 'upstream', 'files', f)).size, 0);
        expect(bytes).toBeLessThanOrEqual(1024 * 1024);
        expect(files).toContain(sha256(big[2]!.bytes));
        expect(files).not.toContain(sha256(big[0]!.bytes));
        expect(existsSync(path.join(evictRoot, local.filename))).toBe(true);
        const metrics = await (await fetch(`${s.url}/metrics`)).text();
        expect(metrics).toMatch(/^wheelhouse_upstream_cache_evictions_total [1-9]/m);
        // The evicted one comes back from upstream when asked for again.
        const again = await fetch(`${s.url}/packages/${big[0]!.filename}`);
        expect(sha256(Buffer.from(await again.arrayBuffer()))).toBe(sha256(big[0]!.bytes));
        expect(bigUp.fileHits(big[0]!.filename)).toBe(2);
      } finally {
        await undoEviction();
        await bigUp.stop();
      }
    } finally {
      evictTemp.cleanup();
    }
  });
});

interface LockedPackage {
  name: string;
  version: string;
  files: { file: string; hash: string }[];
}

async function readLock(project: string): Promise<LockedPackage[]> {
  const res = await run('/usr/bin/python3', [
    '-c',
    'import json, sys, tomllib; print(json.dumps(tomllib.load(open(sys.argv[1], "rb"))))',
    path.join(project, 'poetry.lock'),
  ]);
  expect(res.code, res.stderr).toBe(0);
  return (JSON.parse(res.stdout) as { package: LockedPackage[] }).package;
}
