// Upload forms exactly as twine and poetry send them, written byte by byte so every filename and
// field reaches the server as sent (a FormData would normalize them).
import { createHash, randomBytes } from 'node:crypto';
import { blake2b } from '@noble/hashes/blake2b';
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

/** The fields twine 4.0.2 sends for a wheel, with correct digests, plus the file. */
export function uploadBody(file: { filename: string; bytes: Buffer }, opts: UploadOptions = {}) {
  const [name, version] = file.filename.split('-') as [string, string];
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
    ...opts.fields,
  };
  const parts: Part[] = Object.entries(fields)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => ({ name: k, value: v }));
  if (!opts.noContent)
    parts.push({ name: 'content', value: file.bytes, filename: opts.filename ?? file.filename, contentType: 'application/octet-stream' });
  return multipart(parts);
}
