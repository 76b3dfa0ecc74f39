// Proves the pure hold rules (and, at the end, the refund rules of actors/card/refunds.ts) (actors/card/holds.ts) and their effect through apply(): a
// pre-authorization holds money without moving the balance, available = balance - holds,
// incremental holds add to an open hold, a completion for a lower, equal or (within the program's
// tolerance) higher amount debits that amount and releases the whole hold, a void releases it,
// expired holds count for nothing and cannot be completed, and a second completion of one hold
// finds none. Then fast-check drives random sequences of pre-authorizations, incrementals,
// completions, voids and purchases through decide+apply and checks, against a model, that the
// balance only moves by completions and purchases, heldMinor always equals the sum of open holds,
// and the available balance never goes below zero.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  apply,
  availableMinor,
  decide,
  heldDeltaMinor,
  balanceDeltaMinor,
  type CardDecision,
  type CardEvent,
  type CardState,
} from '../../actors/card/rules';
import {
  decideCompletion,
  decideIncremental,
  decidePreAuthorization,
  decideRelease,
  expiredHoldKeys,
  liveHeldMinor,
} from '../../actors/card/holds';
import { completionMaxMinor, default_program_config, programConfigProblem, type ProgramConfig } from '../../actors/program/config';
import { decideRefund, reversibleMinor } from '../../actors/card/refunds';
import { announceSeed, assertProperty } from './fast-check-seed';

const now_ms = 1_700_000_000_000;
const program: ProgramConfig = { ...default_program_config, holdExpiryMs: 60_000, completionToleranceBp: 1_500 };

function card(overrides: Partial<CardState> = {}): CardState {
  return Object.freeze({
    cardId: 'card-1',
    currency: 'EUR',
    programId: 'p',
    status: 'active',
    balanceMinor: 10_000,
    heldMinor: 0,
    issuedAtMs: now_ms,
    ...overrides,
  });
}

function approved(decision: CardDecision): CardEvent {
  assert.equal(decision.kind, 'approved', JSON.stringify(decision));
  return decision.event;
}

function withHold(state: CardState, key: string, amountMinor: number, nowMs = now_ms): CardState {
  return apply(state, approved(decidePreAuthorization(state, key, amountMinor, 'EUR', nowMs, program)));
}

describe('card holds: pre-authorization', () => {
  it('holds the amount without moving the balance; available = balance - holds', () => {
    const state = withHold(card(), 'h1', 3_000);
    assert.equal(state.balanceMinor, 10_000);
    assert.equal(state.heldMinor, 3_000);
    assert.equal(availableMinor(state), 7_000);
    assert.deepEqual(state.holds, { h1: { amountMinor: 3_000, expiresAtMs: now_ms + 60_000 } });
  });

  it('declines more than the available balance (holds included) as insufficient_funds', () => {
    const state = withHold(card(), 'h1', 3_000);
    assert.equal(decidePreAuthorization(state, 'h2', 7_000, 'EUR', now_ms, program).kind, 'approved');
    assert.deepEqual(decidePreAuthorization(state, 'h2', 7_001, 'EUR', now_ms, program), {
      kind: 'declined',
      reason: 'insufficient_funds',
      rule: 'balance',
    });
    assert.deepEqual(decide(state, { type: 'purchase', amountMinor: 7_001, currency: 'EUR' }), {
      kind: 'declined',
      reason: 'insufficient_funds',
      rule: 'balance',
    });
  });

  it('declines a frozen card, an expired card and another currency', () => {
    assert.equal(
      (decidePreAuthorization(card({ status: 'frozen' }), 'h', 1, 'EUR', now_ms, program) as { reason: string }).reason,
      'card_frozen',
    );
    const expiring = card({ profile: { named: false, depositMinor: 0, expiresAtMs: now_ms, pinHash: '', pinFailures: 0, issuance: '' } });
    assert.deepEqual(decidePreAuthorization(expiring, 'h', 1, 'EUR', now_ms, program), {
      kind: 'declined',
      reason: 'card_expired',
      rule: 'expiry',
    });
    assert.equal(decidePreAuthorization(expiring, 'h', 1, 'EUR', now_ms - 1, program).kind, 'approved');
    assert.equal((decidePreAuthorization(card(), 'h', 1, 'USD', now_ms, program) as { reason: string }).reason, 'currency_mismatch');
  });
});

