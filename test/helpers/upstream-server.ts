// A real upstream index for tests, shaped like PyPI: one loopback server answers the simple API
// (PEP 691 JSON or PEP 503 HTML by Accept, ETag/If-None-Match, 301 to normalized names), and
// its file URLs point at a second loopback port standing in for the CDN (files.pythonhosted.org),
// which serves the files and their PEP 658 metadata. Faults can be injected per project page and
// per file; every request is recorded; stop() and start() simulate an outage on the same ports.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { field, parseCoreMetadata } from '../../src/pypi/metadata.js';
import { negotiate } from '../../src/pypi/negotiate.js';
import { normalizeName, parseFilename } from '../../src/pypi/names.js';
import { readSdistPkgInfo, readWheelMetadata } from '../../src/store/archive.js';

export interface FakeFile {
  filename: string;
  /** Normalized project name. */
  project: string;
  version: string;
  bytes: Buffer;
  size: number;
  sha256: string;
  /** A wheel's METADATA (served as `<url>.metadata`), null for sdists. */
  metadata: Buffer | null;
  metadataSha256: string | null;
  requiresPython: string | null;
  uploadTime: string;
  /** PEP 592 reason ('' for none), or null when not yanked. */
  yanked: string | null;
  /** Path of the file on the server that serves it. */
  urlPath: string;
  /** The URL the project page gives for it. */
  url: string;
}

/** `times`: the fault applies to that many requests, then goes away (default: until cleared). */
export type Fault = (
  | { kind: 'status'; status: number }
  /** Headers never come; the request is held until the server stops. */
  | { kind: 'hang' }
  /** Full Content-Length announced, half the body sent, then the connection is cut. */
  | { kind: 'truncate' }
  /** The body comes in chunkBytes pieces (default 1 KiB), one every delayMs. */
  | { kind: 'slow'; delayMs: number; chunkBytes?: number }
  /** The page lists a sha256 of other bytes for this file (or its metadata). */
  | { kind: 'wrong-hash' }
  | { kind: 'not-found' }
) & { times?: number };

/** A page fault (`project`, '*' for every project), a file download fault, or a `.metadata` fault. */
export type FaultTarget = { project: string } | { file: string } | { metadata: string };

export interface RecordedRequest {
  server: 'index' | 'files';
  method: string;
  /** Path without the query. */
  path: string;
  headers: IncomingHttpHeaders;
  status: number;
}

export interface FakeUpstreamOptions {
  /** Real distributions to serve (built with test/helpers/dists.ts). */
  files: string[];
  /** Require Basic auth on the index host (the CDN host never asks for it). */
  auth?: { username: string; password: string };
  /** Where the page's file URLs point: the CDN port (default, like PyPI), the index host itself
   * (like Artifactory or devpi), or the index host answering 302 to the CDN. */
  fileLinks?: 'cdn' | 'index' | 'redirect';
  /** Representations served; an index that lacks 'json' answers text/html whatever is asked. */
  formats?: readonly ('json' | 'html')[];
}

export interface FakeUpstream {
  /** `http://127.0.0.1:<port>/simple/` */
  readonly indexUrl: string;
  /** `http://127.0.0.1:<port>/`, the CDN. */
  readonly filesUrl: string;
  readonly requests: readonly RecordedRequest[];
  file(filename: string): FakeFile;
  filesOf(project: string): FakeFile[];
  addFiles(paths: string[]): Promise<FakeFile[]>;
  removeFile(filename: string): void;
  yank(filename: string, reason: string | null): void;
  fault(target: FaultTarget, fault: Fault | null): void;
  clearFaults(): void;
  /** Requests for exactly this path, on either server. */
  hits(path: string): number;
  pageHits(project: string): number;
  fileHits(filename: string): number;
  metadataHits(filename: string): number;
  resetCounts(): void;
  /** Closes both ports and cuts every connection, held ones included. */
  stop(): Promise<void>;
  /** Listens again on the same ports. */
  start(): Promise<void>;
}

const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';

export async function startUpstream(opts: FakeUpstreamOptions): Promise<FakeUpstream> {
  const upstream = new Upstream(opts);
  await upstream.start();
  await upstream.addFiles(opts.files);
  return upstream;
}

interface ActiveFault {
  fault: Fault;
  left: number;
}

function faultKey(target: FaultTarget): string {
  if ('project' in target) return `project:${target.project === '*' ? '*' : normalizeName(target.project)}`;
  if ('file' in target) return `file:${target.file}`;
  return `metadata:${target.metadata}`;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;');
}

class Upstream implements FakeUpstream {
  readonly requests: RecordedRequest[] = [];
  private readonly files = new Map<string, FakeFile>();
  private readonly byPath = new Map<string, { file: FakeFile; metadata: boolean }>();
  private readonly faults = new Map<string, ActiveFault>();
  private readonly sockets = new Set<Socket>();
  private readonly opts: FakeUpstreamOptions;
  private readonly index: Server;
  private readonly cdn: Server;
  private indexPort = 0;
  private cdnPort = 0;
  private serial = 1000;
  private uploads = 0;

