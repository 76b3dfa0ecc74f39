// Proves the card lifecycle's transition table (actors/card/lifecycle.ts): every action from every
// status is either the documented transition or refused as failed_precondition; reporting lost
// needs a named card; unblocking needs an approver other than the operator (permission_denied);
// an unknown card is not_found. The table is checked exhaustively against a hand-written list.
// SetCardStatus (a target status) is the same table: from every status to every settable status it
// is unchanged, the table's transition, refused, or (unblock) sent to the approval path.

import assert from 'node:assert/strict';
import { decideStatusChange, decideTransition, type CardAction, type SettableStatus } from '../../actors/card/lifecycle';
import type { CardState, CardStatus } from '../../actors/card/rules';

const statuses: readonly CardStatus[] = ['active', 'frozen', 'blocked', 'lost', 'expired', 'closed', 'replaced'];
const actions: readonly CardAction[] = ['freeze', 'unfreeze', 'report_lost', 'block', 'unblock', 'expire'];

/** action -> from status -> to status; anything missing must be refused. */
const allowed: Readonly<Record<CardAction, Partial<Record<CardStatus, CardStatus>>>> = {
  freeze: { active: 'frozen' },
  unfreeze: { frozen: 'active' },
  report_lost: { active: 'lost', frozen: 'lost' },
  block: { active: 'blocked', frozen: 'blocked', lost: 'blocked', expired: 'blocked' },
  unblock: { blocked: 'active' },
  expire: { active: 'expired', frozen: 'expired' },
};

function card(status: CardStatus, named = true): CardState {
  return {
    cardId: 'c',
    currency: 'EUR',
    programId: 'p',
    status,
    balanceMinor: 0,
    heldMinor: 0,
    issuedAtMs: 0,
    profile: { named, depositMinor: 0, expiresAtMs: 0, pinHash: '', pinFailures: 0, issuance: '' },
  };
}

describe('card lifecycle: transitions', () => {
  for (const action of actions) {
    for (const status of statuses) {
      const to = allowed[action][status];
      it(`${action} from ${status}: ${to === undefined ? 'refused' : `-> ${to}`}`, () => {
        const decision = decideTransition(card(status), { action, operatorId: 'op', approverId: 'boss' });
        if (to === undefined) assert.equal(decision.kind === 'rejected' && decision.code, 'failed_precondition');
        else assert.deepEqual(decision, { kind: 'approved', event: { type: 'status_changed', status: to } });
      });
    }
  }

  it('refuses to report an anonymous card (or one issued without a profile) lost', () => {
    for (const state of [card('active', false), { ...card('active'), profile: undefined }]) {
      const decision = decideTransition(state, { action: 'report_lost', operatorId: 'op', approverId: '' });
      assert.deepEqual(decision, { kind: 'rejected', code: 'failed_precondition', message: 'only named cards can be reported lost' });
    }
  });

  it('refuses an unblock without an approver, or approved by the operator, as permission_denied', () => {
    for (const approverId of ['', 'op']) {
      const decision = decideTransition(card('blocked'), { action: 'unblock', operatorId: 'op', approverId });
      assert.equal(decision.kind === 'rejected' && decision.code, 'permission_denied', `approver "${approverId}"`);
    }
  });

  it('answers not_found for a card that does not exist', () => {
    assert.equal(decideTransition(undefined, { action: 'freeze', operatorId: 'op', approverId: '' }).kind, 'rejected');
  });
});

describe('card lifecycle: SetCardStatus is a transition of the table', () => {
  const targets: readonly SettableStatus[] = ['active', 'frozen', 'blocked'];
  /** from -> to -> outcome; anything missing is failed_precondition. */
  const expected: Readonly<Partial<Record<CardStatus, Partial<Record<SettableStatus, CardStatus | 'unchanged' | 'approval'>>>>> = {
    active: { active: 'unchanged', frozen: 'frozen', blocked: 'blocked' },
    frozen: { active: 'active', frozen: 'unchanged', blocked: 'blocked' },
    blocked: { active: 'approval', blocked: 'unchanged' },
    lost: { blocked: 'blocked' },
    expired: { blocked: 'blocked' },
  };
  for (const from of statuses) {
    for (const to of targets) {
      const outcome = expected[from]?.[to];
      it(`${from} -> ${to}: ${outcome ?? 'refused'}`, () => {
        const decision = decideStatusChange(card(from), to, 'op');
        if (outcome === undefined) assert.equal(decision.kind === 'rejected' && decision.code, 'failed_precondition');
        else if (outcome === 'unchanged') assert.deepEqual(decision, { kind: 'unchanged' });
        else if (outcome === 'approval') assert.equal(decision.kind === 'rejected' && decision.code, 'permission_denied');
        else assert.deepEqual(decision, { kind: 'approved', event: { type: 'status_changed', status: outcome } });
      });
    }
  }

  it('answers not_found for a card that does not exist', () => {
    assert.equal(decideStatusChange(undefined, 'active', 'op').kind, 'rejected');
  });
});
