// Container HEALTHCHECK probe: the slim base image has no curl, and node is already there.
// Exit 0 when /health answers 200 within 3 s, or 503 "loading"; 1 otherwise.
//
// This is liveness, not readiness: the ALB's own check of /health keeps a loading task out of
// rotation, while this one decides whether ECS replaces the task. The first start on a large
// volume hashes every file once (minutes on EFS); replacing the task then would start that over
// on another one, again and again.
import http from 'node:http';
import { normalizeBasePath } from './web/urls.js';

const port = Number(process.env.WHEELHOUSE_PORT || 8080);
const listen = process.env.WHEELHOUSE_HOST;
// A wildcard listener answers on loopback; a specific address must be asked directly.
const host = !listen || listen === '0.0.0.0' || listen === '::' ? '127.0.0.1' : listen;

// The same variables the server reads: under a path prefix the health check moves with it.
const healthPath = `${normalizeBasePath(process.env.WHEELHOUSE_BASE_PATH ?? '')}${process.env.WHEELHOUSE_HEALTH_ENDPOINT || '/health'}`;

const req = http.get({ host, port, path: healthPath, timeout: 3000 }, (res) => {
  let body = '';
  res.setEncoding('utf8').on('data', (s: string) => (body += s.slice(0, 4096)));
  res.on('end', () => {
    if (res.statusCode === 200) process.exit(0);
    let status = '';
    try {
      status = String((JSON.parse(body) as { status?: unknown }).status);
    } catch {
      // not our /health
    }
    if (res.statusCode === 503 && status === 'loading') process.exit(0);
    console.error(`health check failed: ${res.statusCode} ${status || body.slice(0, 200)}`);
    process.exit(1);
  });
});
req.on('timeout', () => req.destroy(new Error('timed out after 3s')));
req.on('error', (err) => {
  console.error(`health check failed: ${err.message}`);
  process.exit(1);
});
