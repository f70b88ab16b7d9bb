// A real OIDC issuer on the loopback interface for trusted publishing tests: a discovery document,
// a JWKS with RS256 and ES256 keys generated here, a token endpoint shaped like the one GitHub
// Actions gives a job (ACTIONS_ID_TOKEN_REQUEST_URL), claims shaped like GitHub's and GitLab's, and
// helpers that sign the bad tokens verification must refuse.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, type JWK, SignJWT, base64url, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanPipEnv, run, type RunResult } from './python.js';

const EXCHANGE = fileURLToPath(new URL('./oidc-exchange.py', import.meta.url));

export type Claims = Record<string, unknown>;
export type SigningAlg = 'RS256' | 'ES256';

interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  published: boolean;
}

export interface GitHubOptions {
  repository?: string;
  ownerId?: string;
  workflow?: string;
  ref?: string;
  sha?: string;
  environment?: string;
  eventName?: string;
  audience?: string;
}

export interface GitLabOptions {
  projectPath?: string;
  ciConfig?: string;
  refPath?: string;
  sha?: string;
  environment?: string;
  audience?: string;
}

export interface SignOptions {
  alg?: SigningAlg;
  /** Sign with a key the JWKS does not publish. */
  unpublished?: boolean;
  /** Override the key id in the header. */
  kid?: string;
}

export interface TestIssuer {
  /** The issuer URL (`iss`), http://127.0.0.1:PORT plus the path given. */
  readonly url: string;
  /** Requests served, by kind. */
  readonly requests: { discovery: number; jwks: number; idToken: number };
  /** Like ACTIONS_ID_TOKEN_REQUEST_URL: GET it with `&audience=...` and the bearer token for `{"value": JWT}`. */
  readonly idTokenRequestUrl: string;
  readonly idTokenRequestToken: string;
  /** The claims the token endpoint signs (GitHub-shaped by default). */
  idTokenClaims: (audience: string) => Claims;
  sign(claims: Claims, opts?: SignOptions): Promise<string>;
  github(opts?: GitHubOptions, extra?: Claims): Claims;
  gitlab(opts?: GitLabOptions, extra?: Claims): Claims;
  /** An unsigned token (`alg: none`) under a key id the issuer publishes. */
  signNone(claims: Claims): string;
  /** HS256 with the issuer's RSA public key (PEM) as the HMAC secret: the classic key-confusion forgery. */
  signHs256WithPublicKey(claims: Claims): Promise<string>;
  /** Adds a freshly generated key to the JWKS (a rotation); returns its kid. */
  rotate(alg?: SigningAlg): Promise<string>;
  /** Makes the discovery document and JWKS answer 503 (or serve again). */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

async function newKey(alg: SigningAlg, published: boolean): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid: `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`, alg, privateKey, publicKey, published };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

