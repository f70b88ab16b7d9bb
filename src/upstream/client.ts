import { Readable } from 'node:stream';
import { normalizeName, isValidProjectName } from '../pypi/names.js';
import { parseUpstreamPage, UPSTREAM_ACCEPT, UpstreamPageError, type UpstreamPage } from '../pypi/upstream-page.js';
import { SingleFlight } from './single-flight.js';

/**
 * - `timeout`: no answer (headers, or for a page its whole body) within the timeout, or a body
 *   that stalled for longer than the idle timeout;
 * - `unreachable`: no connection (refused, DNS, TLS, reset before an answer);
 * - `status`: an answer other than 200/304/404/410 (`status` says which);
 * - `bad-response`: an answer that cannot be used (unparsable page, body cut short, too many
 *   redirects, a page larger than the limit).
 */
export type UpstreamErrorKind = 'timeout' | 'unreachable' | 'status' | 'bad-response';

/** A failed upstream exchange. `url` never carries credentials, so it can be logged. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  readonly kind: UpstreamErrorKind;
  readonly url: string;
  /** The HTTP status for kind `status`, otherwise null. */
  readonly status: number | null;

  constructor(kind: UpstreamErrorKind, url: string, message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.kind = kind;
    this.url = url;
    this.status = opts.status ?? null;
  }
}

export interface UpstreamClientOptions {
  /**
   * The upstream index's simple URL, e.g. `https://pypi.org/simple/`. It may carry credentials
   * (`https://user:pass@host/simple/`, percent-encoded as in pip's config); they are sent as
   * Basic auth, never as part of the URL.
   */
  url: string;
  /** `user:password` given apart from the URL (a secret variable); takes precedence over the URL's. */
  credentials?: string | null;
  /** Limit for a page exchange as a whole, and for a file until its headers arrive. */
  timeoutMs: number;
  /** Longest wait for the next chunk of a file body; default timeoutMs. */
  idleTimeoutMs?: number;
  /** A page body larger than this is refused (bad-response); default 64 MiB. */
  maxPageBytes?: number;
  userAgent?: string;
}

/** The outcome of asking the upstream for a project page. `fetchedAt` is ms since the epoch. */
export type ProjectFetch =
  | { kind: 'page'; page: UpstreamPage; etag: string | null; fetchedAt: number }
  | { kind: 'not-modified'; fetchedAt: number }
  | { kind: 'not-found'; fetchedAt: number };

/** A file body on its way. Consume or destroy `body`: until then a connection is held. */
export interface UpstreamBody {
  body: Readable;
  /** Content-Length, when the upstream sent one. */
  length: number | null;
  /** The URL that answered, after redirects (without credentials). */
  url: string;
}

const MAX_REDIRECTS = 10;
const DEFAULT_MAX_PAGE_BYTES = 64 * 1024 * 1024;

/**
 * Talks to one upstream index with Node's own fetch. Concurrent asks for one project page are
 * coalesced into one request; file bodies are streams that each caller consumes alone, so
 * coalescing downloads belongs to whoever stores them.
 */
export class UpstreamClient {
  /** The index URL without credentials, for logs and error messages. */
  readonly indexUrl: string;
  private readonly base: URL;
  private readonly authorization: string | null;
  private readonly timeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly maxPageBytes: number;
  private readonly userAgent: string;
  private readonly pages = new SingleFlight<string, ProjectFetch>();

