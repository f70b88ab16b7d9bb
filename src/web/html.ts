import { escapeHtml } from '../pypi/render.js';

/**
 * HTML built by a tagged template that escapes every interpolated value unless it is already
 * `Html`. A page is assembled from fragments without ever concatenating an unescaped string,
 * so a metadata field cannot become markup by being forgotten somewhere.
 */
export class Html {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

/** What a template accepts: strings and numbers are escaped, `Html` is kept, nothing-ish is dropped, lists are joined. */
export type Part = Html | string | number | null | undefined | false | readonly Part[];

// One escape for every page the server writes, the index's and these.
export { escapeHtml };

function flatten(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (part instanceof Html) return part.value;
  if (typeof part === 'number') return String(part);
  if (typeof part === 'string') return escapeHtml(part);
  let out = '';
  for (const p of part) out += flatten(p);
  return out;
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = '';
  strings.forEach((s, i) => {
    out += i === 0 ? s : flatten(values[i - 1]) + s;
  });
  return new Html(out);
}

/** Markup that is already safe: the sanitizer's output, or a constant. Never metadata as it came. */
export function trusted(markup: string): Html {
  return new Html(markup);
}
