// HTTP as it crosses the wire to the real process, where inject() cannot look: status lines by
// protocol version, request targets no client library would send, HEAD and resumed downloads,
// one keep-alive socket for many requests, and files dropped into the root by hand.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyDists, makeWheel } from '../helpers/dists.js';
import { startServer, tempDir, waitFor, type RunningServer } from '../helpers/server.js';

interface RawResponse {
  statusLine: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Writes bytes to the server as they are and reads until the server closes the socket. */
function raw(port: number, request: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      if (split < 0) {
        reject(new Error(`no complete response: ${JSON.stringify(all.toString('latin1'))}`));
        return;
      }
      const [statusLine, ...lines] = all.subarray(0, split).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ statusLine: statusLine!, status: Number(statusLine!.split(' ')[1]), headers, body: all.subarray(split + 4) });
    });
  });
}

const get = (target: string, headers: Record<string, string> = {}, method = 'GET'): string =>
  `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}Connection: close\r\n\r\n`;

let dir: string;
let cleanup: () => void;
let root: string;
let srv: RunningServer;
let small: { name: string; bytes: Buffer };
let big: { name: string; bytes: Buffer };
const SECRET = `wheelhouse-outside-the-root-${randomBytes(8).toString('hex')}`;
const PASSWD = await readFile('/etc/passwd', 'latin1');

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('wh-e2e-http-'));
  root = path.join(dir, 'packages');
  await mkdir(path.join(root, 'team'), { recursive: true });
  // Things beside the root that a traversal would reach: a file with a distribution's name.
  await writeFile(path.join(dir, 'secret-1.0.tar.gz'), SECRET);
  await writeFile(path.join(root, '.secret-1.0.tar.gz'), SECRET);
  const [smallPath] = await copyDists(['whtest_base-1.0-*.whl'], root);
  await copyDists(['whtest_chain_*.whl', 'WHTest_Odd.Name-1.0-*.whl'], path.join(root, 'team'));
  // Above --file-cache-max-file (256 KiB here): served from disk, not from memory.
  const made = await makeWheel({
    name: 'whtest-big',
    version: '1.0',
    extraFiles: { 'whtest_big_data.txt': randomBytes(600_000).toString('base64') },
  });
  await copyFile(made.path, path.join(root, made.filename));
  await rm(path.dirname(made.path), { recursive: true, force: true });
  small = { name: path.basename(smallPath!), bytes: await readFile(smallPath!) };
  big = { name: made.filename, bytes: made.bytes };
  expect(big.bytes.length).toBeGreaterThan(256 * 1024);

  // No periodic rescan during the test: a file dropped in by hand can only show through the watcher.
  srv = await startServer({
    root,
    args: ['--authenticate', '.', '--passwords', '.', '--rescan-interval', '1h', '--file-cache-max-file', '256KiB'],
  });
});

afterAll(async () => {
  await srv?.stop();
  cleanup?.();
});

describe("pypiserver's /<project>/ redirect", () => {
  it('answers 303 See Other to HTTP/1.1 and 302 Found to HTTP/1.0, to the normalized simple page', async () => {
    const v11 = await raw(srv.port, get('/WHTest_Odd.Name/'));
    expect(v11.statusLine).toBe('HTTP/1.1 303 See Other');
    expect(v11.headers.location).toBe('/simple/whtest-odd-name/');

    // An HTTP/1.0 client knows no 303 (RFC 1945); 1.0 requests often come without a Host header.
    const v10 = await raw(srv.port, 'GET /WHTest_Odd.Name/ HTTP/1.0\r\n\r\n');
    expect(v10.status).toBe(302);
    expect(v10.headers.location).toBe('/simple/whtest-odd-name/');

    const noSlash = await raw(srv.port, get('/whtest-chain-a'));
    expect(noSlash.status).toBe(303);
    expect(noSlash.headers.location).toBe('/simple/whtest-chain-a/');
  });
});

