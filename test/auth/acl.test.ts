import { describe, expect, it } from 'vitest';
import { AclError, parseAcl } from '../../src/auth/acl.js';

const EXAMPLE = `# Groups: @name = user, user
@release = alice, bob
@ops = carol

# PROJECTS      ACTIONS          USERS
mycorp-*        upload,yank      @release, ci
mycorp-core     *                @ops
sandbox-*,Tools upload,remove    *
`;

function aclError(text: string): AclError {
  try {
    parseAcl(text, 'acl.txt');
  } catch (err) {
    expect(err).toBeInstanceOf(AclError);
    return err as AclError;
  }
  throw new Error('parsed without an error');
}

describe('parseAcl', () => {
  const acl = parseAcl(EXAMPLE, 'acl.txt');

  it('grants the listed actions on matching projects to users named directly or through a group', () => {
    expect(acl.allows('alice', 'upload', 'mycorp-lib')).toBe(true);
    expect(acl.allows('bob', 'yank', 'MyCorp_Lib')).toBe(true);
    expect(acl.allows('ci', 'upload', 'mycorp-core')).toBe(true);
    expect(acl.allows('carol', 'remove', 'mycorp-core')).toBe(true);
  });

  it('grants * to every user who logs in', () => {
    expect(acl.allows('anyone', 'upload', 'sandbox-x')).toBe(true);
    expect(acl.allows('anyone', 'remove', 'tools')).toBe(true);
    expect(acl.allows('anyone', 'yank', 'tools')).toBe(false);
  });

  it('refuses what no rule grants: another action, another project, another user', () => {
    expect(acl.allows('alice', 'remove', 'mycorp-lib')).toBe(false);
    expect(acl.allows('alice', 'upload', 'othercorp')).toBe(false);
    expect(acl.allows('carol', 'upload', 'mycorp-lib')).toBe(false);
    expect(acl.allows('mallory', 'upload', 'mycorp-lib')).toBe(false);
  });

  it('says whether a user may do an action anywhere, for the check before the project is known', () => {
    expect(acl.allowsSome('carol', 'yank')).toBe(true);
    expect(parseAcl('x upload alice', 'a').allowsSome('bob', 'upload')).toBe(false);
    expect(parseAcl('x upload alice', 'a').allowsSome('alice', 'remove')).toBe(false);
  });

  it('lists every user it names', () => {
    expect([...acl.users()].sort()).toEqual(['alice', 'bob', 'carol', 'ci']);
  });

  it('takes groups defined after the rules that name them, CRLF line ends and indented comments', () => {
    const later = parseAcl('  # rights\r\np upload @team\r\n@team = dan\r\n', 'a');
    expect(later.allows('dan', 'upload', 'p')).toBe(true);
  });

  it('takes an empty file as granting nothing', () => {
    expect(parseAcl('# nothing yet\n', 'a').allows('alice', 'upload', 'p')).toBe(false);
  });

  it.each([
    ['mycorp-* upload', 2, /acl\.txt line 2: expected PROJECTS ACTIONS USERS/],
    ['mycorp-* publish alice', 2, /acl\.txt line 2: unknown action "publish": use upload, remove, yank or \*/],
    ['mycorp-* download alice', 2, /unknown action "download"/],
    ['my/corp upload alice', 2, /acl\.txt line 2: "my\/corp" is not a project name or pattern/],
    ['p upload @nobody', 2, /acl\.txt line 2: unknown group @nobody/],
    ['@ops = dave', 2, /acl\.txt line 2: group @ops is defined twice/],
    ['@g = @ops', 2, /groups hold user names, not other groups/],
    ['@g dave', 2, /expected a group definition/],
    ['p upload ,', 2, /no user given/],
    ['p , alice', 2, /no action given/],
  ])('refuses %j, naming the line', (line, lineNo, message) => {
    const err = aclError(`@ops = carol\n${line}\n`);
    expect(err.line).toBe(lineNo);
    expect(err.message).toMatch(message);
  });
});
