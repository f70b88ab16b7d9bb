// The process as an operator starts it: dist/main.js with flags, its exit codes and its log lines.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAIN, startServer, tempDir, waitFor, type RunningServer } from './helpers/server.js';

const t = tempDir('wh-main-');
afterAll(() => t.cleanup());

function run(args: string[]): { status: number | null; stderr: string } {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WHEELHOUSE_')));
  const r = spawnSync(process.execPath, [MAIN, '--root', t.dir, '--port', '0', ...args], { env, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('starting the server', () => {
  it('stops with exit code 2 and a message naming the option when a pypiserver option is wrong', () => {
    for (const [args, naming] of [
      [['--hash-algo', 'md6'], '--hash-algo / WHEELHOUSE_HASH_ALGO'],
      [['--health-endpoint', '/simple/'], '--health-endpoint / WHEELHOUSE_HEALTH_ENDPOINT'],
      [['--base-path', '/a b'], '--base-path / WHEELHOUSE_BASE_PATH'],
      [['--welcome', path.join(t.dir, 'missing.html')], `--welcome / WHEELHOUSE_WELCOME: cannot read ${path.join(t.dir, 'missing.html')}`],
    ] as const) {
      const r = run([...args]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(naming);
    }
  });

  it('writes one JSON object per line by default, and human-readable lines with --log-format pretty', async () => {
    // The index turns ready before its load is logged: each server is stopped only after that line.
    const loaded = (s: RunningServer) => waitFor(async () => s.output().includes('index loaded'));
    const json = await startServer({ root: t.dir, args: ['--log-level', 'info'] });
    await fetch(`${json.url}/simple/`);
    await loaded(json);
    await json.stop();
    const jsonLines = json.output().trim().split('\n');
    expect(jsonLines.length).toBeGreaterThan(1);
    for (const line of jsonLines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    expect(jsonLines.map((l) => (JSON.parse(l) as { msg?: string }).msg)).toContain('index loaded');

    const pretty = await startServer({ root: t.dir, args: ['--log-level', 'info', '--log-format', 'pretty'] });
    await fetch(`${pretty.url}/simple/`);
    await loaded(pretty);
    await pretty.stop();
    const lines = pretty.output().trim().split('\n');
    expect(lines.some((l) => l.startsWith('{'))).toBe(false);
    // [12:34:56.789] INFO (1234): index loaded {"root":...}
    expect(lines).toContainEqual(expect.stringMatching(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(\d+\): index loaded \{.*"projects":0/));
    expect(lines).toContainEqual(expect.stringMatching(/INFO \(\d+\): request \{.*"url":"\/simple\/".*"status":200/));
  });

  it('shows the --welcome text on the home page', async () => {
    const welcome = path.join(t.dir, 'welcome.html');
    writeFileSync(welcome, '<h1>Team index</h1><p>Serving {{NUMPKGS}} files at {{URL}}</p>');
    const s = await startServer({ root: t.dir, args: ['--welcome', welcome] });
    const home = await (await fetch(`${s.url}/`)).text();
    await s.stop();
    expect(home).toContain('<h3>Team index</h3>');
    expect(home).toContain(`<p>Serving 0 files at ${s.url}/</p>`);
  });
});