describe('path traversal sent raw on the wire', () => {
  it('serves a file of the root to a plain request (the probe can see a file when there is one)', async () => {
    const res = await raw(srv.port, get(`/packages/${small.name}`));
    expect(res.status).toBe(200);
    expect(res.body.equals(small.bytes)).toBe(true);
    const nested = await raw(srv.port, get('/packages/team/whtest_chain_a-1.0-py2.py3-none-any.whl'));
    expect(nested.status).toBe(200);
  });

  const targets = [
    '/packages/../../etc/passwd',
    '/packages/../../../../../../../../etc/passwd',
    '/packages/..%2f..%2fetc%2fpasswd',
    '/packages/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd',
    '/packages/%2e%2e/%2e%2e/etc/passwd',
    '/packages/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/packages/%252e%252e%252f%252e%252e%252fetc%252fpasswd',
    '/packages/..\\..\\..\\..\\etc\\passwd',
    '/packages/..%5c..%5c..%5c..%5cetc%5cpasswd',
    '//etc/passwd',
    '/packages//etc/passwd',
    '/packages/%2fetc%2fpasswd',
    '/packages/etc/passwd%00.whl',
    '/packages/%00../../etc/passwd',
    '/../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/simple/../../etc/passwd',
    '/packages/team/../../secret-1.0.tar.gz',
    '/packages/team/..%2f..%2fsecret-1.0.tar.gz',
    '/packages/../secret-1.0.tar.gz',
    '/packages/%2e%2e/secret-1.0.tar.gz',
    '/packages/..%2fsecret-1.0.tar.gz',
    '/packages/.secret-1.0.tar.gz',
    '/packages/.wheelhouse/generation',
    'http://127.0.0.1/packages/../../etc/passwd',
  ];
  it.each(targets)('never answers %s with a file from outside the root', async (target) => {
    const res = await raw(srv.port, get(target));
    const text = res.body.toString('latin1');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(PASSWD.split('\n')[0]);
    expect(res.status, `${target} -> ${res.statusLine}`).toBe(404);
  });

  it('answers 400 to a target that is not valid percent-encoded UTF-8, such as overlong dots', async () => {
    for (const target of [
      '/packages/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
      '/packages/%ff%fe/etc/passwd',
      '/packages/%e0%80%ae%e0%80%ae/secret-1.0.tar.gz',
    ]) {
      const res = await raw(srv.port, get(target));
      expect(res.status, target).toBe(400);
      expect(res.body.toString('latin1')).not.toContain(SECRET);
    }
  });

  it('keeps a NUL, CR or LF in a requested name out of the status line and the headers', async () => {
    for (const target of ['/packages/x%0d%0aSet-Cookie:%20a=b.whl', '/packages/x%0aX-Evil:%201.whl', '/packages/x%00y.whl']) {
      const res = await raw(srv.port, get(target));
      expect(res.status, target).toBe(404);
      expect(/[\0\r\n]/.test(res.statusLine), JSON.stringify(res.statusLine)).toBe(false);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.headers['x-evil']).toBeUndefined();
    }
  });
});

describe('downloads', () => {
  for (const which of ['small', 'big'] as const) {
    it(`HEAD on a ${which} file gives its Content-Length and no body`, async () => {
      const file = which === 'small' ? small : big;
      const res = await raw(srv.port, get(`/packages/${file.name}`, {}, 'HEAD'));
      expect(res.status).toBe(200);
      expect(Number(res.headers['content-length'])).toBe(file.bytes.length);
      expect(res.headers.etag).toMatch(/^"[0-9a-f]{64}"$/);
      expect(res.body.length).toBe(0);
    });

    it(`resumes a ${which} file as pip does: Range bytes=N- with If-Range gives 206 and the rest`, async () => {
      const file = which === 'small' ? small : big;
      const first = await raw(srv.port, get(`/packages/${file.name}`));
      expect(first.status).toBe(200);
      expect(first.body.equals(file.bytes)).toBe(true);
      const { etag } = first.headers;
      const lastModified = first.headers['last-modified']!;
      const n = Math.floor(file.bytes.length / 3);

      for (const validator of [etag!, lastModified]) {
        const res = await raw(srv.port, get(`/packages/${file.name}`, { Range: `bytes=${n}-`, 'If-Range': validator }));
        expect(res.status, validator).toBe(206);
        expect(res.headers['content-range']).toBe(`bytes ${n}-${file.bytes.length - 1}/${file.bytes.length}`);
        expect(Number(res.headers['content-length'])).toBe(file.bytes.length - n);
        expect(res.body.equals(file.bytes.subarray(n))).toBe(true);
      }

      // The file changed since the first bytes were fetched: the whole file, not a splice.
      const stale = await raw(srv.port, get(`/packages/${file.name}`, { Range: `bytes=${n}-`, 'If-Range': `"${'0'.repeat(64)}"` }));
      expect(stale.status).toBe(200);
      expect(stale.body.equals(file.bytes)).toBe(true);

      const past = await raw(srv.port, get(`/packages/${file.name}`, { Range: `bytes=${file.bytes.length}-`, 'If-Range': etag! }));
      expect(past.status).toBe(416);
      expect(past.headers['content-range']).toBe(`bytes */${file.bytes.length}`);
    });
  }
});

