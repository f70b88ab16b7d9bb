// The volume failing under the server: out of inodes, read-only. A refused write answers 507 or
// 503 (never the client's 400), is logged at error level and counted, and leaves the volume as it
// was; a read-only volume is still served in full. Real file systems (tmpfs with a few inodes, a
// read-only bind mount), as the failures are the kernel's.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createServer, type Server } from '../../src/server.js';
import { makeWheel } from '../helpers/dists.js';
import { uploadBody } from '../helpers/forms.js';
import { fillInodes, mountReadOnly, mountTmpfs, type Mount } from '../helpers/mounts.js';
import { tempDir } from '../helpers/server.js';

type Wheel = { path: string; filename: string; bytes: Buffer };
let alpha: Wheel;
let beta: Wheel;
beforeAll(async () => {
  alpha = await makeWheel({ name: 'alpha', version: '1.0' });
  beta = await makeWheel({ name: 'beta', version: '2.0' });
});

const undo: (() => void)[] = [];
afterEach(() => {
  for (const u of undo.splice(0).reverse()) u();
});

/** A started server (in-process) whose log lines the test can read. */
async function serve(root: string): Promise<{ server: Server; logs: { level: number; msg: string; [k: string]: unknown }[] }> {
  const logs: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      logs.push(JSON.parse(String(chunk)) as { level: number; msg: string });
      done();
    },
  });
  const config = loadConfig(['--root', root, '-a', '.', '-P', '.', '--log-level', 'warn'], {});
  const server = await createServer(config, { log: pino({ level: 'warn' }, stream) });
  await server.load();
  undo.push(() => void server.close());
  return { server, logs };
}

function visible(root: string): string[] {
  return readdirSync(root).filter((n) => !n.startsWith('.'));
}

async function storageErrors(server: Server): Promise<string> {
  const text = (await server.app.inject('/metrics')).body;
  return text
    .split('\n')
    .filter((l) => l.startsWith('wheelhouse_storage_errors_total{'))
    .join('\n');
}

describe('a volume out of inodes', () => {
  let mount: Mount;
  let root: string;
  let cleanupMount: () => void;
  beforeAll(() => {
    const t = tempDir('wh-full-');
    mount = mountTmpfs(path.join(t.dir, 'vol'), { inodes: 400 });
    root = mount.path;
    cleanupMount = () => {
      mount.unmount();
      t.cleanup();
    };
  });
  afterAll(() => cleanupMount());

  it('answers 507 when the upload cannot even be staged, logs it at error level and counts it', async () => {
    const t = tempDir('wh-full-a-');
    const m = mountTmpfs(path.join(t.dir, 'vol'), { inodes: 200 });
    undo.push(() => {
      m.unmount();
      t.cleanup();
    });
    const { server, logs } = await serve(m.path);
    const release = fillInodes(path.join(m.path, '.filler'), 0);
    undo.push(release);
    const res = await server.app.inject({ method: 'POST', url: '/', ...uploadBody(alpha) });
    expect(res.statusCode).toBe(507);
    expect(res.body).toMatch(/The package volume is full \(ENOSPC\); nothing was stored/);
    expect(visible(m.path)).toEqual([]);
    expect(readdirSync(path.join(m.path, '.wheelhouse', 'incoming'))).toEqual([]);
    expect(logs.some((l) => l.level >= 50 && l.msg === 'the package volume refused a write')).toBe(true);
    expect(await storageErrors(server)).toContain('code="WH_ERR_STORAGE_FULL",errno="ENOSPC"} 1');
  });

  it('undoes a publish whose generation bump fails, so no file stays unlisted, and a retry lists it', async () => {
    const { server } = await serve(root);
    // One free inode: enough to stage the upload (a link adds no inode), not for the bump's temp file.
    const release = fillInodes(path.join(root, '.filler'), 1);
    undo.push(release);
    const res = await server.app.inject({ method: 'POST', url: '/', ...uploadBody(alpha) });
    expect(res.statusCode, res.body).toBe(507);
    expect(visible(root)).toEqual([]);
    expect(readdirSync(path.join(root, '.wheelhouse', 'incoming'))).toEqual([]);
    expect((await server.app.inject('/simple/alpha/')).statusCode).toBe(404);

    release();
    const retry = await server.app.inject({ method: 'POST', url: '/', ...uploadBody(alpha) });
    expect(retry.statusCode, retry.body).toBe(200);
    expect(retry.body).toContain(`Stored ${alpha.filename}`);
    expect(visible(root)).toEqual([alpha.filename]);
    expect((await server.app.inject('/simple/alpha/')).body).toContain(alpha.filename);
  });
});

