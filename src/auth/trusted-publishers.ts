import { z } from 'zod';
import { type ApiToken, type OidcIdentity, type TokenAction, type TokenKeyring, createToken } from './api-tokens.js';
import { GITHUB_ISSUER, GITLAB_ISSUER, type OidcClaims, type OidcRefusal, type OidcVerifier, checkIssuerUrl } from './oidc.js';
import { ProjectPatternError, globMatches, normalizePattern } from '../pypi/project-patterns.js';

/**
 * Trusted publishers: which CI runs may publish which projects without a stored secret, PyPI's
 * way. A run presents its OIDC token to `POST /_/oidc/mint-token`; if the token verifies and its
 * claims match a publisher here, it gets a 15-minute API token for that publisher's projects.
 *
 * The file is JSON (`--trusted-publishers FILE`, or the same text inline):
 *
 *     {
 *       "publishers": [
 *         { "issuer": "github", "repository": "mycorp/mycorp-lib", "workflow": "release.yml",
 *           "environment": "pypi", "projects": ["mycorp-lib"] },
 *         { "issuer": "gitlab", "project_path": "mycorp/tools", "ci_config": ".gitlab-ci.yml",
 *           "ref": "refs/tags/v*", "projects": ["mycorp-tools-*"] },
 *         { "issuer": "https://gitlab.mycorp.example", "kind": "gitlab", "project_path": "infra/cli",
 *           "ci_config": "ci/release.yml", "projects": ["mycorp-cli"] },
 *         { "issuer": "https://ci.mycorp.example", "claims": { "sub": "pipeline:release" },
 *           "projects": ["mycorp-*"] }
 *       ]
 *     }
 *
 * `issuer` is `github` (https://token.actions.githubusercontent.com), `gitlab` (https://gitlab.com)
 * or an issuer URL; with a URL, `kind` says how to read its tokens: `github` (GitHub Enterprise
 * Server), `gitlab` (self-managed GitLab) or `claims` (the default: any other issuer).
 *
 * - github: `repository` (owner/name, any case), `workflow` (the file name under .github/workflows,
 *   matched against `job_workflow_ref` as PyPI does), optional `environment` (any case),
 *   `repository_owner_id` (guards against a deleted owner's name being taken over) and `ref`
 *   (a glob over the full ref: `refs/tags/v*`). Runs triggered by `pull_request_target` are refused.
 * - gitlab: `project_path` (group/project, any case), `ci_config` (the pipeline file's path in the
 *   repository, matched against `ci_config_ref_uri`), optional `environment` and `ref` (a glob over
 *   `ref_path`).
 * - claims: a map of claim name to the value it must have (or a list of values it may have). At
 *   least one is required: without any, every token of the issuer would match.
 *
 * `projects` are names or patterns (`mycorp-*`). `name` is optional: it is what the audit trail
 * and minted tokens call the publisher (by default one is made from the fields above).
 */

export type PublisherKind = 'github' | 'gitlab' | 'claims';

interface PublisherBase {
  /** What the audit trail calls it. Unique in the file. */
  name: string;
  /** The issuer URL, as the tokens' `iss` claim spells it. */
  issuer: string;
  /** Normalized project names or patterns. */
  projects: readonly string[];
}

export interface GitHubPublisher extends PublisherBase {
  kind: 'github';
  repository: string;
  repositoryOwnerId: string | null;
  workflow: string;
  environment: string | null;
  ref: string | null;
}

export interface GitLabPublisher extends PublisherBase {
  kind: 'gitlab';
  projectPath: string;
  ciConfig: string;
  environment: string | null;
  ref: string | null;
}

export interface ClaimsPublisher extends PublisherBase {
  kind: 'claims';
  claims: Readonly<Record<string, readonly string[]>>;
}

export type TrustedPublisher = GitHubPublisher | GitLabPublisher | ClaimsPublisher;

/** A trusted publishers file (or value) that cannot be used; the message names it and the entry. */
export class TrustedPublishersError extends Error {
  override name = 'TrustedPublishersError';
}

const SHORTHANDS: Record<string, { url: string; kind: PublisherKind }> = {
  github: { url: GITHUB_ISSUER, kind: 'github' },
  gitlab: { url: GITLAB_ISSUER, kind: 'gitlab' },
};

