import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '..', '..');

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(join(REPO, 'node_modules', '.bin', 'tsx'), [join(REPO, 'bench', 'run.ts'), ...args], { cwd: REPO });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('close', (code) => done({ code, output }));
  });
}

describe('burst bench, reference profile in miniature', () => {
  let out: string;
  let run: { code: number | null; output: string };

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'wh-bench-smoke-'));
    run = await runBench([
      '--quick',
      '--profile',
      'reference',
      '--targets',
      'wheelhouse,fastify-floor-2w,node-floor',
      '--clients',
      '60',
      '--out',
      out,
    ]);
  }, 180_000);

  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('finishes a burst of 60 clients against one wheelhouse process with no failed sample', async () => {
    expect(run.code, run.output).toBe(0);
    const result = JSON.parse(await readFile(join(out, 'reference-wheelhouse-run1.json'), 'utf8'));
    expect(result.clients).toBe(60);
    expect(result.samples).toBe(180); // 3 steps per client
    expect(result.httpCalls).toBe(240); // the 303 and its follow-up are two calls, one sample
    expect(result.failedSamples, JSON.stringify(result.failures)).toBe(0);
    expect(result.bursts).toHaveLength(1);
    expect(result.bursts[0].drainMs).toBeGreaterThan(0);
    expect(result.latency.p95).toBeGreaterThan(0);
  });

  it.each([
    ['fastify-floor-2w', 'the Fastify floor, two workers'],
    ['node-floor', 'the Node floor, no framework'],
  ])('drives %s (%s, the login checked) through the same burst, and stops it', async (target) => {
    const result = JSON.parse(await readFile(join(out, `reference-${target}-run1.json`), 'utf8'));
    expect(result.samples).toBe(180);
    expect(result.httpCalls).toBe(240);
    expect(result.failedSamples, JSON.stringify(result.failures)).toBe(0);
    await expect(fetch(new URL('health', result.params.baseUrl))).rejects.toThrow();
  });

  it('writes the Markdown summary and prints it', async () => {
    const summary = await readFile(join(out, 'summary.md'), 'utf8');
    expect(summary).toMatch(/\| wheelhouse \| 180 \| 240 \| 0 \| 0\.00% \|/);
    expect(run.output).toContain('## Reference profile');
  });

  it('draws the latency chart as a PNG', async () => {
    const png = await readFile(join(out, 'chart.png'));
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(png.length).toBeGreaterThan(2_000);
  });

  it('stops its server and removes its work dir when done', async () => {
    expect(run.output).not.toContain('cleanup of');
    const work = /^work dir: (.+)$/m.exec(run.output)?.[1];
    expect(work).toBeDefined();
    expect(existsSync(work!)).toBe(false);
    const result = JSON.parse(await readFile(join(out, 'reference-wheelhouse-run1.json'), 'utf8'));
    await expect(fetch(new URL('health', result.params.baseUrl))).rejects.toThrow();
  });
});

describe('burst bench, pages profile in miniature', () => {
  let out: string;
  let run: { code: number | null; output: string };

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'wh-bench-pages-'));
    run = await runBench(['--quick', '--profile', 'pages', '--targets', 'wheelhouse', '--clients', '60', '--out', out]);
  }, 120_000);

  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('bursts 60 clients on project pages and on simple pages, with no failure, and tables both', async () => {
    expect(run.code, run.output).toBe(0);
    const result = JSON.parse(await readFile(join(out, 'pages-wheelhouse-run1.json'), 'utf8'));
    for (const kind of ['project', 'simple']) {
      expect(result.kinds[kind].failed, JSON.stringify(result.kinds[kind].failures)).toBe(0);
      expect(result.kinds[kind].cold.failed).toBe(0);
      expect(result.kinds[kind].bursts).toHaveLength(1);
      expect(result.kinds[kind].bursts[0].clients).toBe(60);
    }
    // A project page is a page for people, larger than the list of links pip reads.
    expect(result.kinds.project.bytesPerPage).toBeGreaterThan(result.kinds.simple.bytesPerPage);
    const summary = await readFile(join(out, 'summary.md'), 'utf8');
    expect(summary).toContain('## Pages for people: a burst on project pages against one on /simple/');
    expect(summary).toMatch(/\| wheelhouse \| \/project\/\{pkg\}\/ \|/);
  });
});
