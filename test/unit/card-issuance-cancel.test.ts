// The pure rules of cancelling a card's issuance (actors/card/issuance-cancel.ts): which card
// qualifies (active or frozen, no money moved since its issue), what "unissued" leaves on the card
// and its holder record, what the document says, and how an unissued card is issued again. The
// "no movement" marker is held to its meaning by a seeded property over random histories.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decideAdmin } from '../../actors/card/decide';
import { decideCancelIssuance, type CancelIssuanceDecision } from '../../actors/card/issuance-cancel';
import { empty_card_rules_state } from '../../actors/card/program-rules';
import { apply, decide, movesMoney, type CardEvent, type CardProfile, type CardState, type CardStatus } from '../../actors/card/rules';
import { card_issuance_cancelled_schema } from '../../actors/outbox/schemas';
import { decodeCardHolder, decodeCardState, encodeCardState } from '../../actors/state/card';
import { announceSeed, assertProperty } from './fast-check-seed';

const at = 1_769_000_000_000;
const command = { reason: 'wrong program', operatorId: 'ops-1' };

const named_profile: CardProfile = {
  named: true,
  depositMinor: 200,
  expiresAtMs: 0,
  pinHash: 'f'.repeat(64),
  pinFailures: 0,
  issuance: 'box-7',
};

function issued(profile?: CardProfile, initialBalanceMinor = 2_000): CardState {
  const decision = decide(undefined, {
    type: 'issue',
    cardId: 'c-1',
    currency: 'EUR',
    initialBalanceMinor,
    programId: 'fest',
    nowMs: at,
    ...(profile === undefined ? {} : { profile }),
  });
  assert.equal(decision.kind, 'approved');
  return apply(undefined, decision.event);
}

function cancelled(decision: CancelIssuanceDecision): Extract<CancelIssuanceDecision, { kind: 'cancel' }> {
  assert.equal(decision.kind, 'cancel', JSON.stringify(decision));
  return decision;
}

function refusal(decision: CancelIssuanceDecision): { code: string; message: string } {
  assert.equal(decision.kind, 'rejected', JSON.stringify(decision));
  const error = decision.error as unknown as { code: string; message: string };
  return { code: error.code, message: error.message };
}

