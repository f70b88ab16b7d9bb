// Hostile clients against one server process, measured: a wave of wrong passwords (does anything
// else still get answered?), user-name enumeration by timing, and one upload form made of huge text
// fields (what happens to memory?). `npx tsx bench/hostile.ts [--main path/to/dist/main.js]`:
// --main runs another build (an older commit's) for a before/after comparison in one run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeZip } from './lib/zip.js';
import { freePort, installSignalHandlers, onCleanup, runCleanups, startProcess, stopProcess } from './lib/procs.js';
import { median, percentiles, sleep } from './lib/stats.js';
import { REPO } from './targets.js';

const { values: args } = parseArgs({
  options: {
    main: { type: 'string', default: path.join(REPO, 'dist', 'main.js') },
    wave: { type: 'string', default: '500' },
    'form-fields': { type: 'string', default: '400' },
    'field-mib': { type: 'string', default: '8' },
  },
});

interface Answer {
  status: number;
  ms: number;
}

/** One request on a connection of its own (a wave of clients, not one keep-alive pool). */
function request(port: number, method: string, url: string, headers: Record<string, string>, body?: Buffer): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: url, agent: false, headers, timeout: 60_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.on('timeout', () => req.destroy());
    req.end(body);
  });
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
/** A different client address per request, as the load balancer would report them. */
const fromAddress = (i: number) => ({ 'x-forwarded-for': `198.51.${(i >> 8) & 255}.${i & 255}` });

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

async function main(): Promise<void> {
  installSignalHandlers();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wh-hostile-bench-'));
  onCleanup('temp dir', () => rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'packages');
  const htpasswd = path.join(dir, 'htpasswd');
  // A cost-10 bcrypt user, as `htpasswd -B -C 10` writes it.
  writeFileSync(htpasswd, execFileSync('htpasswd', ['-n', '-b', '-B', '-C', '10', 'ci', 'right password'], { encoding: 'utf8' }));
  // One small project to ask for while the wave runs.
  execFileSync('mkdir', ['-p', root]);
  writeFileSync(
    path.join(root, 'demo_pkg-1.0-py3-none-any.whl'),
    writeZip([
      { name: 'demo_pkg.py', data: Buffer.from('X = 1\n') },
      { name: 'demo_pkg-1.0.dist-info/METADATA', data: Buffer.from('Metadata-Version: 2.1\nName: demo_pkg\nVersion: 1.0\n\n') },
      { name: 'demo_pkg-1.0.dist-info/WHEEL', data: Buffer.from('Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n') },
      { name: 'demo_pkg-1.0.dist-info/RECORD', data: Buffer.from('') },
    ]),
  );

  const port = await freePort();
  const server = startProcess(
    process.execPath,
    [
      args.main,
      '--root',
      root,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--workers',
      '1',
      '--passwords',
      htpasswd,
      '--log-level',
      'error',
    ],
    { env: { ...process.env, WHEELHOUSE_TRUST_PROXY: '1' } },
  );
  onCleanup('server', () => stopProcess(server));
  for (let i = 0; ; i++) {
    if ((await request(port, 'GET', '/health', {})).status === 200) break;
    if (i > 300) throw new Error('server did not start');
    await sleep(100);
  }
  console.log(`server: ${args.main}`);

  // 1. A wave of wrong passwords (each from another address, so the per-address throttle does not
  // cut it short), with /health and a project page sampled every 20 ms meanwhile.
  const waveSize = Number(args.wave);
  const probes: { health: number[]; page: number[] } = { health: [], page: [] };
  let waving = true;
  const probing = (async () => {
    while (waving) {
      const [h, p] = await Promise.all([request(port, 'GET', '/health', {}), request(port, 'GET', '/simple/demo-pkg/', {})]);
      probes.health.push(h.ms);
      probes.page.push(p.ms);
      await sleep(20);
    }
  })();
  const waveStarted = performance.now();
  const wave = await Promise.all(
    Array.from({ length: waveSize }, (_, i) =>
      request(port, 'POST', '/', { authorization: basic('ci', `wrong ${i}`), 'content-length': '0', ...fromAddress(i) }),
    ),
  );
  const waveMs = performance.now() - waveStarted;
  waving = false;
  await probing;
  const statuses: Record<string, number> = {};
  for (const a of wave) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  const health = percentiles(probes.health);
  const page = percentiles(probes.page);
  console.log(`wave of ${waveSize} wrong passwords: ${Math.round(waveMs)} ms, answers ${JSON.stringify(statuses)}`);
  console.log(
    `  during it: /health p50 ${health.p50.toFixed(1)} ms p99 ${health.p99.toFixed(1)} ms ` +
      `max ${health.max.toFixed(1)} ms (${probes.health.length} samples)`,
  );
  console.log(`             /simple/demo-pkg/ p50 ${page.p50.toFixed(1)} ms p99 ${page.p99.toFixed(1)} ms max ${page.max.toFixed(1)} ms`);
  await sleep(1500);

  // 2. User names by timing: an unknown user against a known one with a wrong password, each try
  // with another password and address (so neither the remembered verdicts nor the throttle answer).
  const unknown: number[] = [];
  const known: number[] = [];
  for (let i = 0; i < 40; i++) {
    const empty = { 'content-length': '0' };
    unknown.push(
      (await request(port, 'POST', '/', { authorization: basic(`nobody${i}`, `x${i}`), ...empty, ...fromAddress(10_000 + i) })).ms,
    );
    known.push((await request(port, 'POST', '/', { authorization: basic('ci', `y${i}`), ...empty, ...fromAddress(20_000 + i) })).ms);
  }
  console.log(
    `timing: unknown user median ${median(unknown).toFixed(1)} ms, known user with a wrong password ${median(known).toFixed(1)} ms`,
  );

  // 3. One upload form of huge text fields.
  const fields = Number(args['form-fields']);
  const fieldBytes = Number(args['field-mib']) * 1024 * 1024;
  const boundary = 'hostilebench';
  const pid = server.pid ?? 0;
  const before = rssMiB(pid);
  let peak = before;
  const sampling = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 50);
  const formStarted = performance.now();
  const answer = await new Promise<Answer>((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        agent: false,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, authorization: basic('ci', 'right password') },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - formStarted }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: performance.now() - formStarted }));
    const value = Buffer.alloc(fieldBytes, 'a');
    void (async () => {
      for (let i = 0; i < fields && !req.destroyed; i++) {
        req.write(`--${boundary}\r\nContent-Disposition: form-data; name="classifiers"\r\n\r\n`);
        req.write(value);
        if (!req.write('\r\n')) await new Promise((r) => req.once('drain', r));
      }
      req.end(`--${boundary}--\r\n`);
    })();
  });
  clearInterval(sampling);
  const healthAfter = await request(port, 'GET', '/health', {});
  console.log(
    `form of ${fields} fields of ${args['field-mib']} MiB: answered ${answer.status} after ${Math.round(answer.ms)} ms; ` +
      `server RSS ${before} MiB before, peak ${peak} MiB; /health after: ${healthAfter.status}`,
  );
  await runCleanups();
}

main().catch(async (err: unknown) => {
  console.error(err);
  await runCleanups();
  process.exit(1);
});
