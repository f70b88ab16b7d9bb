/**
 * Every URL the pages link to, from one base path: the server can sit under a prefix
 * (`/pypi/...` behind a shared load balancer) by building these with that prefix, and no page
 * spells a path of its own.
 */
export interface SiteUrls {
  /** The path prefix, '' or '/something' (no trailing slash). */
  readonly basePath: string;
  home(): string;
  search(query?: string): string;
  project(name: string): string;
  release(name: string, version: string): string;
  /** A distribution file, by its path relative to the package root. */
  file(relpath: string): string;
  /** A static asset served from memory, by its content-hashed file name. */
  asset(name: string): string;
  simple(): string;
  packages(): string;
  health(): string;
}

export interface SiteUrlOptions {
  /** The health check's path below the prefix (--health-endpoint). */
  healthPath?: string;
}

/** Accepts '', '/', 'pypi', '/pypi/' alike; the result starts with '/' and has no trailing '/', or is ''. */
export function normalizeBasePath(basePath: string): string {
  const trimmed = basePath.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `/${trimmed}`;
}

const segment = encodeURIComponent;

export function siteUrls(basePath = '', opts: SiteUrlOptions = {}): SiteUrls {
  const base = normalizeBasePath(basePath);
  const healthPath = opts.healthPath ?? '/health';
  return {
    basePath: base,
    home: () => `${base}/`,
    search: (query) => (query === undefined ? `${base}/search` : `${base}/search?q=${encodeURIComponent(query)}`),
    project: (name) => `${base}/project/${segment(name)}/`,
    release: (name, version) => `${base}/project/${segment(name)}/${segment(version)}/`,
    file: (relpath) => `${base}/packages/${relpath.split('/').map(segment).join('/')}`,
    asset: (name) => `${base}/static/${segment(name)}`,
    simple: () => `${base}/simple/`,
    packages: () => `${base}/packages/`,
    health: () => `${base}${healthPath}`,
  };
}