describe('a file on the volume that no task lists (its writer died before announcing it)', () => {
  it('is listed everywhere once the same bytes are uploaded again, instead of "already here" about a file nobody serves', async () => {
    const t = tempDir('wh-orphan-');
    undo.push(t.cleanup);
    const a = await serve(t.dir);
    const b = await serve(t.dir);
    copyFileSync(alpha.path, path.join(t.dir, alpha.filename)); // as a writer killed after link()
    expect((await a.server.app.inject('/simple/alpha/')).statusCode).toBe(404);
    const res = await a.server.app.inject({ method: 'POST', url: '/', ...uploadBody(alpha) });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('already here with the same content');
    expect((await a.server.app.inject('/simple/alpha/')).body).toContain(alpha.filename);
    // The generation was bumped: another process lists it at its next poll.
    expect(await b.server.live.poll()).toBe(true);
    expect((await b.server.app.inject('/simple/alpha/')).body).toContain(alpha.filename);
  });
});

describe('a read-only volume', () => {
  it('serves every file it holds and stays healthy, although no sidecar can be written', async () => {
    const src = tempDir('wh-ro-src-');
    const target = tempDir('wh-ro-');
    copyFileSync(alpha.path, path.join(src.dir, alpha.filename));
    copyFileSync(beta.path, path.join(src.dir, beta.filename));
    const m = mountReadOnly(src.dir, path.join(target.dir, 'vol'));
    undo.push(() => {
      m.unmount();
      src.cleanup();
      target.cleanup();
    });
    const { server, logs } = await serve(m.path);
    const health = await server.app.inject('/health');
    expect(health.statusCode, health.body).toBe(200);
    expect(health.json()).toMatchObject({ status: 'ok', projects: 2, files: 2 });
    expect((await server.app.inject('/simple/alpha/')).body).toContain(alpha.filename);
    const file = await server.app.inject(`/packages/${beta.filename}`);
    expect(file.statusCode).toBe(200);
    expect(file.rawPayload.equals(beta.bytes)).toBe(true);
    expect(logs.some((l) => /read-only/.test(l.msg))).toBe(true);
    // After a poll too: a state folder that never existed here is not a vanished volume.
    await server.live.poll();
    expect((await server.app.inject('/health')).statusCode).toBe(200);

    const res = await server.app.inject({ method: 'POST', url: '/', ...uploadBody(alpha) });
    expect(res.statusCode).toBe(503);
    expect(res.body).toMatch(/The package volume cannot be written \(E(ROFS|NOENT)\)/);
    expect(await storageErrors(server)).toContain('WH_ERR_STORAGE_UNAVAILABLE');
  });

  it('serves files whose sidecars cannot be written when only meta/ is read-only', async () => {
    const t = tempDir('wh-ro-meta-');
    undo.push(t.cleanup);
    copyFileSync(alpha.path, path.join(t.dir, alpha.filename));
    const meta = path.join(t.dir, '.wheelhouse', 'meta');
    mkdirSync(meta, { recursive: true });
    const m = mountReadOnly(meta, meta);
    undo.push(() => m.unmount());
    const { server, logs } = await serve(t.dir);
    expect((await server.app.inject('/health')).json()).toMatchObject({ status: 'ok', files: 1 });
    expect((await server.app.inject('/simple/alpha/')).body).toContain(alpha.filename);
    expect(logs.some((l) => l.msg.includes('sidecars could not be written'))).toBe(true);
  });
});