describe('card expiry date', () => {
  it('declines a purchase at or after the expiry date as card_expired (rule expiry), approves one before', () => {
    const expiring = card({ profile: { named: true, depositMinor: 0, expiresAtMs: now_ms, pinHash: '', pinFailures: 0, issuance: '' } });
    assert.deepEqual(decide(expiring, { type: 'purchase', amountMinor: 1, currency: 'EUR', nowMs: now_ms }), {
      kind: 'declined',
      reason: 'card_expired',
      rule: 'expiry',
    });
    assert.equal(decide(expiring, { type: 'purchase', amountMinor: 1, currency: 'EUR', nowMs: now_ms - 1 }).kind, 'approved');
    assert.equal(
      decide(card(), { type: 'purchase', amountMinor: 1, currency: 'EUR', nowMs: now_ms * 2 }).kind,
      'approved',
      'no profile: never expires',
    );
  });
});

describe('card holds: partial pre-authorization', () => {
  it('holds what is available when the program allows partial holds, and declines when nothing is', () => {
    const partial = { ...program, partialHolds: true };
    assert.deepEqual(decidePreAuthorization(card({ balanceMinor: 1_000 }), 'h', 1_500, 'EUR', now_ms, partial), {
      kind: 'approved',
      event: { type: 'hold_placed', key: 'h', amountMinor: 1_000, expiresAtMs: now_ms + 60_000 },
    });
    assert.deepEqual(decidePreAuthorization(card({ balanceMinor: 0 }), 'h', 1, 'EUR', now_ms, partial), {
      kind: 'declined',
      reason: 'insufficient_funds',
      rule: 'balance',
    });
    assert.equal(
      decidePreAuthorization(card({ balanceMinor: 1_000 }), 'h', 1_500, 'EUR', now_ms, program).kind,
      'declined',
      'not allowed by default',
    );
  });
});

describe('card holds: incremental', () => {
  it('adds to an open hold and restarts its expiry', () => {
    const state = withHold(card(), 'h1', 3_000);
    const after = apply(state, approved(decideIncremental(state, 'h1', 500, 'EUR', now_ms + 10, program)));
    assert.deepEqual(after.holds, { h1: { amountMinor: 3_500, expiresAtMs: now_ms + 10 + 60_000 } });
    assert.equal(after.heldMinor, 3_500);
  });

  it('declines an unknown or expired hold as hold_not_found, and more than available as insufficient_funds', () => {
    const state = withHold(card(), 'h1', 3_000);
    assert.deepEqual(decideIncremental(state, 'nope', 1, 'EUR', now_ms, program), {
      kind: 'declined',
      reason: 'hold_not_found',
      rule: 'hold',
    });
    assert.deepEqual(decideIncremental(state, 'h1', 1, 'EUR', now_ms + 60_000, program), {
      kind: 'declined',
      reason: 'hold_not_found',
      rule: 'hold',
    });
    assert.deepEqual(decideIncremental(state, 'h1', 7_001, 'EUR', now_ms, program), {
      kind: 'declined',
      reason: 'insufficient_funds',
      rule: 'balance',
    });
  });
});

