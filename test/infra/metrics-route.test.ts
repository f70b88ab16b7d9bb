// The ALB answers 404 for /metrics before a request reaches a task (infra/alb.tf,
// aws_lb_listener_rule.no_metrics). The ALB compares the path as sent, while the server's router
// decodes percent-escapes first, so /%6Detrics is /metrics to the server. This asks a real server
// every spelling of /metrics and checks that each one it answers with metrics is matched by one of
// the listener's path patterns, and that no route of the index is.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, startServer, tempDir, type RunningServer } from '../helpers/server.js';

/** An ALB path pattern as a regular expression: `*` any run of characters, `?` exactly one, case-sensitive, whole path. */
function albPattern(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\/]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** What the ALB matches a rule against: the path, without the query string. */
function albPath(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

/** One raw HTTP/1.1 request, the target sent exactly as given (fetch would normalise it). */
function rawGet(port: number, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: pypi.example.com\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', reject);
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
  });
}

/** Every spelling of /metrics: each letter plain or escaped (upper- and lower-case hex), with the tails a client might add. */
function spellings(): string[] {
  const word = 'metrics';
  const out = new Set<string>();
  for (let mask = 0; mask < 1 << word.length; mask++) {
    for (const upper of [true, false]) {
      let name = '';
      for (let i = 0; i < word.length; i++) {
        const hex = word.charCodeAt(i).toString(16);
        name += mask & (1 << i) ? `%${upper ? hex.toUpperCase() : hex}` : word.charAt(i);
      }
      for (const tail of ['', '?x=1', '/', '#x', ';x', '.', '%2F', '%23x', '%3Fx=1', '%00', '%20']) out.add(`/${name}${tail}`);
    }
  }
  for (const other of ['//metrics', '/./metrics', '/x/../metrics', '/Metrics', '/METRICS']) out.add(other);
  return [...out];
}

let server: RunningServer;
let root: { dir: string; cleanup(): void };
let patterns: string[];

describe('the ALB rule that keeps /metrics off the listener', () => {
  beforeAll(async () => {
    const hcl = await parse('alb.tf', fs.readFileSync(path.join(REPO, 'infra', 'alb.tf'), 'utf8'));
    // The patterns below the module's path_prefix (none by default): the suffixes, as written.
    patterns = (hcl.locals as { metrics_path_suffixes?: string[][] }[]).flatMap((l) => l.metrics_path_suffixes ?? []).flat();
    root = tempDir('wh-metrics-route-');
    // The module's default: every action needs a login. /metrics is not one of them.
    server = await startServer({
      root: root.dir,
      env: { WHEELHOUSE_AUTHENTICATE: 'download,list,update', WHEELHOUSE_USERNAME: 'ci', WHEELHOUSE_PASSWORD: 'probe-password-0123' },
    });
  });

  afterAll(async () => {
    await server.stop();
    root.cleanup();
  });

  it('matches every spelling of /metrics that the server answers with its metrics', async () => {
    expect(patterns.length).toBeGreaterThan(0);
    const matchers = patterns.map(albPattern);
    const served: string[] = [];
    for (const target of spellings()) {
      const res = await rawGet(server.port, target);
      if (res.status === 200 && res.body.includes('# HELP')) served.push(target);
    }
    // The test must be able to fail: the plain path and an escaped one do reach the metrics.
    expect(served).toEqual(expect.arrayContaining(['/metrics', '/%6Detrics', '/m%65trics?x=1']));
    const unmatched = served.filter((t) => !matchers.some((m) => m.test(albPath(t))));
    expect(unmatched, `spellings of /metrics the server answers but no listener rule matches: ${unmatched.join(' ')}`).toEqual([]);
  }, 120_000);

  it("matches none of the index's own paths, nor projects whose names start with metrics", () => {
    const matchers = patterns.map(albPattern);
    const index = [
      '/',
      '/health',
      '/simple/',
      '/simple/metrics/',
      '/simple/metrics-exporter/',
      '/packages/metrics-1.0-py3-none-any.whl',
      '/packages/foo-1.0%2Blocal-py3-none-any.whl',
      '/metrics/',
      '/metrics-exporter/',
      '/metricsd/json',
      '/m/',
      '/legacy/',
    ];
    expect(index.filter((p) => matchers.some((m) => m.test(albPath(p))))).toEqual([]);
  });
});

describe('the same rule under path_prefix (a path of a shared ALB)', () => {
  let prefixed: RunningServer;
  let dir: { dir: string; cleanup(): void };

  beforeAll(async () => {
    const hcl = await parse('alb.tf', fs.readFileSync(path.join(REPO, 'infra', 'alb.tf'), 'utf8'));
    patterns = (hcl.locals as { metrics_path_suffixes?: string[][] }[]).flatMap((l) => l.metrics_path_suffixes ?? []).flat();
    dir = tempDir('wh-metrics-route-prefix-');
    // As the module runs it with path_prefix = "/pypi".
    prefixed = await startServer({
      root: dir.dir,
      healthPath: '/pypi/health',
      env: {
        WHEELHOUSE_AUTHENTICATE: 'download,list,update',
        WHEELHOUSE_USERNAME: 'ci',
        WHEELHOUSE_PASSWORD: 'probe-password-0123',
        WHEELHOUSE_BASE_PATH: '/pypi',
      },
    });
  });

  afterAll(async () => {
    await prefixed.stop();
    dir.cleanup();
  });

  it('matches every spelling of /pypi/metrics the server answers, and the server answers no other spelling of the prefix', async () => {
    const matchers = patterns.map((p) => albPattern(`/pypi${p}`));
    const served: string[] = [];
    const targets = [
      ...spellings().map((s) => `/pypi${s}`),
      ...['/%70ypi', '/p%79pi', '/PYPI', '/pypi/.', '//pypi', '/pypi%2F', '/./pypi'].flatMap((p) => [`${p}/metrics`, `${p}metrics`]),
    ];
    for (const target of targets) {
      const res = await rawGet(prefixed.port, target);
      if (res.status === 200 && res.body.includes('# HELP')) served.push(target);
    }
    expect(served).toEqual(expect.arrayContaining(['/pypi/metrics', '/pypi/%6Detrics']));
    expect(served.filter((t) => !t.startsWith('/pypi/'))).toEqual([]);
    const unmatched = served.filter((t) => !matchers.some((m) => m.test(albPath(t))));
    expect(unmatched, `spellings the server answers but no listener rule matches: ${unmatched.join(' ')}`).toEqual([]);
  }, 120_000);
});
