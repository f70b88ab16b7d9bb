import type { FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { Errors, isUserFacing } from '../errors.js';
import type { UploadFields } from '../pypi/upload-checks.js';
import type { Staged } from '../store/uploads.js';

/** Distinct text fields allowed in one upload; twine and poetry send about 30, classifiers repeat. */
const MAX_FIELDS = 1000;
/** One text field: names, versions, summaries, digests, one classifier. */
export const MAX_FIELD_BYTES = 64 * 1024;
/** The long description is the one large field (a README); PyPI's own limit is in this range. */
export const MAX_DESCRIPTION_BYTES = 4 * 1024 * 1024;
/** Every text field together: what one upload may hold in memory besides the streamed file. */
export const MAX_FORM_BYTES = 8 * 1024 * 1024;
const LARGE_FIELDS = new Set(['description', 'long_description']);

/** An upload request as read: its text fields and, when it carried one, the distribution staged on the volume. */
export interface UploadForm {
  fields: UploadFields;
  /** Null when there was no usable `content` part. The store's handle: release() drops it unless published. */
  staged: Staged | null;
  /** Why the `content` part was refused, reported once the action is known to be an upload. */
  fileError: Error | null;
  sawContent: boolean;
}

export interface UploadFormOptions {
  maxUploadSize: number;
  /** Checks the filename against the fields read so far and streams the file to the volume. */
  stage(filename: string, fields: UploadFields, file: Readable): Promise<Staged>;
}

/** @fastify/multipart's limits for an upload form (the file's own limit is enforced while staging). */
export function multipartLimits(maxUploadSize: number) {
  // One byte over the limit lets the store's own check report it with a clear message.
  return { fileSize: maxUploadSize + 1, files: 4, fields: MAX_FIELDS, fieldSize: MAX_DESCRIPTION_BYTES, parts: MAX_FIELDS + 4 };
}

/**
 * Reads a legacy upload form (multipart, as twine and poetry send it; pypiserver's remove_pkg also
 * as a plain form). The file is streamed to the volume as it arrives and never held in memory;
 * text fields are bounded one by one and together, so a form of a thousand 8 MiB fields is refused
 * after 8 MiB instead of filling the heap. On any failure nothing stays staged.
 */
export async function readUploadForm(request: FastifyRequest, opts: UploadFormOptions): Promise<UploadForm> {
  const fields = new Map<string, string[]>();
  const form: UploadForm = { fields, staged: null, fileError: null, sawContent: false };
  let formBytes = 0;
  const add = (name: string, value: string) => {
    const bytes = Buffer.byteLength(value);
    const limit = LARGE_FIELDS.has(name) ? MAX_DESCRIPTION_BYTES : MAX_FIELD_BYTES;
    if (bytes > limit) throw new Errors.FieldTooLarge(`'${name.slice(0, 64)}'`, String(limit));
    formBytes += bytes + name.length;
    if (formBytes > MAX_FORM_BYTES) throw new Errors.FormTooLarge(String(MAX_FORM_BYTES));
    const list = fields.get(name);
    if (list) list.push(value);
    else fields.set(name, [value]);
  };

  try {
    if (request.isMultipart()) {
      for await (const part of request.parts()) {
        if (part.type === 'field') {
          if (part.valueTruncated) throw new Errors.FieldTooLarge(`'${part.fieldname.slice(0, 64)}'`, String(MAX_DESCRIPTION_BYTES));
          add(part.fieldname, String(part.value));
          continue;
        }
        if (part.fieldname !== 'content' || form.sawContent || form.fileError) {
          // gpg_signature and anything else: read and let go.
          await drain(part.file);
          continue;
        }
        form.sawContent = true;
        try {
          form.staged = await opts.stage(part.filename, fields, part.file);
        } catch (err) {
          // A login without the right to this project: the whole request is refused, the rest of the body unread.
          if (!isUserFacing(err) || err.statusCode === 403) throw err;
          form.fileError = err;
          // Too large, or a volume that refused the bytes: the part was cut off, nothing sane is left to read.
          if (err instanceof Errors.TooLarge || part.file.destroyed) break;
          await drain(part.file);
        }
      }
    } else if (request.body instanceof URLSearchParams) {
      for (const [k, v] of request.body) add(k, v);
    } else {
      throw new Errors.BadMultipart('send multipart/form-data, as twine and poetry do');
    }
  } catch (err) {
    await form.staged?.release();
    if (isUserFacing(err)) throw err;
    // A truncated body, a client gone mid-upload, a broken boundary: the volume is untouched.
    throw new Errors.BadMultipart((err as Error).message);
  }
  return form;
}

/** Reads what is left of a part and lets it go. */
function drain(stream: Readable): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream
      .on('end', resolve)
      .on('error', () => resolve())
      .on('close', resolve);
    stream.resume();
  });
}
