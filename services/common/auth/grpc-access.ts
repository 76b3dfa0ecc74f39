// The access check of a gRPC door, as a grpc-js server interceptor (next to the metrics one, so
// every call of every service on the door, health and reflection included, goes through it before
// any handler runs). Per call:
//   1. the rule of the method on this door (policy.ts); a method without one is refused;
//   2. who is calling: the door's authenticator (client certificate, bearer token) — UNAUTHENTICATED
//      when it cannot say, unless the rule is public;
//   3. may that principal call the method at all (kind, roles) — PERMISSION_DENIED;
//   4. for unary calls, once the request is decoded: does what it names lie within the caller's
//      scope — PERMISSION_DENIED, or INVALID_ARGUMENT for an id that is not one.
// A refused call never reaches its handler, so it changes nothing. An allowed call carries its
// caller (principal and the grant that allowed it) to the handler, bound to the call's metadata
// object (callerOf): a request field can never set it, and forwarded calls bind the caller their
// frame carries (cluster/router.ts).

import { TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import type { Logger } from 'pino';
import { asTaplineError, InternalError, permissionDenied, unauthenticated, type TaplineError } from '../../../actors/errors';
import { requesterOfPrincipal, type Acting, type Grant, type Principal } from '../../../actors/principal';
import type { Requester } from '../../../actors/origin';
import { serviceErrorOf } from '../../authorizer/grpc/status';
import { UndecodableRequest } from '../../authorizer/grpc/strict-server';
import { actingFor, admits, checkTerminals, operatorGrant, type AccessLookups } from './access';
import { socketIdentity, identityOf, type CertificateIdentity, type RevokedSerials } from './certificates';
import type { Door, RpcRule } from './policy';
import { bearerToken, type TokenVerifier } from './tokens';

/** Who is calling, as the handler and the audit see it. */
export interface Caller {
  readonly principal: Principal;
  /** The operator grant that allowed the call (set once the request was checked). */
  grant?: Grant;
  /** False once the caller's certificate is revoked or expired (a long stream checks each frame). */
  readonly stillValid: () => boolean;
  /**
   * How an operator's action is recorded, when it was decided before this call (a card of a bulk
   * issuance runs as the issuance's operator action, a held request as its requester's).
   */
  readonly acting?: Acting;
}

const always = (): boolean => true;
const callers = new WeakMap<grpc.Metadata, Caller>();

/** Binds a caller to a call's metadata (the door does it; so do forwarded and in-process calls). */
export function bindCaller(metadata: grpc.Metadata, caller: Caller): void {
  callers.set(metadata, caller);
}

/** The caller of a call, or undefined for a public method (health) or an unbound call. */
export function callerOf(call: { readonly metadata: grpc.Metadata }): Caller | undefined {
  return callers.get(call.metadata);
}

const requesters = new WeakMap<Principal, Requester | null>();

/**
 * "Who is asking" of a terminal-door call, for the rule of who may act on a transaction after the
 * fact (actors/origin.ts): the terminal of the caller's certificate, or its gateway's merchants.
 * Kept per principal (one per connection), so a gateway's merchant set is built once.
 */
export function requesterOf(caller: Caller | undefined): Requester | undefined {
  if (caller === undefined) return undefined;
  let requester = requesters.get(caller.principal);
  if (requester === undefined) {
    requester = requesterOfPrincipal(caller.principal) ?? null;
    requesters.set(caller.principal, requester);
  }
  return requester ?? undefined;
}

/** A caller that was authenticated elsewhere (a forwarded frame, a node's own work). */
export function trustedCaller(principal: Principal, grant?: Grant, acting?: Acting): Caller {
  return { principal, stillValid: always, ...(grant === undefined ? {} : { grant }), ...(acting === undefined ? {} : { acting }) };
}

/** The caller of work done on behalf of an operator action decided earlier (fan-out, four eyes). */
export function actingCaller(acting: Acting): Caller {
  return trustedCaller({ kind: 'operator', subject: acting.subject, issuer: '', grants: [] }, undefined, acting);
}

/** The node's own work (a PSP callback delivered in-process): no operator acted. */
export function systemCaller(name: string): Caller {
  return trustedCaller({ kind: 'system', name });
}

/**
 * Who an operator handler's action is recorded as: the authenticated operator's subject, the grant
 * that allowed the call and the call's method. Never read from the request.
 */
export function actingOf(call: { readonly metadata: grpc.Metadata; getPath(): string }): Acting {
  const caller = callerOf(call);
  if (caller?.acting !== undefined) return caller.acting;
  if (caller?.principal.kind !== 'operator' || caller.grant === undefined)
    throw new InternalError('assertion: an operator handler ran without an authenticated operator', { method: call.getPath() });
  return actingFor(caller.principal, caller.grant, call.getPath().replace(/^\//, ''));
}

/** Says who calls on a door, or why it cannot (the message of UNAUTHENTICATED). */
export type Authenticator = (
  call: grpc.ServerInterceptingCallInterface,
  metadata: grpc.Metadata,
) => Caller | string | Promise<Caller | string>;

/**
 * The TLS socket under a call, found through grpc-js' call objects. grpc-js hands interceptors no
 * connection handle; its getAuthContext() parses the peer certificate into a new object on every
 * call (~37 µs here, a third of a unary authorization), so the identity is read once per
 * connection instead and kept with the socket. If a grpc-js upgrade moves these fields the door
 * falls back to getAuthContext() (correct, slower); test/integration/trust-boundary.test.ts notices.
 */
export function tlsSocketOf(call: object): TLSSocket | undefined {
  let current: unknown = call;
  for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth++) {
    const socket = (current as { stream?: { session?: { socket?: unknown } } }).stream?.session?.socket;
    if (socket instanceof TLSSocket) return socket;
    current = (current as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

/** Counts which path read client identities (the fast one is expected). */
export const identity_reads = { per_connection: 0, per_call: 0 };

/** Client certificates: the terminal door (terminals, gateways) and the internal door (nodes). */
export function certificateAuthenticator(options: {
  readonly trust_domain: string;
  readonly revoked: RevokedSerials;
  readonly clock: () => number;
}): Authenticator {
  const bySocket = new WeakMap<TLSSocket, CertificateIdentity | string>();
  const callerOfIdentity = (identity: CertificateIdentity | string): Caller | string => {
    if (typeof identity === 'string') return identity;
    const stillValid = (): boolean => !options.revoked.has(identity.serial) && options.clock() < identity.valid_to_ms;
    if (options.revoked.has(identity.serial)) return 'the client certificate is revoked';
    if (!stillValid()) return 'the client certificate has expired';
    return { principal: identity.principal, stillValid };
  };
  return (call) => {
    const socket = tlsSocketOf(call);
    if (socket !== undefined) {
      let identity = bySocket.get(socket);
      if (identity === undefined) {
        identity_reads.per_connection += 1;
        identity = socketIdentity(socket, options.trust_domain);
        bySocket.set(socket, identity);
      }
      return callerOfIdentity(identity);
    }
    identity_reads.per_call += 1;
    const certificate = call.getAuthContext().sslPeerCertificate;
    if (certificate === undefined) return 'no valid client certificate';
    return callerOfIdentity(identityOf(certificate, options.trust_domain));
  };
}

/** Bearer tokens in the `authorization` metadata: the operator door. */
export function tokenAuthenticator(verifier: TokenVerifier): Authenticator {
  return (_call, metadata) => {
    const header = metadata.get('authorization')[0];
    const token = bearerToken(typeof header === 'string' ? header : undefined);
    if (token === undefined) return 'an operator token is required (authorization: Bearer <token>)';
    return verifier.verify(token).then(
      (principal): Caller => ({ principal, stillValid: always }),
      (error: unknown) => (error instanceof Error ? error.message : 'the token is not valid'),
    );
  };
}

/** A door without transport security (the explicit development switch): everyone is `principal`. */
export function plaintextAuthenticator(principal: Principal): Authenticator {
  const caller: Caller = { principal, stillValid: always };
  return () => caller;
}

export interface DoorAccess {
  readonly door: Door;
  readonly rules: ReadonlyMap<string, RpcRule>;
  readonly authenticate: Authenticator;
  readonly lookups: AccessLookups;
  readonly logger: Logger;
}

/** The request-level check of a unary call; undefined when allowed at once. */
function checkRequest(rule: RpcRule, caller: Caller, request: unknown, lookups: AccessLookups): undefined | Promise<unknown> {
  if (rule.who === 'terminal' && rule.terminals !== 'per_item') return checkTerminals(caller.principal, rule.terminals(request), lookups);
  if (rule.who !== 'operator') return undefined;
  const scope = rule.scope?.(request);
  return operatorGrant(rule, caller.principal, request, scope, lookups).then((grant) => {
    caller.grant = grant;
  });
}

/** The server interceptor of a door. */
export function accessInterceptor(access: DoorAccess): grpc.ServerInterceptor {
  return (method, call) => {
    const rule = access.rules.get(method.path);
    let caller: Caller | undefined;
    let refused = false;
    const refuse = (error: TaplineError): void => {
      if (refused) return;
      refused = true;
      // The same status and rich error details (ErrorInfo) a handler would answer with.
      const status = serviceErrorOf(error);
      const code = status.code ?? grpc.status.INTERNAL;
      if (code === grpc.status.INTERNAL) access.logger.error({ err: error, method: method.path }, 'access check failed');
      call.sendStatus({ code, details: status.details ?? '', metadata: status.metadata ?? new grpc.Metadata() });
    };
    const admitted = (metadata: grpc.Metadata, next: (metadata: grpc.Metadata) => void, found: Caller | string): void => {
      if (typeof found === 'string') return refuse(unauthenticated(found));
      if (rule === undefined || !admits(rule, found.principal)) return refuse(denial(rule));
      caller = found;
      bindCaller(metadata, found);
      next(metadata);
    };
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            if (rule?.who === 'public') return nextMetadata(metadata);
            let found: Caller | string | Promise<Caller | string>;
            try {
              found = access.authenticate(call, metadata);
            } catch (error) {
              return refuse(asTaplineError(error));
            }
            if (found instanceof Promise)
              found.then(
                (value) => admitted(metadata, nextMetadata, value),
                (error: unknown) => refuse(asTaplineError(error)),
              );
            else admitted(metadata, nextMetadata, found);
          },
          onReceiveMessage: (message, nextMessage) => {
            if (refused) return;
            // Bytes that are not a request name nothing to check: the strict decoder's guard after
            // this interceptor answers them INVALID_ARGUMENT (grpc/strict-server.ts).
            if (rule === undefined || caller === undefined || method.requestStream || message instanceof UndecodableRequest)
              return nextMessage(message);
            let pending: undefined | Promise<unknown>;
            try {
              pending = checkRequest(rule, caller, message, access.lookups);
            } catch (error) {
              return refuse(asTaplineError(error));
            }
            if (pending === undefined) return nextMessage(message);
            pending.then(
              () => (refused ? undefined : nextMessage(message)),
              (error: unknown) => refuse(asTaplineError(error)),
            );
          },
        }),
    });
  };
}

