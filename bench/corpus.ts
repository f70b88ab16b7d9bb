/**
 * Corpora the bench serves: the reference corpus of the published stress test (tiny generated
 * wheels) and a copy of real wheels from the machine's local mirror. Each corpus is a flat
 * directory of files (what a wheelhouse --root holds) plus a manifest with names and hashes.
 *
 *   tsx bench/corpus.ts reference <dir>
 *   tsx bench/corpus.ts real <dir> [--source /opt/pypi/files] [--max-files 200] [--max-bytes 2097152]
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import yauzl from 'yauzl';
import { writeZip } from './lib/zip.js';

export interface CorpusFile {
  filename: string;
  project: string; // PEP 503 normalized
  version: string;
  size: number;
  sha256: string;
  /** sha256 of the wheel's METADATA (what PEP 658 serves), when the wheel has one. */
  metadataSha256?: string;
}

export interface Corpus {
  kind: 'reference' | 'real';
  /** The flat directory of distribution files. */
  filesDir: string;
  files: CorpusFile[];
  /** Parameters the corpus was made with: a cached corpus is reused only when they match. */
  params: Record<string, unknown>;
}

export const REFERENCE_VERSIONS = ['1.0.0', '1.1.0', '2.0.0'] as const;

export function normalize(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

export function referenceProject(i: number): string {
  return `test-package-${String(i).padStart(3, '0')}`;
}

export function referenceWheel(i: number, version: string): string {
  return `test_package_${String(i).padStart(3, '0')}-${version}-py3-none-any.whl`;
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const recordHash = (b: Buffer): string => 'sha256=' + createHash('sha256').update(b).digest('base64url');

/** A minimal valid wheel (METADATA, WHEEL, RECORD and one module) of about 1.2 KB. */
export function buildReferenceWheel(i: number, version: string): { wheel: Buffer; metadata: Buffer } {
  const dist = `test_package_${String(i).padStart(3, '0')}`;
  const distInfo = `${dist}-${version}.dist-info`;
  const metadata = Buffer.from(
    [
      'Metadata-Version: 2.1',
      `Name: ${referenceProject(i)}`,
      `Version: ${version}`,
      `Summary: Load-test package number ${i}, version ${version}`,
      'Home-page: https://example.invalid/test-package',
      'Author: Wheelhouse bench',
      'License: MIT',
      'Requires-Python: >=3.7',
      'Classifier: Programming Language :: Python :: 3',
      'Classifier: License :: OSI Approved :: MIT License',
      'Description-Content-Type: text/plain',
      '',
      `A package that exists to be downloaded by a burst of CI clients (${referenceProject(i)} ${version}).`,
      '',
    ].join('\n'),
  );
  const wheelInfo = Buffer.from('Wheel-Version: 1.0\nGenerator: wheelhouse-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n');
  const module = Buffer.from(
    `"""${referenceProject(i)}: a package for burst benchmarks."""\n\n__version__ = "${version}"\n\n\n` +
      `def hello() -> str:\n    return "hello from ${referenceProject(i)} ${version}"\n`,
  );
  const entries = [
    { name: `${dist}/__init__.py`, data: module },
    { name: `${distInfo}/METADATA`, data: metadata },
    { name: `${distInfo}/WHEEL`, data: wheelInfo },
  ];
  const record = Buffer.from(
    entries.map((e) => `${e.name},${recordHash(e.data)},${e.data.length}`).join('\n') + `\n${distInfo}/RECORD,,\n`,
  );
  return { wheel: writeZip([...entries, { name: `${distInfo}/RECORD`, data: record }]), metadata };
}

async function loadCached(dir: string, params: Record<string, unknown>): Promise<Corpus | undefined> {
  const manifest = join(dir, 'manifest.json');
  if (!existsSync(manifest)) return undefined;
  try {
    const corpus = JSON.parse(await readFile(manifest, 'utf8')) as Corpus;
    if (JSON.stringify(corpus.params) !== JSON.stringify(params)) return undefined;
    for (const f of corpus.files) if (!existsSync(join(corpus.filesDir, f.filename))) return undefined;
    return corpus;
  } catch {
    return undefined;
  }
}

async function saveManifest(dir: string, corpus: Corpus): Promise<Corpus> {
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(corpus, null, 1));
  return corpus;
}

export async function makeReferenceCorpus(dir: string, opts: { projects?: number } = {}): Promise<Corpus> {
  dir = resolve(dir);
  const params = { projects: opts.projects ?? 100, versions: [...REFERENCE_VERSIONS] };
  const cached = await loadCached(dir, params);
  if (cached) return cached;
  const filesDir = join(dir, 'files');
  await rm(dir, { recursive: true, force: true });
  await mkdir(filesDir, { recursive: true });
  const files: CorpusFile[] = [];
  for (let i = 0; i < params.projects; i++) {
    for (const version of REFERENCE_VERSIONS) {
      const { wheel, metadata } = buildReferenceWheel(i, version);
      const filename = referenceWheel(i, version);
      await writeFile(join(filesDir, filename), wheel);
      files.push({
        filename,
        project: referenceProject(i),
        version,
        size: wheel.length,
        sha256: sha256(wheel),
        metadataSha256: sha256(metadata),
      });
    }
  }
  return saveManifest(dir, { kind: 'reference', filesDir, files, params });
}

/** The METADATA member of a wheel, byte for byte (PEP 658 hashes those bytes). */
export async function readWheelMetadata(path: string): Promise<Buffer | undefined> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
  try {
    for await (const entry of zip.eachEntry()) {
      if (/^[^/]+\.dist-info\/METADATA$/.test(entry.fileName)) {
        const stream = await zip.openReadStreamPromise(entry);
        const chunks: Buffer[] = [];
        for await (const c of stream) chunks.push(c as Buffer);
        return Buffer.concat(chunks);
      }
    }
    return undefined;
  } finally {
    zip.close();
  }
}

