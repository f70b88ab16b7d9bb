// The read path with every pip the project supports (18.1 on Python 3.6 to the newest on 3.13),
// against one real server over a volume laid out like an existing pypiserver one: flat files,
// files in a subfolder, a legacy-named wheel, and dot-files that must never be served.
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyDists, makeWheel } from '../helpers/dists.js';
import { pipByVersion, pipInstall, pips, type Pip, type RunResult } from '../helpers/python.js';
import { startServer, tempDir, type RunningServer } from '../helpers/server.js';

// Two pips at a time: two cores, and each pip is mostly CPU (interpreter start, resolver).
const SLOTS = 2;
let busy = 0;
const waiting: (() => void)[] = [];
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  while (busy >= SLOTS) await new Promise<void>((r) => waiting.push(r));
  busy++;
  try {
    return await fn();
  } finally {
    busy--;
    waiting.shift()?.();
  }
}

const install = (pip: Pip, indexUrl: string, reqs: string[], args: string[] = []) =>
  limited(() => pipInstall(pip, indexUrl, reqs, { args }));

const out = (r: RunResult): string => `${r.stdout}\n${r.stderr}`;

/** Python version as [major, minor]. */
const pyVersion = (pip: Pip): [number, number] => pip.python.split('.').slice(0, 2).map(Number) as [number, number];
const atLeast = (v: string, min: [number, number]): boolean => {
  const [a, b] = v.split('.').map(Number) as [number, number];
  return a > min[0] || (a === min[0] && b >= min[1]);
};

let dir: string;
let cleanup: (() => void) | undefined;
let srv: RunningServer;
/** Set once the server runs: afterAll stops only what beforeAll got to start. */
let stopServer: (() => Promise<unknown>) | undefined;
let simple: string;

beforeAll(async () => {
  const t = tempDir('wh-e2e-pip-');
  dir = t.dir;
  cleanup = () => t.cleanup();
  const root = path.join(dir, 'packages');
  await mkdir(root);
  // Flat, as pypiserver keeps them. WHTest_Odd.Name's wheel keeps the un-normalized name
  // setuptools gave it (legacy, not PEP 427's escaped form).
  await copyDists(
    [
      'whtest_chain_*.whl',
      'whtest-chain-*.tar.gz',
      'whtest_base-*.whl',
      'whtest-base-*.tar.gz',
      'WHTest_Odd.Name-1.0-*.whl',
      'WHTest_Odd.Name-1.0.tar.gz',
    ],
    root,
  );
  // A subfolder: pypiserver reads subfolders, so volumes sorted by team exist.
  await copyDists(
    ['whtest_top-*.whl', 'whtest_left-*.whl', 'whtest_right-*.whl', 'whtest_pyreq-*.whl', 'whtest-pyreq-*.tar.gz'],
    path.join(root, 'team'),
  );
  // Dot-files and dot-folders are not packages. Both are newer, valid wheels of projects the
  // installs below pull in: were they listed, pip would pick them.
  const hiddenC = await makeWheel({ name: 'whtest-chain-c', version: '9.0', tag: 'py2.py3-none-any' });
  await copyFile(hiddenC.path, path.join(root, `.${hiddenC.filename}`));
  const hiddenB = await makeWheel({ name: 'whtest-chain-b', version: '9.0', tag: 'py2.py3-none-any' });
  await mkdir(path.join(root, '.trash'));
  await copyFile(hiddenB.path, path.join(root, '.trash', hiddenB.filename));

  srv = await startServer({ root, args: ['--authenticate', '.', '--passwords', '.', '--log-level', 'info'] });
  stopServer = () => srv.stop();
  simple = `${srv.url}/simple/`;
});

afterAll(async () => {
  await stopServer?.();
  cleanup?.();
});

it('lists no dot-file or dot-folder as a package', async () => {
  for (const project of ['whtest-chain-b', 'whtest-chain-c']) {
    const html = await (await fetch(`${simple}${project}/`, { headers: { accept: 'text/html' } })).text();
    expect(html).toContain('-1.0-py2.py3-none-any.whl');
    expect(html).not.toContain('9.0');
  }
  const all = await (await fetch(`${srv.url}/packages/`)).text();
  expect(all).not.toMatch(/\.trash|\/\.whtest|9\.0/);
});

