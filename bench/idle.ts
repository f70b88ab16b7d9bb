/**
 * Idle CPU: starts wheelhouse builds side by side with default settings over an empty volume,
 * lets them settle, then reads every process's CPU time from /proc/<pid>/stat across a quiet
 * window. No request is sent meanwhile. Several builds run at the same time, so whatever else
 * the machine does weighs on each alike.
 *
 *   npx tsx bench/idle.ts [--main label=path/to/dist/main.js ...] [--seconds 30] [--rounds 3] [-- extra server args]
 *
 * Without --main it measures this checkout's dist/main.js. Target: at most 0.1% of a core per
 * process.
 */
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuOver } from './lib/cpu.js';
import { freePort, installSignalHandlers, runCleanups, startProcess, stopProcess } from './lib/procs.js';
import { median, sleep } from './lib/stats.js';
import { REPO, ensureBuilt, makeTempDir } from './targets.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    main: { type: 'string', multiple: true },
    seconds: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '3' },
    settle: { type: 'string', default: '5' },
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

async function main(): Promise<void> {
  installSignalHandlers();
  const builds = (values.main ?? [`this=${join(REPO, 'dist', 'main.js')}`]).map((m) => {
    const i = m.indexOf('=');
    return i > 0 ? { label: m.slice(0, i), path: m.slice(i + 1) } : { label: m, path: m };
  });
  if (!values.main) ensureBuilt(console.log);
  const seconds = Number(values.seconds);
  const dir = await makeTempDir('wheelhouse-idle-');
  const results = new Map<string, number[]>();
  let processes = new Map<string, number>();
  for (let round = 1; round <= Number(values.rounds); round++) {
    const servers = [];
    for (const b of builds) {
      const root = join(dir, `${b.label}-${round}`);
      const port = await freePort();
      const fd = openSync(join(dir, `${b.label}-${round}.log`), 'a');
      const child = startProcess(
        process.execPath,
        [b.path, '--root', root, '--port', String(port), '--host', '127.0.0.1', ...positionals],
        {
          logFd: fd,
        },
      );
      closeSync(fd);
      await waitHealthy(`http://127.0.0.1:${port}/health`);
      servers.push({ b, child });
    }
    await sleep(Number(values.settle) * 1000);
    const measured = await Promise.all(servers.map(({ child }) => cpuOver(child.pid!, seconds * 1000)));
    processes = new Map();
    servers.forEach(({ b }, i) => {
      const m = measured[i]!;
      const perProcess = (m.cpuMs / (seconds * 1000) / m.processes) * 100;
      (results.get(b.label) ?? results.set(b.label, []).get(b.label)!).push(perProcess);
      processes.set(b.label, m.processes);
      console.log(
        `round ${round} ${b.label}: ${m.cpuMs} ms CPU in ${seconds} s over ${m.processes} processes = ` +
          `${perProcess.toFixed(3)}% of a core each`,
      );
    });
    await Promise.all(servers.map(({ child }) => stopProcess(child)));
  }
  console.log(`\n| build | processes | idle CPU per process, % of a core (median of ${values.rounds} x ${seconds} s) |\n|---|---|---|`);
  for (const [label, v] of results) console.log(`| ${label} | ${processes.get(label)} | ${median(v).toFixed(3)} |`);
  await runCleanups();
}

main().catch(async (err: unknown) => {
  console.error(err);
  await runCleanups();
  process.exit(1);
});
