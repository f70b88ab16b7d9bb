/**
 * Throughput of the two hot URLs with autocannon: many keep-alive connections hammering one
 * index page, then one small wheel. Complements the bursts: how much headroom a task has.
 */
import autocannon from 'autocannon';
import { basicAuth } from '../lib/http.js';

export interface AutocannonCase {
  name: 'simple' | 'package';
  url: string;
  reqPerS: number;
  requests: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
}

export interface AutocannonResult {
  profile: 'autocannon';
  params: { baseUrl: string; connections: number; durationS: number };
  cases: AutocannonCase[];
}

export async function runAutocannon(opts: {
  baseUrl: string;
  user?: string;
  password?: string;
  project: string;
  file: string;
  connections?: number;
  durationS?: number;
  log?: (line: string) => void;
}): Promise<AutocannonResult> {
  const connections = opts.connections ?? 100;
  const durationS = opts.durationS ?? 10;
  const base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : opts.baseUrl + '/');
  const cases: AutocannonCase[] = [];
  const urls = [
    ['simple', new URL(`simple/${opts.project}/`, base).href],
    ['package', new URL(`packages/${opts.file}`, base).href],
  ] as const;
  for (const [name, url] of urls) {
    const r = await autocannon({ url, connections, duration: durationS, timeout: 30, headers: basicAuth(opts.user, opts.password) });
    const statusCodes: Record<string, number> = {};
    for (const [code, { count }] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = count;
    const c: AutocannonCase = {
      name,
      url,
      reqPerS: Math.round(r.requests.average),
      requests: r.requests.total,
      p50: r.latency.p50,
      p99: r.latency.p99,
      max: r.latency.max,
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
      statusCodes,
    };
    opts.log?.(`  autocannon ${name}: ${c.reqPerS} req/s, p50 ${c.p50} ms, p99 ${c.p99} ms, non-2xx ${c.non2xx}, errors ${c.errors}`);
    cases.push(c);
  }
  return { profile: 'autocannon', params: { baseUrl: base.href, connections, durationS }, cases };
}
