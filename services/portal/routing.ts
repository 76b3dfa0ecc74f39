// What the portal's route files share: the HTML reply, the signed-in person and a token minted
// for them, form fields, amounts typed in a form, and the id pattern of paths.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { sessionOf, type PortalDeps } from './context';
import type { SessionPrincipal } from './sessions';

export { minorOf } from './amounts';

export const id_pattern = '^[A-Za-z0-9._-]{1,64}$';
export const id_params = { type: 'object', properties: { id: { type: 'string', pattern: id_pattern } }, required: ['id'] } as const;

export function html(reply: FastifyReply, page: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page);
}

export function principalOf(request: FastifyRequest): SessionPrincipal {
  const principal = sessionOf(request).principal;
  if (principal === undefined) throw new Error('assertion: a rule admitted a route without a signed-in person');
  return principal;
}

export function tokenFor(request: FastifyRequest, deps: PortalDeps): Promise<string> {
  const principal = principalOf(request);
  return deps.issuer.mint(principal.subject, principal.grant, deps.clock());
}

export function field(request: FastifyRequest, name: string): string {
  const value = (request.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value.trim() : '';
}

/** An amount typed in a form as minor units (exact), undefined when left empty. */
export function thisMonth(now_ms: number): string {
  const today = new Date(now_ms).toISOString().slice(0, 10);
  return `from=${today.slice(0, 8)}01&to=${today}`;
}
