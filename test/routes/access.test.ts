// Who may do what, over inject(): API tokens (user __token__) with their project and action scope,
// htpasswd users under an ACL, on every route that reads or changes a project. A refusal is 401
// for a token that is not valid and 403 naming the project for a login outside its scope, and a
// refused write leaves the volume and the audit trail as they were.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TokenAction, TokenKeyring, createToken, decodeToken } from '../../src/auth/api-tokens.js';
import type { Server } from '../../src/server.js';
import { readAuditTrail } from '../../src/store/audit-log.js';
import { GenerationFile } from '../../src/store/generation.js';
import { Revocations } from '../../src/store/revocations.js';
import { buildTestApp } from '../helpers/app.js';
import { uploadBody } from '../helpers/forms.js';
import { tempDir, waitFor } from '../helpers/server.js';
import { wheelBytes, type Wheel } from '../helpers/upload.js';

const KEY = 'access-test-key-0123456789-abcdefghijklmnop';
const keyring = TokenKeyring.parse(KEY, 'test');
const USERS = { alice: 'alice pw', bob: 'bob pw', carol: 'carol pw' } as const;
const ACL = `@release = alice
mycorp-*      upload,yank     @release
mycorp-core   *               carol
sandbox-*     upload,remove   *
`;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const asToken = (token: string) => basic('__token__', token);

async function token(projects: string[], actions: TokenAction[], extra: { lifetime?: number; now?: number } = {}): Promise<string> {
  return (await createToken(keyring, { projects, actions, lifetime: extra.lifetime ?? 3600, ...(extra.now ? { now: extra.now } : {}) }))
    .token;
}

const cleanups: (() => void)[] = [];
const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
  for (const c of cleanups) c();
});

async function freshServer(args: string[] = []): Promise<{ app: FastifyInstance; server: Server; root: string; dir: string }> {
  const t = tempDir('wh-access-');
  cleanups.push(() => t.cleanup());
  const root = path.join(t.dir, 'root');
  mkdirSync(root);
  const htpasswd = path.join(t.dir, 'htpasswd');
  writeFileSync(
    htpasswd,
    Object.entries(USERS)
      .map(([u, p]) => `${u}:${bcrypt.hashSync(p, 4)}\n`)
      .join(''),
  );
  const acl = path.join(t.dir, 'acl');
  writeFileSync(acl, ACL);
  const { app, server } = await buildTestApp(root, [
    '--authenticate',
    'download,list,update',
    '--passwords',
    htpasswd,
    '--token-key',
    KEY,
    '--acl',
    acl,
    '--refresh-interval',
    '200ms',
    ...args,
  ]);
  servers.push(server);
  return { app, server, root, dir: t.dir };
}

function upload(app: FastifyInstance, wheel: Wheel, auth: string): Promise<LightMyRequestResponse> {
  const { payload, headers } = uploadBody(wheel);
  return app.inject({ method: 'POST', url: '/', payload, headers: { ...headers, authorization: auth } });
}

function removePkg(app: FastifyInstance, name: string, version: string, auth: string): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/',
    payload: new URLSearchParams({ ':action': 'remove_pkg', name, version }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
  });
}

const get = (app: FastifyInstance, url: string, auth: string) => app.inject({ url, headers: { authorization: auth } });

function expectStatus(res: LightMyRequestResponse, status: number, message?: string | RegExp): void {
  expect(res.statusCode, res.body).toBe(status);
  if (message !== undefined) {
    if (typeof message === 'string') expect(res.body).toContain(message);
    else expect(res.body).toMatch(message);
  }
}

/** The distribution files and staged uploads on the volume. */
function volumeFiles(root: string): string[] {
  const staged = readdirSync(path.join(root, '.wheelhouse', 'incoming')).map((f) => `incoming/${f}`);
  return [...readdirSync(root).filter((f) => !f.startsWith('.')), ...staged].sort();
}

const A1 = wheelBytes('mycorp-a', '1.0');
const B1 = wheelBytes('othercorp-b', '1.0');