// Installed version of whtest-base for the diamond top -> left (base>=1.0,<2), right (base>=1.1).
// Resolvers since pip 20.3 backtrack to the one version both allow, 1.1.
function diamondBase(pip: Pip, output: string): string {
  if (atLeast(pip.pip, [20, 3])) return '1.1';
  // The legacy resolver (18.1, 19.2.3) takes the first requirement it meets on whtest-base and
  // only warns about the other. Which of left and right it meets first is the order of a
  // frozenset (pkg_resources' requires()), so on Python 3 it changes with PYTHONHASHSEED: base
  // 1.1 through left, or 2.0 through right with "whtest-left 1.0 has requirement ... incompatible".
  const first = /Collecting whtest-base\S* \(from (whtest-left|whtest-right)->whtest-top\)/.exec(output);
  expect(first, output).not.toBeNull();
  if (first![1] === 'whtest-left') return '1.1';
  expect(output).toMatch(/whtest-left 1\.0 has requirement whtest-base<2,>=1\.0, but you'll have whtest-base 2\.0 which is incompatible/);
  return '2.0';
}

describe.each(pips().map((p) => [`pip ${p.pip} on Python ${p.python}`, p] as const))('%s', (_name, pip) => {
  it.concurrent('installs whtest-chain-a with the whtest-chain-b and whtest-chain-c it depends on, never a dot-file', async () => {
    const { result, installed } = await install(pip, simple, ['whtest-chain-a']);
    expect(result.code, out(result)).toBe(0);
    expect(installed).toEqual({ 'whtest-chain-a': '1.0', 'whtest-chain-b': '1.0', 'whtest-chain-c': '1.0' });
  });

  const wantPyreq = atLeast(pip.python, [3, 12]) ? '2.0' : '1.0';
  it.concurrent(
    `installs whtest-pyreq ${wantPyreq}, the newest release whose data-requires-python admits Python ${pyVersion(pip).join('.')}`,
    async () => {
      const { result, installed } = await install(pip, simple, ['whtest-pyreq']);
      expect(result.code, out(result)).toBe(0);
      expect(installed).toEqual({ 'whtest-pyreq': wantPyreq });
    },
  );

  it.concurrent('installs WHTest_Odd.Name from its legacy-named file when asked for under another spelling', async () => {
    const { result, installed } = await install(pip, simple, ['whtest_odd.NAME']);
    expect(result.code, out(result)).toBe(0);
    expect(installed).toEqual({ 'whtest-odd-name': '1.0' });
  });

  it.concurrent('installs the whtest-top diamond with the whtest-base its resolver picks', async () => {
    const { result, installed } = await install(pip, simple, ['whtest-top']);
    expect(result.code, out(result)).toBe(0);
    expect(installed).toEqual({
      'whtest-top': '1.0',
      'whtest-left': '1.0',
      'whtest-right': '1.0',
      'whtest-base': diamondBase(pip, out(result)),
    });
  });
});

describe("pypiserver's dance: --index-url at the server root", () => {
  // pip asks for <index>/<project>/, i.e. /<project>/, gets 303 to /simple/<project>/ and reads
  // the links relative to where it landed.
  for (const pip of [pipByVersion('18.1'), pipByVersion('newest')]) {
    it.concurrent(`pip ${pip.pip} follows the 303 from /<project>/ and installs from the page it lands on`, async () => {
      const { result, installed } = await install(pip, `${srv.url}/`, ['whtest-chain-a', 'WHTest_Odd.Name'], ['-vv']);
      expect(result.code, out(result)).toBe(0);
      expect(installed).toEqual({ 'whtest-chain-a': '1.0', 'whtest-chain-b': '1.0', 'whtest-chain-c': '1.0', 'whtest-odd-name': '1.0' });
      for (const project of ['whtest-chain-a', 'whtest-chain-b', 'whtest-chain-c', 'whtest-odd-name']) {
        expect(out(result)).toContain(`"GET /${project}/ HTTP/1.1" 303`);
        expect(out(result)).toContain(`"GET /simple/${project}/ HTTP/1.1" 200`);
      }
    });
  }
});

describe('the newest pip', () => {
  it.concurrent('negotiates PEP 691 JSON pages and reads dependencies from PEP 658 .metadata files', async () => {
    const pip = pipByVersion('newest');
    const { result, installed } = await install(pip, simple, ['whtest-chain-a'], ['-vv']);
    const text = out(result);
    expect(result.code, text).toBe(0);
    expect(installed).toEqual({ 'whtest-chain-a': '1.0', 'whtest-chain-b': '1.0', 'whtest-chain-c': '1.0' });
    for (const project of ['whtest-chain-a', 'whtest-chain-b', 'whtest-chain-c']) {
      const file = `${project.replace(/-/g, '_')}-1.0-py2.py3-none-any.whl`;
      expect(text).toContain(`Fetched page ${simple}${project}/ as application/vnd.pypi.simple.v1+json`);
      expect(text).toContain(`Obtaining dependency information for ${project} from ${srv.url}/packages/${file}.metadata`);
      expect(text).toContain(`"GET /packages/${file}.metadata HTTP/1.1" 200`);
    }
    // The server saw the same: the metadata files answered 200.
    expect(srv.output()).toMatch(/"url":"\/packages\/whtest_chain_b-1\.0-py2\.py3-none-any\.whl\.metadata","status":200/);
  });
});

describe('--hash-algo: the digest in the simple pages file links', () => {
  // pips before 22.2 read the HTML pages, whose links carry the fragment; each checks the
  // download against it and refuses a file that does not match.
  // One server per algorithm, started by the first test that needs it.
  const servers = new Map<string, Promise<RunningServer>>();
  afterAll(async () => {
    await Promise.all([...servers.values()].map(async (s) => (await s).stop()));
  });
  const serve = (algo: string): Promise<RunningServer> => {
    let s = servers.get(algo);
    if (!s) {
      s = (async () => {
        const root = path.join(dir, `hash-${algo}`);
        await mkdir(root);
        await copyDists(['whtest_chain_*.whl', 'whtest-chain-*.tar.gz'], root);
        // No load shedding: on a machine busy with other suites the first pages could be shed, and timing is not what these check.
        const args = ['--authenticate', '.', '--passwords', '.', '--max-event-loop-delay', '0', '--hash-algo', algo];
        return startServer({ root, args });
      })();
      servers.set(algo, s);
    }
    return s;
  };

  for (const [algo, pipVersion, fragment] of [
    ['md5', '18.1', /#md5=[0-9a-f]{32}"/],
    ['sha512', '22.0.4', /#sha512=[0-9a-f]{128}"/],
    ['off', '18.1', /\.whl"/],
  ] as const) {
    it.concurrent(`pip ${pipVersion} installs from pages whose links carry ${algo === 'off' ? 'no digest' : `#${algo}=`}`, async () => {
      const s = await serve(algo);
      const html = await (await fetch(`${s.url}/simple/whtest-chain-c/`)).text();
      expect(html).toMatch(fragment);
      if (algo === 'off') expect(html).not.toContain('#');
      const { result, installed } = await install(pipByVersion(pipVersion), `${s.url}/simple/`, ['whtest-chain-a']);
      expect(result.code, out(result)).toBe(0);
      expect(installed).toEqual({ 'whtest-chain-a': '1.0', 'whtest-chain-b': '1.0', 'whtest-chain-c': '1.0' });
    });
  }
});

describe('several package directories (-r repeated, as pypiserver takes them)', () => {
  it('installs with the oldest and the newest pip a chain whose files are spread over a directory and a read-only one', async () => {
    const first = path.join(dir, 'roots-first');
    const second = path.join(dir, 'roots-second');
    await mkdir(first);
    await mkdir(path.join(second, 'team'), { recursive: true });
    await copyDists(['whtest_chain_a-*.whl'], first);
    await copyDists(['whtest_chain_b-*.whl'], second);
    await copyDists(['whtest_chain_c-*.whl'], path.join(second, 'team'));
    const s = await startServer({
      root: first,
      args: ['-r', second, '--authenticate', '.', '--passwords', '.', '--max-event-loop-delay', '0'],
    });
    try {
      for (const pip of [pipByVersion('18.1'), pipByVersion('newest')]) {
        const { result, installed } = await install(pip, `${s.url}/simple/`, ['whtest-chain-a']);
        expect(result.code, out(result)).toBe(0);
        expect(installed).toEqual({ 'whtest-chain-a': '1.0', 'whtest-chain-b': '1.0', 'whtest-chain-c': '1.0' });
      }
    } finally {
      await s.stop();
    }
  });
});
