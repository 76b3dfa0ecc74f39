// Four eyes: an operator request the access policy marks (policy.ts `four_eyes`: an unblock, an
// issuance above TAPLINE_FOUR_EYES_AMOUNT_MINOR) is held instead of carried out, and runs only when
// a different principal with the approver role approves it. What runs is exactly the request that
// was held (its encoded bytes), as its requester, with the approver recorded in the action's audit
// record. Holding, approving and rejecting are audited too (store/approvals.ts writes the record in
// the same script as the transition).
//
// A held request must be complete and valid when it is held (the handler validated it first), and
// must not carry a PIN: a PIN is never stored outside a keyed hash, so such an issuance is refused
// and the PIN is set with SetPin once the card exists.

import { randomUUID } from 'node:crypto';
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { failedPrecondition, notFound, permissionDenied } from '../../../actors/errors';
import { auditRecord } from '../../../actors/outbox/builders';
import type { Acting } from '../../../actors/principal';
import { AdminServiceService } from '../../../gen/tapline/v1/admin';
import { CardServiceService } from '../../../gen/tapline/v1/cards';
import { FleetAdminServiceService } from '../../../gen/tapline/v1/fleet';
import { actingCaller, actingOf, callerOf, type Caller } from '../../common/auth/grpc-access';
import { operatorRuleOf, type PolicyLimits } from '../../common/auth/policy';
import type { ApprovalStore, StoredApproval } from '../store/approvals';

/** Pending requests one listing returns. */
export const approvals_listed_max = 500;

/** Carries a held request out on its entity's owner (the cluster router), as `caller`. */
export interface HeldRequestRunner {
  run(method: string, request: unknown, caller: Caller): Promise<{ code: number; message: string; response: Buffer }>;
}

export interface ApprovalsDeps {
  readonly store: ApprovalStore;
  readonly limits: PolicyLimits;
  readonly ttl_ms: number;
  readonly clock: () => number;
  readonly newId?: () => string;
}

type MethodDefinition = { readonly path: string; requestSerialize(value: never): Buffer; requestDeserialize(bytes: Buffer): unknown };

/** Every operator method by path: a held request is encoded and decoded with its own definition. */
const operator_methods: ReadonlyMap<string, MethodDefinition> = new Map(
  [AdminServiceService, CardServiceService, FleetAdminServiceService].flatMap((service) =>
    Object.values(service as Record<string, MethodDefinition>).map((method): [string, MethodDefinition] => [method.path, method]),
  ),
);

/** The held request as the approver reads it: its fields, without PINs or a holder's personal data. */
export function summaryOf(request: unknown): string {
  const text = JSON.stringify(request, (key, value: unknown) => {
    // PINs never; operator_id / approver_id are ignored fields (who acts is the token's subject).
    if (/pin/i.test(key) || key === 'operatorId' || key === 'approverId') return undefined;
    if (key === 'holder' && value !== undefined) return '[personal data]';
    return typeof value === 'bigint' ? value.toString() : value;
  });
  return text.length <= 4_096 ? text : `${text.slice(0, 4_000)}…`;
}

export class Approvals {
  private runner: HeldRequestRunner | undefined;
  private readonly newId: () => string;

  constructor(private readonly deps: ApprovalsDeps) {
    this.newId = deps.newId ?? randomUUID;
  }

  /** The router exists after the use cases: it is given here once built. */
  runWith(runner: HeldRequestRunner): void {
    this.runner = runner;
  }

  /**
   * For a handler, after it validated its request: the id of the pending approval when the request
   * needs a second principal (nothing else happens), or undefined when it runs now (no four eyes
   * needed, or this is the approved request being carried out).
   */
  async holdIfNeeded(call: ServerUnaryCall<unknown, unknown>): Promise<string | undefined> {
    const path = call.getPath();
    const reason = operatorRuleOf(path)?.four_eyes?.(call.request, this.deps.limits);
    const caller = callerOf(call);
    if (reason === undefined || caller?.acting?.approver !== undefined) return undefined;
    const request = call.request as { pin?: string };
    if (typeof request.pin === 'string' && request.pin !== '')
      throw failedPrecondition('a request that needs a second approval cannot carry a PIN; set the PIN with SetPin once it is carried out');
    const method = operator_methods.get(path);
    if (method === undefined) throw new Error(`assertion: ${path} needs four eyes but is not an operator method`);
    const requester = actingOf(call);
    const now_ms = this.deps.clock();
    const id = this.newId();
    const summary = summaryOf(call.request);
    const held = {
      id,
      method: path,
      request: method.requestSerialize(call.request as never),
      requester: JSON.stringify(requester),
      requested_by: requester.subject,
      requester_role: requester.role,
      reason: `${reason} needs a second principal`,
      summary,
      requested_at_ms: now_ms,
      expires_at_ms: now_ms + this.deps.ttl_ms,
    };
    const audit = auditRecord({
      actor: { ...requester, action: `${requester.action}:held` },
      changes: [{ entity: `approval:${id}`, before: undefined, after: { state: 'pending', method: path, reason: held.reason, summary } }],
      at: now_ms,
    });
    await this.deps.store.hold(held, this.deps.ttl_ms * 2, audit);
    return id;
  }

  async list(): Promise<StoredApproval[]> {
    const ids = await this.deps.store.pendingIds(approvals_listed_max);
    const approvals = await Promise.all(ids.map((id) => this.deps.store.load(id)));
    return approvals.filter((approval): approval is StoredApproval => approval !== undefined);
  }

  async get(id: string): Promise<StoredApproval> {
    const approval = await this.deps.store.load(id);
    if (approval === undefined) throw notFound('no such approval', { approval: id });
    return approval;
  }

  /** Approves and carries out a held request; the approver must not be its requester. */
  async approve(id: string, approver: Acting): Promise<{ approval: StoredApproval; response: Buffer }> {
    const held = await this.decide(id, 'approved', approver);
    const runner = this.runner;
    if (runner === undefined) throw new Error('assertion: approvals have no runner');
    const method = operator_methods.get(held.method);
    if (method === undefined) throw new Error(`assertion: held method ${held.method} is unknown`);
    const requester = JSON.parse(held.requester) as Acting;
    const outcome = await runner.run(
      held.method,
      method.requestDeserialize(held.request),
      actingCaller({ ...requester, approver: approver.subject }),
    );
    await this.deps.store.recordResult(id, outcome.code, outcome.message, outcome.response);
    return { approval: await this.get(id), response: outcome.response };
  }

  async reject(id: string, approver: Acting, reason: string): Promise<StoredApproval> {
    await this.decide(id, 'rejected', approver, reason);
    return this.get(id);
  }

  private async decide(id: string, state: 'approved' | 'rejected', approver: Acting, reason = ''): Promise<StoredApproval> {
    const held = await this.get(id);
    const now_ms = this.deps.clock();
    const audit = auditRecord({
      actor: approver,
      changes: [
        {
          entity: `approval:${id}`,
          before: { state: 'pending', method: held.method, requested_by: held.requested_by },
          after: { state, method: held.method, requested_by: held.requested_by, ...(reason === '' ? {} : { reason }) },
        },
      ],
      at: now_ms,
    });
    const result = await this.deps.store.decide(id, state, approver.subject, now_ms, audit);
    if (result === 'missing') throw notFound('no such approval', { approval: id });
    if (result === 'same_principal') throw permissionDenied('the requester cannot approve or reject its own request');
    if (result === 'expired') throw failedPrecondition('the request expired before it was approved', { approval: id });
    if (result === 'not_pending') throw failedPrecondition(`the request is no longer pending (${held.state})`, { approval: id });
    return held;
  }
}
