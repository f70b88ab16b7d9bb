// The requests of a CI burst (`GET /<project>/`, the project page, the wheel) are answered by
// synchronous handlers, the wheel from the bytes held in memory, and the login by a hook attached
// only to the routes that need one. Checked through the requests pip makes: each answer right
// (a range of the held bytes, HEAD, 304), the logins still asked for where they were, and no
// warning logged on the way.
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createServer, type Server } from '../../src/server.js';
import { makeWheel } from '../helpers/dists.js';
import { tempDir } from '../helpers/server.js';

const PIP_MODERN = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';
const login = { authorization: `Basic ${Buffer.from('ci:s3cret').toString('base64')}` };

let server: Server;
let cleanup: () => void;
let wheel: { filename: string; bytes: Buffer };
const logs: { level: number; msg: string }[] = [];

beforeAll(async () => {
  let root: string;
  ({ dir: root, cleanup } = tempDir());
  const made = await makeWheel({ name: 'Demo_Pkg', version: '1.0' });
  wheel = made;
  await copyFile(made.path, path.join(root, made.filename));
  const stream = new Writable({
    write(chunk, _enc, done) {
      logs.push(JSON.parse(String(chunk)) as { level: number; msg: string });
      done();
    },
  });
  const config = loadConfig(['--root', root, '-a', 'list,download,update', '--log-level', 'warn'], {
    WHEELHOUSE_USERNAME: 'ci',
    WHEELHOUSE_PASSWORD: 's3cret',
  });
  server = await createServer(config, { log: pino({ level: 'warn' }, stream) });
  await server.load();
});

afterAll(async () => {
  await server?.app.close();
  cleanup?.();
});

describe('a burst client’s requests', () => {
  it('are answered once each, with no warning logged', async () => {
    const app = server.app;
    const dance = await app.inject({ url: '/Demo_Pkg/', headers: login });
    expect(dance.statusCode).toBe(303);
    expect(dance.headers.location).toBe('/simple/demo-pkg/');

    const html = await app.inject({ url: '/simple/demo-pkg/', headers: login });
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.body).toContain(wheel.filename);

    // The same Accept twice: the second answer comes from the parsed-once choice.
    for (let i = 0; i < 2; i++) {
      const json = await app.inject({ url: '/simple/demo-pkg/', headers: { ...login, accept: PIP_MODERN, 'accept-encoding': 'gzip' } });
      expect(json.headers['content-type']).toBe('application/vnd.pypi.simple.v1+json');
      expect(json.json<{ files: { filename: string }[] }>().files.map((f) => f.filename)).toEqual([wheel.filename]);
    }
    const notNormalized = await app.inject({ url: '/simple/Demo_Pkg/', headers: login });
    expect(notNormalized.statusCode).toBe(301);
    expect(notNormalized.headers.location).toBe('/simple/demo-pkg/');

    // First download reads the volume, the next ones are served from memory.
    for (let i = 0; i < 3; i++) {
      const file = await app.inject({ url: `/packages/${wheel.filename}`, headers: login });
      expect(file.statusCode).toBe(200);
      expect(file.rawPayload.equals(wheel.bytes)).toBe(true);
      expect(file.headers['content-length']).toBe(String(wheel.bytes.length));
    }
    expect(server.index.heldBytes(server.index.file(wheel.filename)!)?.equals(wheel.bytes)).toBe(true);

    const head = await app.inject({ method: 'HEAD', url: `/packages/${wheel.filename}`, headers: login });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(wheel.bytes.length));
    expect(head.rawPayload.length).toBe(0);

    const range = await app.inject({ url: `/packages/${wheel.filename}`, headers: { ...login, range: 'bytes=10-19' } });
    expect(range.statusCode).toBe(206);
    expect(range.headers['content-range']).toBe(`bytes 10-19/${wheel.bytes.length}`);
    expect(range.rawPayload.equals(wheel.bytes.subarray(10, 20))).toBe(true);

    const etag = String(range.headers.etag);
    const cached = await app.inject({ url: `/packages/${wheel.filename}`, headers: { ...login, 'if-none-match': etag } });
    expect(cached.statusCode).toBe(304);
    expect(cached.rawPayload.length).toBe(0);

    expect(logs.filter((l) => l.level >= 40)).toEqual([]);
  });

  it('are refused without the right login, and a missing file or project is a 404', async () => {
    const app = server.app;
    const wrong = { authorization: `Basic ${Buffer.from('ci:nope').toString('base64')}` };
    expect((await app.inject({ url: '/simple/demo-pkg/' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/simple/demo-pkg/', headers: wrong })).statusCode).toBe(401);
    expect((await app.inject({ url: `/packages/${wheel.filename}`, headers: wrong })).statusCode).toBe(401);
    // The redirect needs no login, like pypiserver's: the page it points to asks for one.
    expect((await app.inject({ url: '/Demo_Pkg/' })).statusCode).toBe(303);
    expect((await app.inject({ url: '/health' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/simple/nothing-here/', headers: login })).statusCode).toBe(404);
    expect((await app.inject({ url: '/packages/nothing-1.0-py3-none-any.whl', headers: login })).statusCode).toBe(404);
    const notOurs = logs.filter((l) => l.level >= 40 && !/login failed/.test(l.msg));
    expect(notOurs).toEqual([]);
  });
});
