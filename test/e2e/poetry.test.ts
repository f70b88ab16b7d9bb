// Debian's poetry 1.3.2 resolving, locking and installing from a real server that is its only
// source: the lock must name the versions the index offers with the hashes the files really have,
// and the in-project venv must end up with importable packages.
import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { copyDists, sha256File } from '../helpers/dists.js';
import { cleanPipEnv, makePoetryProject, poetry, run } from '../helpers/python.js';
import { startServer, tempDir, type RunningServer } from '../helpers/server.js';

interface LockedPackage {
  name: string;
  version: string;
  files: { file: string; hash: string }[];
  source?: { type: string; url: string; reference: string };
}

let dir: string;
let cleanup: () => void;
let srv: RunningServer;
let project: string;
/** Every file on the volume: basename -> sha256. */
const onVolume = new Map<string, string>();

const env = { POETRY_VIRTUALENVS_IN_PROJECT: 'true', POETRY_VIRTUALENVS_CREATE: 'true' };

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('wh-e2e-poetry-'));
  const root = path.join(dir, 'packages');
  await mkdir(root);
  const copies = await copyDists(
    [
      'whtest_chain_*.whl',
      'whtest-chain-*.tar.gz',
      'WHTest_Odd.Name-1.0-*.whl',
      'WHTest_Odd.Name-1.0.tar.gz',
      'whtest_top-*.whl',
      'whtest-top-*.tar.gz',
      'whtest_left-*.whl',
      'whtest-left-*.tar.gz',
      'whtest_right-*.whl',
      'whtest-right-*.tar.gz',
      'whtest_base-*.whl',
      'whtest-base-*.tar.gz',
    ],
    root,
  );
  for (const f of copies) onVolume.set(path.basename(f), await sha256File(f));
  srv = await startServer({ root, args: ['--authenticate', '.', '--passwords', '.'] });

  project = path.join(dir, 'consumer');
  await mkdir(project);
  makePoetryProject(project, {
    indexUrl: `${srv.url}/simple/`,
    deps: { 'whtest-chain-a': '*', 'WHTest_Odd.Name': '*', 'whtest-top': '*' },
  });
});

afterAll(async () => {
  await srv?.stop();
  cleanup?.();
});

async function readLock(): Promise<LockedPackage[]> {
  const res = await run('/usr/bin/python3', [
    '-c',
    'import json, sys, tomllib; print(json.dumps(tomllib.load(open(sys.argv[1], "rb"))))',
    path.join(project, 'poetry.lock'),
  ]);
  expect(res.code, res.stderr).toBe(0);
  return (JSON.parse(res.stdout) as { package: LockedPackage[] }).package;
}

it('poetry lock pins the versions the index offers, with the sha256 of every file of each release', async () => {
  const res = await poetry(['lock'], { cwd: project, env });
  expect(res.code, res.stdout + res.stderr).toBe(0);

  const locked = await readLock();
  expect(Object.fromEntries(locked.map((p) => [p.name, p.version]))).toEqual({
    'whtest-chain-a': '1.0',
    'whtest-chain-b': '1.0',
    'whtest-chain-c': '1.0',
    'whtest-odd-name': '1.0',
    // The diamond: left wants base >=1.0,<2 and right >=1.1.
    'whtest-top': '1.0',
    'whtest-left': '1.0',
    'whtest-right': '1.0',
    'whtest-base': '1.1',
  });
  for (const p of locked) {
    expect(p.source, p.name).toEqual({ type: 'legacy', url: `${srv.url}/simple`, reference: 'wheelhouse' });
    // Wheel and sdist of the release, as the page lists them, each with the hash of its bytes.
    const expected = [...onVolume]
      .filter(([file]) =>
        file
          .toLowerCase()
          .replace(/[-_.]+/g, '-')
          .startsWith(`${p.name}-${p.version.replace(/\./g, '-')}-`),
      )
      .map(([file, sha]) => ({ file, hash: `sha256:${sha}` }));
    expect(expected.length, p.name).toBe(2);
    expect(
      [...p.files].sort((a, b) => a.file.localeCompare(b.file)),
      p.name,
    ).toEqual(expected.sort((a, b) => a.file.localeCompare(b.file)));
  }
  // The legacy-named wheel is locked under the name it has on the volume.
  expect(locked.find((p) => p.name === 'whtest-odd-name')!.files.map((f) => f.file)).toContain('WHTest_Odd.Name-1.0-py2.py3-none-any.whl');
});

it('poetry install puts the locked packages into the in-project venv, where they import', async () => {
  const res = await poetry(['install'], { cwd: project, env });
  expect(res.code, res.stdout + res.stderr).toBe(0);
  for (const name of ['whtest-chain-a', 'whtest-chain-b', 'whtest-chain-c', 'whtest-odd-name', 'whtest-base']) {
    expect(res.stdout).toMatch(new RegExp(`Installing ${name} \\(1\\.[01]\\)`));
  }

  const python = path.join(project, '.venv', 'bin', 'python');
  expect(existsSync(python)).toBe(true);
  const probe = await run(
    python,
    [
      '-c',
      [
        'import importlib.metadata as m',
        'import whtest_chain_a, whtest_chain_b, whtest_chain_c, whtest_odd_name, whtest_top, whtest_left, whtest_right, whtest_base',
        'names = ["whtest-chain-a", "whtest-chain-b", "whtest-chain-c", "WHTest_Odd.Name", "whtest-top", "whtest-base"]',
        'for n in names: print(n, m.version(n))',
        'print("from", whtest_chain_a.__file__)',
      ].join('\n'),
    ],
    { env: cleanPipEnv() },
  );
  expect(probe.code, probe.stderr).toBe(0);
  expect(probe.stdout).toContain(
    'whtest-chain-a 1.0\nwhtest-chain-b 1.0\nwhtest-chain-c 1.0\nWHTest_Odd.Name 1.0\nwhtest-top 1.0\nwhtest-base 1.1\n',
  );
  expect(probe.stdout).toContain(`from ${path.join(project, '.venv')}`);
});