/** Hard links where the file system allows it (no space used, instant), else a copy. */
export async function linkOrCopy(src: string, dest: string): Promise<void> {
  try {
    await link(src, dest);
  } catch {
    await copyFile(src, dest);
  }
}

export const DEFAULT_WHEEL_SOURCE = '/opt/pypi/files';

export async function makeRealCorpus(dir: string, opts: { source?: string; maxFiles?: number; maxBytes?: number } = {}): Promise<Corpus> {
  dir = resolve(dir);
  const params = {
    source: opts.source ?? DEFAULT_WHEEL_SOURCE,
    maxFiles: opts.maxFiles ?? 200,
    maxBytes: opts.maxBytes ?? 2 * 1024 * 1024,
  };
  const cached = await loadCached(dir, params);
  if (cached) return cached;
  if (!existsSync(params.source)) {
    throw new Error(`no real wheels at ${params.source}: pass --wheels-from <dir of .whl files> (pip config list names the local mirror)`);
  }
  const names = (await readdir(params.source)).filter((n) => n.endsWith('.whl')).sort();
  const filesDir = join(dir, 'files');
  await rm(dir, { recursive: true, force: true });
  await mkdir(filesDir, { recursive: true });
  const files: CorpusFile[] = [];
  for (const filename of names) {
    if (files.length >= params.maxFiles) break;
    const src = join(params.source, filename);
    const st = await stat(src);
    if (!st.isFile() || st.size > params.maxBytes) continue;
    const [dist, version] = filename.split('-');
    if (!dist || !version) continue;
    const data = await readFile(src);
    let metadata: Buffer | undefined;
    try {
      metadata = await readWheelMetadata(src);
    } catch {
      continue; // not a readable zip: a real index would refuse it too
    }
    await linkOrCopy(src, join(filesDir, filename));
    files.push({
      filename,
      project: normalize(dist),
      version,
      size: st.size,
      sha256: sha256(data),
      ...(metadata ? { metadataSha256: sha256(metadata) } : {}),
    });
  }
  if (files.length === 0) throw new Error(`no wheels of at most ${params.maxBytes} bytes in ${params.source}`);
  return saveManifest(dir, { kind: 'real', filesDir, files, params });
}

