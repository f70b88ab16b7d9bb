import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../errors.js';
import { normalizeName } from '../pypi/names.js';
import { checkStagedUpload, checkUploadFilename, firstField, type UploadFields } from '../pypi/upload-checks.js';
import { sameVersion } from '../pypi/versions.js';
import type { Staged } from '../store/uploads.js';
import type { RouteOptions } from './simple.js';
import { MAX_FORM_BYTES, multipartLimits, readUploadForm } from './upload-form.js';

/**
 * The legacy upload API at `/`, `/legacy/` and `/legacy`, never redirecting (twine aborts on a
 * 3xx, poetry loses the upload): file_upload, remove_pkg, and pypiserver's no-op register
 * actions. Plus `DELETE /packages/<file>`.
 *
 * An upload is one pipeline: read the form (the file streams to the volume as it comes), check it
 * (pure rules in pypi/upload-checks.ts), publish it. The store owns the staged file throughout.
 */
export async function uploadRoutes(app: FastifyInstance, { index, config }: RouteOptions): Promise<void> {
  await app.register(multipart, {
    // Keep the filename as sent: busboy would otherwise drop a path ('../x.whl' -> 'x.whl') and the
    // upload would be accepted instead of refused.
    preservePath: true,
    limits: multipartLimits(config.maxUploadSize),
  });
  // pypiserver accepted remove_pkg as a plain form.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_FORM_BYTES }, (_req, body, done) => {
    done(null, new URLSearchParams(body as string));
  });

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
    const form = await readUploadForm(request, {
      maxUploadSize: config.maxUploadSize,
      stage: (filename, fields, file) => index.stage(checkUploadFilename(filename, fields), file, config.maxUploadSize),
    });
    try {
      const action = firstField(form.fields, ':action');
      switch (action) {
        case undefined:
          throw new Errors.MissingAction();
        case 'file_upload': {
          const protocol = firstField(form.fields, 'protocol_version');
          if (protocol !== undefined && protocol !== '1') throw new Errors.BadProtocol();
          if (form.fileError) throw form.fileError;
          if (!form.staged) throw new Errors.MissingContent();
          return await publish(request, reply, form.staged, form.fields);
        }
        case 'remove_pkg':
          return await removeRelease(request, reply, form.fields);
        case 'verify':
        case 'submit':
        case 'submit_pkg_info':
          // pypiserver accepted these as no-ops, so `twine register` keeps working.
          return await reply.type('text/plain; charset=utf-8').send('Registration is not needed here: upload files directly.\n');
        case 'doc_upload':
          throw new Errors.Gone('Documentation uploads are not supported by this index.');
        default:
          throw new Errors.UnknownAction(action);
      }
    } finally {
      await form.staged?.release();
    }
  }

  async function publish(request: FastifyRequest, reply: FastifyReply, staged: Staged, fields: UploadFields): Promise<FastifyReply> {
    checkStagedUpload(staged, fields);
    const { file, duplicate } = await index.publish(staged, config.overwrite, request.user ?? null);
    request.log.info({ file: file.relpath, size: file.size, sha256: file.sha256, duplicate, user: request.user }, 'file uploaded');
    return reply
      .type('text/plain; charset=utf-8')
      .send(duplicate ? `${file.filename} was already here with the same content\n` : `Stored ${file.filename}\n`);
  }

  /** pypiserver's remove_pkg, but matching the normalized name and the canonical version. */
  async function removeRelease(request: FastifyRequest, reply: FastifyReply, fields: UploadFields): Promise<FastifyReply> {
    const name = firstField(fields, 'name');
    const version = firstField(fields, 'version');
    if (name === undefined) throw new Errors.MissingField('name');
    if (version === undefined) throw new Errors.MissingField('version');
    const project = index.project(normalizeName(name));
    const files = project?.files.filter((f) => sameVersion(f.version, version)) ?? [];
    if (!project || files.length === 0) throw new Errors.VersionNotFound(normalizeName(name), version);
    await index.remove(files);
    request.log.info({ project: project.name, version, files: files.map((f) => f.relpath), user: request.user }, 'release removed');
    return reply.type('text/plain; charset=utf-8').send(`Removed ${files.map((f) => f.filename).join(', ')}\n`);
  }
}
