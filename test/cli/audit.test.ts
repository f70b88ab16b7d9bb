import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAuditCommand } from '../../src/cli/audit.js';
import { AuditLog } from '../../src/store/audit-log.js';

async function audit(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; lines: string[]; err: string }> {
  const lines: string[] = [];
  const err: string[] = [];
  const code = await runAuditCommand(
    argv,
    env,
    (s) => lines.push(s),
    (s) => err.push(s),
  );
  return { code, lines, err: err.join('\n') };
}

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const HOUR = 3_600_000;
const oidc = {
  publisher: 'github:mycorp/mycorp-lib/release.yml',
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 'repo:mycorp/mycorp-lib:ref:refs/tags/v1.0',
  claims: { job_workflow_ref: 'mycorp/mycorp-lib/.github/workflows/release.yml@refs/tags/v1.0', run_id: '9001' },
};

let root: string;
let lastLog: AuditLog;
beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'wh-audit-cli-'));
  const a = new AuditLog(root, { host: 'task-a', pid: 1 });
  const b = new AuditLog(root, { host: 'task-b', pid: 1 });
  await a.append({
    time: ago(48 * HOUR),
    action: 'upload',
    project: 'old-lib',
    file: 'old_lib-1.0.tar.gz',
    sha256: 'c'.repeat(64),
    actor: { type: 'user', user: 'ann' },
    client: '10.0.0.1',
  });
  await b.append({
    time: ago(3 * HOUR),
    action: 'mint',
    token: 'f00d',
    projects: ['mycorp-lib'],
    actor: { type: 'oidc', oidc },
    client: '140.82.1.1',
  });
  await b.append({
    time: ago(3 * HOUR - 1000),
    action: 'upload',
    project: 'mycorp-lib',
    file: 'mycorp_lib-1.0-py3-none-any.whl',
    sha256: 'a'.repeat(64),
    actor: { type: 'token', token: 'f00d', oidc },
    client: '140.82.1.1',
  });
  await a.append({
    time: ago(HOUR),
    action: 'yank',
    project: 'mycorp-lib',
    version: '1.0',
    reason: 'broken',
    actor: { type: 'token', token: 'beef', description: 'ci' },
  });
  await a.append({ time: ago(1000), action: 'revoke', token: 'beef', actor: { type: 'cli', user: 'ann', host: 'laptop' } });
  await a.close();
  await b.close();
  lastLog = a;
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('wheelhouse audit', () => {
  it('prints the merged trail of every task, oldest first, each line saying who and from where', async () => {
    const r = await audit(['--root', root]);
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(5);
    expect(r.lines[0]).toMatch(/upload {2}old-lib {2}old_lib-1\.0\.tar\.gz {2}sha256:cccccccccccc {2}by user ann {2}from 10\.0\.0\.1$/);
    expect(r.lines[1]).toMatch(
      /mint {4}token f00d {2}for mycorp-lib {2}by publisher github:mycorp\/mycorp-lib\/release\.yml \(mycorp\/mycorp-lib\/\.github\/workflows\/release\.yml@refs\/tags\/v1\.0 run 9001\)/,
    );
    expect(r.lines[2]).toMatch(/upload {2}mycorp-lib {2}mycorp_lib-1\.0-py3-none-any\.whl .* by token f00d publisher github:/);
    expect(r.lines[3]).toMatch(/yank {4}mycorp-lib 1\.0 {2}reason "broken" {2}by token beef "ci"$/);
    expect(r.lines[4]).toMatch(/revoke {2}token beef {2}by ann@laptop \(command line\)$/);
  });

  it('filters by --since (a duration or a date) and --project, and prints JSON lines with --json', async () => {
    expect((await audit(['--root', root, '--since', '2h'])).lines).toHaveLength(2);
    expect((await audit(['--root', root, '--since', ago(24 * HOUR)])).lines).toHaveLength(4);
    const project = await audit(['--project', 'MyCorp_Lib', '--json'], { WHEELHOUSE_ROOT: root });
    expect(project.lines.map((l) => (JSON.parse(l) as { action: string }).action)).toEqual(['mint', 'upload', 'yank']);
  });

  it('says how many partial lines it skipped', async () => {
    appendFileSync(lastLog.file, '{"time":"2030-01');
    const r = await audit(['--root', root]);
    expect(r.lines).toHaveLength(5);
    expect(r.err).toMatch(/1 partial lines skipped/);
  });

  it.each([
    [[], /audit needs the package directory: --root DIR \(or WHEELHOUSE_ROOT\)/],
    [['--root', '/x', '--since', 'yesterday'], /--since "yesterday": use a duration back from now/],
    [['--root', '/x', 'extra'], /unexpected argument "extra"/],
  ])('refuses %j with exit code 2', async (argv, message) => {
    const r = await audit(argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });
});
