// Pure rules for a card's audited state transitions (CardService.ChangeCardState, and
// AdminService.SetCardStatus, which names a target status instead of an action). Which action is
// allowed from which status, and who must be involved, is decided here and only here: no status
// changes any other way. The actor writes the new status and the audit document
// (card_status_changed with action, operator, approver and reason).

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

/** Statuses AdminService.SetCardStatus may name. */
export type SettableStatus = Extract<CardStatus, 'active' | 'frozen' | 'blocked'>;

/** Statuses an operator may name in SetCardStatus: each is reached through one action of the table. */
export const operator_settable_statuses: ReadonlySet<CardStatus> = new Set<SettableStatus>(['active', 'frozen', 'blocked']);

/**
 * The action that takes a card from `from` to `to` (SetCardStatus), or undefined when no action
 * does. Whether the action is allowed, and by whom, is still the table's (decideTransition).
 */
export function actionTowards(from: CardStatus, to: SettableStatus): CardAction | undefined {
  if (to === 'frozen') return 'freeze';
  if (to === 'blocked') return 'block';
  if (from === 'frozen') return 'unfreeze';
  if (from === 'blocked') return 'unblock';
  return undefined;
}

/**
 * SetCardStatus: the target status as a transition of the table. The same status again is
 * unchanged (idempotent); a status no action reaches from here is failed_precondition (a closed,
 * replaced, lost or expired card never becomes active again); an unblock is permission_denied here,
 * because it needs its approval path (ChangeCardState with a second person).
 */
export function decideStatusChange(state: CardState | undefined, to: SettableStatus, operatorId: string): CardDecision {
  if (state === undefined) return { kind: 'rejected', code: 'not_found', message: 'card not found' };
  if (state.status === to) return { kind: 'unchanged' };
  const action = actionTowards(state.status, to);
  if (action === undefined) return { kind: 'rejected', code: 'failed_precondition', message: `a ${state.status} card cannot become ${to}` };
  if (action === 'unblock')
    return {
      kind: 'rejected',
      code: 'permission_denied',
      message: 'unblocking needs a second person: use CardService.ChangeCardState UNBLOCK with an approver',
    };
  return decideTransition(state, { action, operatorId, approverId: '' });
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