  constructor(opts: UpstreamClientOptions) {
    let base: URL;
    try {
      base = new URL(opts.url);
    } catch {
      throw new TypeError(`upstream URL is not an absolute URL: ${opts.url}`);
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new TypeError(`upstream URL must be http(s): ${opts.url}`);
    // fetch() refuses URLs with credentials in them: move them into a header.
    let credentials = opts.credentials ?? null;
    if (credentials === null && (base.username || base.password)) {
      credentials = `${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`;
    }
    base.username = '';
    base.password = '';
    base.hash = '';
    base.search = '';
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    this.base = base;
    this.indexUrl = base.href;
    this.authorization = credentials === null ? null : `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
    this.timeoutMs = opts.timeoutMs;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? opts.timeoutMs;
    this.maxPageBytes = opts.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES;
    this.userAgent = opts.userAgent ?? 'wheelhouse';
  }

  /** The upstream URL of a project page (normalized name, trailing slash, as PEP 503 asks). */
  projectUrl(name: string): string {
    const project = normalizeName(name);
    if (!isValidProjectName(project)) throw new TypeError(`not a project name: ${name}`);
    return new URL(`${project}/`, this.base).href;
  }

  /**
   * Fetches a project page, revalidating with If-None-Match when `etag` is given. Concurrent calls
   * for one project and etag share one request and its result. Throws UpstreamError.
   */
  fetchProject(name: string, opts: { etag?: string | null } = {}): Promise<ProjectFetch> {
    const url = this.projectUrl(name);
    const etag = opts.etag ?? null;
    return this.pages.run(`${url}\n${etag ?? ''}`, () => this.requestPage(normalizeName(name), url, etag));
  }

  /** Project pages being fetched right now (for metrics). */
  get pagesInFlight(): number {
    return this.pages.size;
  }

  private async requestPage(project: string, url: string, etag: string | null): Promise<ProjectFetch> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    const headers: Record<string, string> = {
      accept: UPSTREAM_ACCEPT,
      // As pip does: a CDN in front of the index must not answer from a stale copy.
      'cache-control': 'max-age=0',
    };
    if (etag !== null) headers['if-none-match'] = etag;
    const res = await this.request(url, headers, signal);
    const fetchedAt = Date.now();
    if (res.response.status === 304) {
      await discard(res.response);
      if (etag === null) throw new UpstreamError('bad-response', res.url, `${res.url} answered 304 to a request without If-None-Match`);
      return { kind: 'not-modified', fetchedAt };
    }
    if (res.response.status === 404 || res.response.status === 410) {
      await discard(res.response);
      return { kind: 'not-found', fetchedAt };
    }
    if (res.response.status !== 200) {
      await discard(res.response);
      throw new UpstreamError('status', res.url, `${res.url} answered ${res.response.status}`, { status: res.response.status });
    }
    const body = await this.readPageBody(res.response, res.url, signal);
    let page: UpstreamPage;
    try {
      page = parseUpstreamPage({ body, contentType: res.response.headers.get('content-type'), url: res.url, project });
    } catch (err) {
      if (err instanceof UpstreamPageError) throw new UpstreamError('bad-response', res.url, `${res.url}: ${err.message}`, { cause: err });
      throw err;
    }
    return { kind: 'page', page, etag: res.response.headers.get('etag'), fetchedAt };
  }

  private async readPageBody(response: Response, url: string, signal: AbortSignal): Promise<string> {
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > this.maxPageBytes) {
      await discard(response);
      throw new UpstreamError('bad-response', url, `${url}: page of ${declared} bytes is over the limit of ${this.maxPageBytes}`);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      const reader = response.body?.getReader();
      for (;;) {
        if (!reader) break;
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > this.maxPageBytes) {
          await reader.cancel();
          throw new UpstreamError('bad-response', url, `${url}: page is over the limit of ${this.maxPageBytes} bytes`);
        }
        chunks.push(value);
      }
    } catch (err) {
      throw classify(err, url, 'body', signal.aborted);
    }
    return Buffer.concat(chunks, total).toString('utf8');
  }

  /**
   * Opens a file for download, following redirects (files often live on another host). The
   * timeout covers the connection and the headers; after that the body may take as long as it
   * needs but must not stall for longer than the idle timeout. Anything but a 200 throws.
   * The body errors with an UpstreamError when it stalls or ends early.
   */
  async openFile(url: string): Promise<UpstreamBody> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    let res: { response: Response; url: string };
    try {
      // pip asks for identity too: a file must arrive byte for byte as hashed upstream.
      res = await this.request(url, { 'accept-encoding': 'identity' }, controller.signal, () => timedOut);
    } finally {
      clearTimeout(timer);
    }
    if (res.response.status !== 200) {
      await discard(res.response);
      throw new UpstreamError('status', res.url, `${res.url} answered ${res.response.status}`, { status: res.response.status });
    }
    const lengthHeader = res.response.headers.get('content-length');
    const length = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
    return { body: idleBody(res.response, res.url, controller, this.idleTimeoutMs), length, url: res.url };
  }

  /**
   * One exchange, following redirects by hand so the index's credentials go only to the
   * index's own origin (pip keys credentials by host in the same way) and never to a CDN.
   */
  private async request(
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal,
    timedOut: () => boolean = () => signal.aborted,
  ): Promise<{ response: Response; url: string }> {
    let current = new URL(url);
    for (let hop = 0; ; hop++) {
      const safeUrl = redact(current);
      const h: Record<string, string> = { 'user-agent': this.userAgent, ...headers };
      if (this.authorization !== null && current.origin === this.base.origin) h.authorization = this.authorization;
      let response: Response;
      try {
        response = await fetch(current, { headers: h, redirect: 'manual', signal });
      } catch (err) {
        throw classify(err, safeUrl, 'connect', timedOut());
      }
      const location = response.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(response.status) || location === null) return { response, url: safeUrl };
      await discard(response);
      if (hop >= MAX_REDIRECTS) throw new UpstreamError('bad-response', safeUrl, `${safeUrl}: more than ${MAX_REDIRECTS} redirects`);
      try {
        current = new URL(location, current);
      } catch {
        throw new UpstreamError('bad-response', safeUrl, `${safeUrl} redirected to an unusable location`);
      }
      if (current.protocol !== 'https:' && current.protocol !== 'http:') {
        throw new UpstreamError('bad-response', safeUrl, `${safeUrl} redirected to a non-http(s) location`);
      }
    }
  }
}

function redact(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // the connection is gone already
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** Turns whatever fetch threw into an UpstreamError of the right kind. */
function classify(err: unknown, url: string, phase: 'connect' | 'body', timedOut: boolean): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const detail = e.cause?.message ?? e.message ?? String(err);
  if (timedOut || e.name === 'TimeoutError' || TIMEOUT_CODES.has(e.cause?.code ?? '')) {
    return new UpstreamError('timeout', url, `${url} did not answer in time`, { cause: err });
  }
  if (phase === 'body') return new UpstreamError('bad-response', url, `${url}: the response ended early (${detail})`, { cause: err });
  return new UpstreamError('unreachable', url, `${url} is unreachable (${detail})`, { cause: err });
}

/**
 * The response body as a Node stream that fails with an UpstreamError when the upstream stalls
 * for longer than idleMs or the body ends early. The idle clock runs only while this side is
 * waiting for data, so a slow consumer (backpressure) never counts against the upstream.
 */
function idleBody(response: Response, url: string, controller: AbortController, idleMs: number): Readable {
  if (!response.body) return Readable.from([]);
  const reader = response.body.getReader();
  let idle: NodeJS.Timeout | undefined;
  let stalled = false;
  const stop = (): void => {
    clearTimeout(idle);
    idle = undefined;
  };
  return new Readable({
    read() {
      stop();
      idle = setTimeout(() => {
        stalled = true;
        controller.abort();
      }, idleMs);
      reader.read().then(
        ({ done, value }) => {
          stop();
          if (done) this.push(null);
          else this.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
        },
        (err: unknown) => {
          stop();
          this.destroy(
            stalled
              ? new UpstreamError('timeout', url, `${url} stalled for more than ${idleMs} ms`, { cause: err })
              : classify(err, url, 'body', false),
          );
        },
      );
    },
    destroy(err, callback) {
      stop();
      // Releases the connection when the consumer gives up early.
      if (!controller.signal.aborted) controller.abort();
      callback(err);
    },
  });
}