  constructor(opts: FakeUpstreamOptions) {
    this.opts = opts;
    this.index = createServer((req, res) => this.onIndex(req, res));
    this.cdn = createServer((req, res) => this.onCdn(req, res));
    for (const s of [this.index, this.cdn]) {
      s.on('connection', (socket) => {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
      });
    }
  }

  get indexUrl(): string {
    return `http://127.0.0.1:${this.indexPort}/simple/`;
  }

  get filesUrl(): string {
    return `http://127.0.0.1:${this.cdnPort}/`;
  }

  // ---------------------------------------------------------------- content

  async addFiles(paths: string[]): Promise<FakeFile[]> {
    const added: FakeFile[] = [];
    for (const p of paths) {
      const filename = path.basename(p);
      const parsed = parseFilename(filename);
      if (!parsed) throw new Error(`not a distribution: ${filename}`);
      const bytes = await readFile(p);
      const digest = sha256(bytes);
      let metadata: Buffer | null = null;
      let info: Buffer | null;
      if (parsed.packagetype === 'bdist_wheel') {
        metadata = await readWheelMetadata(p, bytes.length, parsed.project);
        info = metadata;
      } else {
        info = await readSdistPkgInfo(p, bytes.length, parsed.extension);
      }
      // PyPI's layout: /packages/<2>/<2>/<60>/<filename>, by a hash of the file.
      const urlPath = `/packages/${digest.slice(0, 2)}/${digest.slice(2, 4)}/${digest.slice(4)}/${encodeURIComponent(filename)}`;
      const file: FakeFile = {
        filename,
        project: parsed.project,
        version: parsed.version,
        bytes,
        size: bytes.length,
        sha256: digest,
        metadata,
        metadataSha256: metadata ? sha256(metadata) : null,
        requiresPython: info ? field(parseCoreMetadata(info), 'Requires-Python') : null,
        uploadTime: new Date(Date.UTC(2024, 4, 29, 15, 37, 47) + this.uploads++ * 60_000).toISOString().replace('Z', '444Z'),
        yanked: null,
        urlPath,
        url: '',
      };
      this.removeFile(filename);
      this.files.set(filename, file);
      this.byPath.set(urlPath, { file, metadata: false });
      this.byPath.set(`${urlPath}.metadata`, { file, metadata: true });
      this.serial++;
      added.push(file);
    }
    return added;
  }

  removeFile(filename: string): void {
    const f = this.files.get(filename);
    if (!f) return;
    this.files.delete(filename);
    this.byPath.delete(f.urlPath);
    this.byPath.delete(`${f.urlPath}.metadata`);
    this.serial++;
  }

  file(filename: string): FakeFile {
    const f = this.files.get(filename);
    if (!f) throw new Error(`the fake upstream has no file ${filename}`);
    return { ...f, url: this.fileUrl(f) };
  }

  filesOf(project: string): FakeFile[] {
    const p = normalizeName(project);
    return [...this.files.values()].filter((f) => f.project === p).map((f) => ({ ...f, url: this.fileUrl(f) }));
  }

  yank(filename: string, reason: string | null): void {
    this.file(filename);
    this.files.get(filename)!.yanked = reason;
    this.serial++;
  }

  private fileUrl(f: FakeFile): string {
    switch (this.opts.fileLinks ?? 'cdn') {
      case 'cdn':
        return `http://127.0.0.1:${this.cdnPort}${f.urlPath}`;
      case 'index':
        return `http://127.0.0.1:${this.indexPort}${f.urlPath}`;
      case 'redirect':
        return `http://127.0.0.1:${this.indexPort}/redirect${f.urlPath}`;
    }
  }

  // ---------------------------------------------------------------- faults and counters

