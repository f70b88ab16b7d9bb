/**
 * The PNG users look at: latency per second through the whole reference run (log scale, one
 * colour per target, p95 thick, p50 thin, the published 14 s P95 as a dashed line), and below
 * it how fast a burst drains (share of clients finished against seconds since the burst began).
 */
import { createWriteStream, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as PImage from 'pureimage';
import type { SeriesPoint } from './lib/stats.js';

export interface ChartSeries {
  target: string;
  timeSeries: SeriesPoint[];
  /** Completion curve of one burst (101 points, ms at 0..100 % of clients finished). */
  completion?: number[];
}

// No red: red marks the published figure and seconds with failures.
const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#17becf', '#e377c2'];
const FONT_FAMILY = 'BenchSans';

const FONT_CANDIDATES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/lato/Lato-Regular.ttf',
  '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
];

export function findFont(): string | undefined {
  for (const f of FONT_CANDIDATES) if (existsSync(f)) return f;
  try {
    const all = readdirSync('/usr/share/fonts', { recursive: true, withFileTypes: true });
    const ttf = all.find((e) => e.isFile() && e.name.endsWith('.ttf'));
    return ttf ? join(ttf.parentPath, ttf.name) : undefined;
  } catch {
    return undefined;
  }
}

let fontLoaded: boolean | undefined;
async function loadFont(): Promise<boolean> {
  if (fontLoaded !== undefined) return fontLoaded;
  const path = findFont();
  if (!path) return (fontLoaded = false);
  try {
    await PImage.registerFont(path, FONT_FAMILY).loadPromise?.();
    fontLoaded = true;
  } catch {
    fontLoaded = false;
  }
  return fontLoaded;
}

type Ctx = ReturnType<ReturnType<typeof PImage.make>['getContext']>;

function line(ctx: Ctx, pts: Array<[number, number]>, colour: string, width: number): void {
  if (pts.length === 0) return;
  ctx.strokeStyle = colour;
  ctx.fillStyle = colour;
  if (pts.length === 1) {
    const [x, y] = pts[0]!;
    ctx.fillRect(x - width, y - width, width * 2, width * 2);
    return;
  }
  ctx.lineWidth = width;
  ctx.beginPath();
  ctx.moveTo(pts[0]![0], pts[0]![1]);
  for (const [x, y] of pts.slice(1)) ctx.lineTo(x, y);
  ctx.stroke();
}

function dashed(ctx: Ctx, x0: number, x1: number, y: number, colour: string): void {
  for (let x = x0; x < x1; x += 14)
    line(
      ctx,
      [
        [x, y],
        [Math.min(x + 8, x1), y],
      ],
      colour,
      1.5,
    );
}

