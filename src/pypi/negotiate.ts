import { memoByHeader } from './header-memo.js';

/** The representations of a simple-API page (PEP 691). */
export const MEDIA = {
  json: 'application/vnd.pypi.simple.v1+json',
  html: 'application/vnd.pypi.simple.v1+html',
  text: 'text/html',
} as const;

export type PageFormat = 'json' | 'html' | 'text';

/** Server preference on ties, as PyPI orders its offers: text/html first, then v1+html, then JSON. */
const OFFERS: readonly PageFormat[] = ['text', 'html', 'json'];

const ALIASES: Record<string, string> = {
  'application/vnd.pypi.simple.latest+json': MEDIA.json,
  'application/vnd.pypi.simple.latest+html': MEDIA.html,
};

interface Range {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(header: string): Range[] {
  const out: Range[] = [];
  for (const part of header.split(',')) {
    const [mediaRaw = '', ...params] = part.split(';');
    const lowered = mediaRaw.trim().toLowerCase();
    const media = ALIASES[lowered] ?? lowered;
    const slash = media.indexOf('/');
    if (slash <= 0) continue;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split('=').map((s) => s.trim());
      if (k?.toLowerCase() === 'q') {
        const n = Number(v);
        q = Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0;
      }
    }
    out.push({ type: media.slice(0, slash), subtype: media.slice(slash + 1), q });
  }
  return out;
}

/** The q a client gives one offer: the most specific matching range decides (RFC 9110 12.5.1). */
function qualityOf(offer: string, ranges: readonly Range[]): number {
  const [type, subtype] = offer.split('/') as [string, string];
  let best = -1;
  let q = 0;
  for (const r of ranges) {
    let specificity = -1;
    if (r.type === type && r.subtype === subtype) specificity = 2;
    else if (r.type === type && r.subtype === '*') specificity = 1;
    else if (r.type === '*' && r.subtype === '*') specificity = 0;
    if (specificity > best) {
      best = specificity;
      q = r.q;
    }
  }
  return q;
}

/**
 * Picks the page format for an Accept header and an optional `?format=` (PEP 691: the query wins).
 * Returns null when nothing acceptable is served: the caller answers 406.
 * No Accept at all means any, and pips before 22.2 send exactly `text/html`.
 */
export function negotiate(accept: string | undefined, format?: string): PageFormat | null | 'bad-format' {
  if (format !== undefined) {
    const media = ALIASES[format.trim().toLowerCase()] ?? format.trim().toLowerCase();
    const hit = OFFERS.find((o) => MEDIA[o] === media);
    return hit ?? 'bad-format';
  }
  return accept ? chosenFor(accept) : 'text';
}

const chosenFor = memoByHeader(choose);

function choose(accept: string): PageFormat | null {
  if (!accept.trim()) return 'text';
  const ranges = parseAccept(accept);
  let chosen: PageFormat | null = null;
  let chosenQ = 0;
  for (const offer of OFFERS) {
    const q = qualityOf(MEDIA[offer], ranges);
    if (q > chosenQ) {
      chosen = offer;
      chosenQ = q;
    }
  }
  return chosen;
}

export function contentTypeOf(format: PageFormat): string {
  return format === 'text' ? 'text/html; charset=utf-8' : MEDIA[format];
}
