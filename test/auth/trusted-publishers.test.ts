import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenKeyring, tokenAllows, verifyToken } from '../../src/auth/api-tokens.js';
import { GITHUB_ISSUER, GITLAB_ISSUER, type OidcClaims, OidcVerifier } from '../../src/auth/oidc.js';
import {
  type TrustedPublisher,
  TrustedPublishing,
  TrustedPublishersError,
  loadTrustedPublishers,
  matchPublishers,
  mintForClaims,
  parseTrustedPublishers,
} from '../../src/auth/trusted-publishers.js';
import { readFresh } from '../../src/store/fs-util.js';
import { type TestIssuer, startOidcIssuer } from '../helpers/oidc-issuer.js';

const keyring = TokenKeyring.parse('trusted-publishing-test-key-0123456789abcdef', 'test');
const parse = (publishers: unknown[], source = 'publishers.json') => parseTrustedPublishers(JSON.stringify({ publishers }), source);

function parseError(publishers: unknown[] | string): string {
  try {
    if (typeof publishers === 'string') parseTrustedPublishers(publishers, 'publishers.json');
    else parse(publishers);
  } catch (err) {
    expect(err).toBeInstanceOf(TrustedPublishersError);
    return (err as Error).message;
  }
  throw new Error('parsed without an error');
}

let issuer: TestIssuer;
beforeAll(async () => {
  issuer = await startOidcIssuer();
});
afterAll(async () => {
  await issuer.close();
});

/** Claims as the verifier hands them on (the tests here do not need a signature). */
const asClaims = (c: Record<string, unknown>) => c as OidcClaims;