export async function startOidcIssuer(opts: { path?: string; audience?: string } = {}): Promise<TestIssuer> {
  const keys: SigningKey[] = [await newKey('RS256', true), await newKey('ES256', true)];
  // Made on first use: an RSA key costs a noticeable share of a second on a busy machine.
  const unpublished: Partial<Record<SigningAlg, Promise<SigningKey>>> = {};
  const requestToken = randomBytes(16).toString('hex');
  const requests = { discovery: 0, jwks: 0, idToken: 0 };
  const path = (opts.path ?? '').replace(/\/+$/, '');
  let down = false;
  let url = '';

  const jwks = async (): Promise<{ keys: JWK[] }> => ({
    keys: await Promise.all(
      keys.filter((k) => k.published).map(async (k) => ({ ...(await exportJWK(k.publicKey)), kid: k.kid, alg: k.alg, use: 'sig' })),
    ),
  });

  const server: Server = createServer((req, res) => {
    const reqUrl = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    void (async () => {
      if (reqUrl.pathname === `${path}/.well-known/openid-configuration`) {
        requests.discovery++;
        if (down) return send(503, { message: 'down' });
        return send(200, {
          issuer: url,
          jwks_uri: `${url}/.well-known/jwks`,
          subject_types_supported: ['public', 'pairwise'],
          response_types_supported: ['id_token'],
          claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'ref', 'repository', 'job_workflow_ref'],
          id_token_signing_alg_values_supported: ['RS256'],
          scopes_supported: ['openid'],
        });
      }
      if (reqUrl.pathname === `${path}/.well-known/jwks`) {
        requests.jwks++;
        if (down) return send(503, { message: 'down' });
        return send(200, await jwks());
      }
      if (reqUrl.pathname === `${path}/_apis/token`) {
        requests.idToken++;
        if (req.headers.authorization !== `bearer ${requestToken}`) return send(401, { message: 'bad request token' });
        const audience = reqUrl.searchParams.get('audience') ?? 'https://github.com/mycorp';
        return send(200, { count: 1, value: await issuer.sign(issuer.idTokenClaims(audience)) });
      }
      return send(404, { message: 'not found' });
    })().catch((err: unknown) => send(500, { message: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  const host = new URL(url).host;

  const times = () => {
    const iat = nowSeconds();
    return { iat, nbf: iat - 5, exp: iat + 300 };
  };

  const issuer: TestIssuer = {
    url,
    requests,
    idTokenRequestUrl: `${url}/_apis/token?api-version=2.0`,
    idTokenRequestToken: requestToken,
    idTokenClaims: (audience) => issuer.github({ audience }),

    github(o = {}, extra = {}) {
      const repository = o.repository ?? 'mycorp/mycorp-lib';
      const [owner] = repository.split('/');
      const ref = o.ref ?? 'refs/tags/v1.0.0';
      const sha = o.sha ?? randomBytes(20).toString('hex');
      const workflowRef = `${repository}/.github/workflows/${o.workflow ?? 'release.yml'}@${ref}`;
      return {
        jti: randomUUID(),
        sub: o.environment ? `repo:${repository}:environment:${o.environment}` : `repo:${repository}:ref:${ref}`,
        aud: o.audience ?? opts.audience ?? 'wheelhouse-test',
        ref,
        sha,
        repository,
        repository_owner: owner,
        repository_owner_id: o.ownerId ?? '1001',
        repository_visibility: 'private',
        repository_id: '2002',
        run_id: '9001',
        run_number: '17',
        run_attempt: '1',
        runner_environment: 'github-hosted',
        actor_id: '3003',
        actor: 'release-bot',
        workflow: 'Release',
        head_ref: '',
        base_ref: '',
        event_name: o.eventName ?? 'push',
        ref_protected: 'false',
        ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
        workflow_ref: workflowRef,
        workflow_sha: sha,
        job_workflow_ref: workflowRef,
        job_workflow_sha: sha,
        ...(o.environment ? { environment: o.environment } : {}),
        iss: url,
        ...times(),
        ...extra,
      };
    },

    gitlab(o = {}, extra = {}) {
      const projectPath = o.projectPath ?? 'mycorp/tools';
      const namespace = projectPath.slice(0, projectPath.lastIndexOf('/'));
      const refPath = o.refPath ?? 'refs/heads/main';
      const ref = refPath.replace(/^refs\/(heads|tags)\//, '');
      const refType = refPath.startsWith('refs/tags/') ? 'tag' : 'branch';
      const sha = o.sha ?? randomBytes(20).toString('hex');
      return {
        namespace_id: '72',
        namespace_path: namespace,
        project_id: '20',
        project_path: projectPath,
        user_id: '1',
        user_login: 'release-bot',
        user_email: 'release-bot@mycorp.example',
        user_access_level: 'maintainer',
        pipeline_id: '574',
        pipeline_source: 'push',
        job_id: '302',
        ref,
        ref_type: refType,
        ref_path: refPath,
        ref_protected: 'true',
        ...(o.environment ? { environment: o.environment, environment_protected: 'true', deployment_tier: 'production' } : {}),
        runner_id: 1,
        runner_environment: 'gitlab-hosted',
        sha,
        project_visibility: 'internal',
        ci_config_ref_uri: `${host}/${projectPath}//${o.ciConfig ?? '.gitlab-ci.yml'}@${refPath}`,
        ci_config_sha: sha,
        jti: randomUUID(),
        iss: url,
        sub: `project_path:${projectPath}:ref_type:${refType}:ref:${ref}`,
        aud: o.audience ?? opts.audience ?? 'wheelhouse-test',
        ...times(),
        ...extra,
      };
    },

    async sign(claims, o = {}) {
      const alg = o.alg ?? 'RS256';
      const key = o.unpublished ? await (unpublished[alg] ??= newKey(alg, false)) : keys.find((k) => k.alg === alg && k.published)!;
      return new SignJWT(claims).setProtectedHeader({ alg, kid: o.kid ?? key.kid, typ: 'JWT' }).sign(key.privateKey);
    },

    signNone(claims) {
      const rsa = keys.find((k) => k.alg === 'RS256')!;
      const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT', kid: rsa.kid }));
      return `${header}.${base64url.encode(JSON.stringify(claims))}.`;
    },

    async signHs256WithPublicKey(claims) {
      const rsa = keys.find((k) => k.alg === 'RS256')!;
      const pem = await exportSPKI(rsa.publicKey);
      const header = base64url.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: rsa.kid }));
      const body = `${header}.${base64url.encode(JSON.stringify(claims))}`;
      return `${body}.${createHmac('sha256', pem).update(body).digest('base64url')}`;
    },

    async rotate(alg = 'RS256') {
      const key = await newKey(alg, true);
      keys.unshift(key);
      return key.kid;
    },

    setDown(value) {
      down = value;
    },

    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
  return issuer;
}

/** The PyPA publish action's oidc-exchange step (`oidc-exchange.py`), as it runs in a GitHub Actions job. */
export async function publishActionExchange(opts: {
  repositoryUrl: string;
  issuer: Pick<TestIssuer, 'idTokenRequestUrl' | 'idTokenRequestToken'>;
  /** The CA bundle that trusts the index's TLS certificate. */
  certFile: string;
  /** Where the step summary goes. */
  dir: string;
}): Promise<RunResult & { token: string }> {
  const summary = path.join(opts.dir, `summary-${Math.random().toString(36).slice(2)}.md`);
  const result = await run('/usr/bin/python3', [EXCHANGE], {
    env: cleanPipEnv({
      INPUT_REPOSITORY_URL: opts.repositoryUrl,
      GITHUB_ACTIONS: 'true',
      GITHUB_STEP_SUMMARY: summary,
      ACTIONS_ID_TOKEN_REQUEST_URL: opts.issuer.idTokenRequestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: opts.issuer.idTokenRequestToken,
      REQUESTS_CA_BUNDLE: opts.certFile,
      NO_PROXY: '127.0.0.1,localhost',
    }),
    timeoutMs: 60_000,
  });
  return { ...result, token: result.stdout.trim().split('\n').pop() ?? '' };
}
