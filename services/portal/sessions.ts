// Server-side sessions of the portal. The browser holds only a random session id in an HttpOnly,
// Secure, SameSite=Strict cookie; who is signed in (and with which role and scope) stays here.
// Every session has a CSRF token that each form posts back (synchronizer token), so a page of
// another site cannot make a signed-in browser act. Signing in replaces the session id (no
// fixation). Sessions are bounded in number and forgotten when idle.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Grant } from '../../actors/principal';

export type Locale = 'en' | 'nl';

/** Who a session belongs to once signed in. */
export interface SessionPrincipal {
  /** The subject of the tokens minted for it ("card:<id>", "staff:<username>"). */
  readonly subject: string;
  /** What the person is called on the page (a card number or a username). */
  readonly display: string;
  readonly grant: Grant;
}

export interface Session {
  readonly id: string;
  readonly csrf: string;
  locale: Locale;
  principal?: SessionPrincipal;
  last_seen_ms: number;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly idle_ms: number,
    private readonly sessions_max: number,
  ) {}

  /** A new anonymous session. */
  open(locale: Locale, now_ms: number): Session {
    while (this.sessions.size >= this.sessions_max) {
      const oldest = this.sessions.keys().next();
      if (oldest.done === true) break;
      this.sessions.delete(oldest.value);
    }
    const session: Session = { id: token(), csrf: token(), locale, last_seen_ms: now_ms };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session of an id, refreshed (moved to the young end), or undefined. */
  get(id: string | undefined, now_ms: number): Session | undefined {
    if (id === undefined) return undefined;
    const session = this.sessions.get(id);
    if (session === undefined) return undefined;
    this.sessions.delete(id);
    if (now_ms - session.last_seen_ms > this.idle_ms) return undefined;
    session.last_seen_ms = now_ms;
    this.sessions.set(id, session);
    return session;
  }

  /** Signs a principal in: a fresh session (new id and CSRF token) replaces the anonymous one. */
  signIn(previous: Session, principal: SessionPrincipal, now_ms: number): Session {
    this.sessions.delete(previous.id);
    const session = this.open(previous.locale, now_ms);
    session.principal = principal;
    return session;
  }

  end(id: string): void {
    this.sessions.delete(id);
  }
}

function token(): string {
  return randomBytes(32).toString('base64url');
}

/** Whether a posted CSRF token is the session's (constant time). */
export function csrfMatches(session: Session, posted: unknown): boolean {
  if (typeof posted !== 'string' || posted.length !== session.csrf.length) return false;
  return timingSafeEqual(Buffer.from(posted), Buffer.from(session.csrf));
}
