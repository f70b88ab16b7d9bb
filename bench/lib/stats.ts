/** One measured step of a client: start and end in epoch ms. */
export interface Sample {
  step: string;
  start: number;
  end: number;
  ok: boolean;
  /** HTTP status of the last response of the step; absent on a network error or timeout. */
  status?: number;
  error?: string;
}

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface SeriesPoint {
  /** Seconds since the run started (completion time of the samples in this bucket). */
  t: number;
  count: number;
  p50: number;
  p95: number;
  errors: number;
}

/** sorted[floor(q * n)], the rule of the published stress test (not interpolated). */
export function pick(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const round = (x: number): number => Math.round(x * 10) / 10;

export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((s, x) => s + x, 0);
  return {
    n: sorted.length,
    p50: round(pick(sorted, 0.5)),
    p95: round(pick(sorted, 0.95)),
    p99: round(pick(sorted, 0.99)),
    max: round(sorted.at(-1) ?? 0),
    mean: round(sorted.length ? sum / sorted.length : 0),
  };
}

/** Latency percentiles over successful samples only, as the published test computes them. */
export function latencyOf(samples: Sample[]): Percentiles {
  return percentiles(samples.filter((s) => s.ok).map((s) => s.end - s.start));
}

export function timeSeries(samples: Sample[], t0: number): SeriesPoint[] {
  const buckets = new Map<number, Sample[]>();
  for (const s of samples) {
    const t = Math.floor((s.end - t0) / 1000);
    const list = buckets.get(t) ?? [];
    list.push(s);
    buckets.set(t, list);
  }
  const out: SeriesPoint[] = [];
  const last = Math.max(-1, ...buckets.keys());
  for (let t = 0; t <= last; t++) {
    const list = buckets.get(t) ?? [];
    const lat = latencyOf(list);
    out.push({ t, count: list.length, p50: lat.p50, p95: lat.p95, errors: list.filter((s) => !s.ok).length });
  }
  return out;
}

export function countBy<T>(items: T[], key: (x: T) => string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of items) {
    const k = key(x);
    if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Deterministic PRNG (mulberry32) so two targets get the same sequence of packages. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
