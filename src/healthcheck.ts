// Container HEALTHCHECK probe: the slim base image has no curl, and node is already there.
// Exit 0 when /health answers 200 within 3 s, 1 otherwise.
import http from 'node:http';

const port = Number(process.env.WHEELHOUSE_PORT || 8080);
const listen = process.env.WHEELHOUSE_HOST;
// A wildcard listener answers on loopback; a specific address must be asked directly.
const host = !listen || listen === '0.0.0.0' || listen === '::' ? '127.0.0.1' : listen;

const req = http.get({ host, port, path: '/health', timeout: 3000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timed out after 3s')));
req.on('error', (err) => {
  console.error(`health check failed: ${err.message}`);
  process.exit(1);
});
