import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../errors.js';
import { makePage, type Page } from '../index/page-cache.js';
import { infoFile } from '../pypi/render.js';
import { SearchIndex } from '../index/search.js';
import type { Snapshot } from '../index/snapshot.js';
import { normalizeName } from '../pypi/names.js';
import { sameVersion } from '../pypi/versions.js';
import { ASSETS } from '../web/assets.js';
import { renderWelcome } from '../web/description.js';
import { recentReleases, renderHomePage } from '../web/home-page.js';
import type { SiteContext } from '../web/layout.js';
import { renderNotFoundPage } from '../web/not-found-page.js';
import { renderProjectPage } from '../web/project-page.js';
import { renderSearchPage } from '../web/search-page.js';
import { siteUrls } from '../web/urls.js';
import { HTML_CSP, sendPage } from './conditional.js';
import { originOf } from './origin.js';
import { version as serverVersion } from '../version.js';
import type { RouteOptions } from './simple.js';

const HTML = 'text/html; charset=utf-8';

/**
 * Pages only load the stylesheet and icon from this server and run no script at all; whatever a
 * package description smuggles past the sanitizer still cannot run, load or frame anything.
 */
export const CONTENT_SECURITY_POLICY = HTML_CSP;

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  // Links in descriptions lead to other sites: they need not learn this index's URLs.
  'referrer-policy': 'same-origin',
};

/** The home page lists every project up to this many; past it, the simple index does. */
const MAX_LISTED_PROJECTS = 2000;
const RECENT = 15;
const SEARCH_RESULTS = 50;

type ProjectParams = { Params: { project: string; version?: string } };
type SearchQuery = { Querystring: { q?: string } };

const paramsSchema = {
  type: 'object',
  properties: { project: { type: 'string', maxLength: 200 }, version: { type: 'string', maxLength: 200 } },
  required: ['project'],
} as const;

/**
 * Pages for people: the home page, project and release pages, search, and their stylesheet.
 * Rendered once per state of what they show and kept in memory: a repeated request costs header
 * writes only (ETag and 304 included), never a read of the volume.
 */
