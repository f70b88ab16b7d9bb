// How the index scales with the size of the volume: cold first scan (every file hashed, sidecars
// written), restart (sidecars reused), the fast rescan another task's bump causes, the periodic
// full rescan, and the server's memory before and after every project page was rendered.
//
//   npm run build && npx tsx bench/scale.ts [--sizes 2000x5,10000x5]
//
// Not part of the test suite: the 50,000-file volume takes minutes to build and scan.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GenerationFile } from '../src/store/generation.js';
import { wheelBytes } from '../test/helpers/upload.js';
import { freePort } from './lib/procs.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const MAIN = path.join(REPO, 'dist', 'main.js');
const FULL_RESCAN = '20s';

interface Server {
  url: string;
  proc: ChildProcess;
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(root: string): Promise<{ server: Server; readyMs: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const proc = spawn(
    process.execPath,
    [
      MAIN,
      '--root',
      root,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--workers',
      '1',
      '--authenticate',
      '.',
      '--passwords',
      '.',
      '--watch',
      'off',
      '--rescan-interval',
      FULL_RESCAN,
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const logs: Record<string, unknown>[] = [];
  let buf = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  const readyMs = performance.now() - t0;
  return {
    readyMs,
    server: {
      url,
      proc,
      logs,
      async stop() {
        proc.kill('SIGTERM');
        await exited;
      },
    },
  };
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round(Number(m![1]) / 1024);
}

async function health(url: string): Promise<{ generation: string | null; lastRescanMs: number; files: number; projects: number }> {
  return (await (await fetch(`${url}/health`)).json()) as never;
}

/** /health turns 200 a moment before the 'index loaded' line is written. */
async function loadedLine(server: Server): Promise<Record<string, unknown>> {
  for (;;) {
    const line = logged(server, 'index loaded')[0];
    if (line) return line;
    await sleep(10);
  }
}

function logged(server: Server, msg: string, pred: (l: Record<string, unknown>) => boolean = () => true): Record<string, unknown>[] {
  return server.logs.filter((l) => l.msg === msg && pred(l));
}

async function measure(projects: number, perProject: number): Promise<Record<string, string | number>> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'wh-scale-'));
  try {
    const t0 = performance.now();
    for (let p = 0; p < projects; p++) {
      for (let v = 0; v < perProject; v++) {
        const w = wheelBytes(`scale-${String(p).padStart(5, '0')}`, `1.${v}.0`);
        writeFileSync(path.join(root, w.filename), w.bytes);
      }
    }
    const files = projects * perProject;
    console.error(`${files} files written in ${Math.round(performance.now() - t0)} ms`);

    // Cold: nothing but the files; every one is hashed and gets its sidecar.
    const cold = await start(root);
    const loaded = await loadedLine(cold.server);
    const h0 = await health(cold.server.url);
    if (h0.files !== files) throw new Error(`indexed ${h0.files} of ${files} files`);
    const rssLoaded = rssMiB(cold.server.proc.pid!);

    // Another task publishes one file and bumps: this process does the fast rescan.
    const extra = wheelBytes('scale-extra', '1.0.0');
    writeFileSync(path.join(root, `.${extra.filename}.tmp`), extra.bytes);
    renameSync(path.join(root, `.${extra.filename}.tmp`), path.join(root, extra.filename));
    const tb = performance.now();
    const token = await new GenerationFile(path.join(root, '.wheelhouse')).bump();
    let h1 = await health(cold.server.url);
    while (h1.generation !== token || h1.files !== files + 1) {
      await sleep(10);
      h1 = await health(cold.server.url);
    }
    const bumpToListedMs = performance.now() - tb;

    // The periodic full rescan (every file statted, none hashed).
    const fullBefore = logged(cold.server, 'index rescanned', (l) => l.full === true).length;
    while (logged(cold.server, 'index rescanned', (l) => l.full === true).length <= fullBefore) await sleep(100);
    const full = logged(cold.server, 'index rescanned', (l) => l.full === true).at(-1)!;

    // Every project page rendered once (and so held in the page cache).
    const names = Array.from({ length: projects }, (_, p) => `scale-${String(p).padStart(5, '0')}`);
    const tr = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < names.length) {
          const res = await fetch(`${cold.server.url}/simple/${names[next++]}/`);
          if (res.status !== 200) throw new Error(`${res.url}: ${res.status}`);
          await res.arrayBuffer();
        }
      }),
    );
    const renderAllMs = performance.now() - tr;
    const rssRendered = rssMiB(cold.server.proc.pid!);
    await cold.server.stop();

    // Restart: the sidecars written by the cold scan are reused, nothing is hashed.
    const warm = await start(root);
    const warmLoaded = await loadedLine(warm.server);
    const warmScan = logged(warm.server, 'index rescanned', (l) => l.full === true)[0];
    const rssWarm = rssMiB(warm.server.proc.pid!);
    await warm.server.stop();

    return {
      files,
      projects,
      'cold start to healthy (ms)': Math.round(cold.readyMs),
      'cold scan, all hashed (ms)': Number(loaded.loadMs),
      'restart, sidecars reused (ms)': Number(warmLoaded.loadMs),
      'restart: files hashed': Number(warmScan?.hashed ?? 0),
      'fast rescan after 1 new file (ms)': h1.lastRescanMs,
      'bump to listed (ms)': Math.round(bumpToListedMs),
      'full rescan (ms)': Math.round(Number(full.durationMs)),
      'RSS after load (MiB)': rssLoaded,
      'render every project page (ms)': Math.round(renderAllMs),
      'RSS after every page (MiB)': rssRendered,
      'RSS after restart (MiB)': rssWarm,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '2000x5,10000x5' } } });
const results: Record<string, string | number>[] = [];
for (const spec of values.sizes.split(',')) {
  const [p, n] = spec.split('x').map(Number) as [number, number];
  results.push(await measure(p, n));
}
const keys = Object.keys(results[0]!);
const width = Math.max(...keys.map((k) => k.length));
console.log(`\n${''.padEnd(width)}  ${results.map((r) => String(r.files).padStart(10)).join('  ')}`);
for (const k of keys.slice(2)) console.log(`${k.padEnd(width)}  ${results.map((r) => String(r[k]).padStart(10)).join('  ')}`);
