// Pure rules for a card's audited state transitions (CardService.ChangeCardState). Which action
// is allowed from which status, and who must be involved, is decided here; the actor writes the
// new status and the audit document (card_status_changed with operator, approver and reason).

import type { CardDecision, CardState, CardStatus } from './rules';

export type CardAction = 'freeze' | 'unfreeze' | 'report_lost' | 'block' | 'unblock' | 'expire';

interface Transition {
  readonly from: ReadonlySet<CardStatus>;
  readonly to: CardStatus;
}

/**
 * The transition table. Closed and replaced cards are dead for every action; a lost card can only
 * be blocked (or, later, replaced): it is never found again, because someone else may hold it.
 */
export const card_transitions: Readonly<Record<CardAction, Transition>> = {
  freeze: { from: new Set(['active']), to: 'frozen' },
  unfreeze: { from: new Set(['frozen']), to: 'active' },
  report_lost: { from: new Set(['active', 'frozen']), to: 'lost' },
  block: { from: new Set(['active', 'frozen', 'lost', 'expired']), to: 'blocked' },
  unblock: { from: new Set(['blocked']), to: 'active' },
  expire: { from: new Set(['active', 'frozen']), to: 'expired' },
};

export interface TransitionRequest {
  readonly action: CardAction;
  readonly operatorId: string;
  readonly approverId: string;
}

export function decideTransition(state: CardState | undefined, request: TransitionRequest): CardDecision {
  if (state === undefined) return { kind: 'rejected', code: 'not_found', message: 'card not found' };
  const transition = card_transitions[request.action];
  if (!transition.from.has(state.status)) {
    return { kind: 'rejected', code: 'failed_precondition', message: `cannot ${request.action.replace('_', ' ')} a ${state.status} card` };
  }
  if (request.action === 'report_lost' && state.profile?.named !== true) {
    return { kind: 'rejected', code: 'failed_precondition', message: 'only named cards can be reported lost' };
  }
  if (request.action === 'unblock' && (request.approverId === '' || request.approverId === request.operatorId)) {
    return { kind: 'rejected', code: 'permission_denied', message: 'unblocking needs an approver other than the operator' };
  }
  return { kind: 'approved', event: { type: 'status_changed', status: transition.to } };
}
