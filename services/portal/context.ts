// What every route of the portal shares: its dependencies, the session of a request and the
// session cookie (HttpOnly, Secure, SameSite=Strict, host-only by its __Host- prefix).

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Backend } from './backend';
import type { PortalIssuer } from './issuer';
import type { Session, SessionStore } from './sessions';
import type { StaffDirectory } from './users';
import type { PageContext } from './views';

export const session_cookie = '__Host-tapline-portal';
/** Form bodies are a few fields: anything larger is refused unread. */
export const form_body_bytes_max = 8_192;

export interface PortalDeps {
  readonly backend: Backend;
  readonly issuer: PortalIssuer;
  readonly staff: StaffDirectory;
  readonly programs: readonly string[];
  readonly sessions: SessionStore;
  readonly logger: Logger;
  readonly clock: () => number;
}

declare module 'fastify' {
  interface FastifyRequest {
    portalSession: Session | undefined;
  }
  interface FastifyContextConfig {
    /** The route's name in portal_rules. */
    rule?: string;
  }
}

/** The session of a request (every route past the first hook has one). */
export function sessionOf(request: FastifyRequest): Session {
  const session = request.portalSession;
  if (session === undefined) throw new Error('assertion: the session hook ran before every route');
  return session;
}

export function pageContext(request: FastifyRequest): PageContext {
  return { session: sessionOf(request), path: request.url.split('?', 1)[0] ?? '/' };
}

export function setSessionCookie(reply: FastifyReply, session: Session): void {
  reply.setCookie(session_cookie, session.id, { path: '/', httpOnly: true, secure: true, sameSite: 'strict' });
}

/** An HTML page as the reply. */
export function sendPage(reply: FastifyReply, page: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page);
}

/** A token for one call as the signed-in person (a route's rule admitted the person before). */
export function tokenOf(request: FastifyRequest, deps: PortalDeps): Promise<string> {
  const principal = sessionOf(request).principal;
  if (principal === undefined) throw new Error('assertion: a rule admitted a route without a signed-in person');
  return deps.issuer.mint(principal.subject, principal.grant, deps.clock());
}

/** A form field, trimmed ('' when absent). */
export function formField(request: FastifyRequest, name: string): string {
  const value = (request.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value.trim() : '';
}