export function projectsOf(corpus: Corpus): Map<string, CorpusFile[]> {
  const out = new Map<string, CorpusFile[]>();
  for (const f of corpus.files) {
    const list = out.get(f.project) ?? [];
    list.push(f);
    out.set(f.project, list);
  }
  return out;
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A static PEP 503/691/658 tree of the corpus for nginx: simple/<name>/index.html and
 * index.json, packages/<file> and packages/<file>.metadata. What a static mirror can do at best.
 */
export async function makeStaticTree(corpus: Corpus, dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  const packages = join(dir, 'packages');
  await mkdir(packages, { recursive: true });
  const projects = projectsOf(corpus);
  const rootLinks: string[] = [];
  for (const [project, files] of [...projects].sort()) {
    const pageDir = join(dir, 'simple', project);
    await mkdir(pageDir, { recursive: true });
    const anchors: string[] = [];
    const jsonFiles: unknown[] = [];
    for (const f of files) {
      await linkOrCopy(join(corpus.filesDir, f.filename), join(packages, f.filename));
      let metaAttr = '';
      if (f.metadataSha256) {
        const meta = await readWheelMetadata(join(corpus.filesDir, f.filename));
        if (meta) {
          await writeFile(join(packages, `${f.filename}.metadata`), meta);
          metaAttr = ` data-core-metadata="sha256=${f.metadataSha256}" data-dist-info-metadata="sha256=${f.metadataSha256}"`;
        }
      }
      const href = `../../packages/${encodeURIComponent(f.filename)}`;
      anchors.push(`<a href="${escapeHtml(href)}#sha256=${f.sha256}"${metaAttr}>${escapeHtml(f.filename)}</a><br>`);
      jsonFiles.push({
        filename: f.filename,
        url: href,
        hashes: { sha256: f.sha256 },
        size: f.size,
        ...(metaAttr ? { 'core-metadata': { sha256: f.metadataSha256 }, 'dist-info-metadata': { sha256: f.metadataSha256 } } : {}),
      });
    }
    await writeFile(
      join(pageDir, 'index.html'),
      `<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.1"><title>Links for ${project}</title></head>` +
        `<body><h1>Links for ${project}</h1>\n${anchors.join('\n')}\n</body></html>\n`,
    );
    await writeFile(
      join(pageDir, 'index.json'),
      JSON.stringify({
        meta: { 'api-version': '1.1' },
        name: project,
        files: jsonFiles,
        versions: [...new Set(files.map((f) => f.version))],
      }),
    );
    rootLinks.push(`<a href="${project}/">${project}</a><br>`);
  }
  await writeFile(
    join(dir, 'simple', 'index.html'),
    `<!DOCTYPE html>\n<html><head><title>Simple index</title></head><body>\n${rootLinks.join('\n')}\n</body></html>\n`,
  );
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      source: { type: 'string' },
      'max-files': { type: 'string' },
      'max-bytes': { type: 'string' },
      projects: { type: 'string' },
    },
  });
  const [kind, dir] = positionals;
  if (!dir || (kind !== 'reference' && kind !== 'real')) {
    console.error('usage: tsx bench/corpus.ts reference|real <dir> [--source DIR] [--max-files N] [--max-bytes N]');
    process.exit(2);
  }
  const corpus =
    kind === 'reference'
      ? await makeReferenceCorpus(dir, { ...(values.projects ? { projects: Number(values.projects) } : {}) })
      : await makeRealCorpus(dir, {
          ...(values.source ? { source: values.source } : {}),
          ...(values['max-files'] ? { maxFiles: Number(values['max-files']) } : {}),
          ...(values['max-bytes'] ? { maxBytes: Number(values['max-bytes']) } : {}),
        });
  const bytes = corpus.files.reduce((s, f) => s + f.size, 0);
  console.log(
    `${corpus.kind} corpus: ${corpus.files.length} files, ${projectsOf(corpus).size} projects, ${bytes} bytes in ${corpus.filesDir}`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
