/**
 * A large volume as private indexes hold them: thousands of projects with realistic names, most
 * with a handful of releases, a few CI projects with a build per commit, sdists beside pure
 * wheels and binary wheels for several Pythons, metadata with classifiers, dependencies, URLs and
 * a README. Every file is a small valid archive built in memory, so a volume of 100,000 files is
 * written in a minute or two and weighs a few hundred MB. Deterministic for a given size.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildReferenceWheel, REFERENCE_VERSIONS, referenceWheel } from '../corpus.js';
import { rng } from './stats.js';
import { writeZip } from './zip.js';

export interface ScaleCorpus {
  files: number;
  projects: number;
  bytes: number;
  /** Normalized names of every project, the reference ones included. */
  names: string[];
}

const ORGS = ['acme', 'contoso', 'initech', 'globex', 'umbrella', 'hooli', 'stark', 'wayne', 'tyrell', 'cyberdyne', 'aperture', 'oscorp'];
const DOMAINS = [
  'data',
  'ml',
  'cloud',
  'auth',
  'billing',
  'search',
  'infra',
  'platform',
  'payments',
  'ledger',
  'geo',
  'media',
  'events',
  'metrics',
  'storage',
  'queue',
  'identity',
  'catalog',
  'pricing',
  'risk',
  'fraud',
  'recsys',
  'etl',
  'feature',
  'vision',
  'nlp',
  'audio',
  'sync',
];
const NOUNS = [
  'utils',
  'client',
  'sdk',
  'core',
  'api',
  'tools',
  'parser',
  'models',
  'schemas',
  'common',
  'service',
  'worker',
  'cli',
  'lib',
  'helpers',
  'plugin',
  'adapter',
  'connector',
  'pipeline',
  'runner',
  'toolkit',
  'kit',
  'types',
  'proto',
  'grpc',
  'rest',
  'testing',
  'fixtures',
];
const FLAVOURS = ['', '', '', 'django', 'flask', 'fastapi', 'airflow', 'spark', 'pandas', 'torch', 'aws', 'gcp', 'azure', 'k8s'];
const WORDS = (
  'fast small simple reliable typed async streaming batch internal shared thin safe strict lazy ' +
  'client library for the service that handles requests retries caching logging configuration and ' +
  'validation of records events messages files tables models features jobs tasks users accounts'
).split(' ');
const CLASSIFIERS = [
  'Development Status :: 4 - Beta',
  'Development Status :: 5 - Production/Stable',
  'Intended Audience :: Developers',
  'License :: OSI Approved :: MIT License',
  'License :: OSI Approved :: Apache Software License',
  'License :: Other/Proprietary License',
  'Operating System :: OS Independent',
  'Programming Language :: Python :: 3',
  'Programming Language :: Python :: 3 :: Only',
  'Programming Language :: Python :: 3.9',
  'Programming Language :: Python :: 3.10',
  'Programming Language :: Python :: 3.11',
  'Programming Language :: Python :: 3.12',
  'Programming Language :: Python :: 3.13',
  'Topic :: Software Development :: Libraries :: Python Modules',
  'Topic :: Internet :: WWW/HTTP',
  'Topic :: Scientific/Engineering :: Artificial Intelligence',
  'Typing :: Typed',
  'Framework :: Django',
  'Framework :: Flask',
  'Framework :: FastAPI',
];
const PUBLIC_DEPS = [
  'requests>=2.28',
  'pydantic>=2',
  'numpy>=1.24',
  'pandas>=2.0',
  'boto3',
  'click>=8',
  'attrs',
  'typing-extensions>=4.5',
  'urllib3<3',
  'sqlalchemy>=2.0',
  'httpx',
  'protobuf>=4',
];
const BINARY_TAGS = [
  'cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64',
  'cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64',
  'cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64',
  'cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64',
  'cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64',
  'cp312-cp312-win_amd64',
  'cp312-cp312-macosx_11_0_arm64',
];

type Kind = 'pure' | 'wheel-only' | 'binary' | 'ci';

interface ProjectPlan {
  display: string;
  normalized: string;
  kind: Kind;
  files: number;
  deps: string[];
  summary: string;
  classifiers: string[];
}

const normalize = (n: string) => n.replace(/[-_.]+/g, '-').toLowerCase();
const wheelName = (n: string) => n.replace(/[-_.]+/g, '_');
const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;

function projectName(r: () => number, taken: Set<string>): string {
  for (let attempt = 0; ; attempt++) {
    const parts = [r() < 0.6 ? pick(r, ORGS) : '', pick(r, DOMAINS), pick(r, FLAVOURS), pick(r, NOUNS)].filter(Boolean);
    if (attempt > 3) parts.push(String(attempt));
    // Spellings differ as they do on real volumes; PEP 503 makes them one name.
    const sep = r() < 0.7 ? '-' : r() < 0.5 ? '_' : '.';
    let name = parts.join(sep);
    if (r() < 0.1) name = name.replace(/(^|[-_.])([a-z])/g, (_m, s: string, c: string) => s + c.toUpperCase());
    if (!taken.has(normalize(name))) {
      taken.add(normalize(name));
      return name;
    }
  }
}