describe('keep-alive', () => {
  it('answers 100 requests of every kind on one socket', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<Socket>();
    const send = (method: string, p: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; body: Buffer; headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: srv.port, method, path: p, headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), headers: res.headers }));
          res.on('error', reject);
        });
        req.on('socket', (s) => sockets.add(s));
        req.on('error', reject);
        req.end();
      });

    const page = await send('GET', '/simple/whtest-base/', { accept: 'text/html' });
    const etag = page.headers.etag as string;
    const rounds: [string, string, Record<string, string>, number, (b: Buffer) => boolean][] = [
      ['GET', '/simple/', {}, 200, (b) => b.includes('whtest-base')],
      ['GET', '/simple/whtest-base/', { accept: 'text/html', 'if-none-match': etag }, 304, (b) => b.length === 0],
      [
        'GET',
        '/simple/whtest-base/',
        { accept: 'application/vnd.pypi.simple.v1+json' },
        200,
        (b) => JSON.parse(b.toString()).name === 'whtest-base',
      ],
      ['GET', '/whtest-base/', {}, 303, (b) => b.length === 0],
      ['GET', `/packages/${small.name}`, {}, 200, (b) => b.equals(small.bytes)],
      ['HEAD', `/packages/${big.name}`, {}, 200, (b) => b.length === 0],
      ['GET', `/packages/${big.name}`, { range: 'bytes=1000-1999' }, 206, (b) => b.equals(big.bytes.subarray(1000, 2000))],
      ['GET', '/simple/no-such-project/', {}, 404, () => true],
      ['GET', '/packages/../../etc/passwd', {}, 404, (b) => !b.includes('root:')],
      ['GET', '/health', {}, 200, (b) => JSON.parse(b.toString()).status === 'ok'],
    ];
    for (let i = 0; i < 99; i++) {
      const [method, p, headers, status, ok] = rounds[i % rounds.length]!;
      const res = await send(method, p, headers);
      expect(res.status, `${i}: ${method} ${p}`).toBe(status);
      expect(ok(res.body), `${i}: ${method} ${p}`).toBe(true);
    }
    // Once more in full: a whole 600 KB stream leaves the socket usable too.
    const whole = await send('GET', `/packages/${big.name}`);
    expect(whole.body.equals(big.bytes)).toBe(true);
    agent.destroy();
    expect(sockets.size).toBe(1);
  });
});

describe('files dropped into the root by hand', () => {
  const listed = async (url: string, project: string, filename: string): Promise<boolean> => {
    const res = await fetch(`${url}/simple/${project}/`, { headers: { accept: 'text/html' } });
    return res.status === 200 && (await res.text()).includes(`>${filename}</a>`);
  };

  // About 0.45 s here (chokidar's 300 ms write-settle time, a 100 ms debounce, the rescan); the
  // bound leaves room for a machine busy with the other suites, and the control waits longer.
  const BOUND_MS = 2_000;

  it('appear on /simple/ within about a second and vanish when removed, without a restart', async () => {
    const wheel = await makeWheel({ name: 'whtest-dropped', version: '1.0' });
    const dest = path.join(root, 'team', wheel.filename);
    const t0 = Date.now();
    await copyFile(wheel.path, dest);
    await waitFor(() => listed(srv.url, 'whtest-dropped', wheel.filename), BOUND_MS, 20);
    const seenAfter = Date.now() - t0;
    const dl = await fetch(`${srv.url}/packages/team/${wheel.filename}`);
    expect(dl.status).toBe(200);
    expect(Buffer.from(await dl.arrayBuffer()).equals(wheel.bytes)).toBe(true);

    const t1 = Date.now();
    await rm(dest);
    await waitFor(async () => (await fetch(`${srv.url}/simple/whtest-dropped/`)).status === 404, BOUND_MS, 20);
    const goneAfter = Date.now() - t1;
    await rm(path.dirname(wheel.path), { recursive: true, force: true });
    console.log(`dropped file listed after ${seenAfter} ms, removed file gone after ${goneAfter} ms`);
  });

  it('stay unseen until the next rescan when the watcher is off (what makes the watcher the cause above)', async () => {
    const otherRoot = path.join(dir, 'unwatched');
    await mkdir(otherRoot);
    const other = await startServer({
      root: otherRoot,
      args: ['--authenticate', '.', '--passwords', '.', '--rescan-interval', '1h', '--watch', 'off'],
    });
    try {
      const wheel = await makeWheel({ name: 'whtest-dropped', version: '1.0' });
      await copyFile(wheel.path, path.join(otherRoot, wheel.filename));
      await rm(path.dirname(wheel.path), { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, BOUND_MS + 500));
      expect(await listed(other.url, 'whtest-dropped', wheel.filename)).toBe(false);
    } finally {
      await other.stop();
    }
  });
});

describe('operations endpoints', () => {
  it('/health answers 200 with JSON about the index', async () => {
    const res = await raw(srv.port, get('/health'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(res.body.toString()) as { status: string; files: number; projects: number };
    expect(body.status).toBe('ok');
    expect(body.files).toBeGreaterThanOrEqual(6);
    expect(body.projects).toBeGreaterThanOrEqual(6);
  });

  it('/metrics answers Prometheus text exposition, not JSON', async () => {
    const res = await raw(srv.port, get('/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body.toString();
    expect(() => JSON.parse(text)).toThrow();
    const sample =
      /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|NaN|[+-]Inf)( -?[0-9]+)?$/;
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
      expect(line).toMatch(sample);
    }
    const health = JSON.parse((await raw(srv.port, get('/health'))).body.toString()) as { files: number };
    expect(text).toMatch(new RegExp(`^wheelhouse_index_files ${health.files}$`, 'm'));
    expect(text).toMatch(/^# TYPE wheelhouse_http_request_duration_seconds histogram$/m);
  });
});
