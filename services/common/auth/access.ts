// Applies the access policy (policy.ts) to one call: may this principal call this method at all,
// and does what the request names lie within its scope. The doors (grpc-access.ts for gRPC,
// http-access.ts for the reports service) authenticate the caller and then ask here; the answer is
// the grant that allowed the call (recorded as the role and scope of the operator's audit record)
// or a RejectedError: PERMISSION_DENIED for a principal or scope the rule does not admit,
// INVALID_ARGUMENT for an id in the request that is not an id at all. Nothing here writes.

import { permissionDenied, type RejectedError } from '../../../actors/errors';
import type { Acting, Grant, OperatorPrincipal, Principal } from '../../../actors/principal';
import { scoped_roles, type HttpRule, type OperatorRule, type Role, type RpcRule, type Scope } from './policy';

/** Facts the policy needs about the deployment's entities (read from the store, cached). */
export interface AccessLookups {
  /** The merchant a terminal is registered with; undefined for an unknown terminal. */
  merchantOfTerminal(terminalId: string): Promise<string | undefined>;
  /** The same answer when it is already known here, without waiting (a gateway's hot path). */
  knownMerchantOfTerminal?(terminalId: string): string | undefined;
}

/** The terminal door's principal when the node runs plaintext (a development switch): any terminal. */
export const dev_plaintext_terminals = 'dev-plaintext-terminals';
/** The internal door's principal when the node runs plaintext: any node. */
export const dev_plaintext_nodes = 'dev-plaintext-nodes';

function isAnyTerminal(principal: Principal): boolean {
  return principal.kind === 'system' && principal.name === dev_plaintext_terminals;
}

/** Method-level admission, before the request is read: the principal's kind and roles. */
export function admits(rule: RpcRule, principal: Principal, request?: unknown): boolean {
  switch (rule.who) {
    case 'public':
      return true;
    case 'authenticated':
      return true;
    case 'terminal':
      return principal.kind === 'terminal' || principal.kind === 'gateway' || isAnyTerminal(principal);
    case 'node':
      return principal.kind === 'node' || (principal.kind === 'system' && principal.name === dev_plaintext_nodes);
    case 'forwarded':
      return false;
    case 'operator':
      return principal.kind === 'operator' && (request === undefined || allowedGrants(rule, principal, request).length > 0);
  }
}

function rolesOf(rule: OperatorRule | HttpRule, request: unknown): readonly Role[] {
  const roles = rule.roles;
  if (typeof roles === 'function') return roles(request);
  return roles ?? [];
}

function allowedGrants(rule: OperatorRule | HttpRule, principal: OperatorPrincipal, request: unknown): Grant[] {
  const allowed = rolesOf(rule, request);
  return principal.grants.filter((grant) => allowed.includes(grant.role as Role));
}

const denied = (why: string): RejectedError => permissionDenied(why);

/**
 * The terminals a terminal-door request names must be the caller's: its own terminal, or (for a
 * gateway) terminals registered with its merchants. Undefined when allowed at once; a promise when a
 * gateway's terminals had to be looked up.
 */
export function checkTerminals(principal: Principal, terminals: readonly string[], lookups: AccessLookups): undefined | Promise<undefined> {
  if (terminals.length === 0 || isAnyTerminal(principal)) return undefined;
  if (principal.kind === 'terminal') {
    for (const terminal of terminals)
      if (terminal !== principal.terminalId) throw denied('the request names another terminal than the certificate');
    return undefined;
  }
  if (principal.kind !== 'gateway') throw denied('only terminals and gateways call the terminal API');
  const merchants = principal.merchantIds;
  // Terminals a gateway uses are remembered after their first lookup: no promise per request then.
  const known = terminals.map((terminal) => lookups.knownMerchantOfTerminal?.(terminal));
  if (known.every((merchant) => merchant !== undefined)) {
    if (!known.every((merchant) => merchants.includes(merchant)))
      throw denied("the request names a terminal outside the gateway's merchants");
    return undefined;
  }
  return Promise.all(terminals.map((terminal) => lookups.merchantOfTerminal(terminal))).then((found) => {
    if (!found.every((merchant) => merchant !== undefined && merchants.includes(merchant)))
      throw denied("the request names a terminal outside the gateway's merchants");
    return undefined;
  });
}

/** Whether a grant covers a request's scope (scoped roles only; other roles cover everything). */
async function covers(grant: Grant, scope: Scope | undefined, lookups: AccessLookups): Promise<boolean> {
  const limited = scoped_roles[grant.role as Role];
  if (limited === undefined || grant.scope.includes('*')) return true;
  if (scope === undefined) return false;
  if (limited === 'cards') return (scope.cards ?? []).length > 0 && (scope.cards ?? []).every((id) => grant.scope.includes(id));
  if (limited === 'fleets') return (scope.fleets ?? []).length > 0 && (scope.fleets ?? []).every((id) => grant.scope.includes(id));
  const merchants = [...(scope.merchants ?? [])];
  for (const terminal of scope.terminalMerchants ?? []) {
    const merchant = await lookups.merchantOfTerminal(terminal);
    if (merchant === undefined) return false;
    merchants.push(merchant);
  }
  return merchants.length > 0 && merchants.every((id) => grant.scope.includes(id));
}

/**
 * The grant that allows an operator's request: one of the rule's roles whose scope covers what
 * the request names. Unscoped grants are preferred (they need no lookup).
 */
export async function operatorGrant(
  rule: OperatorRule | HttpRule,
  principal: Principal,
  request: unknown,
  scope: Scope | undefined,
  lookups: AccessLookups,
): Promise<Grant> {
  if (principal.kind !== 'operator') throw denied('this method is for operators');
  const grants = allowedGrants(rule, principal, request);
  if (grants.length === 0) throw denied("the caller's roles do not allow this call");
  grants.sort((a, b) => Number(scoped_roles[a.role as Role] !== undefined) - Number(scoped_roles[b.role as Role] !== undefined));
  for (const grant of grants) if (await covers(grant, scope, lookups)) return grant;
  throw denied("the request is outside the caller's scope");
}

/** How an operator's action is recorded: its subject, the grant that allowed it, the action. */
export function actingFor(principal: OperatorPrincipal, grant: Grant, action: string): Acting {
  const scope = grant.scope.join(',');
  return {
    subject: principal.subject,
    role: grant.role,
    scope: scope.length <= 512 ? scope : `${scope.slice(0, 500)}…(${grant.scope.length})`,
    action,
    ...(principal.approvedBy === undefined ? {} : { approver: principal.approvedBy }),
  };
}
