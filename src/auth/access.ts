import type { Acl } from './acl.js';
import { type ApiToken, type TokenAction, tokenAllows, tokenAllowsAction } from './api-tokens.js';

/**
 * Who a request is, once its login is checked: an htpasswd user, or an API token with its scope.
 * What each may do to a project is decided here, in one place, for every route.
 */
export type Principal = { kind: 'user'; user: string } | { kind: 'token'; token: ApiToken };

/** What a request does to one project: the actions tokens carry, which the ACL also names for writes. */
export type ProjectAction = TokenAction;

/**
 * Whether the principal may do `action` on `project` (any spelling). A token: as its scope says.
 * A user: downloads always (the ACL governs changes only); changes as the ACL grants, or every
 * change when there is no ACL.
 */
export function mayAct(principal: Principal, action: ProjectAction, project: string, acl: Acl | null): boolean {
  if (principal.kind === 'token') return tokenAllows(principal.token, action, project);
  if (action === 'download' || acl === null) return true;
  return acl.allows(principal.user, action, project);
}

/**
 * Whether the principal may do one of `actions` on some project: checked when the request
 * arrives, before its project is known, so a login without any such right is refused before a
 * byte of its body is read.
 */
export function mayActSomewhere(principal: Principal, actions: readonly ProjectAction[], acl: Acl | null): boolean {
  if (principal.kind === 'token') return actions.some((a) => tokenAllowsAction(principal.token, a));
  if (acl === null) return true;
  return actions.some((a) => a === 'download' || acl.allowsSome(principal.user, a));
}

/** The principal in a message for people: `user "alice"`, `API token 3f2a...`. */
export function describePrincipal(principal: Principal): string {
  return principal.kind === 'user' ? `user "${principal.user}"` : `API token ${principal.token.id}`;
}

/** The principal in one word for logs (`request.user`): the user name, or `token:<id>`. */
export function principalName(principal: Principal): string {
  return principal.kind === 'user' ? principal.user : `token:${principal.token.id}`;
}
