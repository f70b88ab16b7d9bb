/**
 * A burst of pip-like clients: each has its own connection (no shared pool), reads the project
 * page, follows the link it is served for its file (resolved against the page URL), fetches the
 * PEP 658 metadata where advertised (JSON mode, as pip 23+ does), downloads the wheel and checks
 * its sha256 against the hash the page gave.
 */
import { createHash } from 'node:crypto';
import { basicAuth, errorKind, get, makeAgent } from '../lib/http.js';
import { countBy, latencyOf, timeSeries, type Percentiles, type Sample, type SeriesPoint } from '../lib/stats.js';

export type PipMode = 'html' | 'json';

export interface PiplikeOptions {
  baseUrl: string;
  user?: string;
  password?: string;
  clients?: number;
  mode?: PipMode;
  /** The files clients ask for, handed out round robin (project + filename). */
  files: Array<{ project: string; filename: string }>;
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface PiplikeResult {
  profile: 'piplike';
  params: { baseUrl: string; clients: number; mode: PipMode; timeoutMs: number; distinctFiles: number };
  startedAt: string;
  driverCpuS: number;
  clients: number;
  /** Clients that got their wheel with the right hash. */
  installed: number;
  requests: number;
  failedRequests: number;
  failures: Record<string, number>;
  /** From the burst's start until its last client finished. */
  drainMs: number;
  downloadedBytes: number;
  latency: Percentiles;
  perStep: Record<string, Percentiles>;
  timeSeries: SeriesPoint[];
}

// What pip 23+ sends for an index page (PEP 691 negotiation), and what pip <= 22.1 sends.
export const ACCEPT_JSON = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';
export const ACCEPT_HTML = 'text/html';

interface Link {
  url: URL;
  sha256?: string;
  metadataSha256?: string;
}

const attr = (attrs: string, name: string): string | undefined => {
  const m = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i').exec(attrs);
  return m ? (m[2] ?? m[3]) : undefined;
};
const unescape = (s: string): string =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The link for `filename` on a PEP 503 page, as pip's HTML parser reads anchors. */
export function findHtmlLink(html: string, pageUrl: URL, filename: string): Link | undefined {
  const base = /<base\s[^>]*href\s*=\s*"([^"]*)"/i.exec(html)?.[1];
  const baseUrl = base ? new URL(unescape(base), pageUrl) : pageUrl;
  for (const m of html.matchAll(/<a\s([^>]*)>([^<]*)<\/a>/gi)) {
    const attrs = m[1]!;
    if (unescape(m[2]!.trim()) !== filename) continue;
    const href = attr(attrs, 'href');
    if (href === undefined) continue;
    const url = new URL(unescape(href), baseUrl);
    const sha256 = /^sha256=([0-9a-f]{64})$/i.exec(url.hash.slice(1))?.[1];
    const meta = attr(attrs, 'data-core-metadata') ?? attr(attrs, 'data-dist-info-metadata');
    const metadataSha256 = meta ? /^sha256=([0-9a-f]{64})$/i.exec(unescape(meta))?.[1] : undefined;
    url.hash = '';
    return { url, ...(sha256 ? { sha256 } : {}), ...(metadataSha256 ? { metadataSha256 } : {}) };
  }
  return undefined;
}

interface JsonPage {
  files?: Array<{
    filename: string;
    url: string;
    hashes?: Record<string, string>;
    'core-metadata'?: boolean | Record<string, string>;
    'dist-info-metadata'?: boolean | Record<string, string>;
  }>;
}

/** The link for `filename` on a PEP 691 page. */
export function findJsonLink(body: string, pageUrl: URL, filename: string): Link | undefined {
  const page = JSON.parse(body) as JsonPage;
  const file = page.files?.find((f) => f.filename === filename);
  if (!file) return undefined;
  const url = new URL(file.url, pageUrl);
  url.hash = '';
  const meta = file['core-metadata'] ?? file['dist-info-metadata'];
  const metadataSha256 = typeof meta === 'object' ? meta.sha256 : undefined;
  const sha256 = file.hashes?.sha256;
  return { url, ...(sha256 ? { sha256 } : {}), ...(metadataSha256 ? { metadataSha256 } : {}) };
}