describe('parseTrustedPublishers', () => {
  it('reads GitHub, GitLab and generic publishers with the shorthands resolved and projects normalized', () => {
    const publishers = parse([
      { issuer: 'github', repository: 'MyCorp/mycorp-lib', workflow: 'release.yml', environment: 'pypi', projects: ['MyCorp_Lib'] },
      { issuer: 'gitlab', project_path: 'mycorp/tools', ci_config: 'ci/release.yml', ref: 'refs/tags/v*', projects: ['mycorp-tools-*'] },
      { issuer: 'https://gitlab.mycorp.example/', kind: 'gitlab', project_path: 'infra/cli', ci_config: '.gitlab-ci.yml', projects: ['x'] },
      { issuer: 'https://ci.mycorp.example', name: 'ci', claims: { sub: 'pipeline:release', team: ['a', 'b'] }, projects: ['*'] },
    ]);
    expect(publishers).toEqual([
      {
        kind: 'github',
        issuer: GITHUB_ISSUER,
        name: 'github:MyCorp/mycorp-lib/release.yml@pypi',
        projects: ['mycorp-lib'],
        repository: 'MyCorp/mycorp-lib',
        repositoryOwnerId: null,
        workflow: 'release.yml',
        environment: 'pypi',
        ref: null,
      },
      {
        kind: 'gitlab',
        issuer: GITLAB_ISSUER,
        name: 'gitlab:mycorp/tools//ci/release.yml',
        projects: ['mycorp-tools-*'],
        projectPath: 'mycorp/tools',
        ciConfig: 'ci/release.yml',
        environment: null,
        ref: 'refs/tags/v*',
      },
      {
        kind: 'gitlab',
        issuer: 'https://gitlab.mycorp.example',
        name: 'gitlab.mycorp.example:infra/cli//.gitlab-ci.yml',
        projects: ['x'],
        projectPath: 'infra/cli',
        ciConfig: '.gitlab-ci.yml',
        environment: null,
        ref: null,
      },
      {
        kind: 'claims',
        issuer: 'https://ci.mycorp.example',
        name: 'ci',
        projects: ['*'],
        claims: { sub: ['pipeline:release'], team: ['a', 'b'] },
      },
    ]);
  });

  it('treats the GitHub issuer URL written out like the shorthand', () => {
    const [p] = parse([{ issuer: GITHUB_ISSUER, repository: 'o/r', workflow: 'r.yaml', projects: ['p'] }]);
    expect(p?.kind).toBe('github');
  });

  it.each([
    ['{"publishers": [', /publishers\.json: not valid JSON/],
    ['[]', /publishers\.json: expected \{"publishers": \[\.\.\.\]\}/],
    ['{"publishers": [], "extra": 1}', /unknown field "extra"/],
  ])('refuses a file that is not a publishers document: %s', (text, message) => {
    expect(parseError(text)).toMatch(message);
  });

  it.each([
    [
      [{ repository: 'o/r', workflow: 'r.yml', projects: ['p'] }],
      /publishers\[0\]: "issuer" is missing: use github, gitlab or an issuer URL/,
    ],
    [[{ issuer: 'gitHub', projects: ['p'] }], /publishers\[0\]: issuer "gitHub" is not a URL; or use the shorthands/],
    [
      [{ issuer: 'http://ci.example', claims: { sub: 'x' }, projects: ['p'] }],
      /publishers\[0\]: issuer "http:\/\/ci.example" must be an https/,
    ],
    [[{ issuer: 'github', kind: 'gitlab', repository: 'o/r', workflow: 'r.yml', projects: ['p'] }], /issuer "github" is of kind github/],
    [[{ issuer: 'https://x.example', kind: 'jenkins', claims: { a: 'b' }, projects: ['p'] }], /"kind" must be github, gitlab or claims/],
    [
      [{ issuer: 'github', repository: 'o/r', workflow: 'r.yml', enviroment: 'pypi', projects: ['p'] }],
      /publishers\[0\] \(github o\/r\): unknown field "enviroment"/,
    ],
    [[{ issuer: 'github', repository: 'o/r', projects: ['p'] }], /publishers\[0\] \(github o\/r\): "workflow" /],
    [
      [{ issuer: 'github', repository: 'o/r', workflow: '.github/workflows/r.yml', projects: ['p'] }],
      /"workflow" must be a workflow file name/,
    ],
    [[{ issuer: 'github', repository: 'just-a-name', workflow: 'r.yml', projects: ['p'] }], /"repository" must be owner\/name/],
    [[{ issuer: 'github', repository: 'o/r', workflow: 'r.yml', projects: [] }], /"projects" name at least one project/],
    [
      [{ issuer: 'github', repository: 'o/r', workflow: 'r.yml', projects: ['bad name'] }],
      /\(github o\/r\): projects: "bad name" is not a project/,
    ],
    [[{ issuer: 'gitlab', project_path: 'g/p', projects: ['p'] }], /publishers\[0\] \(gitlab g\/p\): "ci_config" /],
    [[{ issuer: 'https://ci.example', claims: {}, projects: ['p'] }], /name at least one claim to match/],
    [['github'], /publishers\[0\]: expected an object/],
  ])('refuses an unusable entry, naming it: %j', (publishers, message) => {
    expect(parseError(publishers)).toMatch(message);
  });

  it('refuses two publishers with one name, naming the second', () => {
    const entry = { issuer: 'github', repository: 'o/r', workflow: 'r.yml', projects: ['p'] };
    expect(parseError([entry, { ...entry, projects: ['q'] }])).toMatch(/publishers\[1\]: the name "github:o\/r\/r.yml" is used twice/);
  });
});

