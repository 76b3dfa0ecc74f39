// The access check of an HTTP service (the reports service today, the portals later): every route
// has a rule in policy.ts (`http_rules`); a route that is not public needs a bearer token of a
// trusted issuer (401 without one, or with an expired, tampered or foreign one) whose roles and
// scope allow the route (403 otherwise). The answer says who acts, as the audit records name them.

import type { Acting } from '../../../actors/principal';
import { TaplineError } from '../../../actors/errors';
import { actingFor, operatorGrant, type AccessLookups } from './access';
import { http_rules } from './policy';
import { bearerToken, type TokenVerifier } from './tokens';

export type HttpDecision =
  | { readonly ok: true; readonly acting: Acting | undefined }
  | { readonly ok: false; readonly status: 401 | 403; readonly code: string; readonly message: string };

const no_lookups: AccessLookups = { merchantOfTerminal: () => Promise.resolve(undefined) };

export class HttpAccess {
  constructor(private readonly verifier: TokenVerifier) {}

  /** Decides one request of the route `route` (its name in http_rules) with the path parameters it matched. */
  async decide(route: string, path: readonly string[], authorization: string | undefined): Promise<HttpDecision> {
    const rule = http_rules[route];
    if (rule === undefined) return { ok: false, status: 403, code: 'forbidden', message: 'this route has no access rule' };
    if (rule.who === 'public') return { ok: true, acting: undefined };
    const token = bearerToken(authorization);
    if (token === undefined) return { ok: false, status: 401, code: 'unauthenticated', message: 'a bearer token is required' };
    let principal;
    try {
      principal = await this.verifier.verify(token);
    } catch (error) {
      return {
        ok: false,
        status: 401,
        code: 'unauthenticated',
        message: error instanceof Error ? error.message : 'the token is not valid',
      };
    }
    try {
      const grant = await operatorGrant(rule, principal, undefined, rule.scope?.(path), no_lookups);
      return { ok: true, acting: actingFor(principal, grant, route) };
    } catch (error) {
      const message = error instanceof TaplineError ? error.message : 'not allowed';
      return { ok: false, status: 403, code: 'forbidden', message };
    }
  }
}
