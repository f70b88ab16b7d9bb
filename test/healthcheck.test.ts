import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO } from './helpers/server.js';

const PROBE = path.join(REPO, 'dist', 'healthcheck.js');
let server: http.Server | null = null;
afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

/** A stand-in /health answering `status` with `body`; returns the probe's exit code, stderr and the path it asked. */
async function probeAgainst(
  status: number,
  body: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string; asked: string[] }> {
  const asked: string[] = [];
  server = http.createServer((req, res) => {
    asked.push(req.url ?? '');
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  // spawnSync would block the stand-in's event loop: run the probe asynchronously.
  const child = spawn(process.execPath, [PROBE], {
    env: { ...process.env, WHEELHOUSE_PORT: String(port), WHEELHOUSE_HOST: '127.0.0.1', ...env },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  return { code, stderr, asked };
}

describe('the container health probe (dist/healthcheck.js)', () => {
  it('passes on 200', async () => {
    expect((await probeAgainst(200, '{"status":"ok"}')).code).toBe(0);
  });

  it('passes while the first scan runs (503 loading), so ECS does not replace a task that is hashing a large volume', async () => {
    expect((await probeAgainst(503, '{"status":"loading","files":0}')).code).toBe(0);
  });

  it('fails when the volume is unreadable, or on any other answer, and says why', async () => {
    const unreadable = await probeAgainst(503, '{"status":"volume-unreadable"}');
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr).toContain('503 volume-unreadable');
    expect((await probeAgainst(500, 'oops')).code).toBe(1);
  });

  it('asks /health, or the health path below the prefix the server is configured with', async () => {
    expect((await probeAgainst(200, '{"status":"ok"}')).asked).toEqual(['/health']);
    server?.close();
    const moved = await probeAgainst(200, '{"status":"ok"}', { WHEELHOUSE_BASE_PATH: 'pypi/', WHEELHOUSE_HEALTH_ENDPOINT: '/healthz' });
    expect(moved.asked).toEqual(['/pypi/healthz']);
  });

  it('fails when nothing listens', () => {
    const r = spawnSync(process.execPath, [PROBE], {
      env: { ...process.env, WHEELHOUSE_PORT: '1', WHEELHOUSE_HOST: '127.0.0.1' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('health check failed');
  });
});
