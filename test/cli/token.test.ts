import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenKeyring, createToken, verifyToken } from '../../src/auth/api-tokens.js';
import { runTokenCommand } from '../../src/cli/token.js';
import { readAuditTrail } from '../../src/store/audit-log.js';
import { GenerationFile } from '../../src/store/generation.js';
import { Revocations } from '../../src/store/revocations.js';

const KEY = 'cli-test-key-0123456789-abcdefghijklmnop';
const OTHER_KEY = 'another-cli-test-key-0123456789-abcdefgh';
const keyring = TokenKeyring.parse(KEY, 'test');

/** Runs the command, collecting what it prints. */
async function token(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runTokenCommand(
    argv,
    env,
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'wh-token-cli-'));
  // A volume a server has started on.
  mkdirSync(join(root, '.wheelhouse'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('wheelhouse token create', () => {
  it('prints a token that verifies with the key, scoped as asked', async () => {
    const r = await token([
      'create',
      '--project',
      'mycorp-*',
      '--action',
      'upload',
      '--expires',
      '30d',
      '--description',
      'ci',
      '--token-key',
      KEY,
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^wheelhouse_eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    const verdict = await verifyToken(keyring, r.out, { revoked: new Set() });
    if (!verdict.ok) throw new Error(verdict.message);
    expect(verdict.token).toMatchObject({ projects: ['mycorp-*'], actions: ['upload'], description: 'ci' });
    expect(verdict.token.expiresAt! - verdict.token.issuedAt).toBe(30 * 86_400);
  });

  it('takes the key from WHEELHOUSE_TOKEN_KEY, repeated and comma-separated options, and never-expiring tokens', async () => {
    const r = await token(['create', '--project', 'a,b', '--project', 'c', '--action', 'download,yank', '--expires', 'never', '--json'], {
      WHEELHOUSE_TOKEN_KEY: `${KEY},${OTHER_KEY}`,
    });
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.out);
    expect(printed).toMatchObject({ projects: ['a', 'b', 'c'], actions: ['download', 'yank'], expiresAt: null, keyId: keyring.signing.id });
    expect((await verifyToken(keyring, printed.token, { revoked: new Set() })).ok).toBe(true);
  });

  it.each([
    [['create', '--project', 'p', '--action', 'upload'], /no signing key: pass --token-key KEY or set WHEELHOUSE_TOKEN_KEY/],
    [['create', '--action', 'upload', '--token-key', KEY], /name the projects the token is for/],
    [['create', '--project', 'p', '--token-key', KEY], /name what the token may do: --action download,upload,remove,yank/],
    [['create', '--project', 'p', '--action', 'publish', '--token-key', KEY], /unknown --action "publish"/],
    [['create', '--project', 'p', '--action', 'upload', '--expires', 'soon', '--token-key', KEY], /--expires "soon": use a duration/],
    [
      ['create', '--project', 'p', '--action', 'upload', '--expires', '2001-01-01', '--token-key', KEY],
      /--expires 2001-01-01 is in the past/,
    ],
    [['create', '--project', 'p/q', '--action', 'upload', '--token-key', KEY], /"p\/q" is not a project name or pattern/],
    [
      ['create', '--project', 'p', '--action', 'upload', '--token-key', 'short'],
      /--token-key \/ WHEELHOUSE_TOKEN_KEY: key 1 is 5 characters/,
    ],
    [['create', '--project', 'p', '--action', 'upload', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['rotate'], /unknown command "token rotate"/],
  ])('refuses %j with exit code 2 and a message saying what to do', async (argv, message) => {
    const r = await token(argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.out).toBe('');
  });

  it('prints its usage with --help', async () => {
    const r = await token(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/wheelhouse token create --project P/);
  });
});

describe('wheelhouse token revoke', () => {
  it('writes the revocation, records it in the audit trail and bumps the generation', async () => {
    const made = await createToken(keyring, { projects: ['p'], actions: ['upload'], lifetime: 3600 });
    const generation = new GenerationFile(join(root, '.wheelhouse'));
    const before = await generation.read();
    const r = await token(['revoke', made.claims.id, '--root', root, '--reason', 'leaked in a log']);
    expect(r).toMatchObject({ code: 0, out: `revoked ${made.claims.id}` });
    expect(await new Revocations(root).ids()).toEqual(new Set([made.claims.id]));
    expect(await generation.read()).not.toBe(before);
    const trail = await readAuditTrail(root);
    expect(trail.events).toEqual([
      expect.objectContaining({
        action: 'revoke',
        token: made.claims.id,
        reason: 'leaked in a log',
        actor: expect.objectContaining({ type: 'cli' }),
      }),
    ]);
    // Any process reading the volume now refuses it.
    const verdict = await verifyToken(keyring, made.token, { revoked: await new Revocations(root).ids() });
    expect(verdict).toMatchObject({ ok: false, reason: 'revoked' });
  });

  it('takes a whole token in place of its id, the root from WHEELHOUSE_ROOT, and says when it was revoked already', async () => {
    const made = await createToken(keyring, { projects: ['p'], actions: ['upload'], lifetime: 3600 });
    expect((await token(['revoke', made.token], { WHEELHOUSE_ROOT: root })).out).toBe(`revoked ${made.claims.id}`);
    expect((await token(['revoke', made.claims.id, '--root', root])).out).toBe(`${made.claims.id} was already revoked`);
    expect((await readAuditTrail(root)).events).toHaveLength(1);
  });

  it('refuses a directory no server has used, a missing root and a bad id, writing nothing', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'wh-not-a-root-'));
    try {
      expect(await token(['revoke', 'abcd', '--root', bare])).toMatchObject({
        code: 2,
        err: expect.stringMatching(/is not a wheelhouse package directory/),
      });
      expect(readdirSync(bare)).toEqual([]);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
    expect(await token(['revoke', 'abcd'])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/needs the package directory: --root DIR/),
    });
    expect(await token(['revoke', '../x', '--root', root])).toMatchObject({ code: 2, err: expect.stringMatching(/is not a token id/) });
    expect(await token(['revoke', '--root', root])).toMatchObject({ code: 2, err: expect.stringMatching(/name the token to revoke/) });
    expect(readdirSync(join(root, '.wheelhouse'))).toEqual([]);
  });
});

