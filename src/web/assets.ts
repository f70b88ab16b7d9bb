import { createHash } from 'node:crypto';
import { STYLESHEET_TEXT } from './stylesheet.js';

/** A file served from memory under a name that changes with its content, so it can be cached for a year. */
export interface Asset {
  /** `style.<hash>.css`: the URL segment. */
  name: string;
  body: Buffer;
  contentType: string;
}

function asset(stem: string, ext: string, text: string, contentType: string): Asset {
  const body = Buffer.from(text.trim() + '\n', 'utf8');
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return { name: `${stem}.${hash}.${ext}`, body, contentType };
}

export const STYLESHEET = asset('style', 'css', STYLESHEET_TEXT, 'text/css; charset=utf-8');

// A wheel: so browsers find an icon without asking for /favicon.ico, which is a project name's URL here.
export const ICON = asset(
  'icon',
  'svg',
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<circle cx="16" cy="16" r="13" fill="none" stroke="#17375e" stroke-width="4"/>
<circle cx="16" cy="16" r="4" fill="#17375e"/>
<path d="M16 3v26M3 16h26M6.8 6.8l18.4 18.4M25.2 6.8L6.8 25.2" stroke="#17375e" stroke-width="2"/>
</svg>`,
  'image/svg+xml',
);

export const ASSETS: ReadonlyMap<string, Asset> = new Map([STYLESHEET, ICON].map((a) => [a.name, a]));
