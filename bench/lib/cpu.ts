import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const TICK_MS = 1000 / (Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100);

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function statFields(pid: string): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone meanwhile
  }
}

/**
 * CPU time (user + system, ms) of every process in a process group: a server started by
 * startProcess leads its own group, so this is the primary and all its workers (or nginx's
 * master and workers), with their threads. Processes that exited meanwhile are not counted.
 */
export function groupCpuMs(pgid: number): { ms: number; processes: number } {
  let ticks = 0;
  let processes = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const f = statFields(pid);
    // After the name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12)
    if (!f || Number(f[2]) !== pgid) continue;
    ticks += Number(f[11]) + Number(f[12]);
    processes++;
  }
  return { ms: ticks * TICK_MS, processes };
}

/** CPU (ms) a process group spends over `ms` of wall time. */
export async function cpuOver(pgid: number, ms: number): Promise<{ cpuMs: number; processes: number }> {
  const a = groupCpuMs(pgid);
  await new Promise((r) => setTimeout(r, ms));
  const b = groupCpuMs(pgid);
  return { cpuMs: b.ms - a.ms, processes: b.processes };
}
