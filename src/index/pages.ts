import { contentTypeOf, type PageFormat } from '../pypi/negotiate.js';
import { renderPackagesHtml, renderProjectHtml, renderProjectJson, renderRootHtml, renderRootJson, type LinkHash } from '../pypi/render.js';
import type { LiveIndex } from './live-index.js';
import { makePage, PageCache, type Page } from './page-cache.js';
import type { Project } from './snapshot.js';

const HTML = 'text/html; charset=utf-8';

/**
 * Every page the index serves, rendered once per content and kept: keys carry the fingerprint of
 * what the page shows, so a swap of the snapshot leaves pages of unchanged projects valid and
 * nothing needs explicit invalidation.
 */
export class Pages {
  readonly cache: PageCache;
  private readonly live: LiveIndex;
  private readonly hashAlgo: LinkHash | null;

  constructor(live: LiveIndex, cacheBytes: number, hashAlgo: LinkHash | null = 'sha256') {
    this.live = live;
    this.cache = new PageCache(cacheBytes);
    this.hashAlgo = hashAlgo;
  }

  root(format: PageFormat): Page {
    const s = this.live.snapshot;
    return this.cache.get(`root:${format}:${s.fingerprint}`, () =>
      makePage(format === 'json' ? renderRootJson(s) : renderRootHtml(s), contentTypeOf(format)),
    );
  }

  project(project: Project, format: PageFormat): Page {
    return this.cache.get(`project:${format}:${project.name}:${project.fingerprint}`, () =>
      makePage(format === 'json' ? renderProjectJson(project) : renderProjectHtml(project, this.hashAlgo), contentTypeOf(format)),
    );
  }

  packages(): Page {
    const s = this.live.snapshot;
    return this.cache.get(`packages:${s.fingerprint}`, () => makePage(renderPackagesHtml(s.byRelpath.values(), this.hashAlgo), HTML));
  }
}
