// Test distributions: the real sdists and wheels test/setup.sh builds from test/fixtures/projects,
// and hand-made wheels (any Metadata-Version, broken on purpose) for upload tests.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { run, testCacheDir } from './python.js';

/** Where setup.sh put the built test distributions. */
export function distDir(): string {
  const dir = join(testCacheDir(), 'dists');
  if (!existsSync(join(dir, '.fixtures-hash'))) {
    throw new Error(`${dir} has no built test distributions: run "bash test/setup.sh" first (npm test does)`);
  }
  return dir;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

/** Built files whose names match a shell-style pattern ('*' and '?'), sorted. */
export function distFiles(glob: string): string[] {
  const dir = distDir();
  const re = globToRegExp(glob);
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.') && re.test(f))
    .sort()
    .map((f) => join(dir, f));
}

/** Exactly one built file by pattern, e.g. 'whtest_chain_a-1.0-*.whl'. */
export function distFile(glob: string): string {
  const found = distFiles(glob);
  if (found.length !== 1) {
    throw new Error(`expected one test distribution matching ${glob}, found ${found.length}: ${found.map((f) => basename(f)).join(', ')}`);
  }
  return found[0]!;
}

/** Copies every built file matching any pattern into toDir; returns the copies' paths. */
export async function copyDists(patterns: string[], toDir: string): Promise<string[]> {
  const files = new Set(
    patterns.flatMap((p) => {
      const found = distFiles(p);
      if (found.length === 0) throw new Error(`no test distribution matches ${p}`);
      return found;
    }),
  );
  return copyFilesTo([...files], toDir);
}

export interface MakeWheelOptions {
  name: string;
  version: string;
  /** Default '2.1'. Any string is written as is ('2.4', '3.0', ...). */
  metadataVersion?: string;
  requiresPython?: string;
  requiresDist?: string[];
  /** The name part of the file name; default the name with runs of -_. made '_' (PEP 427). */
  filenameName?: string;
  /** Default 'py3-none-any'. */
  tag?: string;
  /** More archive members, path -> text. */
  extraFiles?: Record<string, string>;
  /** Leave METADATA out (a broken wheel). */
  omitMetadata?: boolean;
  /** Long description, written as the METADATA body. */
  description?: string;
  /** Default 'Hand-made wheel for wheelhouse tests'. */
  summary?: string;
  /** More METADATA header lines, as written (`Description-Content-Type: text/markdown`, `Project-URL: Home, https://...`). */
  metadataLines?: string[];
  /** Incompressible bytes in a data member: a big wheel, or two different wheels of one name. */
  payloadBytes?: number;
  /** Small modules before the dist-info: a wheel with a long central directory. */
  modules?: number;
}

/** PEP 427's escaping of the name part of a wheel filename. */
export function wheelName(name: string): string {
  return name.replace(/[-_.]+/g, '_');
}

/**
 * The file name and members of a wheel (RECORD last, with every other member's hash): the one
 * description of a test wheel, written to an archive by makeWheel (Python's zipfile) or
 * wheelBytes (in memory).
 */
export function wheelMembers(opts: MakeWheelOptions): { filename: string; members: { name: string; data: Buffer }[] } {
  const escaped = wheelName(opts.name);
  const tag = opts.tag ?? 'py3-none-any';
  const filename = `${opts.filenameName ?? escaped}-${opts.version}-${tag}.whl`;
  const distInfo = `${escaped}-${opts.version}.dist-info`;
  const module = escaped.toLowerCase();
  const metadata = [
    `Metadata-Version: ${opts.metadataVersion ?? '2.1'}`,
    `Name: ${opts.name}`,
    `Version: ${opts.version}`,
    `Summary: ${opts.summary ?? 'Hand-made wheel for wheelhouse tests'}`,
    ...(opts.requiresPython ? [`Requires-Python: ${opts.requiresPython}`] : []),
    ...(opts.requiresDist ?? []).map((r) => `Requires-Dist: ${r}`),
    ...(opts.metadataLines ?? []),
    '',
    opts.description ?? '',
  ].join('\n');
  const pythons = tag.split('-')[0]!.split('.');
  const wheel = [
    'Wheel-Version: 1.0',
    'Generator: wheelhouse-tests',
    'Root-Is-Purelib: true',
    ...pythons.map((py) => `Tag: ${py}-none-any`),
    '',
    '',
  ];

  const text = (name: string, data: string) => ({ name, data: Buffer.from(data, 'utf8') });
  const members = [text(`${module}.py`, `__version__ = ${JSON.stringify(opts.version)}\n`)];
  if (opts.payloadBytes) members.push({ name: `${module}_data.bin`, data: randomBytes(opts.payloadBytes) });
  for (let i = 0; i < (opts.modules ?? 0); i++) members.push(text(`${module}/sub/module_${String(i).padStart(5, '0')}.py`, `X = ${i}\n`));
  for (const [p, t] of Object.entries(opts.extraFiles ?? {})) members.push(text(p, t));
  if (!opts.omitMetadata) members.push(text(`${distInfo}/METADATA`, metadata));
  members.push(text(`${distInfo}/WHEEL`, wheel.join('\n')));
  const record = members.map((m) => `${m.name},sha256=${createHash('sha256').update(m.data).digest('base64url')},${m.data.length}`);
  members.push(text(`${distInfo}/RECORD`, `${[...record, `${distInfo}/RECORD,,`].join('\n')}\n`));
  return { filename, members };
}

// Written by Python's zipfile: the wheel spec is defined in terms of it, and pip installs these.
const ZIP_SCRIPT = `
import base64, json, sys, zipfile
spec = json.load(open(sys.argv[1]))
with zipfile.ZipFile(spec["out"], "w", zipfile.ZIP_DEFLATED) as z:
    for path, data in spec["members"]:
        z.writestr(path, base64.b64decode(data))
`;

/** A hand-made valid (unless asked otherwise) wheel in a fresh temp folder. */
export async function makeWheel(opts: MakeWheelOptions): Promise<{ path: string; filename: string; bytes: Buffer }> {
  const { filename, members } = wheelMembers(opts);
  const dir = mkdtempSync(join(tmpdir(), 'wh-wheel-'));
  const path = join(dir, filename);
  const specFile = join(dir, '.spec.json');
  await writeFile(specFile, JSON.stringify({ out: path, members: members.map((m) => [m.name, m.data.toString('base64')]) }));
  const res = await run('/usr/bin/python3', ['-c', ZIP_SCRIPT, specFile]);
  await rm(specFile, { force: true });
  if (res.code !== 0) throw new Error(`making ${filename} failed: ${res.stderr}`);
  const bytes = await readFile(path);
  return { path, filename, bytes };
}

/** sha256 hex of a file, as index pages and uploads carry it. */
export async function sha256File(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

// Reads each file's core metadata (wheel METADATA, sdist PKG-INFO) and writes a PEP 503 tree.
const TREE_SCRIPT = `
import hashlib, html, json, os, re, sys, tarfile, zipfile
root, files = sys.argv[1], json.load(open(sys.argv[2]))
def meta(path):
    if path.endswith(".whl"):
        with zipfile.ZipFile(path) as z:
            name = next(n for n in z.namelist() if re.match(r"^[^/]+\\.dist-info/METADATA$", n))
            return z.read(name).decode("utf-8")
    with tarfile.open(path) as t:
        m = next(m for m in t.getmembers() if re.match(r"^[^/]+/PKG-INFO$", m.name))
        return t.extractfile(m).read().decode("utf-8")
def field(text, key):
    m = re.search(r"^" + key + r":[ \\t]*(.*)$", text, re.M | re.I)
    return m.group(1).strip() if m else None
projects = {}
for path in files:
    text = meta(path)
    project = re.sub(r"[-_.]+", "-", field(text, "Name")).lower()
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    projects.setdefault(project, []).append((os.path.basename(path), sha, field(text, "Requires-Python")))
os.makedirs(os.path.join(root, "simple"), exist_ok=True)
with open(os.path.join(root, "simple", "index.html"), "w") as f:
    f.write("<!DOCTYPE html><html><body>\\n")
    for p in sorted(projects):
        f.write('<a href="%s/">%s</a>\\n' % (p, p))
    f.write("</body></html>\\n")
for p, entries in projects.items():
    os.makedirs(os.path.join(root, "simple", p), exist_ok=True)
    with open(os.path.join(root, "simple", p, "index.html"), "w") as f:
        f.write("<!DOCTYPE html><html><body>\\n")
        for fn, sha, rp in sorted(entries):
            attr = ' data-requires-python="%s"' % html.escape(rp, quote=True) if rp else ""
            f.write('<a href="../../packages/%s#sha256=%s"%s>%s</a>\\n' % (fn, sha, attr, fn))
        f.write("</body></html>\\n")
`;

/**
 * A static PEP 503 index of the given files under root: root/packages/<file> and
 * root/simple/<project>/index.html with sha256 fragments and data-requires-python. Any static
 * file server (python3 -m http.server, nginx) then serves it as an index.
 */
export async function writeSimpleTree(root: string, files: string[]): Promise<void> {
  const copies = await copyFilesTo(files, join(root, 'packages'));
  const list = join(root, '.files.json');
  await writeFile(list, JSON.stringify(copies));
  const res = await run('/usr/bin/python3', ['-c', TREE_SCRIPT, root, list]);
  await rm(list, { force: true });
  if (res.code !== 0) throw new Error(`writing the simple tree failed: ${res.stderr}`);
}

async function copyFilesTo(files: string[], dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  return Promise.all(
    files.map(async (f) => {
      const dest = join(dir, basename(f));
      await copyFile(f, dest);
      return dest;
    }),
  );
}
