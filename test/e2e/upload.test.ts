// Uploads through real server processes with the real clients: twine 4.0.2, poetry 1.3.2, and
// raw multipart where those clients cannot go (Metadata-Version 2.4, races, a client that
// vanishes mid-body). Then real pip installs what was uploaded.
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { copyFile, readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distFile, makeWheel } from '../helpers/dists.js';
import { makePublishableProject, pipByVersion, pipInstall, poetry, twine } from '../helpers/python.js';
import { postForm, uploadBody } from '../helpers/forms.js';
import { startServer, tempDir, waitFor, type RunningServer } from '../helpers/server.js';

const USER = 'uploader';
const PASS = 'up load:pass';
const AUTH = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;

/** A file_upload as twine sends it (name, version, sha256), over fetch. */
async function rawUpload(
  url: string,
  file: { filename: string; bytes: Buffer },
  auth = AUTH,
): Promise<{ status: number; text: string; reason: string }> {
  return postForm(url, uploadBody(file), { authorization: auth });
}

async function page(url: string, project: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/simple/${project}/`, { headers: { accept: 'text/html' } });
  return { status: res.status, body: await res.text() };
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let dir: string;
let cleanup: () => void;
let htpasswd: string;
const servers: RunningServer[] = [];

async function server(root: string, args: string[] = []): Promise<RunningServer> {
  const s = await startServer({ root, args: ['--authenticate', 'update', '--passwords', htpasswd, ...args] });
  servers.push(s);
  return s;
}

beforeAll(() => {
  ({ dir, cleanup } = tempDir('wh-e2e-upload-'));
  htpasswd = path.join(dir, 'htpasswd');
  execFileSync('htpasswd', ['-c', '-b', '-B', '-C', '5', htpasswd, USER, PASS], { stdio: 'ignore' });
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  cleanup?.();
});

function freshRoot(name: string): string {
  const root = path.join(dir, name);
  mkdirSync(root);
  return root;
}

describe('twine upload', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await server(freshRoot('twine'));
  });

  const upload = (repo: string, files: string[], extra: string[] = []) =>
    twine(['upload', '--repository-url', repo, '-u', USER, '-p', PASS, '--non-interactive', '--disable-progress-bar', ...extra, ...files]);

  it('uploads a wheel and an sdist to <url>/ and to <url>/legacy/, and pip installs them from that server', async () => {
    const r1 = await upload(`${srv.url}/`, [distFile('whtest_base-1.0-*.whl'), distFile('whtest-base-1.0.tar.gz')]);
    expect(r1.code, r1.stdout + r1.stderr).toBe(0);
    const r2 = await upload(`${srv.url}/legacy/`, [distFile('whtest_base-1.1-*.whl'), distFile('whtest-base-1.1.tar.gz')]);
    expect(r2.code, r2.stdout + r2.stderr).toBe(0);

    const p = await page(srv.url, 'whtest-base');
    for (const f of [
      'whtest_base-1.0-py2.py3-none-any.whl',
      'whtest-base-1.0.tar.gz',
      'whtest_base-1.1-py2.py3-none-any.whl',
      'whtest-base-1.1.tar.gz',
    ]) {
      expect(p.body).toContain(`>${f}</a>`);
    }
    expect(await readFile(path.join(srv.root, 'whtest_base-1.1-py2.py3-none-any.whl'))).toEqual(
      await readFile(distFile('whtest_base-1.1-*.whl')),
    );

    const newest = await pipInstall(pipByVersion('newest'), `${srv.url}/simple/`, ['whtest-base']);
    expect(newest.result.code, newest.result.stderr).toBe(0);
    expect(newest.installed).toEqual({ 'whtest-base': '1.1' });
    // The oldest pip reads the HTML page and installs from the same upload.
    const oldest = await pipInstall(pipByVersion('18.1'), `${srv.url}/simple/`, ['whtest-base==1.0']);
    expect(oldest.result.code, oldest.result.stderr).toBe(0);
    expect(oldest.installed).toEqual({ 'whtest-base': '1.0' });
  });

  it('re-uploads the same files with success, with and without --skip-existing', async () => {
    const files = [distFile('whtest_base-1.0-*.whl'), distFile('whtest-base-1.0.tar.gz')];
    await upload(`${srv.url}/`, files);
    const again = await upload(`${srv.url}/`, files);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    const skip = await upload(`${srv.url}/`, files, ['--skip-existing']);
    expect(skip.code, skip.stdout + skip.stderr).toBe(0);
  });

  it('fails an upload of other bytes under an existing filename, printing the 409, and --skip-existing skips it', async () => {
    await upload(`${srv.url}/`, [distFile('whtest_base-1.0-*.whl')]);
    const impostor = await makeWheel({ name: 'whtest-base', version: '1.0', tag: 'py2.py3-none-any' });
    expect(impostor.filename).toBe('whtest_base-1.0-py2.py3-none-any.whl');

    const res = await upload(`${srv.url}/`, [impostor.path]);
    const out = (res.stdout + res.stderr).replace(/\s+/g, ' ');
    expect(res.code).not.toBe(0);
    expect(out).toContain('409');
    expect(out).toContain('File already exists: whtest_base-1.0-py2.py3-none-any.whl');

    const skip = await upload(`${srv.url}/`, [impostor.path], ['--skip-existing']);
    expect(skip.code, skip.stdout + skip.stderr).toBe(0);
    // rich wraps twine's output at the terminal width.
    expect((skip.stdout + skip.stderr).replace(/\s+/g, ' ')).toContain(
      'Skipping whtest_base-1.0-py2.py3-none-any.whl because it appears to already exist',
    );
    expect(await readFile(path.join(srv.root, impostor.filename))).toEqual(await readFile(distFile('whtest_base-1.0-*.whl')));
  });
});

describe('poetry publish', () => {
  it('publishes a built project to a named repository, refuses a re-publish cleanly, and pip installs it', async () => {
    const srv = await server(freshRoot('poetry'));
    const proj = path.join(dir, 'poetry-project');
    makePublishableProject(proj, { name: 'whtest-poetrypub', version: '0.1.0', description: 'Published by poetry in wheelhouse tests' });
    const env = {
      POETRY_REPOSITORIES_WHEELHOUSE_URL: `${srv.url}/legacy/`,
      POETRY_HTTP_BASIC_WHEELHOUSE_USERNAME: USER,
      POETRY_HTTP_BASIC_WHEELHOUSE_PASSWORD: PASS,
    };
    const build = await poetry(['build'], { cwd: proj, env });
    expect(build.code, build.stdout + build.stderr).toBe(0);

    const pub = await poetry(['publish', '-r', 'wheelhouse'], { cwd: proj, env });
    expect(pub.code, pub.stdout + pub.stderr).toBe(0);
    const p = await page(srv.url, 'whtest-poetrypub');
    expect(p.body).toContain('>whtest_poetrypub-0.1.0-py3-none-any.whl</a>');
    expect(p.body).toContain('>whtest_poetrypub-0.1.0.tar.gz</a>');

    // Same files again: identical bytes are accepted, as PyPI does.
    const same = await poetry(['publish', '-r', 'wheelhouse'], { cwd: proj, env });
    expect(same.code, same.stdout + same.stderr).toBe(0);

    // A rebuild has new bytes (timestamps): refused with the server's message, no traceback.
    writeFileSync(path.join(proj, 'whtest_poetrypub', '__init__.py'), '__version__ = "0.1.0"  # rebuilt\n');
    const rebuild = await poetry(['build'], { cwd: proj, env });
    expect(rebuild.code).toBe(0);
    const again = await poetry(['publish', '-r', 'wheelhouse'], { cwd: proj, env });
    const out = again.stdout + again.stderr;
    expect(again.code, out).not.toBe(0);
    expect(out).toContain('409');
    expect(out).toContain('File already exists');
    expect(out).not.toContain('Traceback');

    const pip = await pipInstall(pipByVersion('newest'), `${srv.url}/simple/`, ['whtest-poetrypub']);
    expect(pip.result.code, pip.result.stderr).toBe(0);
    expect(pip.installed).toEqual({ 'whtest-poetrypub': '0.1.0' });
  });
});

describe('raw uploads', () => {
  it('takes a Metadata-Version 2.4 wheel (twine 4.0.2 refuses it client-side) and pip installs it', async () => {
    const srv = await server(freshRoot('mv24'));
    const wheel = await makeWheel({ name: 'whtest-modern', version: '2.4.0', metadataVersion: '2.4', requiresPython: '>=3.7' });
    const res = await rawUpload(srv.url, wheel);
    expect(res.status, res.text).toBe(200);
    const p = await page(srv.url, 'whtest-modern');
    expect(p.body).toContain('data-requires-python="&gt;=3.7"');
    const pip = await pipInstall(pipByVersion('newest'), `${srv.url}/simple/`, ['whtest-modern']);
    expect(pip.result.code, pip.result.stderr).toBe(0);
    expect(pip.installed).toEqual({ 'whtest-modern': '2.4.0' });
  });
});

describe('concurrent uploads', () => {
  async function contenders(name: string): Promise<[{ filename: string; bytes: Buffer }, { filename: string; bytes: Buffer }]> {
    const a = await makeWheel({ name, version: '1.0' });
    const b = await makeWheel({ name, version: '1.0', extraFiles: { [`${name}_b.py`]: 'b = 2\n' } });
    expect(a.filename).toBe(b.filename);
    expect(a.bytes.equals(b.bytes)).toBe(false);
    return [a, b];
  }

  async function race(urls: [string, string], name: string, root: string): Promise<void> {
    const [a, b] = await contenders(name);
    const results = await Promise.all([rawUpload(urls[0], a), rawUpload(urls[1], b)]);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses, results.map((r) => `${r.status} ${r.text}`).join(' | ')).toEqual([200, 409]);
    const loser = results.find((r) => r.status === 409)!;
    expect(loser.reason).toContain(`File already exists: ${a.filename}`);
    const winner = results[0].status === 200 ? a : b;
    const stored = await readFile(path.join(root, a.filename));
    expect(sha256(stored)).toBe(sha256(winner.bytes));
    for (const url of urls) {
      // Both processes serve the winner's bytes (the other one after its next poll).
      await waitFor(async () => (await page(url, name.replaceAll('_', '-'))).body.includes(`#sha256=${sha256(winner.bytes)}`), 5000);
      const served = Buffer.from(await (await fetch(`${url}/packages/${a.filename}`)).arrayBuffer());
      expect(sha256(served)).toBe(sha256(winner.bytes));
    }
    expect(await readdir(path.join(root, '.wheelhouse', 'incoming'))).toEqual([]);
  }

  it('lets exactly one of two different uploads of one filename win on one process', async () => {
    const root = freshRoot('race-one');
    const srv = await server(root);
    for (let i = 0; i < 5; i++) await race([srv.url, srv.url], `race_one_${i}`, root);
  });

  it('lets exactly one of two different uploads of one filename win across two processes on one directory', async () => {
    const root = freshRoot('race-two');
    const [s1, s2] = await Promise.all([server(root), server(root)]);
    for (let i = 0; i < 5; i++) await race([s1.url, s2.url], `race_two_${i}`, root);
  });

  it('lists all of ten different files uploaded at once', async () => {
    const root = freshRoot('ten');
    const srv = await server(root);
    const wheels = await Promise.all(Array.from({ length: 10 }, (_, i) => makeWheel({ name: 'whtest-ten', version: `1.${i}` })));
    const results = await Promise.all(wheels.map((w) => rawUpload(srv.url, w)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    const p = await page(srv.url, 'whtest-ten');
    for (const w of wheels) expect(p.body).toContain(`${w.filename}#sha256=${sha256(w.bytes)}`);
    const json = await (
      await fetch(`${srv.url}/simple/whtest-ten/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })
    ).json();
    expect(json.versions).toHaveLength(10);
  });
});

describe('a client that disconnects mid-upload', () => {
  it('leaves the server healthy, nothing in incoming and nothing listed', async () => {
    const root = freshRoot('disconnect');
    const srv = await server(root);
    const wheel = await makeWheel({ name: 'whtest-halfway', version: '1.0' });
    const big = { filename: wheel.filename, bytes: Buffer.concat([wheel.bytes, randomBytes(4 * 1024 * 1024)]) };
    const { payload: body, headers } = uploadBody(big);
    const contentType = headers['content-type']!;

    const sock = connect(srv.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    sock.write(
      `POST / HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\nAuthorization: ${AUTH}\r\n` +
        `Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    sock.write(body.subarray(0, body.length / 2));
    // Wait until the server has started writing the upload, then vanish.
    const incoming = path.join(root, '.wheelhouse', 'incoming');
    await waitFor(async () => (await readdir(incoming)).length > 0, 10_000);
    sock.destroy();

    await waitFor(async () => (await readdir(incoming)).length === 0, 5000);
    const health = await fetch(`${srv.url}/health`);
    expect(health.status).toBe(200);
    expect((await page(srv.url, 'whtest-halfway')).status).toBe(404);
    expect((await readdir(root)).filter((n) => !n.startsWith('.'))).toEqual([]);
    // And it still takes a whole upload.
    const res = await rawUpload(srv.url, wheel);
    expect(res.status, res.text).toBe(200);
  });
});

// Copies are how an operator seeds a volume; an upload must not disturb files it did not name.
describe('uploads beside files copied in by hand', () => {
  it('keeps a hand-copied file listed after an upload of another', async () => {
    const root = freshRoot('beside');
    await copyFile(distFile('whtest_top-1.0-*.whl'), path.join(root, 'whtest_top-1.0-py2.py3-none-any.whl'));
    const srv = await server(root);
    const res = await rawUpload(srv.url, await makeWheel({ name: 'whtest-beside', version: '1.0' }));
    expect(res.status).toBe(200);
    expect((await page(srv.url, 'whtest-top')).status).toBe(200);
    expect((await page(srv.url, 'whtest-beside')).status).toBe(200);
  });
});