describe('card holds: completion', () => {
  const held = withHold(card(), 'h1', 2_000);

  it('completes lower, equal and higher-within-tolerance amounts, releasing the whole hold', () => {
    for (const amount of [1, 1_500, 2_000, 2_300]) {
      const event = approved(decideCompletion(held, 'h1', amount, 'EUR', now_ms, program));
      const after = apply(held, event);
      assert.equal(after.balanceMinor, 10_000 - amount, `amount ${amount}`);
      assert.equal(after.heldMinor, 0);
      assert.equal(after.holds, undefined);
      assert.equal(balanceDeltaMinor(event), -amount);
      assert.equal(heldDeltaMinor(event), -2_000);
    }
  });

  it('declines one minor unit above the tolerance as completion_exceeds_hold', () => {
    assert.equal(completionMaxMinor(2_000, 1_500), 2_300);
    assert.deepEqual(decideCompletion(held, 'h1', 2_301, 'EUR', now_ms, program), {
      kind: 'declined',
      reason: 'completion_exceeds_hold',
      rule: 'completion_tolerance',
    });
    assert.deepEqual(decideCompletion(held, 'h1', 2_001, 'EUR', now_ms, { ...program, completionToleranceBp: 0 }).kind, 'declined');
  });

  it('declines an excess over the hold that is not available as insufficient_funds', () => {
    const tight = withHold(card({ balanceMinor: 2_000 }), 'h1', 2_000);
    assert.deepEqual(decideCompletion(tight, 'h1', 2_001, 'EUR', now_ms, program), {
      kind: 'declined',
      reason: 'insufficient_funds',
      rule: 'balance',
    });
  });

  it('a second completion of the same hold finds no hold: exactly one wins', () => {
    const after = apply(held, approved(decideCompletion(held, 'h1', 2_000, 'EUR', now_ms, program)));
    assert.deepEqual(decideCompletion(after, 'h1', 2_000, 'EUR', now_ms, program), {
      kind: 'declined',
      reason: 'hold_not_found',
      rule: 'hold',
    });
  });

  it('completes on a card frozen since the hold, but not an expired hold', () => {
    assert.equal(decideCompletion({ ...held, status: 'frozen' }, 'h1', 100, 'EUR', now_ms, program).kind, 'approved');
    assert.equal((decideCompletion(held, 'h1', 100, 'EUR', now_ms + 60_000, program) as { reason: string }).reason, 'hold_not_found');
  });
});

describe('card holds: void and expiry', () => {
  it('a void releases the whole hold; a second void finds none', () => {
    const held = withHold(card(), 'h1', 2_000);
    const after = apply(held, approved(decideRelease(held, 'h1')));
    assert.equal(availableMinor(after), 10_000);
    assert.deepEqual(decideRelease(after, 'h1'), { kind: 'declined', reason: 'hold_not_found', rule: 'hold' });
  });

  it('expired holds are listed oldest first and no longer count as held', () => {
    let state = withHold(card(), 'late', 1_000, now_ms + 5);
    state = withHold(state, 'early', 2_000, now_ms);
    state = withHold(state, 'fresh', 500, now_ms + 100_000);
    assert.deepEqual(expiredHoldKeys(state, now_ms + 60_005), ['early', 'late']);
    assert.equal(liveHeldMinor(state, now_ms + 60_005), 500);
    assert.equal(liveHeldMinor(state, now_ms), 3_500);
  });

  it('apply refuses to release a hold that is not open (assertion)', () => {
    assert.throws(() => apply(card(), { type: 'hold_released', key: 'x', amountMinor: 1 }), /assertion/);
  });
});

describe('program configuration', () => {
  it('accepts the defaults and refuses out-of-range values', () => {
    assert.equal(programConfigProblem(default_program_config), undefined);
    const bad: Partial<ProgramConfig>[] = [
      { maxBalanceMinor: -1 },
      { maxTopUpMinor: 1.5 },
      { depositMinor: 10 ** 16 },
      { holdExpiryMs: 0 },
      { holdExpiryMs: 32 * 86_400_000 },
      { completionToleranceBp: 10_001 },
      { pinAttemptsMax: 0 },
      { pinAttemptsMax: 21 },
      { maxBalanceMinor: 100, depositMinor: 101 },
    ];
    for (const fields of bad)
      assert.notEqual(programConfigProblem({ ...default_program_config, ...fields }), undefined, JSON.stringify(fields));
  });

  it('rounds the completion tolerance down to the minor unit, exactly for the largest holds', () => {
    assert.equal(completionMaxMinor(999, 1_500), 1_148);
    assert.equal(completionMaxMinor(10 ** 15, 10_000), 2 * 10 ** 15);
  });
});