describe('loadTrustedPublishers', () => {
  it('reads a file and an inline value, naming the file in errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wh-publishers-'));
    try {
      const file = join(dir, 'publishers.json');
      writeFileSync(file, JSON.stringify({ publishers: [{ issuer: 'github', repository: 'o/r', workflow: 'r.yml', projects: ['p'] }] }));
      const inline = JSON.stringify({
        publishers: [{ issuer: 'gitlab', project_path: 'g/p', ci_config: '.gitlab-ci.yml', projects: ['q'] }],
      });
      expect((await loadTrustedPublishers({ file, inline }, readFresh)).map((p) => p.kind)).toEqual(['github', 'gitlab']);
      writeFileSync(file, '{"publishers": [{"issuer": "github"}]}');
      await expect(loadTrustedPublishers({ file }, readFresh)).rejects.toThrow(new RegExp(`${file}: publishers\\[0\\] \\(github \\)`));
      await expect(loadTrustedPublishers({ file: join(dir, 'missing.json') }, readFresh)).rejects.toThrow(
        /cannot read the trusted publishers file/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('matchPublishers (GitHub)', () => {
  const publishers = () =>
    parse([
      {
        issuer: issuer.url,
        kind: 'github',
        name: 'lib',
        repository: 'mycorp/mycorp-lib',
        workflow: 'release.yml',
        projects: ['mycorp-lib'],
      },
      {
        issuer: issuer.url,
        kind: 'github',
        name: 'lib-pypi',
        repository: 'mycorp/mycorp-lib',
        workflow: 'release.yml',
        environment: 'PyPI',
        ref: 'refs/tags/v*',
        repository_owner_id: 1001,
        projects: ['mycorp-lib-extra'],
      },
    ]);
  const names = (claims: Record<string, unknown>) => matchPublishers(publishers(), asClaims(claims)).map((p) => p.name);

  it('matches repository (any case) and the workflow file in job_workflow_ref at the ref', () => {
    expect(names(issuer.github({ repository: 'MyCorp/MyCorp-Lib' }))).toEqual(['lib']);
  });

  it('matches the workflow at the commit when the run has no ref (a deployment)', () => {
    const c = issuer.github({ sha: 'abc123' });
    expect(names({ ...c, ref: '', job_workflow_ref: 'mycorp/mycorp-lib/.github/workflows/release.yml@abc123' })).toEqual(['lib']);
  });

  it('matches the environment in any case, and the ref glob and owner id, adding up the publishers that match', () => {
    expect(names(issuer.github({ environment: 'pypi', ref: 'refs/tags/v2.0' }))).toEqual(['lib', 'lib-pypi']);
  });

  it('refuses another repository', () => {
    expect(names(issuer.github({ repository: 'mycorp/other' }))).toEqual([]);
  });

  it('refuses another workflow file, or the right name in another repository (a reusable workflow)', () => {
    expect(names(issuer.github({ workflow: 'ci.yml' }))).toEqual([]);
    expect(names(issuer.github({}, { job_workflow_ref: 'evil/fork/.github/workflows/release.yml@refs/tags/v1.0.0' }))).toEqual([]);
    expect(names(issuer.github({}, { job_workflow_ref: 'mycorp/mycorp-lib/.github/workflows/release.yml@refs/heads/other' }))).toEqual([]);
  });

  it('refuses a publisher that wants an environment when the run has none or another', () => {
    expect(matchPublishers(publishers().slice(1), asClaims(issuer.github({ ref: 'refs/tags/v1' })))).toEqual([]);
    expect(matchPublishers(publishers().slice(1), asClaims(issuer.github({ ref: 'refs/tags/v1', environment: 'staging' })))).toEqual([]);
  });

  it('refuses a ref outside the glob and another owner id', () => {
    expect(names(issuer.github({ environment: 'pypi', ref: 'refs/heads/main' }))).toEqual(['lib']);
    expect(names(issuer.github({ environment: 'pypi', ref: 'refs/tags/v1', ownerId: '666' }))).toEqual(['lib']);
  });

  it('refuses runs triggered by pull_request_target', () => {
    expect(names(issuer.github({ eventName: 'pull_request_target' }))).toEqual([]);
  });

  it('refuses claims from another issuer', () => {
    expect(names({ ...issuer.github(), iss: GITHUB_ISSUER })).toEqual([]);
  });
});

describe('matchPublishers (GitLab and generic)', () => {
  const host = () => new URL(issuer.url).host;
  const gitlab = () =>
    parse([
      { issuer: issuer.url, kind: 'gitlab', name: 'tools', project_path: 'mycorp/tools', ci_config: '.gitlab-ci.yml', projects: ['t'] },
      {
        issuer: issuer.url,
        kind: 'gitlab',
        name: 'tools-env',
        project_path: 'mycorp/tools',
        ci_config: '.gitlab-ci.yml',
        environment: 'release',
        projects: ['u'],
      },
    ]);
  const names = (ps: TrustedPublisher[], claims: Record<string, unknown>) => matchPublishers(ps, asClaims(claims)).map((p) => p.name);

  it('matches project path (any case), sub and the pipeline file in ci_config_ref_uri', () => {
    expect(names(gitlab(), issuer.gitlab({ projectPath: 'MyCorp/Tools' }))).toEqual(['tools']);
    expect(names(gitlab(), issuer.gitlab({ environment: 'release' }))).toEqual(['tools', 'tools-env']);
  });

  it('refuses another pipeline file, project or subject, and an environment in another case', () => {
    expect(names(gitlab(), issuer.gitlab({ ciConfig: 'other.yml' }))).toEqual([]);
    expect(names(gitlab(), issuer.gitlab({ projectPath: 'mycorp/other' }))).toEqual([]);
    expect(names(gitlab(), issuer.gitlab({}, { sub: 'project_path:evil/tools:ref_type:branch:ref:main' }))).toEqual([]);
    expect(names(gitlab(), { ...issuer.gitlab(), ci_config_ref_uri: `${host()}/mycorp/tools//.gitlab-ci.yml@refs/heads/x` })).toEqual([]);
    expect(names(gitlab().slice(1), issuer.gitlab({ environment: 'Release' }))).toEqual([]);
  });

  it('matches a generic publisher on every listed claim', () => {
    const ps = parse([{ issuer: issuer.url, name: 'g', claims: { sub: 'pipeline:release', team: ['a', 'b'] }, projects: ['x'] }]);
    expect(names(ps, { iss: issuer.url, sub: 'pipeline:release', team: 'b' })).toEqual(['g']);
    expect(names(ps, { iss: issuer.url, sub: 'pipeline:release', team: 'c' })).toEqual([]);
    expect(names(ps, { iss: issuer.url, sub: 'pipeline:release' })).toEqual([]);
  });
});

describe('mintForClaims', () => {
  it('signs a 15-minute upload token for the projects of every matching publisher, carrying the run', async () => {
    const publishers = parse([
      { issuer: issuer.url, kind: 'github', name: 'a', repository: 'mycorp/mycorp-lib', workflow: 'release.yml', projects: ['mycorp-lib'] },
      {
        issuer: issuer.url,
        kind: 'github',
        name: 'b',
        repository: 'mycorp/mycorp-lib',
        workflow: 'release.yml',
        projects: ['mycorp-plugin-*'],
      },
    ]);
    const claims = issuer.github({ sha: 'f'.repeat(40) });
    const now = Date.now();
    const result = await mintForClaims(keyring, publishers, asClaims(claims), now);
    if (!result.ok) throw new Error(JSON.stringify(result));
    expect(result.expires).toBe(Math.floor(now / 1000) + 900);
    const verdict = await verifyToken(keyring, result.token, { revoked: new Set() });
    if (!verdict.ok) throw new Error(verdict.message);
    const t = verdict.token;
    expect(t.actions).toEqual(['upload']);
    expect(t.projects).toEqual(['mycorp-lib', 'mycorp-plugin-*']);
    expect(t.notBefore).toBe(t.issuedAt);
    expect(t.oidc).toMatchObject({
      publisher: 'a, b',
      issuer: issuer.url,
      subject: claims.sub,
      claims: { repository: 'mycorp/mycorp-lib', sha: 'f'.repeat(40), ref: 'refs/tags/v1.0.0', jti: claims.jti, run_id: '9001' },
    });
    expect(tokenAllows(t, 'upload', 'mycorp-plugin-x')).toBe(true);
    expect(tokenAllows(t, 'upload', 'othercorp')).toBe(false);
    expect(tokenAllows(t, 'remove', 'mycorp-lib')).toBe(false);
  });

  it('refuses claims no publisher matches, describing the run in its own words and not the publishers', async () => {
    const publishers = parse([
      { issuer: issuer.url, kind: 'github', repository: 'mycorp/secret-name', workflow: 'release.yml', projects: ['p'] },
    ]);
    const result = await mintForClaims(keyring, publishers, asClaims(issuer.github({ repository: 'someone/else' })));
    expect(result).toMatchObject({ ok: false, status: 422, reason: 'no-publisher' });
    const description = result.ok ? '' : result.errors[0]!.description;
    expect(description).toMatch(/^valid token, but no corresponding publisher \(no publisher matches repository "someone\/else"/);
    expect(description).not.toContain('secret-name');
  });
});

describe('TrustedPublishing.mint', () => {
  const AUDIENCE = 'wheelhouse-test';
  const publishing = () =>
    new TrustedPublishing({
      verifier: new OidcVerifier({ audience: AUDIENCE, issuers: [] }),
      keyring,
      publishers: parse([
        { issuer: issuer.url, kind: 'github', repository: 'mycorp/mycorp-lib', workflow: 'release.yml', projects: ['mycorp-lib'] },
      ]),
    });

  it('mints for a good token once, then refuses it as already used', async () => {
    const tp = publishing();
    const jwt = await issuer.sign(issuer.github());
    expect(await tp.mint(jwt)).toMatchObject({ ok: true });
    expect(await tp.mint(jwt)).toEqual({
      ok: false,
      status: 422,
      reason: 'replayed',
      errors: [{ code: 'invalid-reuse-token', description: 'invalid token: already used' }],
    });
  });

  it('trusts exactly the issuers of a re-read publishers file, still refusing tokens already used', async () => {
    const tp = publishing();
    const used = await issuer.sign(issuer.github());
    expect((await tp.mint(used)).ok).toBe(true);
    tp.setPublishers(parse([{ issuer: 'gitlab', project_path: 'g/p', ci_config: '.gitlab-ci.yml', projects: ['q'] }]));
    expect(await tp.mint(await issuer.sign(issuer.github()))).toMatchObject({ ok: false, reason: 'unknown-issuer' });
    tp.setPublishers(
      parse([{ issuer: issuer.url, kind: 'github', repository: 'mycorp/mycorp-lib', workflow: 'release.yml', projects: ['x'] }]),
    );
    expect(await tp.mint(used)).toMatchObject({ ok: false, reason: 'replayed' });
    expect((await tp.mint(await issuer.sign(issuer.github()))).ok).toBe(true);
  });

  it('answers each refusal with the code PyPI uses', async () => {
    const tp = publishing();
    const cases: [Promise<string> | string, string, string][] = [
      ['not a jwt', 'invalid-payload', 'malformed JWT'],
      [issuer.signNone(issuer.github()), 'invalid-token', 'malformed or invalid token: tokens signed with none are refused'],
      [issuer.signHs256WithPublicKey(issuer.github()), 'invalid-token', 'malformed or invalid token: tokens signed with HS256'],
      [issuer.sign(issuer.github({ audience: 'pypi' })), 'invalid-token', 'malformed or invalid token: the token is not for this index'],
      [issuer.sign({ ...issuer.github(), iss: 'https://elsewhere.example' }), 'invalid-payload', 'unknown trusted publishing issuer'],
      [issuer.sign(issuer.github({ workflow: 'ci.yml' })), 'invalid-publisher', 'valid token, but no corresponding publisher'],
      [issuer.sign(issuer.github({ repository: 'mycorp/other' })), 'invalid-publisher', 'valid token, but no corresponding publisher'],
      [issuer.sign(issuer.github(), { unpublished: true }), 'invalid-token', 'malformed or invalid token: the token'],
    ];
    for (const [jwt, code, description] of cases) {
      const result = await tp.mint(await jwt);
      expect(result.ok, description).toBe(false);
      if (result.ok) continue;
      expect(result.status).toBe(422);
      expect(result.errors[0]?.code, description).toBe(code);
      expect(result.errors[0]?.description.startsWith(description), `${result.errors[0]?.description} / ${description}`).toBe(true);
    }
  });
});
