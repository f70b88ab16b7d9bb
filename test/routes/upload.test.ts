// The legacy upload API over inject(), with multipart bodies written byte by byte so every
// filename and field reaches the server exactly as sent. Every refused upload must answer 4xx
// with its reason in the status line and body (twine prints both) and leave the volume as
// it was.
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { makeWheel } from '../helpers/dists.js';
import { multipart, uploadBody } from '../helpers/forms.js';
import { tempDir } from '../helpers/server.js';

/** Every path under the volume, the state folder included, sorted. */
async function listVolume(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true });
  return entries.map((e) => e.split(path.sep).join('/')).sort();
}

async function incoming(root: string): Promise<string[]> {
  return readdir(path.join(root, '.wheelhouse', 'incoming'));
}

function expectRefused(res: LightMyRequestResponse, status: number, message: string | RegExp): void {
  expect(res.statusCode, res.body).toBe(status);
  if (typeof message === 'string') {
    expect(res.body).toContain(message);
    expect(res.statusMessage).toContain(message);
  } else {
    expect(res.body).toMatch(message);
    expect(res.statusMessage).toMatch(message);
  }
}

let app: FastifyInstance;
const cleanups: (() => void)[] = [];
const apps: FastifyInstance[] = [];

async function freshApp(args: string[] = []): Promise<{ app: FastifyInstance; root: string }> {
  const t = tempDir('wh-upload-');
  cleanups.push(t.cleanup);
  const built = await buildTestApp(t.dir, args);
  apps.push(built.app);
  return { app: built.app, root: t.dir };
}

type Wheel = { filename: string; bytes: Buffer };
let good: Wheel; // demo_pkg 1.0, never uploaded: the base of the refused cases
let other: Wheel; // other_pkg 1.0 in a file named demo_pkg-1.0-...
let v2AsV1: Wheel; // demo_pkg 2.0 in a file named demo_pkg-1.0-...
let noMeta: Wheel;

beforeAll(async () => {
  ({ app } = await freshApp());
  good = await makeWheel({ name: 'demo_pkg', version: '1.0' });
  const o = await makeWheel({ name: 'other_pkg', version: '1.0', filenameName: 'demo_pkg' });
  other = { filename: o.filename, bytes: o.bytes };
  const w2 = await makeWheel({ name: 'demo_pkg', version: '2.0' });
  v2AsV1 = { filename: 'demo_pkg-1.0-py3-none-any.whl', bytes: w2.bytes };
  noMeta = await makeWheel({ name: 'demo_pkg', version: '1.0', omitMetadata: true });
});

afterAll(async () => {
  for (const a of apps) await a.close();
  for (const c of cleanups) c();
});

interface BadCase {
  title: string;
  body: () => { payload: Buffer; headers: Record<string, string> };
  status: number;
  message: string | RegExp;
}

const wheelNamed = (filename: string, bytes?: Buffer): Wheel => ({ filename, bytes: bytes ?? good.bytes });

