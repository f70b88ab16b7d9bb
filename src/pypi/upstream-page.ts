import { Parser } from 'htmlparser2';
import { z } from 'zod';
import { MEDIA } from './negotiate.js';
import { isSafeBasename, isValidProjectName, normalizeName, parseFilename, type PackageType } from './names.js';

/**
 * What pip ≥ 22.2 sends for a project page: PEP 691 JSON first, HTML as the fallback. An
 * upstream that only speaks PEP 503 answers text/html, which parses the same way.
 */
export const UPSTREAM_ACCEPT = `${MEDIA.json}, ${MEDIA.html}; q=0.1, ${MEDIA.text}; q=0.01`;

/** One file of an upstream project page, reduced to what can be checked and served again. */
export interface UpstreamFile {
  /** A safe basename that parses as a distribution of the page's project. */
  filename: string;
  /** Absolute http(s) URL to fetch it from, fragment removed. */
  url: string;
  version: string;
  packagetype: PackageType;
  /** Lower-case hex; every file served through the cache is checked against it. */
  sha256: string;
  requiresPython: string | null;
  /** PEP 592: false, or the reason ('' when none is given). */
  yanked: false | string;
  /** PEP 658/714: false, or the sha256 of the `<url>.metadata` file. */
  coreMetadata: false | string;
  /** PEP 700 (JSON pages only). */
  size: number | null;
  /** PEP 700 (JSON pages only): `yyyy-mm-ddThh:mm:ss[.ffffff]Z`. */
  uploadTime: string | null;
}

export interface DroppedEntry {
  /** The filename, or the link when no filename could be made of it. */
  entry: string;
  reason: string;
}

export interface UpstreamPage {
  /** Normalized project name (the one asked for). */
  project: string;
  format: 'json' | 'html';
  /** PEP 629 `api-version` as the upstream gives it, null when absent (meaning 1.0). */
  apiVersion: string | null;
  files: UpstreamFile[];
  /** PEP 700 `versions` of a JSON page (may list versions without files); null otherwise. */
  versions: string[] | null;
  /** How many entries were left out, and the first few of them with the reason, for the logs. */
  droppedCount: number;
  dropped: DroppedEntry[];
}

/** The page as a whole cannot be used (not a simple-API page, unsupported major version, not parsable). */
export class UpstreamPageError extends Error {
  override readonly name = 'UpstreamPageError';
}

const MAX_DROPPED_EXAMPLES = 20;
const MAX_REQUIRES_PYTHON = 1024;
const SHA256_HEX = /^[0-9a-f]{64}$/;
// PEP 700's format; anything else is left out rather than passed on to clients that parse it.
const UPLOAD_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/;

/** The page format a Content-Type announces, as pip ≥ 22.2 accepts them; null for anything else. */
export function pageFormatOf(contentType: string | null | undefined): 'json' | 'html' | null {
  const media = (contentType ?? '').replace(/;.*$/s, '').trim().toLowerCase();
  if (media === MEDIA.json) return 'json';
  if (media === MEDIA.html || media === MEDIA.text) return 'html';
  return null;
}

export interface PageInput {
  body: string;
  contentType: string | null;
  /** The page's final URL (after redirects): relative links resolve against it. */
  url: string;
  /** The normalized name the page was asked for. */
  project: string;
}

/**
 * Parses an upstream project page, PEP 691 JSON or PEP 503 HTML, into the files it lists. Bad
 * entries are dropped one by one (and reported in `dropped`); only a page that is not a simple-API
 * page at all throws UpstreamPageError.
 */
export function parseUpstreamPage(input: PageInput): UpstreamPage {
  if (!isValidProjectName(input.project) || normalizeName(input.project) !== input.project) {
    throw new UpstreamPageError(`not a normalized project name: ${input.project}`);
  }
  const format = pageFormatOf(input.contentType);
  if (!format) throw new UpstreamPageError(`not a simple-API page: Content-Type ${input.contentType ?? '(none)'}`);
  let base: URL;
  try {
    base = new URL(input.url);
  } catch {
    throw new UpstreamPageError(`not an absolute page URL: ${input.url}`);
  }
  const raw = format === 'json' ? readJson(input.body, base) : readHtml(input.body, base);
  checkApiVersion(raw.apiVersion);

  const collector = new Collector(input.project);
  for (const entry of raw.entries) collector.add(entry);
  return {
    project: input.project,
    format,
    apiVersion: raw.apiVersion,
    files: collector.files,
    versions: raw.versions,
    droppedCount: collector.droppedCount,
    dropped: collector.dropped,
  };
}

