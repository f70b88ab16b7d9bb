import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors, isUserFacing } from '../errors.js';
import { checkStagedUpload, checkUploadFilename, firstField, type UploadFields } from '../index/upload-checks.js';
import { normalizeName } from '../pypi/names.js';
import { sameVersion } from '../pypi/versions.js';
import type { Staged } from '../store/store.js';
import type { RouteOptions } from './simple.js';

/** Distinct text fields allowed in one upload; twine and poetry send about 30. */
const MAX_FIELDS = 1000;

/**
 * The legacy upload API (R32..R44) at `/`, `/legacy/` and `/legacy`, never redirecting (twine
 * aborts on a 3xx, poetry loses the upload): file_upload, remove_pkg, and pypiserver's no-op
 * register actions. Plus `DELETE /packages/<file>`.
 */
export async function uploadRoutes(app: FastifyInstance, { index, config }: RouteOptions): Promise<void> {
  await app.register(multipart, {
    // Keep the filename as sent: busboy would otherwise drop a path ('../x.whl' -> 'x.whl') and the
    // upload would be accepted instead of refused (R41).
    preservePath: true,
    // One byte over the limit lets the store's own check report it with a clear message.
    limits: { fileSize: config.maxUploadSize + 1, files: 4, fields: MAX_FIELDS, fieldSize: 8 * 1024 * 1024, parts: MAX_FIELDS + 4 },
  });
  // pypiserver accepted remove_pkg as a plain form.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) =>
    done(null, new URLSearchParams(body as string)),
  );

  const update = { action: 'update' as const };
  for (const url of ['/', '/legacy/', '/legacy']) app.post(url, { config: update }, handleUpload);

  app.delete<{ Params: { '*': string } }>('/packages/*', { config: update }, async (request, reply) => {
    const file = index.file(request.params['*']);
    if (!file) throw new Errors.FileNotFound(request.params['*']);
    await index.remove([file]);
    request.log.info({ file: file.relpath, user: request.user }, 'file removed');
    return reply.type('text/plain; charset=utf-8').send(`Removed ${file.filename}\n`);
  });

  async function handleUpload(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const fields = new Map<string, string[]>();
    const add = (k: string, v: string) => fields.set(k, [...(fields.get(k) ?? []), v]);
    let staged: Staged | null = null;
    let fileError: unknown = null;
    let sawContent = false;

    try {
      if (request.isMultipart()) {
        for await (const part of request.parts()) {
          if (part.type === 'field') {
            add(part.fieldname, String(part.value));
            continue;
          }
          if (part.fieldname !== 'content' || sawContent || fileError) {
            // gpg_signature (R11) and anything else: read and let go.
            part.file.resume();
            await new Promise((resolve) => part.file.on('end', resolve).on('error', resolve));
            continue;
          }
          sawContent = true;
          try {
            checkUploadFilename(part.filename, fields);
            staged = await index.stage(part.filename, part.file, config.maxUploadSize);
          } catch (err) {
            if (!isUserFacing(err)) throw err;
            fileError = err;
            if (err instanceof Errors.TooLarge) break; // nothing sane left to read
            part.file.resume();
          }
        }
      } else if (request.body instanceof URLSearchParams) {
        for (const [k, v] of request.body) add(k, v);
      } else {
        throw new Errors.BadMultipart('send multipart/form-data, as twine and poetry do');
      }
    } catch (err) {
      if (staged) await index.discard(staged);
      if (isUserFacing(err)) throw err;
      // A truncated body, a client gone mid-upload, a broken boundary: the store is untouched.
      throw new Errors.BadMultipart((err as Error).message);
    }

    try {
      const action = firstField(fields, ':action');
      if (action === undefined) throw new Errors.MissingAction();
      switch (action) {
        case 'file_upload':
          return await fileUpload(request, reply, fields, staged, fileError, sawContent);
        case 'remove_pkg':
          return await removeRelease(request, reply, fields);
        case 'verify':
        case 'submit':
        case 'submit_pkg_info':
          // pypiserver accepted these as no-ops, so `twine register` keeps working (R43).
          return reply.type('text/plain; charset=utf-8').send('Registration is not needed here: upload files directly.\n');
        case 'doc_upload':
          throw new Errors.Gone('Documentation uploads are not supported by this index.');
        default:
          throw new Errors.UnknownAction(action);
      }
    } finally {
      if (staged) await index.discard(staged);
    }
  }

  async function fileUpload(
    request: FastifyRequest,
    reply: FastifyReply,
    fields: UploadFields,
    staged: Staged | null,
    fileError: unknown,
    sawContent: boolean,
  ): Promise<FastifyReply> {
    const protocol = firstField(fields, 'protocol_version');
    if (protocol !== undefined && protocol !== '1') throw new Errors.BadProtocol();
    if (fileError) throw fileError;
    if (!sawContent || !staged) throw new Errors.MissingContent();
    checkStagedUpload(staged, fields);
    const { file, duplicate } = await index.publish(staged, config.overwrite);
    request.log.info({ file: file.relpath, size: file.size, sha256: file.sha256, duplicate, user: request.user }, 'file uploaded');
    return reply
      .type('text/plain; charset=utf-8')
      .send(duplicate ? `${file.filename} was already here with the same content\n` : `Stored ${file.filename}\n`);
  }

  /** pypiserver's remove_pkg, but matching the normalized name and the canonical version (#377). */
  async function removeRelease(request: FastifyRequest, reply: FastifyReply, fields: UploadFields): Promise<FastifyReply> {
    const name = firstField(fields, 'name');
    const version = firstField(fields, 'version');
    if (name === undefined) throw new Errors.MissingField('name');
    if (version === undefined) throw new Errors.MissingField('version');
    const project = index.project(normalizeName(name));
    const files = project?.files.filter((f) => sameVersion(f.version, version)) ?? [];
    if (files.length === 0) throw new Errors.VersionNotFound(normalizeName(name), version);
    await index.remove(files);
    request.log.info({ project: project!.name, version, files: files.map((f) => f.relpath), user: request.user }, 'release removed');
    return reply.type('text/plain; charset=utf-8').send(`Removed ${files.map((f) => f.filename).join(', ')}\n`);
  }
}