describe('issuance cancel: which card qualifies and what it leaves', () => {
  before(() => announceSeed('issuance cancel'));

  it('cancels a freshly issued named card: stock again, holder blanked at the version read, amounts to hand back', () => {
    const state = issued(named_profile);
    const decision = cancelled(decideCancelIssuance(state, command, { holder: { data: '{"v":1}', version: 1 } }, at + 5));
    assert.deepEqual(decision.after, {
      cardId: 'c-1',
      currency: 'EUR',
      programId: '',
      status: 'unissued',
      balanceMinor: 0,
      heldMinor: 0,
      issuedAtMs: 0,
      profile: { named: false, depositMinor: 0, expiresAtMs: 0, pinHash: '', pinFailures: 0, issuance: 'box-7' },
    });
    assert.deepEqual(decision.answer, {
      cardId: 'c-1',
      previous: 'active',
      currency: 'EUR',
      balanceMinor: 2_000,
      depositMinor: 200,
      alreadyUnissued: false,
    });
    assert.equal(decision.writes.length, 1);
    const holder = decision.writes[0];
    assert.deepEqual(holder?.entity, { kind: 'holder', id: 'c-1' });
    assert.equal(holder?.expectVersion, 1);
    assert.deepEqual(decodeCardHolder(holder?.data as string), {
      name: '',
      idDocumentType: '',
      idDocumentNumber: '',
      phone: '',
      email: '',
    });
    const document = card_issuance_cancelled_schema.parse(JSON.parse(decision.document));
    assert.equal(document.amount, 2_000);
    assert.equal(document.deposit, 200);
    assert.equal(document.status, 'unissued');
    assert.equal(document.previous, 'active');
    assert.equal(document.program, 'fest');
    assert.equal(document.issuance, 'box-7');
    assert.equal(document.operator, 'ops-1');
    assert.equal(document.reason, 'wrong program');
    assert.equal(document.at, at + 5);
    // The unissued state is a state like any other for the codec.
    assert.deepEqual(decodeCardState(encodeCardState(decision.after)), decision.after);
  });

  it('writes no holder for an anonymous card, and cancels a frozen one', () => {
    const frozen = apply(issued(), { type: 'status_changed', status: 'frozen' });
    const decision = cancelled(decideCancelIssuance(frozen, command, { holder: undefined }, at));
    assert.deepEqual(decision.writes, []);
    assert.equal(decision.answer.previous, 'frozen');
    assert.equal(decision.after.profile, undefined);
  });

  it('refuses a blocked, lost, expired, closed or replaced card (failed_precondition), and an unknown one (not_found)', () => {
    for (const status of ['blocked', 'lost', 'expired', 'closed', 'replaced'] as CardStatus[]) {
      const state = apply(issued(named_profile), { type: 'status_changed', status });
      const { code, message } = refusal(decideCancelIssuance(state, command, { holder: undefined }, at));
      assert.equal(code, 'failed_precondition', status);
      assert.match(message, new RegExp(status));
    }
    assert.equal(refusal(decideCancelIssuance(undefined, command, { holder: undefined }, at)).code, 'not_found');
  });

  it('refuses a card issued before the marker existed (it may have moved money)', () => {
    const old: { -readonly [K in keyof CardState]: CardState[K] } = { ...issued() };
    delete old.unmoved;
    assert.equal(refusal(decideCancelIssuance(old, command, { holder: undefined }, at)).code, 'failed_precondition');
  });

  it('answers a repeat on an unissued card as already unissued, changing nothing', () => {
    const after = cancelled(decideCancelIssuance(issued(), command, { holder: undefined }, at)).after;
    assert.deepEqual(decideCancelIssuance(after, command, { holder: undefined }, at), {
      kind: 'answer',
      answer: { cardId: 'c-1', previous: 'unissued', currency: 'EUR', balanceMinor: 0, depositMinor: 0, alreadyUnissued: true },
    });
  });

  it('issues an unissued card afresh, except for a retry of the bulk issuance it came from', () => {
    const unissued = cancelled(decideCancelIssuance(issued(named_profile), command, { holder: undefined }, at)).after;
    const again = decide(unissued, {
      type: 'issue',
      cardId: 'c-1',
      currency: 'CHF',
      initialBalanceMinor: 500,
      programId: 'other',
      nowMs: at + 10,
      profile: { ...named_profile, named: false, issuance: '' },
    });
    assert.equal(again.kind, 'approved');
    const reissued = apply(unissued, again.event);
    assert.equal(reissued.status, 'active');
    assert.equal(reissued.currency, 'CHF');
    assert.equal(reissued.balanceMinor, 500);
    assert.equal(reissued.unmoved, true);
    const bulkRetry = decide(unissued, {
      type: 'issue',
      cardId: 'c-1',
      currency: 'EUR',
      initialBalanceMinor: 2_000,
      programId: 'fest',
      nowMs: at + 10,
      profile: named_profile,
    });
    assert.deepEqual(bulkRetry, { kind: 'unchanged' });
    const otherBox = decide(unissued, {
      type: 'issue',
      cardId: 'c-1',
      currency: 'EUR',
      initialBalanceMinor: 0,
      programId: 'fest',
      nowMs: at + 10,
      profile: { ...named_profile, issuance: 'box-8' },
    });
    assert.equal(otherBox.kind, 'approved');
  });

  it('answers every operator command but an issue on an unissued card as not found', () => {
    const unissued = cancelled(decideCancelIssuance(issued(), command, { holder: undefined }, at)).after;
    const refused = decideAdmin(
      unissued,
      { type: 'tab_limit', limitMinor: 100, operatorId: 'ops-1' },
      { nowMs: at, pinAttemptsMax: 3, shard: 0 },
    );
    assert.equal(refused.kind, 'rejected');
    assert.equal(refused.error.code, 'not_found');
    const transition = decideAdmin(
      unissued,
      { type: 'transition', transition: { action: 'freeze', operatorId: 'ops-1', approverId: '' }, reason: 'x', operatorId: 'ops-1' },
      { nowMs: at, pinAttemptsMax: 3, shard: 0 },
    );
    assert.equal(transition.kind, 'rejected');
    // A PIN change with a wrong old PIN would count an attempt on the card: not on stock.
    const pin = decideAdmin(
      unissued,
      { type: 'set_pin', newHash: 'a'.repeat(64), oldHash: 'b'.repeat(64), reset: false, operatorId: 'ops-1' },
      { nowMs: at, pinAttemptsMax: 3, shard: 0 },
    );
    assert.equal(pin.kind === 'rejected' ? pin.error.code : pin.kind, 'not_found');
  });

  it('a card stays cancellable exactly until its first money movement, whatever else happens to it (seeded property)', () => {
    // Histories of valid events: money movements (debits, credits, holds placed, increased,
    // completed and released) mixed with status, profile and rule changes that move no money.
    const step = fc.oneof(
      fc.record({ op: fc.constant('debit' as const), amount: fc.integer({ min: 0, max: 500 }) }),
      fc.record({ op: fc.constant('credit' as const), amount: fc.integer({ min: 0, max: 500 }) }),
      fc.record({ op: fc.constant('hold' as const), amount: fc.integer({ min: 1, max: 300 }) }),
      fc.record({ op: fc.constant('settle_hold' as const), complete: fc.boolean() }),
      fc.record({ op: fc.constant('status' as const), status: fc.constantFrom<CardStatus>('active', 'frozen', 'blocked') }),
      fc.record({ op: fc.constant('pin' as const), failures: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ op: fc.constant('rules' as const), points: fc.integer({ min: 0, max: 50 }) }),
    );
    assertProperty(
      fc.property(fc.array(step, { maxLength: 12 }), (steps) => {
        let state = issued(named_profile);
        let moved = false;
        let holds = 0;
        for (const s of steps) {
          const event = eventOf(state, s, holds);
          if (event === undefined) continue;
          state = apply(state, event);
          if (event.type === 'hold_placed') holds += 1;
          if (event.type === 'hold_completed' || event.type === 'hold_released') holds -= 1;
          moved ||= movesMoney(event);
          assert.equal(state.unmoved === true, !moved, `after ${event.type}`);
        }
        const decision = decideCancelIssuance(state, command, { holder: { data: undefined, version: 0 } }, at);
        const expected = !moved && (state.status === 'active' || state.status === 'frozen');
        assert.equal(decision.kind === 'cancel', expected, `${JSON.stringify(steps)} -> ${decision.kind}`);
        if (decision.kind === 'cancel') assert.equal(decision.answer.balanceMinor, 2_000);
      }),
      300,
    );
  });
});

