import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, auditDir, readAuditTrail } from '../../src/store/audit-log.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'wh-audit-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const at = (s: string) => new Date(Date.UTC(2030, 0, 1, 0, 0, Number(s))).toISOString();
const user = (name: string) => ({ type: 'user' as const, user: name });

describe('AuditLog', () => {
  it('appends one JSON line per event to a file named after host, pid and start time', async () => {
    const log = new AuditLog(root, { host: 'ip-10-0-1-7.ec2/internal', pid: 1, start: new Date(Date.UTC(2030, 0, 1, 12)) });
    expect(log.file).toBe(join(auditDir(root), 'ip-10-0-1-7.ec2_internal-1-20300101T120000000Z.jsonl'));
    await log.append({
      action: 'upload',
      project: 'mycorp-lib',
      file: 'mycorp_lib-1.0-py3-none-any.whl',
      sha256: 'ab'.repeat(32),
      actor: user('ann'),
      client: '10.0.0.9',
    });
    await log.append({ action: 'yank', project: 'mycorp-lib', version: '1.0', reason: 'broken', actor: { type: 'token', token: 'abc' } });
    await log.close();
    const lines = readFileSync(log.file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { time: string });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      action: 'upload',
      project: 'mycorp-lib',
      sha256: 'ab'.repeat(32),
      actor: { type: 'user', user: 'ann' },
      client: '10.0.0.9',
    });
    expect(Date.parse(lines[0]!.time)).not.toBeNaN();
    expect(lines[1]).toMatchObject({ action: 'yank', version: '1.0', actor: { type: 'token', token: 'abc' } });
  });

  it('creates no file until the first event', async () => {
    const log = new AuditLog(root);
    await log.close();
    expect(readdirSync(root)).toEqual([]);
  });

  it('writes concurrent appends as whole lines in call order', async () => {
    const log = new AuditLog(root, { sync: false });
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => log.append({ action: 'upload', file: `f${i}`, actor: user('x'), reason: 'r'.repeat(i * 50) })),
    );
    await log.close();
    const files = readFileSync(log.file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { file: string }).file);
    expect(files).toEqual(Array.from({ length: 200 }, (_, i) => `f${i}`));
  });

  it('refuses events after close', async () => {
    const log = new AuditLog(root);
    await log.close();
    await expect(log.append({ action: 'upload', actor: user('x') })).rejects.toThrow(/closed/);
  });
});

describe('readAuditTrail', () => {
  it('merges the files of every process in time order', async () => {
    const a = new AuditLog(root, { host: 'task-a', pid: 1 });
    const b = new AuditLog(root, { host: 'task-b', pid: 1 });
    await a.append({ time: at('1'), action: 'upload', project: 'p', file: 'a1', actor: user('ann') });
    await b.append({ time: at('2'), action: 'upload', project: 'p', file: 'b2', actor: user('bob') });
    await a.append({ time: at('3'), action: 'remove', project: 'p', file: 'a3', actor: user('ann') });
    await b.append({ time: at('3'), action: 'upload', project: 'q', file: 'b3', actor: user('bob') });
    await a.close();
    await b.close();
    const trail = await readAuditTrail(root);
    expect(trail.files).toBe(2);
    expect(trail.events.map((e) => e.file)).toEqual(['a1', 'b2', 'a3', 'b3']);
  });

  it('filters by time and by project under any spelling, mints of tokens that cover the project included', async () => {
    const log = new AuditLog(root);
    await log.append({ time: at('1'), action: 'upload', project: 'mycorp-lib', actor: user('ann') });
    await log.append({ time: at('2'), action: 'upload', project: 'other', actor: user('ann') });
    await log.append({
      time: at('3'),
      action: 'mint',
      token: 't1',
      projects: ['mycorp-*'],
      actor: { type: 'oidc', oidc: { publisher: 'p', issuer: 'i', subject: 's', claims: {} } },
    });
    await log.append({ time: at('4'), action: 'revoke', token: 't1', actor: { type: 'cli', user: 'ann', host: 'laptop' } });
    await log.close();
    expect((await readAuditTrail(root, { since: new Date(at('2')) })).events.map((e) => e.time)).toEqual([at('2'), at('3'), at('4')]);
    expect((await readAuditTrail(root, { project: 'MyCorp_Lib' })).events.map((e) => e.action)).toEqual(['upload', 'mint']);
  });

  it('skips and counts a partial last line left by a process that died mid-write', async () => {
    const log = new AuditLog(root, { host: 'dead' });
    await log.append({ time: at('1'), action: 'upload', file: 'whole', actor: user('ann') });
    await log.close();
    appendFileSync(log.file, '{"time":"2030-01-01T00:00:02.000Z","action":"upl');
    const trail = await readAuditTrail(root);
    expect(trail.events.map((e) => e.file)).toEqual(['whole']);
    expect(trail.skipped).toBe(1);
  });

  it('reads an empty trail when nothing was ever written', async () => {
    expect(await readAuditTrail(root)).toEqual({ events: [], files: 0, skipped: 0 });
  });
});
