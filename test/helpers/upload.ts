// Uploads as twine sends them, without starting Python: the consistency tests make hundreds of
// uploads and want each one to cost a few milliseconds, so the wheels are built in-process too.
import { createHash, randomBytes } from 'node:crypto';
import { writeZip } from '../../bench/lib/zip.js';
import { contentPart, fieldParts, multipart, postForm, twineFields } from './forms.js';

export interface Wheel {
  filename: string;
  bytes: Buffer;
}

export interface WheelOptions {
  /** Default '2.1' (Debian's twine 4.0.2 accepts up to 2.2). */
  metadataVersion?: string;
  /** Incompressible bytes carried in a data member: makes a big wheel, or two different wheels of one name. */
  payloadBytes?: number;
  /** Extra small modules before the dist-info: a wheel with a long central directory. */
  modules?: number;
}

/** PEP 427's escaping of the name part of a wheel filename. */
export function wheelName(name: string): string {
  return name.replace(/[-_.]+/g, '_');
}

/** A valid py3-none-any wheel (METADATA, WHEEL, RECORD) built in memory. */
export function wheelBytes(name: string, version: string, opts: WheelOptions = {}): Wheel {
  const escaped = wheelName(name);
  const filename = `${escaped}-${version}-py3-none-any.whl`;
  const distInfo = `${escaped}-${version}.dist-info`;
  const members: { name: string; data: Buffer }[] = [
    { name: `${escaped.toLowerCase()}.py`, data: Buffer.from(`__version__ = ${JSON.stringify(version)}\n`) },
  ];
  if (opts.payloadBytes) members.push({ name: `${escaped.toLowerCase()}_data.bin`, data: randomBytes(opts.payloadBytes) });
  for (let i = 0; i < (opts.modules ?? 0); i++) {
    members.push({ name: `${escaped.toLowerCase()}/sub/module_${String(i).padStart(5, '0')}.py`, data: Buffer.from(`X = ${i}\n`) });
  }
  members.push(
    {
      name: `${distInfo}/METADATA`,
      data: Buffer.from(
        `Metadata-Version: ${opts.metadataVersion ?? '2.1'}\nName: ${name}\nVersion: ${version}\nSummary: consistency probe\n\n`,
      ),
    },
    {
      name: `${distInfo}/WHEEL`,
      data: Buffer.from('Wheel-Version: 1.0\nGenerator: wheelhouse-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n'),
    },
  );
  const record = members.map((m) => `${m.name},sha256=${createHash('sha256').update(m.data).digest('base64url')},${m.data.length}`);
  record.push(`${distInfo}/RECORD,,`);
  members.push({ name: `${distInfo}/RECORD`, data: Buffer.from(`${record.join('\n')}\n`) });
  return { filename, bytes: writeZip(members) };
}

/**
 * A legacy-API file_upload with the fields twine sends. Name and version come from the filename
 * unless `fields` says otherwise; `auth` is a full Authorization header value.
 */
export async function uploadWheel(
  url: string,
  wheel: Wheel,
  fields: Record<string, string> = {},
  auth?: string,
): Promise<{ status: number; text: string }> {
  const { status, text } = await postForm(
    url,
    multipart([...fieldParts(twineFields(wheel, fields)), contentPart(wheel)]),
    auth ? { authorization: auth } : {},
  );
  return { status, text };
}