const BAD: BadCase[] = [
  {
    title: 'a filename that is no wheel or sdist name',
    body: () => uploadBody(wheelNamed('demo_pkg-1.0.whl')),
    status: 400,
    message: 'Invalid distribution filename "demo_pkg-1.0.whl"',
  },
  {
    title: 'a wheel filename without a version',
    body: () => uploadBody(wheelNamed('demo_pkg.whl')),
    status: 400,
    message: 'Invalid distribution filename',
  },
  {
    title: 'an egg',
    body: () => uploadBody(wheelNamed('demo_pkg-1.0-py3.11.egg')),
    status: 400,
    message: /Invalid distribution filename.*PEP 527/,
  },
  {
    title: 'a .tar.bz2 sdist',
    body: () => uploadBody(wheelNamed('demo_pkg-1.0.tar.bz2')),
    status: 400,
    message: /Invalid distribution filename.*PEP 527/,
  },
  {
    title: 'a Windows installer',
    body: () => uploadBody(wheelNamed('demo_pkg-1.0.win32.exe')),
    status: 400,
    message: /Invalid distribution filename.*PEP 527/,
  },
  {
    title: 'a name field naming another project',
    body: () => uploadBody(good, { fields: { name: 'other-pkg' } }),
    status: 400,
    message: "The name field 'other-pkg' does not match the file",
  },
  {
    title: 'a version field naming another version',
    body: () => uploadBody(good, { fields: { version: '1.1' } }),
    status: 400,
    message: "The version field '1.1' does not match the file",
  },
  {
    title: 'a wrong sha256_digest',
    body: () => uploadBody(good, { fields: { sha256_digest: '0'.repeat(64) } }),
    status: 400,
    message: 'The digest supplied does not match a digest calculated from the uploaded file (sha256_digest)',
  },
  {
    title: 'a wrong md5_digest',
    body: () => uploadBody(good, { fields: { md5_digest: '0'.repeat(32) } }),
    status: 400,
    message: 'does not match a digest calculated from the uploaded file (md5_digest)',
  },
  {
    title: 'a wrong blake2_256_digest',
    body: () => uploadBody(good, { fields: { blake2_256_digest: '0'.repeat(64) } }),
    status: 400,
    message: 'does not match a digest calculated from the uploaded file (blake2_256_digest)',
  },
  {
    title: 'a filetype that disagrees with the extension',
    body: () => uploadBody(good, { fields: { filetype: 'sdist' } }),
    status: 400,
    message: "filetype 'sdist' does not match the file",
  },
  {
    title: 'a wheel that is not a zip',
    body: () => uploadBody(wheelNamed(good.filename, Buffer.from('this is not a zip file\n'.repeat(50)))),
    status: 400,
    message: /Invalid distribution "demo_pkg-1\.0-py3-none-any\.whl": not a valid zip file/,
  },
  {
    title: 'a wheel without *.dist-info/METADATA',
    body: () => uploadBody(noMeta),
    status: 400,
    message: 'no *.dist-info/METADATA in the wheel',
  },
  {
    title: 'a wheel whose METADATA names another project',
    body: () => uploadBody(other),
    status: 400,
    message: "names the project 'other_pkg', not 'demo_pkg'",
  },
  {
    title: 'a wheel whose METADATA has another version',
    body: () => uploadBody(v2AsV1),
    status: 400,
    message: "has version '2.0', not '1.0'",
  },
  {
    title: 'a filename with ../',
    body: () => uploadBody(good, { filename: `../${good.filename}` }),
    status: 400,
    message: 'Invalid distribution filename',
  },
  {
    title: 'a filename with a folder',
    body: () => uploadBody(good, { filename: `a/${good.filename}` }),
    status: 400,
    message: 'Invalid distribution filename',
  },
  // '\\' on the wire is one backslash once the quoted-string is unescaped.
  {
    title: 'a filename with a backslash',
    body: () => uploadBody(good, { filename: `..\\\\${good.filename}` }),
    status: 400,
    message: 'Invalid distribution filename',
  },
  {
    title: 'a filename with a NUL byte',
    body: () => uploadBody(good, { filename: `demo_pkg\0-1.0-py3-none-any.whl` }),
    status: 400,
    message: 'Invalid distribution filename',
  },
  {
    title: 'an absolute filename',
    body: () => uploadBody(good, { filename: `/tmp/${good.filename}` }),
    status: 400,
    message: 'Invalid distribution filename',
  },
  {
    title: 'an empty file',
    body: () => uploadBody(wheelNamed(good.filename, Buffer.alloc(0))),
    status: 400,
    message: 'The uploaded file "demo_pkg-1.0-py3-none-any.whl" is empty',
  },
  { title: 'no content part', body: () => uploadBody(good, { noContent: true }), status: 400, message: "Missing 'content' file-field" },
  {
    title: 'content sent as a text field',
    body: () =>
      multipart([
        { name: ':action', value: 'file_upload' },
        { name: 'protocol_version', value: '1' },
        { name: 'content', value: 'PK not a file part' },
      ]),
    status: 400,
    message: "Missing 'content' file-field",
  },
  {
    title: 'an unknown :action',
    body: () => uploadBody(good, { fields: { ':action': 'frobnicate' } }),
    status: 400,
    message: "Unsupported ':action' field: frobnicate",
  },
  {
    title: 'no :action',
    body: () => uploadBody(good, { fields: { ':action': undefined } }),
    status: 400,
    message: "Missing ':action' field",
  },
  {
    title: 'protocol_version=2',
    body: () => uploadBody(good, { fields: { protocol_version: '2' } }),
    status: 400,
    message: 'Unknown protocol version.',
  },
  {
    title: 'a body whose boundary is not the announced one',
    body: () => {
      const b = uploadBody(good);
      return { payload: b.payload, headers: { 'content-type': 'multipart/form-data; boundary=not-the-one-used' } };
    },
    status: 400,
    message: 'Malformed upload body',
  },
  {
    title: 'a multipart body without a boundary',
    body: () => ({ payload: uploadBody(good).payload, headers: { 'content-type': 'multipart/form-data' } }),
    status: 400,
    message: 'Malformed upload body',
  },
  {
    title: 'a body cut off in the middle of the file',
    body: () => {
      const b = uploadBody(good);
      return { payload: b.payload.subarray(0, b.payload.length - good.bytes.length / 2), headers: b.headers };
    },
    status: 400,
    message: 'Malformed upload body',
  },
  {
    title: ':action=doc_upload',
    body: () => uploadBody(good, { fields: { ':action': 'doc_upload' } }),
    status: 410,
    message: 'Documentation uploads are not supported',
  },
];