const text = z.string().trim().min(1, 'must not be empty');
const common = {
  name: text.optional(),
  issuer: text,
  kind: z.enum(['github', 'gitlab', 'claims']).optional(),
  projects: z.array(z.string()).min(1, 'name at least one project or pattern'),
};
const githubSchema = z.strictObject({
  ...common,
  repository: text.regex(/^[^/\s]+\/[^/\s]+$/, 'must be owner/name'),
  repository_owner_id: z.union([text, z.number().int().transform(String)]).optional(),
  workflow: text.regex(/^[^/\s]+\.ya?ml$/, 'must be a workflow file name such as release.yml (no directory)'),
  environment: text.optional(),
  ref: text.optional(),
});
const gitlabSchema = z.strictObject({
  ...common,
  project_path: text.regex(/^[^\s]+\/[^/\s]+$/, 'must be group/project'),
  ci_config: text.regex(/^[^\s@]*[^/\s]\.ya?ml$/, 'must be the pipeline file path such as .gitlab-ci.yml'),
  environment: text.optional(),
  ref: text.optional(),
});
const claimsSchema = z.strictObject({
  ...common,
  claims: z
    .record(z.string(), z.union([text, z.array(text).min(1)]))
    .refine((c) => Object.keys(c).length > 0, 'name at least one claim to match (without one, every token of the issuer would)'),
});
const fileSchema = z.strictObject({ publishers: z.array(z.unknown()) });

/** Parses the publishers from JSON text; `source` names the file or option in errors. */
export function parseTrustedPublishers(json: string, source: string): TrustedPublisher[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new TrustedPublishersError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const file = fileSchema.safeParse(raw);
  if (!file.success) throw new TrustedPublishersError(`${source}: expected {"publishers": [...]}: ${describe(file.error)}`);
  const publishers = file.data.publishers.map((entry, i) => parseEntry(entry, `${source}: publishers[${i}]`));
  const seen = new Set<string>();
  for (const [i, p] of publishers.entries()) {
    if (seen.has(p.name)) {
      throw new TrustedPublishersError(`${source}: publishers[${i}]: the name "${p.name}" is used twice; give each publisher its own`);
    }
    seen.add(p.name);
  }
  return publishers;
}

const INLINE_SOURCE = 'the inline trusted publishers';

/**
 * Publishers from a file and an inline value (for a Secrets Manager or SSM parameter), in that
 * order. `readFile` reads the file whole and fresh (the server passes the store's reader, so a
 * file on the shared volume is never read through a stale attribute cache).
 */
export async function loadTrustedPublishers(
  sources: { file?: string | null; inline?: string | null },
  readFile: (file: string) => Promise<Buffer>,
): Promise<TrustedPublisher[]> {
  let fromFile: TrustedPublisher[] = [];
  if (sources.file) {
    let json: string;
    try {
      json = (await readFile(sources.file)).toString('utf8');
    } catch (err) {
      throw new TrustedPublishersError(`cannot read the trusted publishers file ${sources.file}: ${(err as Error).message}`);
    }
    fromFile = parseTrustedPublishers(json, sources.file);
  }
  return mergePublishers(fromFile, sources.inline ? parseTrustedPublishers(sources.inline, INLINE_SOURCE) : []);
}

