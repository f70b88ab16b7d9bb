import { ProjectMatcher, ProjectPatternError } from '../pypi/project-patterns.js';
import { LineError } from './line-error.js';

/**
 * Per-project rights of htpasswd users (`--acl FILE`): who may upload, remove and yank which
 * projects. Logins still come from the password file; this file only says what each may change.
 * A text file written by hand:
 *
 *     # Groups: @name = user, user
 *     @release = alice, bob
 *     @ops = carol
 *
 *     # PROJECTS      ACTIONS          USERS
 *     mycorp-*        upload,yank      @release, ci
 *     mycorp-core     *                @ops
 *     sandbox-*       upload,remove    *
 *
 * - PROJECTS: comma list of names or patterns (`mycorp-*`; `*` is every project), compared in
 *   their PEP 503 normalized form, so `MyCorp_Lib` and `mycorp-lib` are one project.
 * - ACTIONS: comma list of `upload`, `remove`, `yank`; `*` for all three.
 * - USERS: the rest of the line, a comma list of user names and `@groups`; `*` for every user who
 *   logs in.
 *
 * Rules only grant: a user may do what any rule matching the project grants them, and nothing
 * else. `#` starts a comment line; blank lines are skipped. Groups hold users (not groups) and may
 * be defined before or after the rules that name them. Downloads are not governed here.
 */

export const ACL_ACTIONS = ['upload', 'remove', 'yank'] as const;
export type AclAction = (typeof ACL_ACTIONS)[number];

/** A line of an ACL file that cannot be used, with where it is. */
export class AclError extends LineError {
  override name = 'AclError';
}

export interface AclRule {
  /** Where the rule is, for messages and logs. */
  line: number;
  projects: ProjectMatcher;
  actions: ReadonlySet<AclAction>;
  /** User names; groups are expanded. */
  users: ReadonlySet<string>;
  /** `*`: every user who logs in. */
  everyone: boolean;
}

const GROUP_LINE = /^@(?<name>[A-Za-z0-9._-]+)\s*=(?<members>.*)$/;
const RULE_LINE = /^(?<projects>\S+)\s+(?<actions>\S+)\s+(?<who>\S.*)$/;
const NAME = /^[^\s,@:#*][^\s,:]*$/;

export class Acl {
  readonly rules: readonly AclRule[];
  readonly groups: ReadonlyMap<string, readonly string[]>;

  private constructor(rules: AclRule[], groups: Map<string, string[]>) {
    this.rules = rules;
    this.groups = groups;
  }

  /** Parses an ACL file's text; `source` names it in errors (`<file> line N: ...`). */
  static parse(text: string, source: string): Acl {
    const groups = new Map<string, string[]>();
    const pending: { line: number; projects: ProjectMatcher; actions: Set<AclAction>; who: string[] }[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const lineNo = i + 1;
      const raw = (lines[i] ?? '').trim();
      if (raw === '' || raw.startsWith('#')) continue;
      const fail = (message: string): never => {
        throw new AclError(message, source, lineNo);
      };

      const group = GROUP_LINE.exec(raw)?.groups;
      if (group?.name !== undefined) {
        const name = group.name;
        if (groups.has(name)) fail(`group @${name} is defined twice`);
        const members = list(group.members ?? '');
        for (const m of members) {
          if (m.startsWith('@')) fail(`group @${name} names ${m}: groups hold user names, not other groups`);
          if (!NAME.test(m)) fail(`group @${name}: "${m}" is not a user name`);
        }
        groups.set(name, members);
        continue;
      }
      if (raw.startsWith('@')) fail('expected a group definition: @name = user, user');

      const rule = RULE_LINE.exec(raw)?.groups;
      if (rule?.projects === undefined || rule.actions === undefined || rule.who === undefined) {
        return fail('expected PROJECTS ACTIONS USERS (e.g. "mycorp-* upload,yank alice, @release") or @group = users');
      }
      const { projects: projectsField, actions: actionsField, who: whoField } = rule;

      let projects: ProjectMatcher;
      try {
        projects = new ProjectMatcher(list(projectsField));
      } catch (err) {
        if (err instanceof ProjectPatternError) fail(err.message);
        throw err;
      }
      const actions = new Set<AclAction>();
      for (const a of list(actionsField)) {
        const lower = a.toLowerCase();
        if (lower === '*') ACL_ACTIONS.forEach((x) => actions.add(x));
        else if ((ACL_ACTIONS as readonly string[]).includes(lower)) actions.add(lower as AclAction);
        else fail(`unknown action "${a}": use ${ACL_ACTIONS.join(', ')} or *`);
      }
      if (actions.size === 0) fail(`no action given: use ${ACL_ACTIONS.join(', ')} or *`);
      const who = list(whoField);
      for (const w of who) if (w !== '*' && !NAME.test(w.replace(/^@/, ''))) fail(`"${w}" is not a user name, @group or *`);
      if (who.length === 0) fail('no user given: name users, @groups or *');
      pending.push({ line: lineNo, projects, actions, who });
    }

    const rules = pending.map(({ line, projects, actions, who }): AclRule => {
      const users = new Set<string>();
      let everyone = false;
      for (const w of who) {
        if (w === '*') everyone = true;
        else if (w.startsWith('@')) {
          const members = groups.get(w.slice(1));
          if (!members) throw new AclError(`unknown group ${w}: define it with "${w} = user, user"`, source, line);
          members.forEach((u) => users.add(u));
        } else users.add(w);
      }
      return { line, projects, actions, users, everyone };
    });
    return new Acl(rules, groups);
  }

  /** Whether `user` may do `action` on `project` (any spelling; it is normalized). */
  allows(user: string, action: AclAction, project: string): boolean {
    return this.rules.some((r) => r.actions.has(action) && (r.everyone || r.users.has(user)) && r.projects.matches(project));
  }

  /** Whether `user` may do `action` on some project: the check that can run before an upload's project is known. */
  allowsSome(user: string, action: AclAction): boolean {
    return this.rules.some((r) => r.actions.has(action) && (r.everyone || r.users.has(user)));
  }

  /** Every user named, directly or in a group (to warn about names without a password entry). */
  users(): Set<string> {
    const out = new Set<string>();
    for (const r of this.rules) r.users.forEach((u) => out.add(u));
    for (const members of this.groups.values()) members.forEach((u) => out.add(u));
    return out;
  }
}

function list(field: string): string[] {
  return field
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Parses an ACL file's text (see Acl.parse). */
export function parseAcl(text: string, source: string): Acl {
  return Acl.parse(text, source);
}