describe('refused uploads answer 4xx with the reason and leave the volume untouched', () => {
  // A fresh volume per case, so one wrongly accepted upload cannot hide the next case.
  it.each(BAD)('$title', async ({ body, status, message }) => {
    const { app, root } = await freshApp();
    const before = await listVolume(root);
    const res = await app.inject({ method: 'POST', url: '/', ...body() });
    expectRefused(res, status, message);
    expect(await incoming(root)).toEqual([]);
    expect(await listVolume(root)).toEqual(before);
    const page = await app.inject('/simple/demo-pkg/');
    expect(page.statusCode).toBe(404);
  });

  it('refuses a body above --max-upload-size with 413 and keeps nothing of it', async () => {
    const small = await freshApp(['--max-upload-size', '100KiB']);
    const before = await listVolume(small.root);
    const big = { filename: good.filename, bytes: Buffer.concat([good.bytes, randomBytes(1024 * 1024)]) };
    const res = await small.app.inject({ method: 'POST', url: '/', ...uploadBody(big) });
    expectRefused(res, 413, `Upload larger than the limit of ${100 * 1024} bytes (--max-upload-size)`);
    expect(await incoming(small.root)).toEqual([]);
    expect(await listVolume(small.root)).toEqual(before);
    // The same server still takes a file under the limit.
    const ok = await small.app.inject({ method: 'POST', url: '/', ...uploadBody(good) });
    expect(ok.statusCode, ok.body).toBe(200);
  });
});