export function browseRoutes(app: FastifyInstance, { index, config, welcome = null }: RouteOptions): Promise<void> {
  // The one place URLs of these pages are built from: the prefix the client reached us under.
  const urlsOf = (request: FastifyRequest) => siteUrls(request.basePath, { healthPath: config.healthEndpoint });
  // The index's page cache: one byte budget and one set of metrics for every page served.
  const pages = index.pages.cache;
  const list = { action: 'list' as const };
  const cacheControl = config.pageCacheControl;

  const site = (request: FastifyRequest): SiteContext => ({
    urls: urlsOf(request),
    origin: originOf(request),
    version: serverVersion,
  });
  // What a cached page depends on of the request: the address in its commands and the prefix of its links.
  const whereOf = (request: FastifyRequest): string => `${originOf(request)}\0${request.basePath}`;

  // Which projects exist changes a page's dependency links without changing the project itself:
  // the list of names gets a number, and that number goes in the page's key.
  const nameLists = new WeakMap<readonly string[], number>();
  let nameListSeq = 0;
  const namesId = (s: Snapshot): number => {
    let id = nameLists.get(s.projectNames);
    if (id === undefined) nameLists.set(s.projectNames, (id = ++nameListSeq));
    return id;
  };

  let search: SearchIndex | undefined;
  const searchIndex = (): SearchIndex => (search = SearchIndex.for(index.snapshot, search));

  const send = (request: FastifyRequest, reply: FastifyReply, page: Page | Promise<Page>): FastifyReply | Promise<FastifyReply> =>
    page instanceof Promise ? page.then((p) => sendPage(request, reply, p, cacheControl)) : sendPage(request, reply, page, cacheControl);

  // The same messages as the API's 404s, as a page a person can act on.
  const notFound = (request: FastifyRequest, reply: FastifyReply, message: string, query: string): FastifyReply =>
    reply
      .code(404)
      .type(HTML)
      .header('cache-control', cacheControl)
      .send(renderNotFoundPage(site(request), { message, query, suggestions: searchIndex().search(query, 5).hits }));

  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(SECURITY_HEADERS);
    done();
  });

  // GET / : the home page.
  app.get('/', { config: list }, async (request, reply) => {
    const s = index.snapshot;
    return send(
      request,
      reply,
      pages.getAsync(`home\0${whereOf(request)}\0${s.fingerprint}`, () => {
        const ctx = site(request);
        const projects = s.projectNames.flatMap((n) => s.projects.get(n) ?? []);
        const urls = ctx.urls;
        const body = renderHomePage(ctx, {
          welcome:
            welcome &&
            renderWelcome(welcome, {
              url: `${ctx.origin}${urls.home()}`,
              version: serverVersion,
              files: s.fileCount,
              packages: urls.packages(),
              simple: urls.simple(),
            }),
          projectCount: s.projects.size,
          fileCount: s.fileCount,
          recent: recentReleases(projects, RECENT),
          projects: projects.length <= MAX_LISTED_PROJECTS ? projects : null,
        });
        return Promise.resolve(makePage(body, HTML));
      }),
    );
  });

  // Browsers ask for it whatever the page says; without this it would be taken for a project name.
  app.get('/favicon.ico', async (_request, reply) => reply.code(404).send());

  // GET /static/<name>.<hash>.<ext> : the stylesheet and icon, cached for good (the name changes with the content).
  // One route per asset, not /static/:name: `/static/` stays the pypiserver-style URL of a project named "static".
  for (const [name, asset] of ASSETS) {
    const page = makePage(asset.body.toString('utf8'), asset.contentType);
    app.get(`/static/${name}`, async (request, reply) => sendPage(request, reply, page, 'public, max-age=31536000, immutable'));
  }

  // GET /project/<name>/ and /project/<name>/<version>/ : one 301 to the canonical URL for any other spelling.
  app.get<ProjectParams>('/project/:project', { config: list, schema: { params: paramsSchema } }, async (request, reply) =>
    request.params.project === ''
      ? // `/project/` is pypiserver's URL of a project named "project": the same redirect as for any other name.
        reply.redirect(`${urlsOf(request).simple()}project/`, request.raw.httpVersion === '1.0' ? 302 : 303)
      : reply.redirect(urlsOf(request).project(normalizeName(request.params.project)), 301),
  );
  app.get<ProjectParams>('/project/:project/:version', { config: list, schema: { params: paramsSchema } }, async (request, reply) =>
    reply.redirect(urlsOf(request).release(normalizeName(request.params.project), request.params.version ?? ''), 301),
  );

  const projectPage = async (request: FastifyRequest<ProjectParams>, reply: FastifyReply) => {
    const { project: raw, version: rawVersion } = request.params;
    const name = normalizeName(raw);
    request.authorize('download', name);
    const s = index.snapshot;
    const project = s.projects.get(name);
    if (!project) return notFound(request, reply, new Errors.ProjectNotFound(raw).message, raw);
    let version: string | undefined;
    if (rawVersion !== undefined) {
      version = project.versions.find((v) => v === rawVersion) ?? project.versions.find((v) => sameVersion(v, rawVersion));
      if (version === undefined) {
        return notFound(request, reply, new Errors.VersionNotFound(project.displayName, rawVersion).message, project.name);
      }
    }
    if (name !== raw || version !== rawVersion) {
      const urls = urlsOf(request);
      return reply.redirect(version === undefined ? urls.project(name) : urls.release(name, version), 301);
    }
    const key = `project\0${whereOf(request)}\0${name}\0${version ?? ''}\0${project.fingerprint}\0${namesId(s)}`;
    return send(
      request,
      reply,
      pages.getAsync(key, async () => {
        const ctx = site(request);
        const source = infoFile(project, version ?? project.latest);
        // The one read a page costs: its long description, from the sidecar, once per render.
        const description = source ? await index.description(source) : null;
        const body = renderProjectPage(ctx, { project, version, description, isLocal: (n) => s.projects.has(n) });
        return makePage(body, HTML);
      }),
    );
  };
  app.get<ProjectParams>('/project/:project/', { config: list, schema: { params: paramsSchema } }, projectPage);
  app.get<ProjectParams>('/project/:project/:version/', { config: list, schema: { params: paramsSchema } }, projectPage);

  // GET /search?q= : ranked from memory. Not kept in the cache: queries are unbounded, a render is cheap.
  const searchSchema = { querystring: { type: 'object', properties: { q: { type: 'string' } } } } as const;
  app.get<SearchQuery>('/search', { config: list, schema: searchSchema }, async (request, reply) => {
    const result = searchIndex().search(request.query.q ?? '', SEARCH_RESULTS);
    return sendPage(request, reply, makePage(renderSearchPage(site(request), result), HTML), cacheControl);
  });
  return Promise.resolve();
}
