// Who is asking: the authenticated caller of a request, as the domain may take it. How a caller is
// authenticated (a client certificate on the terminal and internal doors, a signed token on the
// operator door and the HTTP services) is services/common/auth's business; the domain only reads
// what the result says. Nothing here comes from a request field.
//
//   terminal   one terminal, named by its certificate (spiffe://tapline/terminal/<id>)
//   gateway    a venue gateway speaking for the terminals of its merchants
//              (spiffe://tapline/gateway/<merchant>[/<merchant>...])
//   node       another authorizer node of the cluster (spiffe://tapline/node/<id>)
//   operator   a person or a service with a signed token: its subject and its role grants
//   system     work the node starts itself (a PSP callback delivered in-process, auto-reload)

import type { Requester } from './origin';

/** A role granted to an operator, with the merchants or fleets it is limited to ("*": all). */
export interface Grant {
  readonly role: string;
  readonly scope: readonly string[];
}

export interface TerminalPrincipal {
  readonly kind: 'terminal';
  readonly terminalId: string;
}

export interface GatewayPrincipal {
  readonly kind: 'gateway';
  readonly merchantIds: readonly string[];
}

export interface NodePrincipal {
  readonly kind: 'node';
  readonly nodeId: string;
}

export interface OperatorPrincipal {
  readonly kind: 'operator';
  /** The token's subject: who acted, in every audit record. */
  readonly subject: string;
  readonly issuer: string;
  readonly grants: readonly Grant[];
  /**
   * Set only when a request held for four eyes is carried out: who approved it. The requester stays
   * the subject (the principal that asked); the approver is a different principal.
   */
  readonly approvedBy?: string;
  /** The pending request being carried out, with approvedBy. */
  readonly approvalId?: string;
}

export interface SystemPrincipal {
  readonly kind: 'system';
  readonly name: string;
}

export type Principal = TerminalPrincipal | GatewayPrincipal | NodePrincipal | OperatorPrincipal | SystemPrincipal;

/**
 * Who an operator action is recorded as, in the audit record written with the change: the
 * principal's subject, the role (and its scope) that allowed the call, the call itself, and the
 * second principal of a four-eyes action.
 */
export interface Acting {
  readonly subject: string;
  readonly role: string;
  /** The grant's scope as written in the record: "*" or the ids joined with ",". */
  readonly scope: string;
  /** The operation, as "<Service>/<Method>" or "<route>". */
  readonly action: string;
  readonly approver?: string;
}

/**
 * "Who is asking" for an operation on a transaction after the fact (actors/origin.ts): the
 * terminal its certificate names, or the merchants a gateway's certificate speaks for. Undefined
 * for any other principal (the request's own terminal then answers, as in the plaintext
 * development mode, where nothing authenticates the terminal).
 */
export function requesterOfPrincipal(principal: Principal): Requester | undefined {
  if (principal.kind === 'terminal') return { kind: 'terminal', terminalId: principal.terminalId };
  if (principal.kind === 'gateway') return { kind: 'gateway', merchantIds: new Set(principal.merchantIds) };
  return undefined;
}
