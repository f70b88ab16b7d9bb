import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../errors.js';
import { normalizeName } from '../pypi/names.js';
import { checkStagedUpload, checkUploadFilename, firstField, type UploadFields } from '../pypi/upload-checks.js';
import { sameVersion } from '../pypi/versions.js';
import type { Staged } from '../store/uploads.js';
import { projectOfPath } from './packages.js';
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

  const update = { action: 'update' as const, writes: ['upload', 'remove'] as const };
  for (const url of ['/', '/legacy/', '/legacy']) app.post(url, { config: update }, handleUpload);

  const remove = { action: 'update' as const, writes: ['remove'] as const };
  app.delete<{ Params: { '*': string } }>('/packages/*', { config: remove }, async (request, reply) => {
    const rel = request.params['*'];
    const file = index.file(rel);
    const project = projectOfPath(file, rel);
    if (project !== undefined) request.authorize('remove', project);
    if (!file) throw new Errors.FileNotFound(rel);
    await index.remove([file]);
    request.log.info({ file: file.relpath, user: request.user }, 'file removed');
    await request.audit({ action: 'remove', project: file.project, version: file.version, file: file.filename, sha256: file.sha256 });
    return reply.type('text/plain; charset=utf-8').send(`Removed ${file.filename}\n`);
  });

  async function handleUpload(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const form = await readUploadForm(request, {
      maxUploadSize: config.maxUploadSize,
      // The rights on the project are checked as soon as the filename names it: before a byte is staged.
      stage: (filename, fields, file) => {
        const parsed = checkUploadFilename(filename, fields);
        request.authorize('upload', parsed.project);
        return index.stage(parsed, file, config.maxUploadSize);
      },
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
    // A duplicate changed nothing: the trail has the upload that stored those bytes.
    if (!duplicate) {
      await request.audit({ action: 'upload', project: file.project, version: file.version, file: file.filename, sha256: file.sha256 });
    }
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
    request.authorize('remove', normalizeName(name));
    const project = index.project(normalizeName(name));
    const files = project?.files.filter((f) => sameVersion(f.version, version)) ?? [];
    if (!project || files.length === 0) throw new Errors.VersionNotFound(normalizeName(name), version);
    await index.remove(files);
    request.log.info({ project: project.name, version, files: files.map((f) => f.relpath), user: request.user }, 'release removed');
    for (const f of files)
      await request.audit({ action: 'remove', project: f.project, version: f.version, file: f.filename, sha256: f.sha256 });
    return reply.type('text/plain; charset=utf-8').send(`Removed ${files.map((f) => f.filename).join(', ')}\n`);
  }
}