/** How many files each project gets: at least one, the rest heavy-tailed (a few CI projects hold thousands). */
function spread(r: () => number, projects: number, files: number, cap: number): number[] {
  const counts = new Array<number>(projects).fill(1);
  const weights = Array.from({ length: projects }, (_, i) => 1 / Math.pow(i + 1, 0.9));
  const total = weights.reduce((a, b) => a + b, 0);
  let left = files - projects;
  for (let i = 0; i < projects && left > 0; i++) {
    const extra = Math.min(left, cap - 1, Math.round(((files - projects) * weights[i]!) / total));
    counts[i]! += extra;
    left -= extra;
  }
  // Rounding leaves a remainder: one more file for random projects below the cap.
  while (left > 0) {
    const i = Math.floor(r() * projects);
    if (counts[i]! < cap) {
      counts[i]!++;
      left--;
    }
  }
  return counts;
}

function versionsFor(r: () => number, kind: Kind, releases: number): string[] {
  const out = new Set<string>();
  if (kind === 'ci') {
    // A build per commit, and now and then a release.
    const base = `${1 + Math.floor(r() * 3)}.${Math.floor(r() * 20)}`;
    for (let i = 0; out.size < releases; i++) {
      const k = Math.floor(i / 50);
      out.add(i % 50 === 49 ? `${base}.${k}` : `${base}.${k}.dev${1000 + i}`);
    }
    return [...out];
  }
  if (r() < 0.2) {
    for (let i = 0; out.size < releases; i++) out.add(`${2021 + Math.floor(i / 12)}.${(i % 12) + 1}.${Math.floor(r() * 3)}`);
    return [...out];
  }
  let [major, minor, patch] = [Math.floor(r() * 3), Math.floor(r() * 10), 0];
  while (out.size < releases) {
    const roll = r();
    if (roll < 0.08) out.add(`${major}.${minor + 1}.0rc${1 + Math.floor(r() * 3)}`);
    else if (roll < 0.12) out.add(`${major}.${minor}.${patch}.post1`);
    else if (roll < 0.15) out.add(`${major}.${minor + 1}.0b${1 + Math.floor(r() * 2)}`);
    else {
      if (roll < 0.3) [minor, patch] = [minor + 1, 0];
      else if (roll < 0.33) [major, minor, patch] = [major + 1, 0, 0];
      else patch++;
      out.add(`${major}.${minor}.${patch}`);
    }
  }
  return [...out];
}

