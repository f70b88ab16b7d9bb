import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LiveIndex } from '../../src/index/live-index.js';
import { Refresher } from '../../src/index/refresher.js';

const quiet = { info() {}, warn() {}, error() {} };

/** An index whose every poll takes `pollMs` (a rescan on a slow volume) and records when it started. */
function slowIndex(pollMs: number, starts: number[]) {
  return {
    poll: () => {
      starts.push(performance.now());
      return new Promise<boolean>((resolve) => setTimeout(() => resolve(true), pollMs));
    },
    rescan: () => Promise.resolve(),
  } as unknown as LiveIndex;
}

const volume = {
  sweepIncoming: () => Promise.resolve(0),
  isLocalDisk: () => Promise.resolve(false),
  watch: () => ({ close: () => Promise.resolve() }),
};

/** Runs a Refresher with a 1 s interval over an index whose polls take `pollMs`; the gaps between poll starts. */
async function pollGaps(pollMs: number, forMs: number): Promise<{ polls: number; gaps: number[] }> {
  const starts: number[] = [];
  const refresher = new Refresher(slowIndex(pollMs, starts), volume, {
    refreshInterval: 1000,
    rescanInterval: 300_000,
    watch: 'off',
    incomingMaxAge: 3_600_000,
    log: quiet,
  });
  await refresher.start();
  await vi.advanceTimersByTimeAsync(forMs);
  await refresher.stop();
  return { polls: starts.length, gaps: starts.slice(1).map((t, i) => Math.round(t - starts[i]!)) };
}

describe('Refresher polling', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('reads the generation at a fixed rate: a 600 ms rescan does not push the next poll back', async () => {
    const { polls, gaps } = await pollGaps(600, 5_050);
    // Started 1 s after start, then every 1 s: 1000, 2000, ..., 5000.
    expect(polls).toBe(5);
    expect(gaps).toEqual([1000, 1000, 1000, 1000]);
  });

  it('never overlaps polls: one slower than the interval is followed by the next at once', async () => {
    const { gaps } = await pollGaps(1_500, 6_100);
    expect(gaps.length).toBeGreaterThanOrEqual(2);
    // A timer of 0 ms fires after 1 ms in Node.
    for (const g of gaps) expect([1_500, 1_501]).toContain(g);
  });
});