function denial(rule: RpcRule | undefined): TaplineError {
  return permissionDenied(
    rule === undefined ? 'this method is not served to callers on this door' : 'the caller is not allowed to call this method',
  );
}

// ---- A caller carried in a forwarded frame (cluster.proto ForwardedCall.caller) ---------------

const id = z.string().regex(/^[A-Za-z0-9._@:+*-]{1,128}$/);
const grant_schema = z.object({ role: z.string().max(64), scope: z.array(z.string().max(64)).max(1_000) });
const principal_schema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('terminal'), terminalId: id }),
  z.object({ kind: z.literal('gateway'), merchantIds: z.array(id).max(64) }),
  z.object({ kind: z.literal('node'), nodeId: id }),
  z.object({
    kind: z.literal('operator'),
    subject: id,
    issuer: z.string().max(512),
    grants: z.array(grant_schema).max(16),
    approvedBy: id.optional(),
    approvalId: z.string().max(64).optional(),
  }),
  z.object({ kind: z.literal('system'), name: z.string().max(64) }),
]);
const acting_schema = z.object({
  subject: id,
  role: z.string().max(64),
  scope: z.string().max(1_024),
  action: z.string().max(256),
  approver: id.optional(),
});
const forwarded_caller_schema = z.object({ principal: principal_schema, grant: grant_schema.optional(), acting: acting_schema.optional() });

/** The caller of a call as a forwarded frame carries it (no validity callback: the entry node checked it). */
export function encodeCaller(caller: Caller): Buffer {
  return Buffer.from(JSON.stringify({ principal: caller.principal, grant: caller.grant, acting: caller.acting }));
}

/** The caller a forwarded frame carries, or undefined when it carries none the owner can read. */
export function decodeCaller(bytes: Uint8Array): Caller | undefined {
  if (bytes.length === 0) return undefined;
  try {
    const parsed = forwarded_caller_schema.safeParse(JSON.parse(Buffer.from(bytes).toString('utf8')));
    if (!parsed.success) return undefined;
    const { principal, grant, acting } = parsed.data;
    return trustedCaller(principal, grant, acting);
  } catch {
    return undefined;
  }
}
