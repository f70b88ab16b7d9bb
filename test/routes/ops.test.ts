// The health check at the path the operator chose (pypiserver's --health-endpoint).
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/server.js';

const undo: (() => unknown)[] = [];
afterAll(async () => {
  for (const step of undo.reverse()) await step();
});

async function app(args: string[]): Promise<FastifyInstance> {
  const t = tempDir('wh-ops-');
  undo.push(() => t.cleanup());
  const built = await buildTestApp(t.dir, ['--watch', 'off', ...args]);
  undo.push(() => built.app.close());
  return built.app;
}

describe('--health-endpoint', () => {
  it('answers the health check at /health by default', async () => {
    const res = await (await app([])).inject('/health');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok' });
  });

  it('moves the health check to the path given, below --base-path, and /health is then an ordinary project URL', async () => {
    const moved = await app(['--health-endpoint', '/_ping/live', '--base-path', '/pypi']);
    const res = await moved.inject('/pypi/_ping/live');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok' });
    const old = await moved.inject('/pypi/health');
    expect(old.statusCode).toBe(303);
    expect(old.headers.location).toBe('/pypi/simple/health/');
    const home = await moved.inject('/pypi/');
    expect(home.body).toContain('href="/pypi/_ping/live"');
  });
});