  fault(target: FaultTarget, fault: Fault | null): void {
    const key = faultKey(target);
    if (fault === null) this.faults.delete(key);
    else this.faults.set(key, { fault, left: fault.times ?? Infinity });
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** The fault for a key, without using it up (page rendering asks for wrong hashes). */
  private peekFault(key: string): Fault | null {
    return this.faults.get(key)?.fault ?? null;
  }

  /** The fault that applies to this request, counting it against `times`. */
  private takeFault(...keys: string[]): Fault | null {
    for (const key of keys) {
      const active = this.faults.get(key);
      if (!active || active.fault.kind === 'wrong-hash') continue;
      active.left--;
      if (active.left <= 0) this.faults.delete(key);
      return active.fault;
    }
    return null;
  }

  hits(p: string): number {
    return this.requests.filter((r) => r.path === p).length;
  }

  pageHits(project: string): number {
    return this.hits(`/simple/${normalizeName(project)}/`);
  }

  fileHits(filename: string): number {
    const f = this.file(filename);
    return this.requests.filter((r) => r.path === f.urlPath || r.path === `/redirect${f.urlPath}`).length;
  }

  metadataHits(filename: string): number {
    const p = `${this.file(filename).urlPath}.metadata`;
    return this.requests.filter((r) => r.path === p || r.path === `/redirect${p}`).length;
  }

  resetCounts(): void {
    this.requests.length = 0;
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    this.indexPort = await listen(this.index, this.indexPort);
    this.cdnPort = await listen(this.cdn, this.cdnPort);
  }

  async stop(): Promise<void> {
    const closed = Promise.all([this.index, this.cdn].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  // ---------------------------------------------------------------- HTTP

  private record(server: 'index' | 'files', req: IncomingMessage, res: ServerResponse): void {
    const entry: RecordedRequest = {
      server,
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?')[0]!,
      headers: req.headers,
      status: 0,
    };
    this.requests.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));
  }

  private onIndex(req: IncomingMessage, res: ServerResponse): void {
    this.record('index', req, res);
    const p = (req.url ?? '/').split('?')[0]!;
    if (this.opts.auth) {
      const expected = `Basic ${Buffer.from(`${this.opts.auth.username}:${this.opts.auth.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="upstream"', 'content-type': 'text/plain' }).end('login required\n');
        return;
      }
    }
    if (p.startsWith('/redirect/')) {
      const target = p.slice('/redirect'.length);
      if (!this.byPath.has(target)) return void res.writeHead(404).end();
      res.writeHead(302, { location: `http://127.0.0.1:${this.cdnPort}${target}` }).end();
      return;
    }
    if (p.startsWith('/packages/') && this.opts.fileLinks === 'index') {
      this.serveFile(req, res, p);
      return;
    }
    if (p === '/simple/') {
      this.sendPage(req, res, this.rootJson(), this.rootHtml());
      return;
    }
    const m = /^\/simple\/([^/]+)\/$/.exec(p);
    if (!m) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    const name = decodeURIComponent(m[1]!);
    const project = normalizeName(name);
    if (project !== name) {
      res.writeHead(301, { location: `/simple/${project}/` }).end();
      return;
    }
    const fault = this.takeFault(`project:${project}`, 'project:*');
    const files = [...this.files.values()].filter((f) => f.project === project);
    if (fault?.kind === 'not-found' || files.length === 0) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 Not Found\n');
      return;
    }
    if (this.applyFault(fault, res)) return;
    this.sendPage(req, res, this.projectJson(project, files), this.projectHtml(project, files), fault);
  }

  private onCdn(req: IncomingMessage, res: ServerResponse): void {
    this.record('files', req, res);
    this.serveFile(req, res, (req.url ?? '/').split('?')[0]!);
  }

  private serveFile(req: IncomingMessage, res: ServerResponse, p: string): void {
    const hit = this.byPath.get(p);
    if (!hit || (hit.metadata && !hit.file.metadata)) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    const fault = this.takeFault(hit.metadata ? `metadata:${hit.file.filename}` : `file:${hit.file.filename}`);
    if (fault?.kind === 'not-found') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    if (this.applyFault(fault, res)) return;
    const body = hit.metadata ? hit.file.metadata! : hit.file.bytes;
    const headers = {
      'content-type': hit.metadata ? 'binary/octet-stream' : 'application/octet-stream',
      etag: `"${sha256(body).slice(0, 32)}"`,
      'cache-control': 'max-age=365000000, immutable, public',
    };
    this.sendBody(req, res, 200, headers, body, fault);
  }

  /** Answers a status or hang fault; true when the request is taken care of. */
  private applyFault(fault: Fault | null, res: ServerResponse): boolean {
    if (fault?.kind === 'status') {
      res.writeHead(fault.status, { 'content-type': 'text/plain' }).end(`${fault.status} injected\n`);
      return true;
    }
    // Never answered: the socket stays open until the client gives up or stop() cuts it.
    return fault?.kind === 'hang';
  }

  private sendPage(req: IncomingMessage, res: ServerResponse, json: string, html: string, fault: Fault | null = null): void {
    const formats = this.opts.formats ?? ['json', 'html'];
    let chosen = negotiate(req.headers.accept);
    if (chosen === 'bad-format') chosen = null;
    if (chosen === null) return void res.writeHead(406, { 'content-type': 'text/plain' }).end('not acceptable\n');
    if (chosen === 'json' && !formats.includes('json')) chosen = 'text';
    if (chosen !== 'json' && !formats.includes('html')) chosen = 'json';
    const body = chosen === 'json' ? json : html;
    const type = chosen === 'json' ? JSON_TYPE : chosen === 'html' ? 'application/vnd.pypi.simple.v1+html' : 'text/html; charset=utf-8';
    const etag = `"${sha256(`${type}\n${body}`).slice(0, 32)}"`;
    const headers = { 'content-type': type, etag, vary: 'Accept, Accept-Encoding', 'cache-control': 'max-age=600, public' };
    const inm = req.headers['if-none-match'];
    if (inm && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
      res.writeHead(304, headers).end();
      return;
    }
    this.sendBody(req, res, 200, headers, Buffer.from(body, 'utf8'), fault);
  }