describe('API tokens', () => {
  let app: FastifyInstance;
  let server: Server;
  let root: string;
  let admin: string;

  beforeAll(async () => {
    ({ app, server, root } = await freshServer());
    admin = asToken(await token(['*'], ['download', 'upload', 'remove', 'yank']));
    for (const w of [A1, B1]) expectStatus(await upload(app, w, admin), 200);
  });

  it('read the projects of their scope, and get 403 naming the project outside it, whether it exists or not', async () => {
    const auth = asToken(await token(['mycorp-*'], ['download']));
    for (const url of [
      '/simple/',
      '/simple/mycorp-a/',
      `/packages/${A1.filename}`,
      `/packages/${A1.filename}.metadata`,
      '/pypi/mycorp-a/json',
    ]) {
      expectStatus(await get(app, url, auth), 200);
    }
    expectStatus(await get(app, '/simple/mycorp-nothing/', auth), 404);
    for (const url of [
      '/simple/othercorp-b/',
      `/packages/${B1.filename}`,
      `/packages/${B1.filename}.metadata`,
      '/pypi/othercorp-b/json',
      '/othercorp-b/json',
      '/project/othercorp-b/',
      '/simple/othercorp-nothing/',
      '/packages/othercorp_nothing-1.0-py3-none-any.whl',
    ]) {
      const res = await get(app, url, auth);
      expectStatus(res, 403, /API token [0-9a-f]+ may not download from project "othercorp-(b|nothing)"/);
      expect(res.headers['www-authenticate']).toBeUndefined();
      expect(res.body).toContain('(the token may download for mycorp-*)');
    }
  });

  it('that may not download are refused every read, listings included', async () => {
    const auth = asToken(await token(['*'], ['upload']));
    for (const url of ['/simple/', '/simple/mycorp-a/', `/packages/${A1.filename}`, '/packages/', '/']) {
      expectStatus(await get(app, url, auth), 403, 'may not download here');
    }
  });

  it('upload to their projects only, and a refused upload leaves nothing on the volume', async () => {
    const auth = asToken(await token(['mycorp-*'], ['upload']));
    const before = volumeFiles(root);
    const refused = await upload(app, wheelBytes('othercorp-c', '1.0'), auth);
    expectStatus(refused, 403, /API token [0-9a-f]+ may not upload to project "othercorp-c"/);
    expect(refused.statusMessage).toContain('may not upload to project "othercorp-c"');
    expect(volumeFiles(root)).toEqual(before);
    expectStatus(await get(app, '/simple/othercorp-c/', admin), 404);
    expectStatus(await upload(app, wheelBytes('MyCorp_New', '1.0'), auth), 200);
    expectStatus(await get(app, '/simple/mycorp-new/', admin), 200);
  });

  it('are refused on arrival for an action they do not carry, on any project', async () => {
    const auth = asToken(await token(['*'], ['download']));
    const before = volumeFiles(root);
    expectStatus(await upload(app, wheelBytes('mycorp-z', '1.0'), auth), 403, 'may not upload or remove here');
    expectStatus(await removePkg(app, 'mycorp-a', '1.0', auth), 403, 'may not upload or remove here');
    expectStatus(
      await app.inject({ method: 'DELETE', url: `/packages/${A1.filename}`, headers: { authorization: auth } }),
      403,
      'may not remove here',
    );
    expectStatus(
      await app.inject({ method: 'PUT', url: '/api/yank/mycorp-a/1.0', headers: { authorization: auth } }),
      403,
      'may not yank here',
    );
    expect(volumeFiles(root)).toEqual(before);
  });

  it('remove and yank with those actions, on their projects only', async () => {
    const w = wheelBytes('mycorp-gone', '1.0');
    const w2 = wheelBytes('mycorp-gone', '2.0');
    for (const x of [w, w2]) expectStatus(await upload(app, x, admin), 200);
    const remover = asToken(await token(['mycorp-gone'], ['remove']));
    expectStatus(await removePkg(app, 'othercorp-b', '1.0', remover), 403, 'may not remove files of project "othercorp-b"');
    expectStatus(await removePkg(app, 'mycorp-gone', '1.0', remover), 200);
    const del = (file: string) => app.inject({ method: 'DELETE', url: `/packages/${file}`, headers: { authorization: remover } });
    expectStatus(await del(B1.filename), 403, 'may not remove files of project "othercorp-b"');
    expectStatus(await del(w2.filename), 200);
    expect(volumeFiles(root).filter((f) => f.startsWith('mycorp_gone'))).toEqual([]);

    const yanker = asToken(await token(['mycorp-a'], ['yank']));
    const yank = (method: 'PUT' | 'DELETE', project: string) =>
      app.inject({ method, url: `/api/yank/${project}/1.0`, headers: { authorization: yanker } });
    expectStatus(await yank('PUT', 'othercorp-b'), 403, 'may not yank or un-yank releases of project "othercorp-b"');
    expectStatus(await yank('PUT', 'mycorp-a'), 200);
    expectStatus(await yank('DELETE', 'mycorp-a'), 200);
  });

  it('get 401 with the Basic challenge when expired, signed with another key, tampered, unsigned or not a token', async () => {
    const expired = await token(['*'], ['download', 'upload'], { now: Date.now() - 7_200_000, lifetime: 3600 });
    const otherKey = (
      await createToken(TokenKeyring.parse('another-key-0123456789-abcdefghijklmnopq', 'test'), {
        projects: ['*'],
        actions: ['download', 'upload'],
        lifetime: 3600,
      })
    ).token;
    const narrow = await token(['mycorp-a'], ['download']);
    const [head = '', payload = '', signature = ''] = narrow.slice('wheelhouse_'.length).split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const widened = base64url.encode(JSON.stringify({ ...claims, projects: ['*'], actions: ['download', 'upload'] }));
    const tampered = `wheelhouse_${head}.${widened}.${signature}`;
    const noneHeader = base64url.encode(JSON.stringify({ ...JSON.parse(Buffer.from(head, 'base64url').toString()), alg: 'none' }));
    const unsigned = `wheelhouse_${noneHeader}.${widened}.`;
    const cases: [string, string, RegExp][] = [
      ['expired', expired, /the token has expired/],
      ['another key', otherKey, /signed with a key this server does not have/],
      ['tampered', tampered, /the token signature does not match/],
      ['unsigned', unsigned, /signed with none; only HS256/],
      ['not a token', 'hunter2', /not a wheelhouse API token/],
    ];
    const before = volumeFiles(root);
    for (const [what, t, message] of cases) {
      for (const res of [await get(app, '/simple/mycorp-a/', asToken(t)), await upload(app, wheelBytes('mycorp-x', '9.0'), asToken(t))]) {
        expect(res.statusCode, `${what}: ${res.body}`).toBe(401);
        expect(res.body).toMatch(message);
        expect(res.headers['www-authenticate']).toBe('Basic realm="wheelhouse"');
      }
      // Remembered: asked again, the same answer without another verification.
      expect((await get(app, '/simple/mycorp-a/', asToken(t))).statusCode).toBe(401);
    }
    expect(volumeFiles(root)).toEqual(before);
  });

  it('once revoked are refused after the next generation change, also when remembered', async () => {
    const raw = await token(['*'], ['download']);
    const auth = asToken(raw);
    expectStatus(await get(app, '/simple/mycorp-a/', auth), 200);
    const id = decodeToken(raw)?.id;
    if (!id) throw new Error('no id');
    await new Revocations(root).revoke(id, { by: 'test' });
    await new GenerationFile(path.join(root, '.wheelhouse')).bump();
    await server.live.poll();
    await waitFor(async () => (await get(app, '/simple/mycorp-a/', auth)).statusCode === 401, 5000);
    expectStatus(await get(app, '/simple/mycorp-a/', auth), 401, `the token ${id} has been revoked`);
    expect(server.tokens?.revokedCount).toBe(1);
  });

  it('cost one verification for a burst of requests with one token, and are counted in /metrics', async () => {
    const auth = asToken(await token(['mycorp-*'], ['download']));
    const before = server.tokens?.stats.verifications ?? 0;
    const statuses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => get(app, i % 2 ? '/simple/mycorp-a/' : `/packages/${A1.filename}`, auth)),
    );
    expect(statuses.map((r) => r.statusCode).filter((s) => s !== 200)).toEqual([]);
    expect((server.tokens?.stats.verifications ?? 0) - before).toBe(1);
    await get(app, '/simple/othercorp-b/', auth);
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toMatch(/^wheelhouse_token_checks_total\{result="ok"\} \d+/m);
    expect(metrics).toMatch(/^wheelhouse_token_checks_total\{result="expired"\} \d+/m);
    expect(metrics).toMatch(/^wheelhouse_scope_refusals_total\{login="token",action="download"\} \d+/m);
    expect(metrics).toMatch(/^wheelhouse_revoked_tokens \d+/m);
    expect(metrics).toMatch(/^wheelhouse_audit_events_total\{result="written"\} [1-9]/m);
  });
});

