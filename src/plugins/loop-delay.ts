import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** How often Node's monitor wakes the loop while it samples: fine enough for a 50 ms threshold. */
export const LOOP_DELAY_RESOLUTION_MS = 10;

/** What the sampling timer saw over one window, in seconds (each value includes the resolution). */
export interface LoopDelayWindow {
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
}

/**
 * Event-loop delay, measured only while there is something to measure. Node's monitor wakes the
 * loop every 10 ms; always on (as prom-client's and under-pressure's monitors are) that alone was
 * about 1% of a core in a process serving nothing. Here a request wakes the monitor, and it goes
 * back to sleep after a window in which no request came and the loop was punctual: an idle
 * process spends nothing on it, a busy one measures as before (mean delay over the last window).
 */
export class LoopDelay {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  private readonly windowMs: number;
  private timer: NodeJS.Timeout | null = null;
  private requested = false;
  private closed = false;
  /** Mean delay (ms) past the resolution over the last window; 0 while asleep. */
  delayMs = 0;
  /** The last full window sampled, for the metrics; null before the first one. */
  last: LoopDelayWindow | null = null;
  /** Windows sampled since start: an idle process adds none. */
  windows = 0;

  constructor(windowMs = 1000) {
    this.windowMs = windowMs;
  }

  get sampling(): boolean {
    return this.timer !== null;
  }

  /** Called for every request: starts sampling if the monitor sleeps. */
  wake(): void {
    this.requested = true;
    if (this.timer !== null || this.closed) return;
    this.histogram.reset();
    this.histogram.enable();
    this.timer = setTimeout(() => this.endWindow(), this.windowMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    this.sleep();
  }

  private endWindow(): void {
    const h = this.histogram;
    this.windows++;
    // No sample at all in a whole window: the loop never came round to the monitor's timer.
    const mean = h.count === 0 ? Infinity : h.mean / 1e6 - LOOP_DELAY_RESOLUTION_MS;
    this.delayMs = Math.max(0, mean);
    if (h.count > 0) {
      this.last = {
        min: h.min / 1e9,
        max: h.max / 1e9,
        mean: h.mean / 1e9,
        stddev: h.stddev / 1e9,
        p50: h.percentile(50) / 1e9,
        p90: h.percentile(90) / 1e9,
        p99: h.percentile(99) / 1e9,
      };
    }
    h.reset();
    // A late loop stays measured without requests: the next request must see how late it is.
    if (this.requested || this.delayMs > 1) {
      this.requested = false;
      this.timer?.refresh();
      return;
    }
    this.sleep();
  }

  private sleep(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.histogram.disable();
    this.delayMs = 0;
  }
}