export async function drawChart(
  series: ChartSeries[],
  outFile: string,
  opts: { title?: string; referenceP95Ms?: number } = {},
): Promise<void> {
  const W = 1200;
  const H = 900;
  const img = PImage.make(W, H);
  const ctx = img.getContext('2d');
  const haveText = await loadFont();
  const text = (s: string, x: number, y: number, size = 14, colour = '#222', align: 'left' | 'right' | 'center' = 'left') => {
    if (!haveText) return;
    ctx.font = `${size}px '${FONT_FAMILY}'`;
    ctx.fillStyle = colour;
    const w = ctx.measureText(s).width;
    ctx.fillText(s, align === 'left' ? x : align === 'right' ? x - w : x - w / 2, y);
  };
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, W, H);

  // Panel A: latency per second, log scale.
  const A = { x: 90, y: 70, w: 1060, h: 440 };
  const tMax = Math.max(10, ...series.flatMap((s) => s.timeSeries.map((p) => p.t + 1)));
  const yMaxMs = Math.max(1000, ...series.flatMap((s) => s.timeSeries.map((p) => p.p95)), (opts.referenceP95Ms ?? 0) * 1.2);
  const logMin = 0; // 1 ms
  const logMax = Math.ceil(Math.log10(yMaxMs));
  const ax = (t: number) => A.x + (t / tMax) * A.w;
  const ay = (ms: number) => A.y + A.h - ((Math.log10(Math.max(1, ms)) - logMin) / (logMax - logMin)) * A.h;

  text(opts.title ?? 'Latency through the bursts (reference profile)', A.x, 30, 20, '#111');
  text(
    'per second of completion: p95 thick, p50 thin; log scale; red ticks at the bottom: seconds with failed samples',
    A.x,
    52,
    13,
    '#555',
  );
  ctx.strokeStyle = '#dddddd';
  for (let e = logMin; e <= logMax; e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v > 10 ** logMax) break;
      const y = ay(v);
      line(
        ctx,
        [
          [A.x, y],
          [A.x + A.w, y],
        ],
        m === 1 ? '#cccccc' : '#eeeeee',
        1,
      );
      if (m === 1 || logMax - logMin <= 3) text(v >= 1000 ? `${v / 1000} s` : `${v} ms`, A.x - 8, y + 5, 12, '#444', 'right');
    }
  }
  const xStep = tMax > 120 ? 30 : tMax > 40 ? 10 : tMax > 15 ? 5 : 1;
  for (let t = 0; t <= tMax; t += xStep) {
    line(
      ctx,
      [
        [ax(t), A.y + A.h],
        [ax(t), A.y + A.h + 5],
      ],
      '#888888',
      1,
    );
    text(`${t}`, ax(t), A.y + A.h + 20, 12, '#444', 'center');
  }
  text('seconds since the run started', A.x + A.w / 2, A.y + A.h + 40, 13, '#444', 'center');
  line(
    ctx,
    [
      [A.x, A.y],
      [A.x, A.y + A.h],
      [A.x + A.w, A.y + A.h],
    ],
    '#888888',
    1,
  );
  if (opts.referenceP95Ms) {
    const y = ay(opts.referenceP95Ms);
    dashed(ctx, A.x, A.x + A.w, y, '#aa0000');
    text(
      `published P95 of the stress test: ${opts.referenceP95Ms / 1000} s (12 tasks, 48 workers)`,
      A.x + A.w - 6,
      y - 6,
      12,
      '#aa0000',
      'right',
    );
  }
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    // Lines join consecutive seconds only: a gap is a second in which nothing finished.
    const runs = (key: 'p50' | 'p95') => {
      const out: Array<Array<[number, number]>> = [];
      let cur: Array<[number, number]> = [];
      for (const p of s.timeSeries) {
        if (p.count === 0 || p[key] === 0) {
          if (cur.length) out.push(cur);
          cur = [];
          continue;
        }
        cur.push([ax(p.t + 0.5), ay(p[key])]);
      }
      if (cur.length) out.push(cur);
      return out;
    };
    for (const r of runs('p50')) line(ctx, r, colour, 1);
    for (const r of runs('p95')) line(ctx, r, colour, 3);
    for (const p of s.timeSeries)
      if (p.errors > 0)
        line(
          ctx,
          [
            [ax(p.t + 0.5), A.y + A.h - 4],
            [ax(p.t + 0.5), A.y + A.h - 14],
          ],
          '#ff0000',
          2,
        );
  });

  // Panel B: drain of a burst.
  const B = { x: 90, y: 600, w: 1060, h: 230 };
  const curves = series.filter((s) => s.completion && s.completion.length);
  const bMax = Math.max(1000, ...curves.flatMap((s) => s.completion!)) / 1000;
  const bStep = bMax > 20 ? 5 : bMax > 8 ? 2 : bMax > 3 ? 1 : 0.5;
  const bx = (ms: number) => B.x + (ms / 1000 / (Math.ceil(bMax / bStep) * bStep)) * B.w;
  const by = (pct: number) => B.y + B.h - (pct / 100) * B.h;
  text('How a burst drains: share of its clients finished (median burst per target)', B.x, B.y - 25, 16, '#111');
  for (const pct of [0, 25, 50, 75, 100]) {
    line(
      ctx,
      [
        [B.x, by(pct)],
        [B.x + B.w, by(pct)],
      ],
      pct === 0 ? '#888888' : '#eeeeee',
      1,
    );
    text(`${pct}%`, B.x - 8, by(pct) + 5, 12, '#444', 'right');
  }
  for (let t = 0; t <= Math.ceil(bMax / bStep) * bStep + 1e-9; t += bStep) {
    line(
      ctx,
      [
        [bx(t * 1000), B.y + B.h],
        [bx(t * 1000), B.y + B.h + 5],
      ],
      '#888888',
      1,
    );
    text(`${Number(t.toFixed(1))}`, bx(t * 1000), B.y + B.h + 20, 12, '#444', 'center');
  }
  text('seconds since the burst started', B.x + B.w / 2, B.y + B.h + 40, 13, '#444', 'center');
  line(
    ctx,
    [
      [B.x, B.y],
      [B.x, B.y + B.h],
    ],
    '#888888',
    1,
  );
  series.forEach((s, i) => {
    if (!s.completion?.length) return;
    const colour = COLOURS[i % COLOURS.length]!;
    line(
      ctx,
      s.completion.map((ms, k) => [bx(ms), by(k)] as [number, number]),
      colour,
      3,
    );
  });

  // Legend.
  let lx = A.x + 10;
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const drain = s.completion?.length ? ` (drain ${(s.completion.at(-1)! / 1000).toFixed(2)} s)` : '';
    line(
      ctx,
      [
        [lx, A.y + 12],
        [lx + 24, A.y + 12],
      ],
      colour,
      3,
    );
    text(`${s.target}${drain}`, lx + 30, A.y + 17, 13, '#222');
    lx += 60 + (haveText ? ctx.measureText(`${s.target}${drain}`).width : 120);
  });

  await PImage.encodePNGToStream(img, createWriteStream(outFile));
}
