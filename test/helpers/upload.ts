// Uploads as twine sends them, without starting Python: the consistency tests make hundreds of
// uploads and want each one to cost a few milliseconds, so the wheels are built in-process too.
import { writeZip } from '../../bench/lib/zip.js';
import { wheelMembers, type MakeWheelOptions } from './dists.js';
import { contentPart, fieldParts, multipart, postForm, twineFields } from './forms.js';

export interface Wheel {
  filename: string;
  bytes: Buffer;
}

/** A valid py3-none-any wheel built in memory (a few milliseconds: the consistency tests make hundreds). */
export function wheelBytes(
  name: string,
  version: string,
  opts: Pick<MakeWheelOptions, 'metadataVersion' | 'payloadBytes' | 'modules'> = {},
): Wheel {
  const { filename, members } = wheelMembers({ name, version, summary: 'consistency probe', ...opts });
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
