// A server killed with SIGKILL in the middle of an upload: no partial file may ever be visible,
// the temp file it leaves is never listed and is swept once old, and a restart serves the
// volume as it was before the upload began.
import { createHash, randomBytes } from 'node:crypto';
import { readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWheel } from '../helpers/dists.js';
import { formAround, postForm, uploadBody } from '../helpers/forms.js';
import { startServer, tempDir, waitFor, type RunningServer } from '../helpers/server.js';

async function upload(url: string, file: { filename: string; bytes: Buffer }): Promise<number> {
  return (await postForm(url, uploadBody(file))).status;
}

const OPEN = ['--authenticate', '.', '--passwords', '.'];
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const visible = async (root: string): Promise<string[]> => (await readdir(root)).filter((n) => !n.startsWith('.'));

let root: string;
let cleanup: () => void;
const servers: RunningServer[] = [];

beforeAll(() => {
  ({ dir: root, cleanup } = tempDir('wh-e2e-crash-'));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  cleanup?.();
});

describe('a server killed in the middle of an upload', () => {
  let incoming: string;
  let before: { filename: string; bytes: Buffer };
  let leftover: string;

  it('shows no partial file, before or after a restart', async () => {
    incoming = path.join(root, '.wheelhouse', 'incoming');
    const first = await startServer({ root, args: OPEN });
    servers.push(first);
    before = await makeWheel({ name: 'whtest-survivor', version: '1.0' });
    expect(await upload(first.url, before)).toBe(200);

    // A 64 MiB upload streamed slowly on a raw socket, so the kill lands mid-body.
    const doomed = await makeWheel({ name: 'whtest-doomed', version: '1.0' });
    const { head, tail, contentType } = formAround(
      { ':action': 'file_upload', protocol_version: '1', name: 'whtest-doomed', version: '1.0' },
      doomed.filename,
    );
    const total = head.length + 64 * 1024 * 1024 + tail.length;
    const sock: Socket = connect(first.port, '127.0.0.1');
    sock.on('error', () => {}); // the peer dies: expected
    await new Promise<void>((resolve) => sock.once('connect', resolve));
    sock.write(`POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nContent-Length: ${total}\r\n\r\n`);
    sock.write(head);
    sock.write(doomed.bytes);
    const chunk = randomBytes(256 * 1024);
    const pump = setInterval(() => sock.write(chunk), 20);
    try {
      const part = await waitFor(async () => {
        const names = (await readdir(incoming)).filter((n) => n.endsWith('.part'));
        if (names.length !== 1) return null;
        const st = await stat(path.join(incoming, names[0]!));
        return st.size > 1024 * 1024 ? names[0] : null;
      }, 20_000);
      leftover = part!;
      await first.stop('SIGKILL');
    } finally {
      clearInterval(pump);
      sock.destroy();
    }
    expect(first.proc.signalCode).toBe('SIGKILL');

    // The volume: the earlier upload, the temp file in incoming, nothing else.
    expect(await visible(root)).toEqual([before.filename]);
    expect(await readdir(incoming)).toEqual([leftover]);

    const second = await startServer({ root, args: OPEN });
    servers.push(second);
    const index = await (await fetch(`${second.url}/simple/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json();
    expect(index.projects).toEqual([{ name: 'whtest-survivor' }]);
    expect((await fetch(`${second.url}/simple/whtest-doomed/`)).status).toBe(404);
    const all = await (await fetch(`${second.url}/packages/`)).text();
    expect(all).toContain(before.filename);
    expect(all).not.toContain('doomed');
    expect(all).not.toContain('.part');
    expect(all).not.toContain(leftover);
    const served = Buffer.from(await (await fetch(`${second.url}/packages/${before.filename}`)).arrayBuffer());
    expect(sha256(served)).toBe(sha256(before.bytes));
    // The name the dead upload wanted is free: a whole upload of it now succeeds.
    expect(await upload(second.url, doomed)).toBe(200);
    expect((await fetch(`${second.url}/simple/whtest-doomed/`)).status).toBe(200);
    await second.stop();
  });

  // The sweep runs after each periodic full rescan and takes temp files older than one hour
  // (not configurable), so the leftover is aged by hand.
  it('never lists the leftover temp file, and sweeps it once it is old while a young one stays', async () => {
    expect(leftover).toBeDefined();
    const young = path.join(incoming, `${Date.now()}-young.part`);
    await writeFile(young, 'an upload in flight on another task');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(path.join(incoming, leftover), twoHoursAgo, twoHoursAgo);

    const srv = await startServer({ root, args: [...OPEN, '--rescan-interval', '1s'] });
    servers.push(srv);
    await waitFor(async () => !(await readdir(incoming)).includes(leftover), 10_000, 100);
    expect(await readdir(incoming)).toEqual([path.basename(young)]);
    const all = await (await fetch(`${srv.url}/packages/`)).text();
    expect(all).not.toContain('.part');
    const health = await (await fetch(`${srv.url}/health`)).json();
    expect(health).toMatchObject({ status: 'ok', projects: 2, files: 2 });
    await srv.stop();
  });
});