type Op =
  | { kind: 'pre'; amount: number }
  | { kind: 'inc'; hold: number; amount: number }
  | { kind: 'complete'; hold: number; amount: number }
  | { kind: 'void'; hold: number }
  | { kind: 'purchase'; amount: number };

const op_arbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('pre' as const), amount: fc.integer({ min: 1, max: 4_000 }) }),
  fc.record({ kind: fc.constant('inc' as const), hold: fc.nat(8), amount: fc.integer({ min: 1, max: 2_000 }) }),
  fc.record({ kind: fc.constant('complete' as const), hold: fc.nat(8), amount: fc.integer({ min: 1, max: 5_000 }) }),
  fc.record({ kind: fc.constant('void' as const), hold: fc.nat(8) }),
  fc.record({ kind: fc.constant('purchase' as const), amount: fc.integer({ min: 1, max: 3_000 }) }),
);

describe('card holds: properties', () => {
  before(() => announceSeed('card holds'));

  it('balance moves only by completions and purchases; held = sum of open holds; available never negative', () => {
    assertProperty(
      fc.property(fc.array(op_arbitrary, { maxLength: 60 }), (ops) => {
        let state = card();
        let expectedBalance = state.balanceMinor;
        let placed = 0;
        for (const op of ops) {
          let decision: CardDecision;
          const key = op.kind === 'pre' ? `h${placed}` : `h${'hold' in op ? op.hold : 0}`;
          if (op.kind === 'pre') decision = decidePreAuthorization(state, key, op.amount, 'EUR', now_ms, program);
          else if (op.kind === 'inc') decision = decideIncremental(state, key, op.amount, 'EUR', now_ms, program);
          else if (op.kind === 'complete') decision = decideCompletion(state, key, op.amount, 'EUR', now_ms, program);
          else if (op.kind === 'void') decision = decideRelease(state, key);
          else decision = decide(state, { type: 'purchase', amountMinor: op.amount, currency: 'EUR' });
          if (decision.kind !== 'approved') continue;
          if (op.kind === 'pre') placed += 1;
          expectedBalance += balanceDeltaMinor(decision.event);
          if (op.kind === 'complete' || op.kind === 'purchase') assert.equal(balanceDeltaMinor(decision.event), -op.amount);
          state = Object.freeze(apply(state, decision.event));
          const sum = Object.values(state.holds ?? {}).reduce((total, hold) => total + hold.amountMinor, 0);
          assert.equal(state.heldMinor, sum);
          assert.equal(state.balanceMinor, expectedBalance);
          assert.ok(availableMinor(state) >= 0, `available ${availableMinor(state)}`);
        }
      }),
      300,
    );
  });
});

describe('refund rules', () => {
  it('refunds up to what was spent, not after a reversal, not to a dead card', () => {
    const ledger = { refundedMinor: 600, reversed: false };
    assert.deepEqual(decideRefund(card(), 400, 'EUR', 1_000, ledger), { kind: 'approved', event: { type: 'credited', amountMinor: 400 } });
    assert.deepEqual(decideRefund(card(), 401, 'EUR', 1_000, ledger), {
      kind: 'declined',
      reason: 'refund_exceeds_original',
      rule: 'refund_total',
    });
    assert.deepEqual(decideRefund(card(), 1, 'EUR', 1_000, { refundedMinor: 0, reversed: true }), {
      kind: 'declined',
      reason: 'original_not_refundable',
      rule: 'reversed',
    });
    assert.equal((decideRefund(card({ status: 'replaced' }), 1, 'EUR', 1_000, ledger) as { reason: string }).reason, 'card_closed');
    assert.equal(
      decideRefund(card({ status: 'blocked' }), 1, 'EUR', 1_000, ledger).kind,
      'approved',
      'a blocked card still gets its money back',
    );
    assert.equal((decideRefund(card(), 1, 'USD', 1_000, ledger) as { reason: string }).reason, 'currency_mismatch');
    assert.equal(reversibleMinor(1_000, ledger), 400);
    assert.equal(reversibleMinor(1_000, { refundedMinor: 1_000, reversed: false }), 0);
  });
});