/** The publishers of the file and of the inline value together; one name may not be used in both. */
export function mergePublishers(fromFile: readonly TrustedPublisher[], inline: readonly TrustedPublisher[]): TrustedPublisher[] {
  const names = new Set(fromFile.map((p) => p.name));
  for (const p of inline) {
    if (names.has(p.name)) throw new TrustedPublishersError(`the publisher name "${p.name}" is used in both the file and the inline value`);
  }
  return [...fromFile, ...inline];
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  if (issue.code === 'unrecognized_keys') return `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  const at = issue.path.length > 0 ? `"${issue.path.map(String).join('.')}" ` : '';
  return `${at}${issue.message}`;
}

function parseEntry(entry: unknown, where: string): TrustedPublisher {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new TrustedPublishersError(`${where}: expected an object with issuer, projects and the claims to match`);
  }
  const e = entry as Record<string, unknown>;
  if (e.kind !== undefined && !(typeof e.kind === 'string' && ['github', 'gitlab', 'claims'].includes(e.kind))) {
    throw new TrustedPublishersError(`${where}: "kind" must be github, gitlab or claims`);
  }
  const issuerField = typeof e.issuer === 'string' ? e.issuer.trim() : '';
  const shorthand = SHORTHANDS[issuerField];
  let issuer: string;
  let kind: PublisherKind;
  if (shorthand) {
    issuer = shorthand.url;
    kind = shorthand.kind;
    if (e.kind !== undefined && e.kind !== kind) throw new TrustedPublishersError(`${where}: issuer "${issuerField}" is of kind ${kind}`);
  } else {
    if (issuerField === '') throw new TrustedPublishersError(`${where}: "issuer" is missing: use github, gitlab or an issuer URL`);
    const problem = checkIssuerUrl(issuerField);
    if (problem) throw new TrustedPublishersError(`${where}: issuer ${problem}; or use the shorthands github or gitlab`);
    // Tokens name the issuer exactly as its discovery document does, without a trailing slash.
    issuer = issuerField.replace(/\/+$/, '');
    const known = Object.values(SHORTHANDS).find((s) => s.url === issuer);
    kind = (e.kind as PublisherKind | undefined) ?? known?.kind ?? 'claims';
  }

  const label = (extra: string) => `${where} (${kind} ${extra})`;
  const projects = (list: string[], at: string): string[] => {
    try {
      return [...new Set(list.map(normalizePattern))];
    } catch (err) {
      if (err instanceof ProjectPatternError) throw new TrustedPublishersError(`${at}: projects: ${err.message}`);
      throw err;
    }
  };

  if (kind === 'github') {
    const r = githubSchema.safeParse(entry);
    if (!r.success)
      throw new TrustedPublishersError(`${label(typeof e.repository === 'string' ? e.repository : '')}: ${describe(r.error)}`);
    const d = r.data;
    const at = label(d.repository);
    return {
      kind,
      issuer,
      name: d.name ?? `github:${d.repository}/${d.workflow}${d.environment ? `@${d.environment}` : ''}`,
      projects: projects(d.projects, at),
      repository: d.repository,
      repositoryOwnerId: d.repository_owner_id ?? null,
      workflow: d.workflow,
      environment: d.environment ?? null,
      ref: d.ref ?? null,
    };
  }
  if (kind === 'gitlab') {
    const r = gitlabSchema.safeParse(entry);
    if (!r.success)
      throw new TrustedPublishersError(`${label(typeof e.project_path === 'string' ? e.project_path : '')}: ${describe(r.error)}`);
    const d = r.data;
    const at = label(d.project_path);
    const host = issuer === GITLAB_ISSUER ? 'gitlab' : issuer.replace(/^https?:\/\//, '');
    return {
      kind,
      issuer,
      name: d.name ?? `${host}:${d.project_path}//${d.ci_config}${d.environment ? `@${d.environment}` : ''}`,
      projects: projects(d.projects, at),
      projectPath: d.project_path,
      ciConfig: d.ci_config,
      environment: d.environment ?? null,
      ref: d.ref ?? null,
    };
  }
  const r = claimsSchema.safeParse(entry);
  if (!r.success) throw new TrustedPublishersError(`${label(issuer)}: ${describe(r.error)}`);
  const d = r.data;
  const claims = Object.fromEntries(Object.entries(d.claims).map(([k, v]) => [k, typeof v === 'string' ? [v] : v]));
  return {
    kind,
    issuer,
    name:
      d.name ??
      `${issuer}#${Object.entries(claims)
        .map(([k, v]) => `${k}=${v.join('|')}`)
        .join(',')}`,
    projects: projects(d.projects, label(issuer)),
    claims,
  };
}

// --- matching ---------------------------------------------------------------------------------