/** PEP 629: a client must refuse a major version it does not know. */
function checkApiVersion(version: string | null): void {
  if (version === null) return;
  const major = /^(\d+)\.\d+$/.exec(version.trim())?.[1];
  if (major === undefined) throw new UpstreamPageError(`unreadable api-version "${version}"`);
  if (major !== '1') throw new UpstreamPageError(`api-version ${version} is not supported (major version 1 only)`);
}

/** An entry as either format gives it, before any check. */
interface RawEntry {
  /** JSON `filename`; null for HTML, where pip names a file by the last segment of its URL. */
  filename: string | null;
  href: string;
  base: URL;
  /** sha256 from `hashes` (JSON) or the URL fragment (HTML); null when neither has one. */
  sha256: string | null;
  requiresPython: string | null;
  yanked: false | string;
  coreMetadata: false | string;
  size: number | null;
  uploadTime: string | null;
  /** Set when the entry is unusable as given. */
  problem?: string;
}

interface RawPage {
  apiVersion: string | null;
  versions: string[] | null;
  entries: RawEntry[];
}

class Collector {
  readonly files: UpstreamFile[] = [];
  readonly dropped: DroppedEntry[] = [];
  droppedCount = 0;
  private readonly seen = new Set<string>();
  private readonly project: string;

  constructor(project: string) {
    this.project = project;
  }

  add(e: RawEntry): void {
    const result = this.check(e);
    if ('reason' in result) {
      this.droppedCount++;
      if (this.dropped.length < MAX_DROPPED_EXAMPLES) this.dropped.push(result);
      return;
    }
    this.seen.add(result.filename);
    this.files.push(result);
  }