describe('accepted uploads', () => {
  it('stores a wheel with 200 and lists it at once, with its PEP 658 metadata', async () => {
    const { app, root } = await freshApp();
    const wheel = await makeWheel({ name: 'Demo_Pkg', version: '1.0', requiresPython: '>=3.8' });
    const res = await app.inject({ method: 'POST', url: '/legacy/', ...uploadBody(wheel, { fields: { name: 'Demo.Pkg' } }) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain('Stored Demo_Pkg-1.0-py3-none-any.whl');

    const page = await app.inject({ url: '/simple/demo-pkg/', headers: { accept: 'text/html' } });
    expect(page.statusCode).toBe(200);
    const sha = createHash('sha256').update(wheel.bytes).digest('hex');
    expect(page.body).toContain(`Demo_Pkg-1.0-py3-none-any.whl#sha256=${sha}`);
    expect(page.body).toContain('data-requires-python="&gt;=3.8"');
    const meta = await app.inject('/packages/Demo_Pkg-1.0-py3-none-any.whl.metadata');
    expect(meta.statusCode).toBe(200);
    expect(meta.body).toContain('Name: Demo_Pkg');
    expect(meta.body).toContain('Requires-Python: >=3.8');
    expect(page.body).toContain(`data-core-metadata="sha256=${createHash('sha256').update(meta.rawPayload).digest('hex')}"`);
    const file = await app.inject('/packages/Demo_Pkg-1.0-py3-none-any.whl');
    expect(file.rawPayload.equals(wheel.bytes)).toBe(true);
    expect(await readFile(path.join(root, wheel.filename))).toEqual(wheel.bytes);
    expect(await incoming(root)).toEqual([]);
  });

  it('answers 200 to the same bytes again and 409 "File already exists" to other bytes under the name', async () => {
    const { app, root } = await freshApp();
    const first = await makeWheel({ name: 'dup', version: '1.0' });
    const second = await makeWheel({ name: 'dup', version: '1.0', extraFiles: { 'dup_extra.py': 'x = 1\n' } });
    expect((await app.inject({ method: 'POST', url: '/', ...uploadBody(first) })).statusCode).toBe(200);
    const again = await app.inject({ method: 'POST', url: '/', ...uploadBody(first) });
    expect(again.statusCode, again.body).toBe(200);
    const before = await listVolume(root);
    const clash = await app.inject({ method: 'POST', url: '/', ...uploadBody(second) });
    expectRefused(clash, 409, 'File already exists: dup-1.0-py3-none-any.whl');
    expect(await listVolume(root)).toEqual(before);
    expect(await readFile(path.join(root, first.filename))).toEqual(first.bytes);
  });

  it('replaces the bytes with --overwrite and serves the new ones', async () => {
    const { app, root } = await freshApp(['--overwrite']);
    const first = await makeWheel({ name: 'dup', version: '1.0' });
    const second = await makeWheel({ name: 'dup', version: '1.0', extraFiles: { 'dup_extra.py': 'x = 1\n' } });
    expect((await app.inject({ method: 'POST', url: '/', ...uploadBody(first) })).statusCode).toBe(200);
    const res = await app.inject({ method: 'POST', url: '/', ...uploadBody(second) });
    expect(res.statusCode, res.body).toBe(200);
    const served = await app.inject('/packages/dup-1.0-py3-none-any.whl');
    expect(served.rawPayload.equals(second.bytes)).toBe(true);
    const page = await app.inject('/simple/dup/');
    expect(page.body).toContain(`#sha256=${createHash('sha256').update(second.bytes).digest('hex')}`);
    expect(await readFile(path.join(root, first.filename))).toEqual(second.bytes);
    // One sidecar for the one file: the replaced file's is gone.
    const sidecars = (await readdir(path.join(root, '.wheelhouse', 'meta'))).filter((n) => n.endsWith('.json'));
    expect(sidecars).toHaveLength(1);
  });

  it('takes a Metadata-Version 2.4 wheel and shows its Requires-Python', async () => {
    const { app } = await freshApp();
    const wheel = await makeWheel({ name: 'modern', version: '3.1', metadataVersion: '2.4', requiresPython: '>=3.10' });
    const res = await app.inject({ method: 'POST', url: '/', ...uploadBody(wheel, { fields: { metadata_version: '2.4' } }) });
    expect(res.statusCode, res.body).toBe(200);
    const page = await app.inject({ url: '/simple/modern/', headers: { accept: 'text/html' } });
    expect(page.body).toContain('data-requires-python="&gt;=3.10"');
    const json = await app.inject({ url: '/simple/modern/', headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    expect(json.json().files[0]['requires-python']).toBe('>=3.10');
  });

  it('answers 200 to :action=submit, as pypiserver did', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/',
      ...multipart([
        { name: ':action', value: 'submit' },
        { name: 'name', value: 'demo_pkg' },
      ]),
    });
    expect(res.statusCode).toBe(200);
  });
});

describe('removing and yanking', () => {
  let app: FastifyInstance;
  let root: string;

  beforeAll(async () => {
    ({ app, root } = await freshApp());
    const wheels = await Promise.all([
      makeWheel({ name: 'Demo_Pkg', version: '1.0' }),
      makeWheel({ name: 'Demo_Pkg', version: '1.0', tag: 'py2-none-any' }),
      makeWheel({ name: 'Demo_Pkg', version: '2.0' }),
      makeWheel({ name: 'gone', version: '0.1' }),
      makeWheel({ name: 'form-pkg', version: '0.1' }),
      makeWheel({ name: 'yankee', version: '1.0' }),
      makeWheel({ name: 'yankee', version: '1.1' }),
    ]);
    for (const w of wheels) {
      const res = await app.inject({ method: 'POST', url: '/', ...uploadBody(w) });
      expect(res.statusCode, res.body).toBe(200);
    }
  });

  it('remove_pkg by a non-normalized name and a non-canonical version removes every file of the release', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/',
      ...multipart([
        { name: ':action', value: 'remove_pkg' },
        { name: 'name', value: 'demo.PKG' },
        { name: 'version', value: '1.0.0' },
      ]),
    });
    expect(res.statusCode, res.body).toBe(200);
    const files = await readdir(root);
    expect(files.filter((f) => f.startsWith('Demo_Pkg'))).toEqual(['Demo_Pkg-2.0-py3-none-any.whl']);
    const page = await app.inject('/simple/demo-pkg/');
    expect(page.body).not.toContain('Demo_Pkg-1.0');
    expect(page.body).toContain('Demo_Pkg-2.0-py3-none-any.whl');
    expect((await app.inject('/packages/Demo_Pkg-1.0-py2-none-any.whl')).statusCode).toBe(404);
  });

  it('remove_pkg as a url-encoded form works too (pypiserver clients)', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ ':action': 'remove_pkg', name: 'Form.Pkg', version: '0.1' }).toString(),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(await readdir(root)).not.toContain('form_pkg-0.1-py3-none-any.whl');
    expect((await app.inject('/simple/form-pkg/')).statusCode).toBe(404);
  });

  it('remove_pkg without a name or version answers 400, an unknown release 404', async () => {
    const noVersion = await app.inject({
      method: 'POST',
      url: '/',
      ...multipart([
        { name: ':action', value: 'remove_pkg' },
        { name: 'name', value: 'gone' },
      ]),
    });
    expectRefused(noVersion, 400, "Missing 'version' field");
    const noName = await app.inject({
      method: 'POST',
      url: '/',
      ...multipart([
        { name: ':action', value: 'remove_pkg' },
        { name: 'version', value: '0.1' },
      ]),
    });
    expectRefused(noName, 400, "Missing 'name' field");
    const unknown = await app.inject({
      method: 'POST',
      url: '/',
      ...multipart([
        { name: ':action', value: 'remove_pkg' },
        { name: 'name', value: 'gone' },
        { name: 'version', value: '9.9' },
      ]),
    });
    expectRefused(unknown, 404, 'Project "gone" has no version 9.9 on this index');
    const nobody = await app.inject({
      method: 'POST',
      url: '/',
      ...multipart([
        { name: ':action', value: 'remove_pkg' },
        { name: 'name', value: 'nobody' },
        { name: 'version', value: '1' },
      ]),
    });
    expect(nobody.statusCode).toBe(404);
    expect((await app.inject('/simple/gone/')).statusCode).toBe(200);
  });

  it('DELETE /packages/<file> removes the file from the volume and the index', async () => {
    const res = await app.inject({ method: 'DELETE', url: '/packages/gone-0.1-py3-none-any.whl' });
    expect(res.statusCode, res.body).toBe(200);
    expect(await readdir(root)).not.toContain('gone-0.1-py3-none-any.whl');
    expect((await app.inject('/packages/gone-0.1-py3-none-any.whl')).statusCode).toBe(404);
    expect((await app.inject('/simple/gone/')).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: '/packages/gone-0.1-py3-none-any.whl' })).statusCode).toBe(404);
  });

  it('PUT /api/yank marks a release yanked with its reason in HTML and JSON; DELETE un-yanks it', async () => {
    const yank = await app.inject({ method: 'PUT', url: '/api/yank/Yankee/1.0', payload: { reason: 'broken build' } });
    expect(yank.statusCode, yank.body).toBe(200);
    const html = await app.inject({ url: '/simple/yankee/', headers: { accept: 'text/html' } });
    expect(html.body).toMatch(/yankee-1\.0-py3-none-any\.whl#sha256=[0-9a-f]{64}"[^>]* data-yanked="broken build"/);
    expect(html.body).not.toMatch(/yankee-1\.1-py3-none-any\.whl[^>]*data-yanked/);
    const json = await app.inject({ url: '/simple/yankee/', headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    const files = json.json().files as { filename: string; yanked: unknown }[];
    expect(files.find((f) => f.filename === 'yankee-1.0-py3-none-any.whl')?.yanked).toBe('broken build');
    expect(files.find((f) => f.filename === 'yankee-1.1-py3-none-any.whl')?.yanked).toBe(false);

    const unyank = await app.inject({ method: 'DELETE', url: '/api/yank/yankee/1.0' });
    expect(unyank.statusCode, unyank.body).toBe(200);
    const after = await app.inject({ url: '/simple/yankee/', headers: { accept: 'text/html' } });
    expect(after.body).not.toContain('data-yanked');
    expect((await app.inject({ method: 'PUT', url: '/api/yank/yankee/7.0' })).statusCode).toBe(404);
  });
});
