import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/server.js';

let root: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir: root, cleanup } = tempDir());
});
afterEach(() => cleanup());

/** Keeps the event loop late by `lateMs` on every turn for `forMs`, yielding in between so timers still run. */
async function saturate(forMs: number, lateMs: number): Promise<void> {
  const until = Date.now() + forMs;
  while (Date.now() < until) {
    const start = Date.now();
    while (Date.now() - start < lateMs) {
      // busy: what a process drowning in requests looks like to the event-loop monitor
    }
    await new Promise((r) => setImmediate(r));
  }
}

describe('load shedding', () => {
  it('answers 503 with Retry-After past --max-event-loop-delay, keeps /health and /metrics answering, and recovers', async () => {
    const { app } = await buildTestApp(root, ['--max-event-loop-delay', '50ms', '--watch', 'off']);
    try {
      expect((await app.inject('/simple/')).statusCode).toBe(200);
      // The monitor samples once a second; stay late across more than one sample.
      await saturate(2_500, 100);
      const shed = await app.inject('/simple/');
      expect(shed.statusCode).toBe(503);
      expect(shed.headers['retry-after']).toBe('2');
      expect(shed.body).toContain('Server busy, retry shortly');
      expect((await app.inject('/health')).statusCode).toBe(200);
      expect((await app.inject('/metrics')).statusCode).toBe(200);
      // A calm second later the next sample clears the pressure.
      await new Promise((r) => setTimeout(r, 1_500));
      expect((await app.inject('/simple/')).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});
