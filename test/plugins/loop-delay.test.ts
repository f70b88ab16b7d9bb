import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LoopDelay } from '../../src/plugins/loop-delay.js';
import { buildTestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/server.js';

let root: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir: root, cleanup } = tempDir());
});
afterEach(() => cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('event-loop delay monitor', () => {
  it('samples nothing until woken, keeps sampling while woken every window, and sleeps after a quiet punctual window', async () => {
    const monitor = new LoopDelay(50);
    try {
      await sleep(200);
      expect(monitor.sampling).toBe(false);
      expect(monitor.windows).toBe(0);
      monitor.wake();
      expect(monitor.sampling).toBe(true);
      for (let i = 0; i < 4; i++) {
        await sleep(40);
        monitor.wake();
      }
      expect(monitor.sampling).toBe(true);
      expect(monitor.windows).toBeGreaterThanOrEqual(2);
      // A loaded machine may keep the loop late for a window or two; it sleeps once punctual.
      for (let i = 0; i < 40 && monitor.sampling; i++) await sleep(50);
      expect(monitor.sampling).toBe(false);
      expect(monitor.delayMs).toBe(0);
      const windows = monitor.windows;
      await sleep(200);
      expect(monitor.windows).toBe(windows);
      expect(monitor.last?.mean).toBeGreaterThan(0);
    } finally {
      monitor.close();
    }
  });

  it('the metrics give the figures of the monitor under the names prom-client uses, once requests have woken it', async () => {
    const { app } = await buildTestApp(root, ['--watch', 'off']);
    try {
      // The metrics read the monitor's figures under prom-client's names.
      const before = await app.inject('/metrics');
      expect(before.body).toContain('wheelhouse_process_nodejs_eventloop_lag_p99_seconds 0');
      await sleep(1_200);
      const metrics = await app.inject('/metrics');
      expect(metrics.statusCode).toBe(200);
      await sleep(1_200);
      const again = await app.inject('/metrics');
      expect(again.body).toMatch(/wheelhouse_process_nodejs_eventloop_lag_p99_seconds 0\.0\d+/);
    } finally {
      await app.close();
    }
  });
});