describe('users under an ACL', () => {
  let app: FastifyInstance;
  let root: string;
  let dir: string;
  const as = (user: keyof typeof USERS) => basic(user, USERS[user]);

  beforeAll(async () => {
    ({ app, root, dir } = await freshServer());
  });

  it('upload to the projects a rule grants them, and get 403 naming the project elsewhere, with nothing staged', async () => {
    expectStatus(await upload(app, wheelBytes('mycorp-lib', '1.0'), as('alice')), 200);
    const before = volumeFiles(root);
    const refused = await upload(app, wheelBytes('othercorp-lib', '1.0'), as('alice'));
    expectStatus(refused, 403, 'User "alice" may not upload to project "othercorp-lib" (not granted by the ACL of this index)');
    expect(volumeFiles(root)).toEqual(before);
    // A rule for everyone who logs in.
    expectStatus(await upload(app, wheelBytes('sandbox-x', '1.0'), as('bob')), 200);
  });

  it('are refused on arrival for an action no rule grants them on any project', async () => {
    expectStatus(
      await app.inject({ method: 'PUT', url: '/api/yank/mycorp-lib/1.0', headers: { authorization: as('bob') } }),
      403,
      'User "bob" may not yank here',
    );
    expectStatus(await app.inject({ method: 'PUT', url: '/api/yank/mycorp-lib/1.0', headers: { authorization: as('alice') } }), 200);
  });

  it('remove only where a rule grants it', async () => {
    expectStatus(await upload(app, wheelBytes('mycorp-core', '1.0'), as('carol')), 200);
    expectStatus(await removePkg(app, 'mycorp-lib', '1.0', as('carol')), 403, 'User "carol" may not remove files of project "mycorp-lib"');
    expectStatus(await removePkg(app, 'mycorp-core', '1.0', as('carol')), 200);
  });

  it('read every project: the ACL governs changes only', async () => {
    for (const user of ['alice', 'bob', 'carol'] as const) expectStatus(await get(app, '/simple/mycorp-lib/', as(user)), 200);
  });

  it('follow the ACL file when it changes, and keep the last usable one while it is broken', async () => {
    const file = path.join(dir, 'acl');
    expectStatus(await upload(app, wheelBytes('othercorp-new', '1.0'), as('bob')), 403);
    writeFileSync(file, `${ACL}othercorp-*  upload  bob\n`);
    await waitFor(async () => (await upload(app, wheelBytes('othercorp-new', '1.0'), as('bob'))).statusCode === 200, 5000, 200);
    writeFileSync(file, `${ACL}othercorp-*  upload  bob\nthis line is not a rule\n`);
    await new Promise((r) => setTimeout(r, 1500));
    expectStatus(await upload(app, wheelBytes('othercorp-new', '2.0'), as('bob')), 200);
  });
});

