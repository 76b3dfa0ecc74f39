// ApprovalService handlers: pending four-eyes requests, approving (which carries the held request
// out as its requester) and rejecting them. The approver is the caller's token subject; that it is
// not the requester is checked against the stored request (usecases/approvals.ts).

import { invalidArgument } from '../../../actors/errors';
import {
  ApprovalState,
  type Approval,
  type ApprovalServiceServer,
  type ApproveRequest,
  type ApproveResponse,
  type GetApprovalRequest,
  type GetApprovalResponse,
  type ListApprovalsRequest,
  type ListApprovalsResponse,
  type RejectRequest,
  type RejectResponse,
} from '../../../gen/tapline/v1/approvals';
import { actingOf } from '../../common/auth/grpc-access';
import type { Approvals } from '../usecases/approvals';
import type { StoredApproval } from '../store/approvals';
import { unaryAsync, type ServiceDeps } from './service';

export interface ApprovalServiceDeps extends ServiceDeps {
  readonly approvals: Approvals;
}

const states: Readonly<Record<StoredApproval['state'], ApprovalState>> = {
  pending: ApprovalState.APPROVAL_STATE_PENDING,
  approved: ApprovalState.APPROVAL_STATE_APPROVED,
  rejected: ApprovalState.APPROVAL_STATE_REJECTED,
};

export function wireApproval(approval: StoredApproval): Approval {
  return {
    approvalId: approval.id,
    method: approval.method,
    requestedBy: approval.requested_by,
    requesterRole: approval.requester_role,
    reason: approval.reason,
    summary: approval.summary,
    state: states[approval.state],
    decidedBy: approval.decided_by,
    requestedAtUnixMs: BigInt(approval.requested_at_ms),
    decidedAtUnixMs: BigInt(approval.decided_at_ms),
    resultCode: approval.result_code,
    resultMessage: approval.result_message,
    expiresAtUnixMs: BigInt(approval.expires_at_ms),
  };
}

const approval_id_pattern = /^[0-9a-f-]{36}$/;

function approvalId(value: string): string {
  if (!approval_id_pattern.test(value)) throw invalidArgument('approval_id must be an id this service issued');
  return value;
}

export function approvalService(deps: ApprovalServiceDeps): ApprovalServiceServer {
  return {
    listApprovals: unaryAsync<ListApprovalsRequest, ListApprovalsResponse, StoredApproval[]>(
      deps,
      'ListApprovals',
      () => deps.approvals.list(),
      (approvals) => ({ approvals: approvals.map(wireApproval) }),
    ),
    getApproval: unaryAsync<GetApprovalRequest, GetApprovalResponse, StoredApproval>(
      deps,
      'GetApproval',
      (request) => deps.approvals.get(approvalId(request.approvalId)),
      (approval) => ({ approval: wireApproval(approval) }),
    ),
    approve: unaryAsync<ApproveRequest, ApproveResponse, { approval: StoredApproval; response: Buffer }>(
      deps,
      'Approve',
      (request, call) => deps.approvals.approve(approvalId(request.approvalId), actingOf(call)),
      ({ approval, response }) => ({ approval: wireApproval(approval), response }),
    ),
    reject: unaryAsync<RejectRequest, RejectResponse, StoredApproval>(
      deps,
      'Reject',
      (request, call) => {
        if (request.reason.length > 256) throw invalidArgument('reason is at most 256 characters');
        return deps.approvals.reject(approvalId(request.approvalId), actingOf(call), request.reason);
      },
      (approval) => ({ approval: wireApproval(approval) }),
    ),
  };
}
