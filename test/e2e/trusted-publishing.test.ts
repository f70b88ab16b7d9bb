// Trusted publishing through a real server process, behind a TLS proxy standing in for the load
// balancer: the PyPA publish action's exchange step by step (audience, the job's OIDC token, mint),
// then Debian's twine uploads with the minted token. Every bad OIDC token is refused and leaves no
// token, no file and no audit line behind.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_PREFIX, decodeToken } from '../../src/auth/api-tokens.js';
import { readAuditTrail } from '../../src/store/audit-log.js';
import { makeWheel } from '../helpers/dists.js';
import { publishActionExchange, type TestIssuer, startOidcIssuer } from '../helpers/oidc-issuer.js';
import { twine } from '../helpers/python.js';
import { type RunningServer, startServer, tempDir, waitFor } from '../helpers/server.js';
import { type TlsProxy, startTlsProxy } from '../helpers/tls-proxy.js';

const KEY = 'trusted-publishing-e2e-key-0123456789abcdef';
const AUDIENCE = 'wheelhouse-e2e';
let dir: string;
let cleanup: (() => void) | undefined;
let root: string;
let issuer: TestIssuer;
let srv: RunningServer;
let proxy: TlsProxy;
let publishersFile: string;

function publishers(extra: object[] = []): string {
  return JSON.stringify({
    publishers: [
      {
        issuer: issuer.url,
        kind: 'github',
        name: 'mycorp-lib release',
        repository: 'mycorp/mycorp-lib',
        workflow: 'release.yml',
        projects: ['whtest-oidc', 'whtest-oidc-*'],
      },
      {
        issuer: issuer.url,
        kind: 'gitlab',
        name: 'tools pipeline',
        project_path: 'mycorp/tools',
        ci_config: '.gitlab-ci.yml',
        ref: 'refs/heads/main',
        projects: ['whtest-tools'],
      },
      ...extra,
    ],
  });
}

beforeAll(async () => {
  const t = tempDir('wh-e2e-oidc-');
  dir = t.dir;
  cleanup = () => {
    t.cleanup();
  };
  root = path.join(dir, 'root');
  mkdirSync(root);
  issuer = await startOidcIssuer({ audience: AUDIENCE });
  publishersFile = path.join(dir, 'publishers.json');
  writeFileSync(publishersFile, publishers());
  srv = await startServer({
    root,
    args: ['--authenticate', 'update', '--refresh-interval', '250ms', '--trust-proxy', '1'],
    env: { WHEELHOUSE_TOKEN_KEY: KEY, WHEELHOUSE_TRUSTED_PUBLISHERS: publishersFile, WHEELHOUSE_OIDC_AUDIENCE: AUDIENCE },
  });
  proxy = await startTlsProxy(srv.url, dir);
});

afterAll(async () => {
  await proxy.close();
  await srv.stop();
  await issuer.close();
  cleanup?.();
});

/** The publish action's oidc-exchange step, as the action runs it in a GitHub Actions job. */
const exchange = (repositoryUrl: string) => publishActionExchange({ repositoryUrl, issuer, certFile: proxy.certFile, dir });

// requests lets REQUESTS_CA_BUNDLE win over twine's --cert: the machine's bundle must not answer.
const twineUpload = (token: string, files: string[]) =>
  twine(
    [
      'upload',
      '--repository-url',
      `${proxy.url}/legacy/`,
      '-u',
      '__token__',
      '-p',
      token,
      '--non-interactive',
      '--disable-progress-bar',
      ...files,
    ],
    { env: { REQUESTS_CA_BUNDLE: proxy.certFile } },
  );

const oneLine = (s: string) => s.replace(/\s+/g, ' ');
const distributions = () => readdirSync(root).filter((f) => !f.startsWith('.'));

