import http from 'node:http';
import https from 'node:https';
import { gunzipSync, inflateSync } from 'node:zlib';

export type Agent = http.Agent;

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Present when keepBody was asked for (decoded from gzip/deflate if the server compressed it). */
  body?: Buffer;
  bytes: number;
}

export function makeAgent(base: URL, opts: http.AgentOptions): Agent {
  return base.protocol === 'https:' ? new https.Agent(opts) : new http.Agent(opts);
}

export function basicAuth(user?: string, password?: string): Record<string, string> {
  if (user === undefined) return {};
  return { authorization: 'Basic ' + Buffer.from(`${user}:${password ?? ''}`).toString('base64') };
}

export class TimeoutError extends Error {
  code = 'ETIMEDOUT';
}

/**
 * One GET. Resolves for any status (the caller decides what counts as success) and rejects on
 * a network error or when `deadline` (epoch ms) passes before the body has been read.
 */
export function get(
  url: URL,
  opts: {
    agent: Agent;
    headers?: Record<string, string>;
    deadline: number;
    keepBody?: boolean;
    onChunk?: (chunk: Buffer) => void;
  },
): Promise<HttpResult> {
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = mod.request(url, { method: 'GET', agent: opts.agent, headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (opts.keepBody) chunks.push(c);
        opts.onChunk?.(c);
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        let body: Buffer | undefined;
        if (opts.keepBody) {
          body = Buffer.concat(chunks);
          const enc = res.headers['content-encoding'];
          if (enc === 'gzip') body = gunzipSync(body);
          else if (enc === 'deflate') body = inflateSync(body);
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, ...(body ? { body } : {}) });
      });
      res.on('error', fail);
    });
    function fail(err: Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    }
    const timer = setTimeout(
      () => {
        const err = new TimeoutError('timeout');
        req.destroy(err);
        fail(err);
      },
      Math.max(0, opts.deadline - Date.now()),
    );
    req.on('error', fail);
    req.end();
  });
}

export function errorKind(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ?? e.message ?? String(err);
}