type Step =
  | { op: 'debit' | 'credit' | 'hold'; amount: number }
  | { op: 'settle_hold'; complete: boolean }
  | { op: 'status'; status: CardStatus }
  | { op: 'pin'; failures: number }
  | { op: 'rules'; points: number };

/** A valid event for a step on the state, or undefined when the step does not apply (e.g. no hold to settle). */
function eventOf(state: CardState, step: Step, holds: number): CardEvent | undefined {
  switch (step.op) {
    case 'debit':
      return step.amount <= state.balanceMinor - state.heldMinor ? { type: 'debited', amountMinor: step.amount } : undefined;
    case 'credit':
      return { type: 'credited', amountMinor: step.amount };
    case 'hold':
      return step.amount <= state.balanceMinor - state.heldMinor
        ? { type: 'hold_placed', key: `h-${holds}`, amountMinor: step.amount, expiresAtMs: at + 1 }
        : undefined;
    case 'settle_hold': {
      const key = `h-${holds - 1}`;
      const hold = state.holds?.[key];
      if (hold === undefined) return undefined;
      return step.complete
        ? { type: 'hold_completed', key, releasedMinor: hold.amountMinor, debitedMinor: hold.amountMinor }
        : { type: 'hold_released', key, amountMinor: hold.amountMinor };
    }
    case 'status':
      return { type: 'status_changed', status: step.status };
    case 'pin':
      return { type: 'profile_changed', profile: { ...(state.profile as CardProfile), pinFailures: step.failures } };
    case 'rules':
      return { type: 'rules_changed', rules: { ...empty_card_rules_state, points: step.points } };
  }
}
