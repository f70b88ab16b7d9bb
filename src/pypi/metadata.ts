/**
 * Core metadata (METADATA / PKG-INFO) is an RFC 822 style header block followed by an optional
 * body (the long description). Field names are case-insensitive; many fields repeat.
 */
export type CoreMetadata = Map<string, string[]>;

export function parseCoreMetadata(input: Buffer | string): CoreMetadata {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const fields: CoreMetadata = new Map();
  const lines = text.split(/\r?\n/);
  let last: { key: string; index: number } | null = null;
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') break;
    const folded = last && /^[ \t]/.test(line) ? fields.get(last.key) : undefined;
    if (last && folded) {
      // Continuation lines (folded Description, License): keep their text, drop the fold marker.
      folded[last.index] = `${folded[last.index] ?? ''}\n${line.replace(/^(?:[ \t]{1,8}\|?|\t)/, '')}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const values = fields.get(key) ?? [];
    values.push(value);
    fields.set(key, values);
    last = { key, index: values.length - 1 };
  }
  const body = lines
    .slice(i + 1)
    .join('\n')
    .trim();
  if (body && !fields.has('description')) fields.set('description', [body]);
  return fields;
}

export function field(meta: CoreMetadata, name: string): string | null {
  const v = meta.get(name.toLowerCase())?.[0];
  return v === undefined || v === '' || v === 'UNKNOWN' ? null : v;
}

export function fields(meta: CoreMetadata, name: string): string[] {
  return meta.get(name.toLowerCase()) ?? [];
}

/** The subset the JSON API's `info` shows; kept in sidecars so the index never reopens archives. */
export interface ProjectInfo {
  name: string | null;
  version: string | null;
  metadataVersion: string | null;
  summary: string | null;
  description: string | null;
  descriptionContentType: string | null;
  author: string | null;
  authorEmail: string | null;
  maintainer: string | null;
  maintainerEmail: string | null;
  license: string | null;
  licenseExpression: string | null;
  keywords: string | null;
  homePage: string | null;
  downloadUrl: string | null;
  requiresPython: string | null;
  requiresDist: string[];
  providesExtra: string[];
  classifiers: string[];
  projectUrls: Record<string, string>;
  platform: string[];
  dynamic: string[];
  licenseFiles: string[];
}

/** Long descriptions can be megabytes; the JSON API keeps the first 64 KiB. */
const MAX_DESCRIPTION = 64 * 1024;

export function projectInfo(meta: CoreMetadata): ProjectInfo {
  const projectUrls: Record<string, string> = {};
  for (const entry of fields(meta, 'project-url')) {
    const comma = entry.indexOf(',');
    if (comma > 0) projectUrls[entry.slice(0, comma).trim()] = entry.slice(comma + 1).trim();
  }
  const description = field(meta, 'description');
  return {
    name: field(meta, 'name'),
    version: field(meta, 'version'),
    metadataVersion: field(meta, 'metadata-version'),
    summary: field(meta, 'summary'),
    description: description && description.length > MAX_DESCRIPTION ? description.slice(0, MAX_DESCRIPTION) : description,
    descriptionContentType: field(meta, 'description-content-type'),
    author: field(meta, 'author'),
    authorEmail: field(meta, 'author-email'),
    maintainer: field(meta, 'maintainer'),
    maintainerEmail: field(meta, 'maintainer-email'),
    license: field(meta, 'license'),
    licenseExpression: field(meta, 'license-expression'),
    keywords: field(meta, 'keywords'),
    homePage: field(meta, 'home-page'),
    downloadUrl: field(meta, 'download-url'),
    requiresPython: field(meta, 'requires-python'),
    requiresDist: fields(meta, 'requires-dist'),
    providesExtra: fields(meta, 'provides-extra'),
    classifiers: fields(meta, 'classifier'),
    projectUrls,
    platform: fields(meta, 'platform').filter((p) => p !== 'UNKNOWN'),
    dynamic: fields(meta, 'dynamic'),
    licenseFiles: fields(meta, 'license-file'),
  };
}
