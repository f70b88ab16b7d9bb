// Upload forms exactly as twine and poetry send them, written byte by byte so every filename and
// field reaches the server as sent (a FormData would normalize them).
import { createHash, randomBytes } from 'node:crypto';
import { blake2b } from '@noble/hashes/blake2';
import { bytesToHex } from '@noble/hashes/utils';

export interface Part {
  name: string;
  value: string | Buffer;
  /** Sent verbatim between the quotes of filename="..." (latin-1 bytes). */
  filename?: string;
  contentType?: string;
}

export function multipart(
  parts: Part[],
  boundary = `wh${randomBytes(12).toString('hex')}`,
): { payload: Buffer; headers: Record<string, string> } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.contentType) head += `Content-Type: ${p.contentType}\r\n`;
    chunks.push(
      Buffer.from(`${head}\r\n`, 'latin1'),
      Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value, 'utf8'),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

export function digests(bytes: Buffer): Record<string, string> {
  return {
    sha256_digest: createHash('sha256').update(bytes).digest('hex'),
    md5_digest: createHash('md5').update(bytes).digest('hex'),
    blake2_256_digest: bytesToHex(blake2b(bytes, { dkLen: 32 })),
  };
}

export interface UploadOptions {
  /** Filename as written in the part header (escape '"' and '\' yourself). */
  filename?: string;
  /** Fields to set (undefined removes a default one). */
  fields?: Record<string, string | undefined>;
  /** Leave the content part out. */
  noContent?: boolean;
}

/** The text fields twine 4.0.2 sends for a distribution, with correct digests; `overrides` set (or with undefined, drop) some. */
export function twineFields(
  file: { filename: string; bytes: Buffer },
  overrides: Record<string, string | undefined> = {},
): Record<string, string> {
  const [name = '', version = ''] = file.filename.split('-');
  const fields: Record<string, string | undefined> = {
    ':action': 'file_upload',
    protocol_version: '1',
    name,
    version,
    filetype: file.filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist',
    pyversion: file.filename.endsWith('.whl') ? 'py3' : 'source',
    metadata_version: '2.1',
    summary: 'test upload',
    ...digests(file.bytes),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined));
}

/** The distribution as the `content` file part. */
export function contentPart(file: { filename: string; bytes: Buffer }, filename = file.filename): Part {
  return { name: 'content', value: file.bytes, filename, contentType: 'application/octet-stream' };
}

/** Text fields as parts, in order. */
export function fieldParts(fields: Record<string, string>): Part[] {
  return Object.entries(fields).map(([name, value]) => ({ name, value }));
}

/** A twine upload of `file`, as an inject() payload or a fetch body with its headers. */
export function uploadBody(file: { filename: string; bytes: Buffer }, opts: UploadOptions = {}) {
  const parts = fieldParts(twineFields(file, opts.fields));
  if (!opts.noContent) parts.push(contentPart(file, opts.filename));
  return multipart(parts);
}

/**
 * A form whose `content` part is to be streamed by the caller: the bytes before the file, the
 * bytes after it, and the Content-Type.
 */
export function formAround(fields: Record<string, string>, filename: string): { head: Buffer; tail: Buffer; contentType: string } {
  const marker = Buffer.from(`\0${randomBytes(16).toString('hex')}\0`);
  const { payload, headers } = multipart([
    ...fieldParts(fields),
    { name: 'content', value: marker, filename, contentType: 'application/octet-stream' },
  ]);
  const at = payload.indexOf(marker);
  return { head: payload.subarray(0, at), tail: payload.subarray(at + marker.length), contentType: headers['content-type']! };
}

/** POSTs a form to the server root (the upload URL) over fetch. */
export async function postForm(
  url: string,
  form: { payload: Buffer; headers: Record<string, string> },
  headers: Record<string, string> = {},
): Promise<{ status: number; reason: string; text: string }> {
  const res = await fetch(`${url.replace(/\/$/, '')}/`, {
    method: 'POST',
    body: new Uint8Array(form.payload),
    headers: { ...form.headers, ...headers },
  });
  return { status: res.status, reason: res.statusText, text: await res.text() };
}