/** A claim as a string, or null when absent or not a scalar. */
function claim(claims: OidcClaims, name: string): string | null {
  const v = claims[name];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

const sameText = (a: string | null, b: string) => a !== null && a.toLowerCase() === b.toLowerCase();

/** `<prefix><rest>` with the prefix compared in any case (owner and repository names are case-insensitive). */
function afterPrefix(value: string | null, prefix: string): string | null {
  if (value === null || !value.toLowerCase().startsWith(prefix.toLowerCase())) return null;
  return value.slice(prefix.length);
}

const REFUSED_EVENT = "publishing from a run triggered by 'pull_request_target' is refused";

/** Why the publisher does not match the claims, or null when it does. Says nothing of the publisher's own settings. */
export function mismatch(p: TrustedPublisher, c: OidcClaims): string | null {
  if (c.iss !== p.issuer) return 'another issuer';
  if (p.kind === 'github') {
    if (claim(c, 'event_name') === 'pull_request_target') return REFUSED_EVENT;
    if (!sameText(claim(c, 'repository'), p.repository)) return 'repository';
    if (p.repositoryOwnerId !== null && claim(c, 'repository_owner_id') !== p.repositoryOwnerId) return 'repository_owner_id';
    const ref = claim(c, 'ref');
    const sha = claim(c, 'sha');
    const rest = afterPrefix(claim(c, 'job_workflow_ref'), `${p.repository}/.github/workflows/`);
    // The workflow file at the ref or the commit the run is for (a deployment run may have no ref).
    const refs = [ref, sha].filter((r): r is string => !!r);
    if (rest === null || !refs.some((r) => rest === `${p.workflow}@${r}`)) return 'workflow';
    if (p.environment !== null && !sameText(claim(c, 'environment'), p.environment)) return 'environment';
    if (p.ref !== null && (ref === null || !globMatches(p.ref, ref))) return 'ref';
    return null;
  }
  if (p.kind === 'gitlab') {
    if (!sameText(claim(c, 'project_path'), p.projectPath)) return 'project_path';
    const sub = (claim(c, 'sub') ?? '').split(':');
    if (!sameText(`${sub[0] ?? ''}:${sub[1] ?? ''}`, `project_path:${p.projectPath}`)) return 'sub';
    const refPath = claim(c, 'ref_path');
    const sha = claim(c, 'sha');
    if (!refPath || !sha) return 'ref_path and sha';
    const host = p.issuer.replace(/^https?:\/\//, '');
    const rest = afterPrefix(claim(c, 'ci_config_ref_uri'), `${host}/${p.projectPath}//`);
    if (rest === null || (rest !== `${p.ciConfig}@${refPath}` && rest !== `${p.ciConfig}@${sha}`)) return 'ci_config';
    if (p.environment !== null && claim(c, 'environment') !== p.environment) return 'environment';
    if (p.ref !== null && !globMatches(p.ref, refPath)) return 'ref';
    return null;
  }
  for (const [name, allowed] of Object.entries(p.claims)) {
    const v = claim(c, name);
    if (v === null || !allowed.includes(v)) return name;
  }
  return null;
}

/** The publishers whose settings the verified claims satisfy (several may: their projects add up). */
export function matchPublishers(publishers: readonly TrustedPublisher[], claims: OidcClaims): TrustedPublisher[] {
  return publishers.filter((p) => mismatch(p, claims) === null);
}

/** The claims kept with a minted token and in the audit trail: which run it was. */
const IDENTITY_CLAIMS: Record<PublisherKind, readonly string[]> = {
  github: [
    'repository',
    'repository_owner_id',
    'workflow_ref',
    'job_workflow_ref',
    'ref',
    'sha',
    'environment',
    'event_name',
    'run_id',
    'run_attempt',
    'actor',
  ],
  gitlab: ['project_path', 'ci_config_ref_uri', 'ref_path', 'sha', 'environment', 'pipeline_id', 'job_id', 'user_login'],
  claims: [],
};

export function identityOf(publishers: readonly TrustedPublisher[], claims: OidcClaims): OidcIdentity {
  const names = new Set<string>(['jti']);
  for (const p of publishers) {
    for (const n of p.kind === 'claims' ? Object.keys(p.claims) : IDENTITY_CLAIMS[p.kind]) names.add(n);
  }
  const kept: Record<string, string> = {};
  for (const n of names) {
    const v = claim(claims, n);
    if (v !== null && v !== '') kept[n] = v;
  }
  return { publisher: publishers.map((p) => p.name).join(', '), issuer: claims.iss, subject: claims.sub ?? '', claims: kept };
}

// --- minting ----------------------------------------------------------------------------------

/** 15 minutes, as PyPI's. */
export const MINTED_TOKEN_LIFETIME = 900;
/** A trusted publisher may upload, and nothing else (PyPI grants its publishers the upload permission only). */
export const MINTED_TOKEN_ACTIONS: readonly TokenAction[] = ['upload'];

/** An error of the mint endpoint, as PyPI words them (the publish action prints code and description). */
export interface MintError {
  code: string;
  description: string;
}

export type MintResult =
  | { ok: true; token: string; expires: number; minted: ApiToken }
  | { ok: false; status: 422 | 503; errors: MintError[]; reason: OidcRefusal | 'no-publisher' };

/** A 15-minute upload token for the projects of the publishers the verified claims match. */
export async function mintForClaims(
  keyring: TokenKeyring,
  publishers: readonly TrustedPublisher[],
  claims: OidcClaims,
  now?: number,
): Promise<MintResult> {
  const matched = matchPublishers(publishers, claims);
  if (matched.length === 0) {
    const why = publishers
      .filter((p) => p.issuer === claims.iss)
      .map((p) => mismatch(p, claims))
      .find((m) => m === REFUSED_EVENT);
    return {
      ok: false,
      status: 422,
      reason: 'no-publisher',
      errors: [{ code: 'invalid-publisher', description: `valid token, but no corresponding publisher (${why ?? describeRun(claims)})` }],
    };
  }
  const identity = identityOf(matched, claims);
  const projects = [...new Set(matched.flatMap((p) => p.projects))];
  const startedAt = now ?? Date.now();
  const { token, claims: minted } = await createToken(keyring, {
    projects,
    actions: MINTED_TOKEN_ACTIONS,
    lifetime: MINTED_TOKEN_LIFETIME,
    description: `OpenID token: ${identity.publisher} (${new Date(startedAt).toISOString()})`.slice(0, 200),
    oidc: identity,
    notBeforeNow: true,
    now: startedAt,
  });
  return { ok: true, token, expires: minted.expiresAt ?? 0, minted };
}

/** The run a token is for, in its own words: what a person compares with the publishers file. */
function describeRun(c: OidcClaims): string {
  const fields = ['repository', 'job_workflow_ref', 'project_path', 'ci_config_ref_uri', 'ref', 'ref_path', 'environment', 'sub'];
  const parts = fields.map((f) => [f, claim(c, f)] as const).filter(([, v]) => v !== null && v !== '');
  return parts.length > 0 ? `no publisher matches ${parts.map(([f, v]) => `${f} "${v ?? ''}"`).join(', ')}` : 'no publisher matches';
}

const REFUSALS: Partial<Record<OidcRefusal, MintError>> = {
  malformed: { code: 'invalid-payload', description: 'malformed JWT' },
  'unknown-issuer': { code: 'invalid-payload', description: 'unknown trusted publishing issuer' },
  replayed: { code: 'invalid-reuse-token', description: 'invalid token: already used' },
};

/** The issuers the publishers name, each once. */
export function issuersOf(publishers: readonly TrustedPublisher[]): string[] {
  return [...new Set(publishers.map((p) => p.issuer))];
}

export interface TrustedPublishingOptions {
  /** Its trusted issuers are set from the publishers. */
  verifier: OidcVerifier;
  keyring: TokenKeyring;
  publishers: readonly TrustedPublisher[];
}

/** The mint step whole: verify the OIDC token, match it to the publishers, sign an upload token. */
export class TrustedPublishing {
  private readonly verifier: OidcVerifier;
  private readonly keyring: TokenKeyring;
  private publishers: readonly TrustedPublisher[];

  constructor(opts: TrustedPublishingOptions) {
    this.verifier = opts.verifier;
    this.keyring = opts.keyring;
    this.publishers = opts.publishers;
    this.verifier.setIssuers(issuersOf(opts.publishers));
  }

  get audience(): string {
    return this.verifier.audience;
  }

  /** Swaps in a re-read publishers file; the verifier then trusts exactly its issuers. */
  setPublishers(publishers: readonly TrustedPublisher[]): void {
    this.verifier.setIssuers(issuersOf(publishers));
    this.publishers = publishers;
  }

  async mint(jwt: string): Promise<MintResult> {
    const verdict = await this.verifier.verify(jwt);
    if (!verdict.ok) {
      if (verdict.reason === 'issuer-unavailable') {
        return { ok: false, status: 503, reason: verdict.reason, errors: [{ code: 'issuer-unavailable', description: verdict.message }] };
      }
      const known = REFUSALS[verdict.reason];
      const error = known ?? { code: 'invalid-token', description: `malformed or invalid token: ${verdict.message}` };
      return { ok: false, status: 422, reason: verdict.reason, errors: [error] };
    }
    return mintForClaims(this.keyring, this.publishers, verdict.claims);
  }
}
