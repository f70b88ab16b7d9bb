// A TLS-terminating reverse proxy on loopback, standing in for the load balancer: the PyPA publish
// action only ever speaks https to an index, and production's TLS ends at the ALB, which appends
// the client's address to X-Forwarded-For (the server trusts one hop).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { type Server, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface TlsProxy {
  /** https://127.0.0.1:PORT */
  url: string;
  port: number;
  /** The self-signed certificate (PEM), for REQUESTS_CA_BUNDLE or twine --cert. */
  certFile: string;
  close(): Promise<void>;
}

/** A self-signed certificate for localhost and 127.0.0.1, made with openssl in `dir`. */
export function selfSignedCert(dir: string): { key: string; cert: string; certFile: string } {
  const keyFile = path.join(dir, 'proxy-key.pem');
  const certFile = path.join(dir, 'proxy-cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-keyout', keyFile, '-out', certFile, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' }); // prettier-ignore
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}

/** Forwards every request to `target` (http://127.0.0.1:PORT), bodies streamed both ways. */
export async function startTlsProxy(target: string, dir: string): Promise<TlsProxy> {
  const { key, cert, certFile } = selfSignedCert(dir);
  const upstream = new URL(target);
  const server: Server = createServer({ key, cert }, (req, res) => {
    const forwardedFor = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    const out = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'x-forwarded-for': forwardedFor, 'x-forwarded-proto': 'https' },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    certFile,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