describe('the audit trail', () => {
  it('has one line per committed write with who did it and from where, and none for refused writes', async () => {
    const { app, root } = await freshServer();
    const raw = await token(['mycorp-*'], ['upload', 'yank', 'remove']);
    const id = decodeToken(raw)?.id;
    expectStatus(await upload(app, A1, asToken(raw)), 200);
    expectStatus(await upload(app, A1, asToken(raw)), 200); // the same bytes again: nothing new
    expectStatus(await upload(app, B1, asToken(raw)), 403);
    expectStatus(await upload(app, wheelBytes('mycorp-lib', '1.0'), basic('alice', USERS.alice)), 200);
    expectStatus(
      await app.inject({
        method: 'PUT',
        url: '/api/yank/mycorp-a/1.0',
        payload: { reason: 'broken' },
        headers: { authorization: asToken(raw) },
      }),
      200,
    );
    expectStatus(await app.inject({ method: 'DELETE', url: '/api/yank/mycorp-a/1.0', headers: { authorization: asToken(raw) } }), 200);
    expectStatus(await removePkg(app, 'mycorp-a', '1.0', asToken(raw)), 200);

    const { events } = await readAuditTrail(root);
    const tokenActor = { type: 'token', token: id };
    expect(events.map((e) => [e.action, e.project, e.file ?? e.version, e.actor, e.client])).toEqual([
      ['upload', 'mycorp-a', A1.filename, tokenActor, '127.0.0.1'],
      ['upload', 'mycorp-lib', 'mycorp_lib-1.0-py3-none-any.whl', { type: 'user', user: 'alice' }, '127.0.0.1'],
      ['yank', 'mycorp-a', '1.0', tokenActor, '127.0.0.1'],
      ['unyank', 'mycorp-a', '1.0', tokenActor, '127.0.0.1'],
      ['remove', 'mycorp-a', A1.filename, tokenActor, '127.0.0.1'],
    ]);
    expect(events[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(events[2]?.reason).toBe('broken');
  });

  it('that cannot be written does not fail the write: it is logged and counted', async () => {
    const { app, root } = await freshServer();
    // A file where the audit folder should be: every append fails.
    writeFileSync(path.join(root, '.wheelhouse', 'audit'), 'in the way');
    expectStatus(await upload(app, A1, basic('alice', USERS.alice)), 200);
    expectStatus(await get(app, '/simple/mycorp-a/', basic('alice', USERS.alice)), 200);
    expect((await app.inject('/metrics')).body).toMatch(/^wheelhouse_audit_events_total\{result="failed"\} 1$/m);
  });

  it('names nobody on a server that asks no login for writes', async () => {
    const t = tempDir('wh-access-open-');
    cleanups.push(() => t.cleanup());
    const { app, server } = await buildTestApp(t.dir);
    servers.push(server);
    expectStatus(await upload(app, A1, ''), 200);
    const { events } = await readAuditTrail(t.dir);
    expect(events.map((e) => [e.action, e.actor])).toEqual([['upload', { type: 'anonymous' }]]);
  });
});