function sentence(r: () => number, words: number): string {
  const w = Array.from({ length: words }, () => pick(r, WORDS));
  const s = w.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function readme(r: () => number, display: string): string {
  const paras = 3 + Math.floor(r() * 6);
  const out = [`# ${display}`, ''];
  for (let i = 0; i < paras; i++) {
    out.push(`${sentence(r, 20 + Math.floor(r() * 40))}.`, '');
    if (r() < 0.3)
      out.push('```python', `import ${wheelName(display).toLowerCase()}`, `${wheelName(display).toLowerCase()}.run()`, '```', '');
  }
  return out.join('\n');
}

function metadata(p: ProjectPlan, version: string, body: string): Buffer {
  const lines = [
    'Metadata-Version: 2.1',
    `Name: ${p.display}`,
    `Version: ${version}`,
    `Summary: ${p.summary}`,
    `Home-page: https://git.example.com/${p.normalized}`,
    `Author: ${pick(rng(p.normalized.length), ['Data Team', 'Platform Team', 'Jane Doe', 'Build Bot'])}`,
    `Author-email: ${p.normalized.split('-')[0]}@example.com`,
    `License: ${p.classifiers.some((c) => c.includes('MIT')) ? 'MIT' : 'Proprietary'}`,
    'Requires-Python: >=3.9',
    ...p.classifiers.map((c) => `Classifier: ${c}`),
    ...p.deps.map((d) => `Requires-Dist: ${d}`),
    `Project-URL: Source, https://git.example.com/${p.normalized}`,
    `Project-URL: Documentation, https://docs.example.com/${p.normalized}/`,
    'Description-Content-Type: text/markdown',
    '',
    body,
  ];
  return Buffer.from(lines.join('\n'));
}

const recordHash = (b: Buffer): string => 'sha256=' + createHash('sha256').update(b).digest('base64url');

function wheel(p: ProjectPlan, version: string, tag: string, meta: Buffer): Buffer {
  const dist = wheelName(p.display);
  const distInfo = `${dist}-${version}.dist-info`;
  const pkg = dist.toLowerCase();
  const entries = [
    { name: `${pkg}/__init__.py`, data: Buffer.from(`"""${p.summary}"""\n\n__version__ = "${version}"\n`) },
    { name: `${distInfo}/METADATA`, data: meta },
    {
      name: `${distInfo}/WHEEL`,
      data: Buffer.from(
        `Wheel-Version: 1.0\nGenerator: bdist_wheel (0.43.0)\nRoot-Is-Purelib: ${String(tag.startsWith('py3'))}\nTag: ${tag}\n\n`,
      ),
    },
  ];
  const record = entries.map((e) => `${e.name},${recordHash(e.data)},${e.data.length}`).join('\n') + `\n${distInfo}/RECORD,,\n`;
  return writeZip([...entries, { name: `${distInfo}/RECORD`, data: Buffer.from(record) }]);
}

function tarEntry(name: string, data: Buffer, mtime: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write(Math.floor(mtime).toString(8).padStart(11, '0') + '\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad]);
}

function sdist(p: ProjectPlan, version: string, meta: Buffer, mtime: number): Buffer {
  const top = `${wheelName(p.display).toLowerCase()}-${version}`;
  const pyproject = Buffer.from(`[project]\nname = "${p.display}"\nversion = "${version}"\nrequires-python = ">=3.9"\n`);
  const init = Buffer.from(`__version__ = "${version}"\n`);
  return gzipSync(
    Buffer.concat([
      tarEntry(`${top}/PKG-INFO`, meta, mtime),
      tarEntry(`${top}/pyproject.toml`, pyproject, mtime),
      tarEntry(`${top}/src/${wheelName(p.display).toLowerCase()}/__init__.py`, init, mtime),
      Buffer.alloc(1024),
    ]),
    { level: 6 },
  );
}

/** The files of one project, in upload order: per release an sdist and wheels as its kind has them. */
function* projectFiles(r: () => number, p: ProjectPlan): Generator<{ filename: string; make: (mtime: number) => Buffer }> {
  const perRelease = p.kind === 'pure' ? 2 : p.kind === 'binary' ? 1 + BINARY_TAGS.length : 1;
  const releases = Math.max(1, Math.ceil(p.files / perRelease));
  const versions = versionsFor(r, p.kind, releases);
  let left = p.files;
  const body = readme(r, p.display);
  for (const version of versions) {
    if (left <= 0) return;
    const meta = metadata(p, version, body);
    const escaped = wheelName(p.display);
    if (p.kind === 'pure' || p.kind === 'binary') {
      yield { filename: `${escaped.toLowerCase()}-${version}.tar.gz`, make: (m) => sdist(p, version, meta, m) };
      if (--left <= 0) return;
    }
    const tags = p.kind === 'binary' ? BINARY_TAGS : ['py3-none-any'];
    for (const tag of tags) {
      yield { filename: `${escaped}-${version}-${tag}.whl`, make: () => wheel(p, version, tag, meta) };
      if (--left <= 0) return;
    }
  }
}

/**
 * Writes `files` distributions in `projects` projects into `dir` (flat, as pypiserver volumes
 * are), the 300 files of the reference corpus among them so the burst bench can run against the
 * same volume. File mtimes spread over three years, as upload times would.
 */
export function writeScaleCorpus(dir: string, opts: { files: number; projects: number; seed?: number }): ScaleCorpus {
  const r = rng(opts.seed ?? 1);
  mkdirSync(dir, { recursive: true });
  const now = Date.now() / 1000;
  const names: string[] = [];
  let bytes = 0;
  let written = 0;

  const refProjects = Math.min(100, opts.projects);
  for (let i = 0; i < refProjects; i++) {
    for (const version of REFERENCE_VERSIONS) {
      const data = buildReferenceWheel(i, version).wheel;
      writeFileSync(path.join(dir, referenceWheel(i, version)), data);
      bytes += data.length;
      written++;
    }
    names.push(`test-package-${String(i).padStart(3, '0')}`);
  }

  const projects = opts.projects - refProjects;
  const files = opts.files - written;
  if (projects <= 0 || files < projects) throw new Error(`cannot spread ${files} files over ${projects} projects`);
  const taken = new Set(names);
  const counts = spread(r, projects, files, 2_500);
  for (let i = 0; i < projects; i++) {
    const count = counts[i]!;
    const kind: Kind = count >= 200 ? 'ci' : r() < 0.55 ? 'pure' : r() < 0.5 ? 'wheel-only' : 'binary';
    const display = projectName(r, taken);
    const deps = [
      ...new Set(
        Array.from({ length: Math.floor(r() * 6) }, () => (r() < 0.5 && names.length > 1 ? pick(r, names) : pick(r, PUBLIC_DEPS))),
      ),
    ];
    const classifiers = [...new Set(Array.from({ length: 4 + Math.floor(r() * 8) }, () => pick(r, CLASSIFIERS)))].sort();
    const plan: ProjectPlan = {
      display,
      normalized: normalize(display),
      kind,
      files: count,
      deps,
      summary: sentence(r, 6 + Math.floor(r() * 10)),
      classifiers,
    };
    names.push(plan.normalized);
    let n = 0;
    const start = now - 3 * 365 * 86_400 * r();
    for (const f of projectFiles(r, plan)) {
      const mtime = Math.min(now, start + n * 3_600 * (1 + r() * 48));
      const data = f.make(mtime);
      const full = path.join(dir, f.filename);
      writeFileSync(full, data);
      utimesSync(full, mtime, mtime);
      bytes += data.length;
      n++;
    }
    written += n;
  }
  if (written !== opts.files) throw new Error(`wrote ${written} files, not ${opts.files}`);
  return { files: written, projects: names.length, bytes, names };
}