export async function runPiplike(opts: PiplikeOptions): Promise<PiplikeResult> {
  const clients = opts.clients ?? 510;
  const mode = opts.mode ?? 'json';
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : opts.baseUrl + '/');
  const auth = basicAuth(opts.user, opts.password);
  const samples: Sample[] = [];
  let installed = 0;
  let downloadedBytes = 0;
  if (opts.files.length === 0) throw new Error('piplike needs at least one file to ask for');

  async function client(i: number): Promise<void> {
    const want = opts.files[i % opts.files.length]!;
    // Each pip process has its own connection pool: nothing shared between clients.
    const agent = makeAgent(base, { keepAlive: true, maxSockets: 1 });
    const deadline = () => Date.now() + timeoutMs;
    const step = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
      const start = Date.now();
      try {
        const out = await fn();
        samples.push({ step: name, start, end: Date.now(), ok: true, status: 200 });
        return out;
      } catch (err) {
        const e = err as { status?: number };
        samples.push({
          step: name,
          start,
          end: Date.now(),
          ok: false,
          ...(e.status !== undefined ? { status: e.status } : { error: errorKind(err) }),
        });
        return undefined;
      }
    };
    const fail = (status: number | undefined, message: string): never => {
      throw Object.assign(new Error(message), status !== undefined ? { status } : { code: message });
    };
    try {
      const pageUrl = new URL(`simple/${want.project}/`, base);
      const link = await step('page', async () => {
        const res = await get(pageUrl, {
          agent,
          deadline: deadline(),
          keepBody: true,
          headers: {
            ...auth,
            accept: mode === 'json' ? ACCEPT_JSON : ACCEPT_HTML,
            'accept-encoding': 'gzip, deflate',
            'cache-control': 'max-age=0',
          },
        });
        if (res.status >= 400) fail(res.status, `page ${res.status}`);
        const body = res.body!.toString('utf8');
        const type = res.headers['content-type'] ?? '';
        const found = type.includes('json') ? findJsonLink(body, pageUrl, want.filename) : findHtmlLink(body, pageUrl, want.filename);
        if (!found) fail(undefined, 'file-not-listed');
        return found!;
      });
      if (!link) return;
      if (mode === 'json' && link.metadataSha256) {
        const ok = await step('metadata', async () => {
          const url = new URL(link.url.pathname + '.metadata', link.url);
          const res = await get(url, { agent, deadline: deadline(), keepBody: true, headers: { ...auth, 'accept-encoding': 'identity' } });
          if (res.status >= 400) fail(res.status, `metadata ${res.status}`);
          const digest = createHash('sha256').update(res.body!).digest('hex');
          if (digest !== link.metadataSha256) fail(undefined, 'metadata-hash-mismatch');
          return true;
        });
        if (!ok) return;
      }
      const ok = await step('download', async () => {
        const hash = createHash('sha256');
        const res = await get(link.url, {
          agent,
          deadline: deadline(),
          headers: { ...auth, 'accept-encoding': 'identity' },
          onChunk: (c) => hash.update(c),
        });
        if (res.status >= 400) fail(res.status, `download ${res.status}`);
        downloadedBytes += res.bytes;
        if (link.sha256 && hash.digest('hex') !== link.sha256) fail(undefined, 'hash-mismatch');
        return true;
      });
      if (ok) installed++;
    } finally {
      agent.destroy();
    }
  }

  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
  const drainMs = Date.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  opts.log?.(`  burst of ${clients} pip-like clients (${mode}) drained in ${(drainMs / 1000).toFixed(2)} s, ${installed} installed`);

  const failed = samples.filter((s) => !s.ok);
  const perStep: Record<string, Percentiles> = {};
  for (const name of ['page', 'metadata', 'download']) {
    const list = samples.filter((s) => s.step === name);
    if (list.length) perStep[name] = latencyOf(list);
  }
  return {
    profile: 'piplike',
    params: { baseUrl: base.href, clients, mode, timeoutMs, distinctFiles: Math.min(clients, opts.files.length) },
    startedAt: new Date(t0).toISOString(),
    driverCpuS: (cpu.user + cpu.system) / 1e6,
    clients,
    installed,
    requests: samples.length,
    failedRequests: failed.length,
    failures: countBy(failed, (s) => (s.status !== undefined ? String(s.status) : (s.error ?? 'error'))),
    drainMs,
    downloadedBytes,
    latency: latencyOf(samples),
    perStep,
    timeSeries: timeSeries(samples, t0),
  };
}