  private check(e: RawEntry): UpstreamFile | DroppedEntry {
    if (e.problem !== undefined) return { entry: e.filename ?? e.href, reason: e.problem };
    let url: URL;
    try {
      url = new URL(e.href, e.base);
    } catch {
      return { entry: e.href, reason: 'the link is not a URL' };
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      return { entry: e.href, reason: `the link is not http(s) (${url.protocol})` };
    const fragmentHash = /^#sha256=([0-9a-fA-F]{64})$/.exec(url.hash)?.[1]?.toLowerCase() ?? null;
    url.hash = '';
    let filename = e.filename;
    if (filename === null) {
      try {
        filename = decodeURIComponent(url.pathname.slice(url.pathname.lastIndexOf('/') + 1));
      } catch {
        return { entry: e.href, reason: 'the link has a malformed file name' };
      }
    }
    if (!isSafeBasename(filename)) return { entry: filename, reason: 'not a plain file name' };
    const parsed = parseFilename(filename);
    if (!parsed) return { entry: filename, reason: 'not a distribution file name' };
    // pip skips files of another project too; serving one under this name would be a confusion.
    if (parsed.project !== this.project) return { entry: filename, reason: `a file of project ${parsed.project}` };
    // Without a sha256 a download cannot be verified before it is cached and served to every
    // task, so such a file is left out (an md5-only or hashless link included).
    const sha256 = e.sha256 ?? fragmentHash;
    if (!sha256) return { entry: filename, reason: 'no sha256 given' };
    if (this.seen.has(filename)) return { entry: filename, reason: 'listed twice' };
    return {
      filename,
      url: url.href,
      version: parsed.version,
      packagetype: parsed.packagetype,
      sha256,
      requiresPython: e.requiresPython,
      yanked: e.yanked,
      coreMetadata: e.coreMetadata,
      size: e.size,
      uploadTime: e.uploadTime,
    };
  }
}

function cleanRequiresPython(value: string | null | undefined): string | null {
  const v = value?.trim();
  return v && v.length <= MAX_REQUIRES_PYTHON ? v : null;
}

function cleanSha256(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const v = value.toLowerCase();
  return SHA256_HEX.test(v) ? v : null;
}

// ------------------------------------------------------------------ PEP 691 JSON

// Optional fields that are malformed become absent instead of costing the file.
const hashMap = z.record(z.string(), z.unknown());
const JsonFile = z.object({
  filename: z.string(),
  url: z.string(),
  hashes: hashMap,
  'requires-python': z.string().nullish().catch(null),
  yanked: z.union([z.boolean(), z.string()]).optional().catch(false),
  'core-metadata': z.union([z.boolean(), hashMap]).optional().catch(undefined),
  'dist-info-metadata': z.union([z.boolean(), hashMap]).optional().catch(undefined),
  size: z.number().int().nonnegative().optional().catch(undefined),
  'upload-time': z.string().nullish().catch(null),
});
const JsonPage = z.object({
  meta: z.object({ 'api-version': z.string().optional() }).optional(),
  files: z.array(z.unknown()),
  versions: z.array(z.string()).optional().catch(undefined),
});

function metadataHash(value: boolean | Record<string, unknown> | undefined): false | string {
  // `true` says a metadata file exists but gives no hash to check it by: treated as absent, so
  // clients download the wheel instead (which is checked).
  if (value === undefined || typeof value === 'boolean') return false;
  return cleanSha256(value.sha256) ?? false;
}

function readJson(body: string, base: URL): RawPage {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (err) {
    throw new UpstreamPageError(`the JSON page does not parse: ${(err as Error).message}`);
  }
  const page = JsonPage.safeParse(data);
  if (!page.success) throw new UpstreamPageError(`not a PEP 691 project page: ${z.prettifyError(page.error)}`);
  const entries: RawEntry[] = [];
  for (const item of page.data.files) {
    const f = JsonFile.safeParse(item);
    if (!f.success) {
      const name = (item as { filename?: unknown } | null)?.filename;
      entries.push(invalidEntry(typeof name === 'string' ? name : '(a file entry)', base, z.prettifyError(f.error)));
      continue;
    }
    const d = f.data;
    const uploadTime = d['upload-time'] ?? null;
    entries.push({
      filename: d.filename,
      href: d.url,
      base,
      sha256: cleanSha256(d.hashes.sha256),
      requiresPython: cleanRequiresPython(d['requires-python']),
      yanked: d.yanked === undefined || d.yanked === false ? false : d.yanked === true ? '' : d.yanked,
      // PEP 714 renamed the key; older servers only send the old one.
      coreMetadata: metadataHash(d['core-metadata'] ?? d['dist-info-metadata']),
      size: d.size ?? null,
      uploadTime: uploadTime !== null && UPLOAD_TIME.test(uploadTime) ? uploadTime : null,
    });
  }
  return { apiVersion: page.data.meta?.['api-version'] ?? null, versions: page.data.versions ?? null, entries };
}

function invalidEntry(name: string, base: URL, problem: string): RawEntry {
  return {
    problem: `malformed entry: ${problem.replace(/\s+/g, ' ')}`,
    filename: name,
    href: '',
    base,
    sha256: null,
    requiresPython: null,
    yanked: false,
    coreMetadata: false,
    size: null,
    uploadTime: null,
  };
}

// ------------------------------------------------------------------ PEP 503 HTML

function readHtml(body: string, pageUrl: URL): RawPage {
  const anchors: { href: string; attribs: Record<string, string> }[] = [];
  const head: { baseHref: string | null; apiVersion: string | null } = { baseHref: null, apiVersion: null };
  // htmlparser2 decodes entities in attribute values (`data-requires-python="&gt;=3.8"`) and
  // lower-cases attribute names, as a browser and pip's parser do.
  const parser = new Parser({
    onopentag(name, attribs) {
      if (name === 'a' && attribs.href !== undefined) anchors.push({ href: attribs.href, attribs });
      else if (name === 'base' && head.baseHref === null && attribs.href !== undefined) head.baseHref = attribs.href;
      else if (name === 'meta' && attribs.name?.toLowerCase() === 'pypi:repository-version' && attribs.content !== undefined) {
        head.apiVersion = attribs.content;
      }
    },
  });
  parser.write(body);
  parser.end();

  // pip resolves links against <base href> when the page has one.
  let base = pageUrl;
  if (head.baseHref !== null) {
    try {
      base = new URL(head.baseHref, pageUrl);
    } catch {
      // an unusable <base> is ignored, as a browser does
    }
  }
  const entries = anchors.map(({ href, attribs: a }): RawEntry => {
    const coreAttr = a['data-core-metadata'] ?? a['data-dist-info-metadata'];
    return {
      filename: null,
      href: href.trim(),
      base,
      sha256: null,
      requiresPython: cleanRequiresPython(a['data-requires-python']),
      yanked: a['data-yanked'] === undefined ? false : a['data-yanked'],
      coreMetadata: coreAttr === undefined ? false : (cleanSha256(/^sha256=(.*)$/i.exec(coreAttr.trim())?.[1]) ?? false),
      size: null,
      uploadTime: null,
    };
  });
  return { apiVersion: head.apiVersion, versions: null, entries };
}
