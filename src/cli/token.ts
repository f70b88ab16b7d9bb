import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  type ApiToken,
  TOKEN_ACTIONS,
  type TokenAction,
  createToken,
  decodeToken,
  isTokenAction,
  verifyToken,
} from '../auth/api-tokens.js';
import { AuditLog } from '../store/audit-log.js';
import { GenerationFile } from '../store/generation.js';
import { Revocations } from '../store/revocations.js';
import { type Print, UsageError, cliActor, keyringFrom, parseExpires, relative, rootFrom, when } from './args.js';

export const TOKEN_HELP = `Usage:
  wheelhouse token create --project P [--project P...] --action A[,A...] [--expires 90d|DATE|never]
                          [--description TEXT] [--token-key KEY] [--json]
      Prints a new API token. Use it as PyPI's: user name __token__, the token as password.
      --project   a project name or pattern (mycorp-*; * for every project); repeat or comma-separate
      --action    ${TOKEN_ACTIONS.join(', ')}; repeat or comma-separate
      --expires   a duration (30d, 12h, 2w, 1y), a date (2030-01-31) or never; default 90d
      The key comes from --token-key or WHEELHOUSE_TOKEN_KEY (comma-separated keys: the first signs).

  wheelhouse token revoke ID|TOKEN... --root DIR [--reason TEXT]
      Revokes tokens on the index's volume; every server honours it within its refresh interval.

  wheelhouse token inspect TOKEN [--token-key KEY] [--root DIR] [--json]
      Shows a token's restrictions and expiry, whether it verifies with the keys given and, with
      --root, whether it is revoked. Exit code 1 when it would be refused.
`;

const DEFAULT_EXPIRES = '90d';

/**
 * `wheelhouse token ...`. Output goes to `out`, messages about failures to `err` (default `out`).
 * Exit codes: 0 done, 1 the token inspected would be refused, 2 the command line is wrong.
 */
export async function runTokenCommand(argv: string[], env: NodeJS.ProcessEnv, out: Print, err: Print = out): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'create':
        return await create(rest, env, out);
      case 'revoke':
        return await revoke(rest, env, out);
      case 'inspect':
        return await inspect(rest, env, out);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(TOKEN_HELP);
        return sub === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "token ${sub}": use create, revoke or inspect`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`wheelhouse token: ${(e as Error).message}\n(wheelhouse token --help shows the usage)`);
      return 2;
    }
    throw e;
  }
}

/** Values of a repeatable option, each possibly a comma list. */
function many(values: string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

async function create(argv: string[], env: NodeJS.ProcessEnv, out: Print): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      project: { type: 'string', multiple: true },
      action: { type: 'string', multiple: true },
      expires: { type: 'string', default: DEFAULT_EXPIRES },
      description: { type: 'string', default: '' },
      'token-key': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0] ?? ''}"`);
  const projects = many(values.project);
  if (projects.length === 0) throw new UsageError('name the projects the token is for: --project NAME or --project "mycorp-*"');
  const actions = many(values.action).map((a) => a.toLowerCase());
  if (actions.length === 0) throw new UsageError(`name what the token may do: --action ${TOKEN_ACTIONS.join(',')}`);
  for (const a of actions) if (!isTokenAction(a)) throw new UsageError(`unknown --action "${a}": use ${TOKEN_ACTIONS.join(', ')}`);
  const keyring = keyringFrom(values['token-key'], env);
  if (!keyring) throw new UsageError('no signing key: pass --token-key KEY or set WHEELHOUSE_TOKEN_KEY (the key the servers are given)');
  const now = Date.now();
  let made: Awaited<ReturnType<typeof createToken>>;
  try {
    made = await createToken(keyring, {
      projects,
      actions: actions as TokenAction[],
      lifetime: parseExpires(values.expires, now),
      description: values.description,
      now,
    });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
  out(values.json ? JSON.stringify({ token: made.token, ...made.claims }) : made.token);
  return 0;
}

/** The token id of an argument: an id as printed by inspect, or a whole token. */
function idOf(arg: string): string {
  if (arg.startsWith('wheelhouse_')) {
    const claims = decodeToken(arg);
    if (!claims) throw new UsageError('that token is damaged: its id cannot be read (revoke it by id instead)');
    return claims.id;
  }
  return arg;
}