  private sendBody(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    headers: Record<string, string>,
    body: Buffer,
    fault: Fault | null,
  ): void {
    res.writeHead(status, { ...headers, 'content-length': String(body.length) });
    if (req.method === 'HEAD') return void res.end();
    if (fault?.kind === 'truncate') {
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
      return;
    }
    if (fault?.kind === 'slow') {
      const step = fault.chunkBytes ?? 1024;
      let at = 0;
      const tick = (): void => {
        if (res.destroyed) return;
        const chunk = body.subarray(at, at + step);
        at += step;
        if (at >= body.length) return void res.end(chunk);
        res.write(chunk);
        setTimeout(tick, fault.delayMs);
      };
      tick();
      return;
    }
    res.end(body);
  }

  // ---------------------------------------------------------------- pages, shaped like pypi.org's

  private advertised(f: FakeFile): { sha256: string; metadataSha256: string | null } {
    const wrong = (hex: string): string => sha256(`not ${hex}`);
    return {
      sha256: this.peekFault(`file:${f.filename}`)?.kind === 'wrong-hash' ? wrong(f.sha256) : f.sha256,
      metadataSha256:
        f.metadataSha256 && this.peekFault(`metadata:${f.filename}`)?.kind === 'wrong-hash' ? wrong(f.metadataSha256) : f.metadataSha256,
    };
  }

  private projectJson(project: string, files: FakeFile[]): string {
    const versions = [...new Set(files.map((f) => f.version))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    return JSON.stringify({
      meta: { '_last-serial': this.serial, 'api-version': '1.4' },
      name: project,
      'project-status': { status: 'active' },
      files: files.map((f) => {
        const adv = this.advertised(f);
        const meta = adv.metadataSha256 ? { sha256: adv.metadataSha256 } : false;
        return {
          'core-metadata': meta,
          'data-dist-info-metadata': meta,
          filename: f.filename,
          hashes: { sha256: adv.sha256 },
          provenance: null,
          'requires-python': f.requiresPython,
          size: f.size,
          'upload-time': f.uploadTime,
          url: this.fileUrl(f),
          yanked: f.yanked === null ? false : f.yanked || true,
        };
      }),
      versions,
    });
  }

  private projectHtml(project: string, files: FakeFile[]): string {
    const links = files.map((f) => {
      const adv = this.advertised(f);
      let attrs = '';
      if (f.requiresPython) attrs += ` data-requires-python="${escapeHtml(f.requiresPython)}"`;
      if (f.yanked !== null) attrs += ` data-yanked="${escapeHtml(f.yanked)}"`;
      if (adv.metadataSha256)
        attrs += ` data-dist-info-metadata="sha256=${adv.metadataSha256}" data-core-metadata="sha256=${adv.metadataSha256}"`;
      return `    <a href="${escapeHtml(this.fileUrl(f))}#sha256=${adv.sha256}"${attrs}>${escapeHtml(f.filename)}</a><br />`;
    });
    return [
      '<!DOCTYPE html>',
      '<html>',
      '  <head>',
      '    <meta name="pypi:repository-version" content="1.4">',
      '    <meta name="pypi:project-status" content="active">',
      `    <title>Links for ${escapeHtml(project)}</title>`,
      '  </head>',
      '  <body>',
      `    <h1>Links for ${escapeHtml(project)}</h1>`,
      ...links,
      '  </body>',
      '</html>',
      `<!--SERIAL ${this.serial}-->`,
      '',
    ].join('\n');
  }

  private projectNames(): string[] {
    return [...new Set([...this.files.values()].map((f) => f.project))].sort();
  }

  private rootJson(): string {
    return JSON.stringify({
      meta: { '_last-serial': this.serial, 'api-version': '1.4' },
      projects: this.projectNames().map((name) => ({ '_last-serial': this.serial, name })),
    });
  }

  private rootHtml(): string {
    const links = this.projectNames().map((p) => `    <a href="/simple/${p}/">${p}</a>`);
    return [
      '<!DOCTYPE html>',
      '<html>',
      '  <head>',
      '    <meta name="pypi:repository-version" content="1.4">',
      '    <title>Simple index</title>',
      '  </head>',
      '  <body>',
      ...links,
      '  </body>',
      '</html>',
      '',
    ].join('\n');
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}
