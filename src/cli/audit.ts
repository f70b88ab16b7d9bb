import { parseArgs } from 'node:util';
import { type AuditActor, type AuditEvent, readAuditTrail } from '../store/audit-log.js';
import { type Print, UsageError, parseSince, rootFrom } from './args.js';

export const AUDIT_HELP = `Usage:
  wheelhouse audit [--since 1d|DATE] [--project P] --root DIR [--json]
      Prints the audit trail of every task on the volume, oldest first: uploads, removals,
      yanks, token mints and revocations, each with who did it and from where.
      --since    a duration back from now (1d, 12h, 2w) or a date (2030-01-31, 2030-01-31T12:00Z)
      --project  only this project (any spelling), and the mints of tokens that could publish it
      --json     one JSON object per line, as stored
      The package directory comes from --root or WHEELHOUSE_ROOT.
`;

function actor(a: AuditActor): string {
  switch (a.type) {
    case 'user':
      return `user ${a.user}`;
    case 'cli':
      return `${a.user}@${a.host} (command line)`;
    case 'anonymous':
      return 'anyone (no login required)';
    case 'oidc':
      return `publisher ${a.oidc.publisher} (${run(a.oidc.claims) || a.oidc.subject})`;
    case 'token': {
      const what = a.oidc
        ? `publisher ${a.oidc.publisher} (${run(a.oidc.claims) || a.oidc.subject})`
        : a.description
          ? `"${a.description}"`
          : '';
      return `token ${a.token}${what ? ` ${what}` : ''}`;
    }
  }
}

/** The run behind a trusted publisher's token, in a few words. */
function run(claims: Readonly<Record<string, string>>): string {
  const where = claims.job_workflow_ref ?? claims.ci_config_ref_uri ?? claims.repository ?? claims.project_path ?? '';
  const id = claims.run_id ? ` run ${claims.run_id}` : claims.pipeline_id ? ` pipeline ${claims.pipeline_id}` : '';
  return `${where}${id}`;
}

/** One event as a line for people. */
export function formatEvent(e: AuditEvent): string {
  const parts: string[] = [e.time, e.action.padEnd(6)];
  if (e.project) parts.push(e.version ? `${e.project} ${e.version}` : e.project);
  if (e.file) parts.push(e.file);
  if (e.sha256) parts.push(`sha256:${e.sha256.slice(0, 12)}`);
  if (e.token) parts.push(`token ${e.token}`);
  if (e.projects) parts.push(`for ${e.projects.join(',')}`);
  if (e.reason) parts.push(`reason "${e.reason}"`);
  parts.push(`by ${actor(e.actor)}`);
  if (e.client) parts.push(`from ${e.client}`);
  return parts.join('  ');
}

/** `wheelhouse audit ...`; exit codes: 0 done, 2 the command line is wrong. */
export async function runAuditCommand(argv: string[], env: NodeJS.ProcessEnv, out: Print, err: Print = out): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        since: { type: 'string' },
        project: { type: 'string' },
        root: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
    });
    if (values.help) {
      out(AUDIT_HELP);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0] ?? ''}"`);
    const root = rootFrom(values.root, env, 'audit');
    const since = values.since === undefined ? undefined : parseSince(values.since, Date.now());
    const trail = await readAuditTrail(root, { since, project: values.project });
    for (const e of trail.events) out(values.json ? JSON.stringify(e) : formatEvent(e));
    if (trail.skipped > 0) err(`(${trail.skipped} partial lines skipped: written by a process that stopped mid-write)`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`wheelhouse audit: ${(e as Error).message}\n(wheelhouse audit --help shows the usage)`);
      return 2;
    }
    throw e;
  }
}