async function revoke(argv: string[], env: NodeJS.ProcessEnv, out: Print): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { root: { type: 'string' }, reason: { type: 'string' } },
    allowPositionals: true,
  });
  if (positionals.length === 0) throw new UsageError('name the token to revoke: wheelhouse token revoke ID --root DIR');
  const root = rootFrom(values.root, env, 'token revoke');
  const stateDir = path.join(root, '.wheelhouse');
  // Only a volume a server has started on: a typo in --root must not pass for a revocation.
  if (!(await fs.stat(stateDir).catch(() => null))?.isDirectory()) {
    throw new UsageError(`${root} is not a wheelhouse package directory (no .wheelhouse folder): check --root`);
  }
  const ids = positionals.map(idOf);
  const actor = cliActor();
  const revocations = new Revocations(root);
  const audit = new AuditLog(root);
  try {
    for (const id of ids) {
      let added: boolean;
      try {
        added = await revocations.revoke(id, { by: `cli:${actor.user}@${actor.host}`, reason: values.reason });
      } catch (e) {
        if ((e as Error).message.includes('is not a token id')) throw new UsageError((e as Error).message);
        throw e;
      }
      if (added) await audit.append({ action: 'revoke', token: id, reason: values.reason, actor });
      out(added ? `revoked ${id}` : `${id} was already revoked`);
    }
  } finally {
    await audit.close();
  }
  // Every task re-reads the revocations when the generation changes.
  await new GenerationFile(stateDir).bump();
  return 0;
}

function describe(claims: ApiToken, now: number): string[] {
  const lines = [`id:          ${claims.id}`, `projects:    ${claims.projects.join(', ')}`, `actions:     ${claims.actions.join(', ')}`];
  if (claims.description) lines.push(`description: ${claims.description}`);
  lines.push(`issued:      ${when(claims.issuedAt)}`);
  if (claims.notBefore !== null && claims.notBefore !== claims.issuedAt) lines.push(`valid from:  ${when(claims.notBefore)}`);
  const expires = claims.expiresAt;
  lines.push(
    `expires:     ${expires === null ? 'never' : `${when(expires)} (${expires * 1000 <= now ? 'expired ' : ''}${relative(expires, now)})`}`,
  );
  if (claims.oidc) {
    lines.push(`publisher:   ${claims.oidc.publisher}`, `issuer:      ${claims.oidc.issuer}`, `subject:     ${claims.oidc.subject}`);
    for (const [k, v] of Object.entries(claims.oidc.claims)) lines.push(`  ${k}: ${v}`);
  }
  lines.push(`key id:      ${claims.keyId}`);
  return lines;
}

async function inspect(argv: string[], env: NodeJS.ProcessEnv, out: Print): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { 'token-key': { type: 'string' }, root: { type: 'string' }, json: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  const [given, ...extra] = positionals;
  if (given === undefined || extra.length > 0) throw new UsageError('give one token: wheelhouse token inspect TOKEN');
  const token = given.trim();
  const claims = decodeToken(token);
  if (!claims) throw new UsageError('that is not a wheelhouse API token, or it is damaged (they start with wheelhouse_eyJ)');
  const now = Date.now();
  const keyring = keyringFrom(values['token-key'], env);
  const root = values.root ?? env.WHEELHOUSE_ROOT;
  const revoked = root ? await new Revocations(root).ids() : new Set<string>();

  let verifies: string;
  let refused = false;
  if (keyring) {
    const verdict = await verifyToken(keyring, token, { revoked, now });
    refused = !verdict.ok;
    verifies = verdict.ok ? 'yes' : `no: ${verdict.message}`;
  } else {
    // Without a key, expiry and revocation can still be told.
    refused = (claims.expiresAt !== null && claims.expiresAt * 1000 <= now) || revoked.has(claims.id);
    verifies = 'not checked (no --token-key or WHEELHOUSE_TOKEN_KEY)';
  }
  const revokedText = root ? (revoked.has(claims.id) ? 'yes' : 'no') : 'not checked (no --root or WHEELHOUSE_ROOT)';
  if (values.json) {
    out(
      JSON.stringify({
        ...claims,
        verifies: keyring ? !refused : null,
        revoked: root ? revoked.has(claims.id) : null,
        expired: claims.expiresAt !== null && claims.expiresAt * 1000 <= now,
      }),
    );
  } else {
    out([...describe(claims, now), `verifies:    ${verifies}`, `revoked:     ${revokedText}`].join('\n'));
  }
  return refused ? 1 : 0;
}