async function mint(jwt: string): Promise<{ status: number; body: { token?: string; errors?: { code: string; description: string }[] } }> {
  const res = await fetch(`${srv.url}/_/oidc/mint-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: jwt }),
  });
  return { status: res.status, body: (await res.json()) as { token?: string; errors?: { code: string; description: string }[] } };
}

describe('the publish action against a real server', () => {
  it('asks the audience, mints a 15-minute token for the run, and twine uploads with it', async () => {
    const wheel = await makeWheel({ name: 'whtest-oidc', version: '1.0' });
    const ex = await exchange(`${proxy.url}/legacy/`);
    expect(ex.code, ex.stderr).toBe(0);
    expect(ex.token.startsWith(TOKEN_PREFIX)).toBe(true);
    const claims = decodeToken(ex.token);
    expect(claims).toMatchObject({ actions: ['upload'], projects: ['whtest-oidc', 'whtest-oidc-*'] });
    expect((claims?.expiresAt ?? 0) - (claims?.issuedAt ?? 0)).toBe(900);
    expect(claims?.oidc).toMatchObject({ publisher: 'mycorp-lib release', claims: { repository: 'mycorp/mycorp-lib', run_id: '9001' } });

    const up = await twineUpload(ex.token, [wheel.path]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const page = await fetch(`${srv.url}/simple/whtest-oidc/`);
    expect(await page.text()).toContain(wheel.filename);
  });

  it('mints a token that may upload its publisher’s projects only', async () => {
    const ex = await exchange(`${proxy.url}/legacy/`);
    expect(ex.code, ex.stderr).toBe(0);
    const other = await makeWheel({ name: 'whtest-notmine', version: '1.0' });
    const before = distributions();
    const up = await twineUpload(ex.token, [other.path]);
    expect(up.code).not.toBe(0);
    expect(oneLine(up.stdout + up.stderr)).toContain('403');
    expect(oneLine(up.stdout + up.stderr)).toContain('may not upload to project "whtest-notmine"');
    expect(distributions()).toEqual(before);
  });

  it('fails the action with the server’s reasons when no publisher matches the run, minting nothing', async () => {
    const original = issuer.idTokenClaims;
    issuer.idTokenClaims = (audience) => issuer.github({ audience, repository: 'mycorp/other', workflow: 'release.yml' });
    try {
      const ex = await exchange(`${proxy.url}/legacy/`);
      expect(ex.code).toBe(1);
      expect(ex.stdout).toBe('');
      expect(ex.stderr).toContain('`invalid-publisher`: valid token, but no corresponding publisher');
    } finally {
      issuer.idTokenClaims = original;
    }
  });

  it('accepts a GitLab job’s token for the GitLab publisher', async () => {
    const res = await mint(await issuer.sign(issuer.gitlab({ projectPath: 'mycorp/tools', refPath: 'refs/heads/main' })));
    expect(res.status).toBe(200);
    expect(decodeToken(res.body.token ?? '')?.projects).toEqual(['whtest-tools']);
    const wrongRef = await mint(await issuer.sign(issuer.gitlab({ projectPath: 'mycorp/tools', refPath: 'refs/heads/feature' })));
    expect(wrongRef.body.errors?.[0]?.code).toBe('invalid-publisher');
  });
});

describe('refused OIDC tokens', () => {
  it('are each refused at the mint endpoint, and as an upload password, with nothing written', async () => {
    const now = Math.floor(Date.now() / 1000);
    const gh = (o: Parameters<TestIssuer['github']>[0] = {}, extra: Record<string, unknown> = {}) => issuer.github(o, extra);
    const replayed = await issuer.sign(gh());
    expect((await mint(replayed)).status).toBe(200);
    const sameId = gh();
    expect((await mint(await issuer.sign(sameId))).status).toBe(200);
    const cases: [string, string, string][] = [
      ['alg none', issuer.signNone(gh()), 'invalid-token'],
      ['HS256 signed with the public key', await issuer.signHs256WithPublicKey(gh()), 'invalid-token'],
      ['the wrong audience', await issuer.sign(gh({ audience: 'pypi' })), 'invalid-token'],
      ['the wrong issuer', await issuer.sign({ ...gh(), iss: 'https://token.actions.githubusercontent.com' }), 'invalid-payload'],
      ['expired', await issuer.sign(gh({}, { exp: now - 120, iat: now - 600, nbf: now - 600 })), 'invalid-token'],
      ['not yet valid', await issuer.sign(gh({}, { nbf: now + 600 })), 'invalid-token'],
      ['another repository', await issuer.sign(gh({ repository: 'mycorp/other' })), 'invalid-publisher'],
      ['another workflow', await issuer.sign(gh({ workflow: 'test.yml' })), 'invalid-publisher'],
      ['a replayed token', replayed, 'invalid-reuse-token'],
      ['another token with a used id', await issuer.sign({ ...gh(), jti: sameId.jti }), 'invalid-reuse-token'],
      ['a key id the issuer does not publish', await issuer.sign(gh(), { unpublished: true }), 'invalid-token'],
      ['a tampered payload', tamper(await issuer.sign(gh())), 'invalid-token'],
    ];
    const mintsBefore = (await readAuditTrail(root)).events.filter((e) => e.action === 'mint').length;
    const filesBefore = distributions();
    const wheel = await makeWheel({ name: 'whtest-oidc', version: '6.6' });
    for (const [what, jwt, code] of cases) {
      const res = await mint(jwt);
      expect(res.status, what).toBe(422);
      expect(res.body.errors?.[0]?.code, `${what}: ${JSON.stringify(res.body)}`).toBe(code);
      expect(res.body.token, what).toBeUndefined();
      // The OIDC token itself is no password here.
      const up = await twineUpload(jwt, [wheel.path]);
      expect(up.code, what).not.toBe(0);
      expect(oneLine(up.stdout + up.stderr), what).toContain('401');
    }
    expect((await readAuditTrail(root)).events.filter((e) => e.action === 'mint')).toHaveLength(mintsBefore);
    expect(distributions()).toEqual(filesBefore);
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    for (const reason of [
      'bad-algorithm',
      'wrong-audience',
      'unknown-issuer',
      'expired',
      'not-yet-valid',
      'no-publisher',
      'replayed',
      'unknown-key',
    ]) {
      expect(metrics, reason).toMatch(new RegExp(`^wheelhouse_oidc_mints_total\\{result="${reason}"\\} [1-9]`, 'm'));
    }
    expect(metrics).toMatch(/^wheelhouse_oidc_key_fetches_total\{kind="jwks"\} [1-9]/m);
  });
});

describe('the publishers file', () => {
  it('is re-read when it changes: a publisher added can mint, one removed no longer', async () => {
    const nightly = async () => mint(await issuer.sign(issuer.github({ repository: 'mycorp/nightly' }, { sub: 'pipeline:nightly' })));
    expect((await nightly()).status).toBe(422);
    writeFileSync(publishersFile, publishers([{ issuer: issuer.url, claims: { sub: 'pipeline:nightly' }, projects: ['whtest-nightly'] }]));
    await waitFor(async () => (await nightly()).status === 200, 5000, 250);
    writeFileSync(publishersFile, JSON.stringify({ publishers: [] }));
    await waitFor(async () => (await mint(await issuer.sign(issuer.github()))).status === 422, 5000, 250);
  });
});

describe('the audit trail', () => {
  it('records each mint with the run and the client address, and the upload with the minted token', async () => {
    const { events } = await readAuditTrail(root);
    const mints = events.filter((e) => e.action === 'mint');
    expect(mints.length).toBeGreaterThan(0);
    expect(mints[0]).toMatchObject({
      projects: ['whtest-oidc', 'whtest-oidc-*'],
      client: '127.0.0.1',
      actor: { type: 'oidc', oidc: { publisher: 'mycorp-lib release', issuer: issuer.url, claims: { repository: 'mycorp/mycorp-lib' } } },
    });
    const upload = events.find((e) => e.action === 'upload' && e.project === 'whtest-oidc');
    expect(upload).toMatchObject({
      file: 'whtest_oidc-1.0-py3-none-any.whl',
      client: '127.0.0.1',
      actor: { type: 'token', token: mints[0]?.token, oidc: { publisher: 'mycorp-lib release' } },
    });
  });
});

/** The same JWT with one claim changed and the signature kept. */
function tamper(jwt: string): string {
  const [head = '', payload = '', signature = ''] = jwt.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  const changed = Buffer.from(JSON.stringify({ ...claims, repository: 'mycorp/mycorp-lib', sub: 'repo:mycorp/mycorp-lib:ref:x' })).toString(
    'base64url',
  );
  return `${head}.${changed}.${signature}`;
}
