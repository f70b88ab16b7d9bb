// Hostile clients against real server processes: bodies and headers trickled a byte at a time,
// and a guesser spreading wrong passwords over the workers of one task.
import http from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, tempDir, type RunningServer } from '../helpers/server.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

/** One GET on a connection of its own (the kernel picks the worker that accepts it). */
function getOnce(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

/** Opens a connection, writes `head`, then one byte every `everyMs`; resolves with how long until the server closed it. */
function trickle(port: number, head: string, everyMs: number): Promise<{ closedAfterMs: number; response: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket: Socket = connect(port, '127.0.0.1');
    let response = '';
    const timer = setInterval(() => {
      if (!socket.destroyed) socket.write('x');
    }, everyMs);
    socket.on('connect', () => socket.write(head));
    socket.on('data', (d) => (response += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ closedAfterMs: Date.now() - started, response });
    });
  });
}

describe('slow clients', () => {
  let srv: RunningServer;
  let cleanup: () => void;
  beforeAll(async () => {
    const t = tempDir('wh-slow-');
    cleanup = t.cleanup;
    srv = await startServer({
      root: t.dir,
      args: ['-a', '.', '-P', '.', '--request-timeout', '3s', '--keep-alive-timeout', '2s', '--headers-timeout', '3s'],
    });
  });
  afterAll(async () => {
    await srv.stop();
    cleanup();
  });

  it('closes a connection whose body trickles in a byte a second once the request timeout passes', async () => {
    const head = `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n`;
    const { closedAfterMs, response } = await trickle(srv.port, head, 1000);
    expect(closedAfterMs).toBeLessThan(15_000);
    expect(response).toMatch(/^HTTP\/1\.1 408|^$/);
  });

  it('closes a connection whose headers never end', async () => {
    const { closedAfterMs } = await trickle(srv.port, 'GET /simple/ HTTP/1.1\r\nHost: x\r\nX-Slow: ', 500);
    expect(closedAfterMs).toBeLessThan(15_000);
  });

  it('keeps an idle keep-alive connection open for the keep-alive timeout, then closes it', async () => {
    const { closedAfterMs, response } = await trickle(srv.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n', 1_000_000);
    expect(response).toMatch(/^HTTP\/1\.1 200/);
    expect(closedAfterMs).toBeGreaterThanOrEqual(1_900);
    expect(closedAfterMs).toBeLessThan(10_000);
  });
});

describe('a refused upload', () => {
  it('closes the connection after the 401, instead of reading the rest of a large body', async () => {
    const t = tempDir('wh-401-');
    const srv = await startServer({ root: t.dir, args: ['-a', 'update', '--username', 'ci', '--password', 'right'] });
    try {
      const head = `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000000\r\n\r\n`;
      const { response, closedAfterMs } = await trickle(srv.port, head, 100);
      expect(response).toMatch(/^HTTP\/1\.1 401/);
      expect(response.toLowerCase()).toContain('connection: close');
      expect(closedAfterMs).toBeLessThan(5_000);
    } finally {
      await srv.stop();
      t.cleanup();
    }
  });
});

describe('the failed-login throttle of a task', () => {
  it('is shared by its workers: a guesser gets the limit, not the limit per worker', async () => {
    const t = tempDir('wh-throttle-');
    const srv = await startServer({ root: t.dir, args: ['--workers', '2', '-a', 'list', '--username', 'ci', '--password', 'right'] });
    try {
      // Both workers loaded: a worker still on its first scan answers 503 rather than a login check.
      for (let healthy = 0, tries = 0; healthy < 20 && tries < 400; tries++) {
        healthy = (await getOnce(`${srv.url}/health`)) === 200 ? healthy + 1 : 0;
      }
      const statuses: number[] = [];
      for (let i = 0; i < 24; i++) {
        // A new connection each time, so the kernel spreads them over both workers.
        statuses.push(await getOnce(`${srv.url}/simple/`, { authorization: basic('ci', `guess ${i}`) }));
      }
      expect(
        statuses.filter((s) => s === 401),
        statuses.join(' '),
      ).toHaveLength(10);
      expect(
        statuses.slice(10).every((s) => s === 429),
        statuses.join(' '),
      ).toBe(true);
    } finally {
      await srv.stop();
      t.cleanup();
    }
  });
});