describe('wheelhouse token inspect', () => {
  it('shows the restrictions and expiry, and that the token verifies with the given key', async () => {
    const made = await createToken(keyring, {
      projects: ['mycorp-*'],
      actions: ['upload', 'yank'],
      lifetime: 30 * 86_400,
      description: 'ci',
    });
    const r = await token(['inspect', made.token, '--token-key', KEY, '--root', root]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`id:          ${made.claims.id}`);
    expect(r.out).toContain('projects:    mycorp-*');
    expect(r.out).toContain('actions:     upload, yank');
    expect(r.out).toContain('description: ci');
    expect(r.out).toMatch(/expires: {5}\d{4}-\d\d-\d\dT[\d:]+Z \(in 30 days\)/);
    expect(r.out).toContain('verifies:    yes');
    expect(r.out).toContain('revoked:     no');
  });

  it('says why a token would be refused, with exit code 1', async () => {
    const made = await createToken(keyring, { projects: ['p'], actions: ['upload'], lifetime: 3600 });
    const wrongKey = await token(['inspect', made.token, '--token-key', OTHER_KEY]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.out).toMatch(/verifies: {4}no: the token was signed with a key this server does not have/);
    await new Revocations(root).revoke(made.claims.id);
    const revoked = await token(['inspect', made.token, '--root', root, '--json']);
    expect(revoked.code).toBe(1);
    expect(JSON.parse(revoked.out)).toMatchObject({ id: made.claims.id, revoked: true, verifies: null });
  });

  it('reads a token without a key, saying the signature was not checked', async () => {
    const oidc = {
      publisher: 'lib',
      issuer: 'https://token.actions.githubusercontent.com',
      subject: 'repo:o/r:ref:refs/tags/v1',
      claims: { sha: 'abc' },
    };
    const made = await createToken(keyring, { projects: ['p'], actions: ['upload'], lifetime: 900, oidc, notBeforeNow: true });
    const r = await token(['inspect', made.token]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('publisher:   lib');
    expect(r.out).toContain('  sha: abc');
    expect(r.out).toContain('verifies:    not checked (no --token-key or WHEELHOUSE_TOKEN_KEY)');
  });

  it('refuses text that is not a token with exit code 2', async () => {
    expect(await token(['inspect', 'pypi-AgEIcHlwaS5vcmc'])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/not a wheelhouse API token/),
    });
    expect(await token(['inspect'])).toMatchObject({ code: 2 });
  });

  it('does not write to the volume when inspecting', async () => {
    const made = await createToken(keyring, { projects: ['p'], actions: ['upload'], lifetime: 60 });
    await token(['inspect', made.token, '--root', root]);
    expect(readdirSync(join(root, '.wheelhouse'))).toEqual([]);
  });
});
