/**
 * Idle CPU: what a server process costs in steady state with no request at all. Starts wheelhouse
 * builds side by side with default settings over an empty volume and reads every process's CPU
 * time from /proc/<pid>/stat: across the settle window after /health answers (V8's collections
 * after start-up, the memory reducer's among them, fall in it: reported for transparency, not the
 * goal), then across `--rounds` consecutive windows of `--seconds` on the same processes. No
 * request is sent meanwhile. The builds run at the same time, so whatever else the machine does
 * weighs on each alike.
 *
 *   npx tsx bench/idle.ts [--main label=path/to/dist/main.js ...] [--settle 45] [--seconds 60] [--rounds 3] [-- extra server args]
 *
 * Without --main it measures this checkout's dist/main.js. Target: at most 0.1% of a core per
 * process in steady state (the median of the rounds).
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { groupCpuMs } from './lib/cpu.js';
import { freePort, installSignalHandlers, onCleanup, runCleanups, startProcess, stopProcess } from './lib/procs.js';
import { median, sleep } from './lib/stats.js';
import { REPO, ensureBuilt, makeTempDir } from './targets.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    main: { type: 'string', multiple: true },
    seconds: { type: 'string', default: '60' },
    rounds: { type: 'string', default: '3' },
    settle: { type: 'string', default: '45' },
  },
});

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).status === 200) return;
    } catch {
      /* not listening yet */
    }
    await sleep(100);
  }
  throw new Error(`${url} never answered`);
}

interface Window {
  cpuMs: number;
  wallMs: number;
  processes: number;
  /** % of one core per process. */
  perProcess: number;
}

/**
 * Every build's CPU over the same `ms` of wall time. The windows of successive calls are
 * contiguous: each starts from the readings the previous one ended with.
 */
async function windowOver(
  pgids: number[],
  ms: number,
  from: { at: number; cpu: number[] },
): Promise<{ windows: Window[]; at: number; cpu: number[] }> {
  await sleep(ms - (performance.now() - from.at));
  const at = performance.now();
  const now = pgids.map((p) => groupCpuMs(p));
  const wallMs = at - from.at;
  const windows = now.map((n, i) => {
    const cpuMs = n.ms - (from.cpu[i] ?? 0);
    return { cpuMs, wallMs, processes: n.processes, perProcess: (cpuMs / wallMs / n.processes) * 100 };
  });
  return { windows, at, cpu: now.map((n) => n.ms) };
}

const line = (label: string, w: Window) =>
  `${label}: ${Math.round(w.cpuMs)} ms CPU in ${(w.wallMs / 1000).toFixed(1)} s over ${w.processes} processes = ` +
  `${w.perProcess.toFixed(3)}% of a core each`;

async function main(): Promise<void> {
  installSignalHandlers();
  const builds = (values.main ?? [`this=${join(REPO, 'dist', 'main.js')}`]).map((m) => {
    const i = m.indexOf('=');
    return i > 0 ? { label: m.slice(0, i), path: m.slice(i + 1) } : { label: m, path: m };
  });
  if (!values.main) ensureBuilt(console.log);
  const seconds = Number(values.seconds);
  const settle = Number(values.settle);
  const rounds = Number(values.rounds);
  const dir = await makeTempDir('wheelhouse-idle-');

  // All builds start at once and are measured over the same windows.
  const servers = await Promise.all(
    builds.map(async (b) => {
      const port = await freePort();
      const fd = openSync(join(dir, `${b.label}.log`), 'a');
      const child: ChildProcess = startProcess(
        process.execPath,
        [b.path, '--root', join(dir, b.label), '--port', String(port), '--host', '127.0.0.1', ...positionals],
        { logFd: fd },
      );
      closeSync(fd);
      onCleanup(`server ${b.label}`, () => stopProcess(child));
      await waitHealthy(`http://127.0.0.1:${port}/health`);
      return { b, pgid: child.pid! };
    }),
  );
  const pgids = servers.map((s) => s.pgid);
  let mark = { at: performance.now(), cpu: pgids.map((p) => groupCpuMs(p).ms) };

  const first = await windowOver(pgids, settle * 1000, mark);
  mark = first;
  servers.forEach(({ b }, i) => console.log(line(`first ${settle} s after ready, ${b.label}`, first.windows[i]!)));

  const steady: Window[][] = servers.map(() => []);
  for (let round = 1; round <= rounds; round++) {
    const r = await windowOver(pgids, seconds * 1000, mark);
    mark = r;
    servers.forEach(({ b }, i) => {
      steady[i]!.push(r.windows[i]!);
      console.log(line(`round ${round} ${b.label}`, r.windows[i]!));
    });
  }

  console.log(
    `\n| build | processes | first ${settle} s after ready (% of a core per process) | ` +
      `steady state, median of ${rounds} x ${seconds} s (% per process) |\n|---|---:|---:|---:|`,
  );
  servers.forEach(({ b }, i) => {
    const s = steady[i]!;
    console.log(
      `| ${b.label} | ${s.at(-1)?.processes ?? first.windows[i]!.processes} | ${first.windows[i]!.perProcess.toFixed(3)} | ` +
        `${median(s.map((w) => w.perProcess)).toFixed(3)} |`,
    );
  });
  await runCleanups();
}

main().catch(async (err: unknown) => {
  console.error(err);
  await runCleanups();
  process.exit(1);
});
