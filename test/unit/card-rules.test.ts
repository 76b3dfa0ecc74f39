// Proves the card's pure rules (actors/card/rules.ts) decide every command the way the product
// needs and that apply() keeps the ledger exact. First, one example per branch of decide and
// apply: issuing (new, repeated, conflicting, out-of-range balance), purchases at and one minor
// unit past the available balance, the decline of every non-active status, currency mismatch,
// top-ups up to the maximum balance, reversals, status changes, and the assertions apply() makes.
// Then fast-check drives random sequences of issue / purchase / top-up / reversal / status change
// through decide+apply and checks against a running total that the balance is always a bounded,
// non-negative safe integer equal to initial + top-ups - purchases + reversals, that a declined
// decision leaves the state untouched, and that decide is deterministic. Every state handed to
// decide is deep-frozen, so a rule that mutated its input would throw.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  apply,
  availableMinor,
  balanceDeltaMinor,
  decide,
  type CardCommand,
  type CardDecision,
  type CardEvent,
  type CardState,
  type CardStatus,
  type DeclineReason,
} from '../../actors/card/rules';
import { amount_abs_max_minor, isBoundedAmount, request_amount_max_minor } from '../../actors/money';
import { announceSeed, assertProperty } from './fast-check-seed';

const issued_at_ms = 1_700_000_000_000;

const all_statuses: readonly CardStatus[] = ['active', 'frozen', 'blocked', 'lost', 'expired', 'closed', 'replaced', 'unissued'];

/** What each non-active status declines with; typed as a Record so a new status must be added here. */
const expected_status_declines: Readonly<Record<Exclude<CardStatus, 'active'>, DeclineReason>> = {
  frozen: 'card_frozen',
  blocked: 'card_blocked',
  lost: 'card_blocked',
  expired: 'card_expired',
  closed: 'card_closed',
  replaced: 'card_closed',
  unissued: 'card_closed',
};

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

function card(overrides: Partial<CardState> = {}): CardState {
  return deepFreeze({
    cardId: 'card-1',
    currency: 'EUR',
    programId: 'festival',
    status: 'active',
    balanceMinor: 10_000,
    heldMinor: 0,
    issuedAtMs: issued_at_ms,
    ...overrides,
  });
}

function issueCommand(overrides: Partial<Extract<CardCommand, { type: 'issue' }>> = {}): CardCommand {
  return {
    type: 'issue',
    cardId: 'card-1',
    currency: 'EUR',
    initialBalanceMinor: 10_000,
    programId: 'festival',
    nowMs: issued_at_ms,
    ...overrides,
  };
}

function approvedEvent(decision: CardDecision): CardEvent {
  assert.equal(decision.kind, 'approved', `expected an approved decision, got ${JSON.stringify(decision)}`);
  return decision.event;
}

describe('card rules: issue', () => {
  it('issues a new card active, unheld, unmoved (its issuance can be cancelled), with the initial balance and the command time', () => {
    const decision = decide(undefined, issueCommand({ initialBalanceMinor: 2_500 }));
    const expected: CardState = {
      cardId: 'card-1',
      currency: 'EUR',
      programId: 'festival',
      status: 'active',
      balanceMinor: 2_500,
      heldMinor: 0,
      issuedAtMs: issued_at_ms,
      unmoved: true,
    };
    assert.deepEqual(decision, { kind: 'approved', event: { type: 'issued', state: expected } });
    assert.deepEqual(apply(undefined, approvedEvent(decision)), expected);
  });

  it('accepts the initial balance bounds 0 and amount_abs_max_minor', () => {
    for (const initialBalanceMinor of [0, amount_abs_max_minor]) {
      const event = approvedEvent(decide(undefined, issueCommand({ initialBalanceMinor })));
      assert.equal(apply(undefined, event).balanceMinor, initialBalanceMinor);
    }
  });

  it('answers unchanged when the same card is issued again, whatever its balance has become', () => {
    assert.deepEqual(decide(card({ balanceMinor: 1 }), issueCommand()), { kind: 'unchanged' });
    assert.deepEqual(decide(card(), issueCommand({ initialBalanceMinor: 99, nowMs: issued_at_ms + 5 })), { kind: 'unchanged' });
  });

  it('rejects issuing an existing card with a different currency or program as already_exists', () => {
    for (const command of [issueCommand({ currency: 'USD' }), issueCommand({ programId: 'other-program' })]) {
      const decision = decide(card(), command);
      assert.equal(decision.kind, 'rejected');
      assert.equal(decision.code, 'already_exists');
    }
  });

  it('rejects a negative, out-of-range or non-integer initial balance as invalid_argument', () => {
    const bad = [-1, -amount_abs_max_minor, amount_abs_max_minor + 1, Number.MAX_SAFE_INTEGER, 0.5, Number.NaN, Number.POSITIVE_INFINITY];
    for (const initialBalanceMinor of bad) {
      const decision = decide(undefined, issueCommand({ initialBalanceMinor }));
      assert.equal(decision.kind, 'rejected', `initial balance ${initialBalanceMinor}`);
      assert.equal(decision.code, 'invalid_argument', `initial balance ${initialBalanceMinor}`);
    }
  });

  it('rejects every other command on a card that does not exist as not_found', () => {
    const commands: CardCommand[] = [
      { type: 'purchase', amountMinor: 1, currency: 'EUR' },
      { type: 'top_up', amountMinor: 1, currency: 'EUR' },
      { type: 'reverse', amountMinor: 1 },
    ];
    for (const command of commands) {
      assert.deepEqual(decide(undefined, command), { kind: 'rejected', code: 'not_found', message: 'card not found' }, command.type);
    }
  });
});

describe('card rules: purchase', () => {
  it('approves a purchase of exactly the available balance, leaving zero', () => {
    const state = card({ balanceMinor: 4_200 });
    const decision = decide(state, { type: 'purchase', amountMinor: 4_200, currency: 'EUR' });
    assert.deepEqual(decision, { kind: 'approved', event: { type: 'debited', amountMinor: 4_200 } });
    assert.equal(apply(state, approvedEvent(decision)).balanceMinor, 0);
  });

  it('declines one minor unit above the available balance as insufficient_funds (rule balance)', () => {
    const decision = decide(card({ balanceMinor: 4_200 }), { type: 'purchase', amountMinor: 4_201, currency: 'EUR' });
    assert.deepEqual(decision, { kind: 'declined', reason: 'insufficient_funds', rule: 'balance' });
  });

  it('spends only what is available: balance minus holds', () => {
    const state = card({ balanceMinor: 1_000, heldMinor: 300 });
    assert.equal(availableMinor(state), 700);
    assert.equal(decide(state, { type: 'purchase', amountMinor: 700, currency: 'EUR' }).kind, 'approved');
    assert.deepEqual(decide(state, { type: 'purchase', amountMinor: 701, currency: 'EUR' }), {
      kind: 'declined',
      reason: 'insufficient_funds',
      rule: 'balance',
    });
  });

  it('declines every non-active status with its own reason and a status:<status> rule', () => {
    for (const [status, reason] of Object.entries(expected_status_declines) as [CardStatus, DeclineReason][]) {
      const decision = decide(card({ status }), { type: 'purchase', amountMinor: 1, currency: 'EUR' });
      assert.deepEqual(decision, { kind: 'declined', reason, rule: `status:${status}` }, status);
    }
    assert.deepEqual(Object.keys(expected_status_declines).sort(), all_statuses.filter((s) => s !== 'active').sort());
  });

  it('checks status before currency and balance', () => {
    const decision = decide(card({ status: 'frozen', balanceMinor: 0 }), { type: 'purchase', amountMinor: 5, currency: 'USD' });
    assert.deepEqual(decision, { kind: 'declined', reason: 'card_frozen', rule: 'status:frozen' });
  });

  it('declines a purchase in another currency as currency_mismatch, before looking at the balance', () => {
    assert.deepEqual(decide(card(), { type: 'purchase', amountMinor: 1, currency: 'USD' }), {
      kind: 'declined',
      reason: 'currency_mismatch',
      rule: 'currency',
    });
    assert.deepEqual(decide(card({ balanceMinor: 0 }), { type: 'purchase', amountMinor: 1, currency: 'USD' }), {
      kind: 'declined',
      reason: 'currency_mismatch',
      rule: 'currency',
    });
  });
});

describe('card rules: top-up', () => {
  it('approves a top-up as a credit of the amount', () => {
    const state = card({ balanceMinor: 100 });
    const decision = decide(state, { type: 'top_up', amountMinor: 2_000, currency: 'EUR' });
    assert.deepEqual(decision, { kind: 'approved', event: { type: 'credited', amountMinor: 2_000 } });
    assert.equal(apply(state, approvedEvent(decision)).balanceMinor, 2_100);
  });

  it('declines a top-up on every non-active status with the same reasons as a purchase', () => {
    for (const [status, reason] of Object.entries(expected_status_declines) as [CardStatus, DeclineReason][]) {
      const decision = decide(card({ status }), { type: 'top_up', amountMinor: 1, currency: 'EUR' });
      assert.deepEqual(decision, { kind: 'declined', reason, rule: `status:${status}` }, status);
    }
  });

  it('declines a top-up in another currency as currency_mismatch', () => {
    assert.deepEqual(decide(card(), { type: 'top_up', amountMinor: 1, currency: 'CHF' }), {
      kind: 'declined',
      reason: 'currency_mismatch',
      rule: 'currency',
    });
  });

  it('approves a top-up reaching exactly amount_abs_max_minor and declines one minor unit more', () => {
    const state = card({ balanceMinor: amount_abs_max_minor - 500 });
    const decision = decide(state, { type: 'top_up', amountMinor: 500, currency: 'EUR' });
    assert.equal(apply(state, approvedEvent(decision)).balanceMinor, amount_abs_max_minor);
    assert.deepEqual(decide(state, { type: 'top_up', amountMinor: 501, currency: 'EUR' }), {
      kind: 'declined',
      reason: 'max_balance_exceeded',
      rule: 'balance_max',
    });
  });
});

describe('card rules: reverse', () => {
  it('credits the reversed amount back', () => {
    const state = card({ balanceMinor: 300 });
    const decision = decide(state, { type: 'reverse', amountMinor: 700 });
    assert.deepEqual(decision, { kind: 'approved', event: { type: 'credited', amountMinor: 700 } });
    assert.equal(apply(state, approvedEvent(decision)).balanceMinor, 1_000);
  });

  it('credits a reversal whatever the status of a live card: money taken is given back even to a blocked card', () => {
    for (const status of all_statuses.filter((s) => s !== 'closed' && s !== 'replaced')) {
      assert.deepEqual(
        decide(card({ status }), { type: 'reverse', amountMinor: 5 }),
        { kind: 'approved', event: { type: 'credited', amountMinor: 5 } },
        status,
      );
    }
  });

  it('declines a reversal on a closed (cashed-out) or replaced card: money given to a dead card would be stranded', () => {
    for (const status of ['closed', 'replaced'] as const) {
      assert.deepEqual(
        decide(card({ status }), { type: 'reverse', amountMinor: 5 }),
        { kind: 'declined', reason: 'card_closed', rule: `status:${status}` },
        status,
      );
    }
  });

  it('approves a reversal reaching exactly amount_abs_max_minor and declines one that would pass it', () => {
    // Top-ups after the purchase can fill the card to the stored maximum; approving the reversal
    // then would hand apply() an event it must refuse.
    const state = card({ balanceMinor: amount_abs_max_minor - 500 });
    assert.equal(apply(state, approvedEvent(decide(state, { type: 'reverse', amountMinor: 500 }))).balanceMinor, amount_abs_max_minor);
    assert.deepEqual(decide(state, { type: 'reverse', amountMinor: 501 }), {
      kind: 'declined',
      reason: 'max_balance_exceeded',
      rule: 'balance_max',
    });
  });
});

describe('card rules: apply', () => {
  it('asserts when a non-issue event is applied to a card that does not exist', () => {
    const events: CardEvent[] = [
      { type: 'debited', amountMinor: 1 },
      { type: 'credited', amountMinor: 1 },
      { type: 'status_changed', status: 'frozen' },
    ];
    for (const event of events) assert.throws(() => apply(undefined, event), /assertion: .* does not exist/, event.type);
  });

  it('asserts when a credit would take the balance past amount_abs_max_minor', () => {
    assert.throws(() => apply(card({ balanceMinor: amount_abs_max_minor }), { type: 'credited', amountMinor: 1 }), RangeError);
  });

  it('replaces the state on issued and returns new objects without touching the old one', () => {
    const before = card({ balanceMinor: 50 });
    const after = apply(before, { type: 'debited', amountMinor: 20 });
    assert.equal(after.balanceMinor, 30);
    assert.equal(before.balanceMinor, 50);
    const replacement = card({ cardId: 'card-2' });
    assert.equal(apply(before, { type: 'issued', state: replacement }), replacement);
  });

  it('reports the signed balance effect of each event', () => {
    assert.equal(balanceDeltaMinor({ type: 'issued', state: card({ balanceMinor: 40 }) }), 40);
    assert.equal(balanceDeltaMinor({ type: 'debited', amountMinor: 7 }), -7);
    assert.equal(balanceDeltaMinor({ type: 'credited', amountMinor: 7 }), 7);
    assert.equal(balanceDeltaMinor({ type: 'status_changed', status: 'closed' }), 0);
  });
});

// ---------------------------------------------------------------------------------------------
// Property-based: random operation sequences against a running total.

type Operation =
  | { readonly type: 'purchase'; readonly amountMinor: number; readonly currency: string }
  | { readonly type: 'top_up'; readonly amountMinor: number; readonly currency: string }
  /** Reverses the pick-th (modulo) approved purchase that has not been reversed yet, if any. */
  | { readonly type: 'reverse'; readonly pick: number }
  | { readonly type: 'set_status'; readonly status: CardStatus };

interface Scenario {
  readonly initialBalanceMinor: number;
  readonly operations: readonly Operation[];
}

// Small amounts make approvals and declines both common; full-range amounts and balances near
// the maximum reach the balance_max boundary of top-ups and reversals.
const amount_arbitrary = fc.oneof(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 1, max: request_amount_max_minor }));
const initial_balance_arbitrary = fc.oneof(
  fc.integer({ min: 0, max: 10_000 }),
  fc.integer({ min: 0, max: amount_abs_max_minor }),
  fc.integer({ min: amount_abs_max_minor - 3 * request_amount_max_minor, max: amount_abs_max_minor }),
);
const currency_arbitrary = fc.constantFrom('EUR', 'EUR', 'EUR', 'USD');
const status_arbitrary = fc.oneof(
  { arbitrary: fc.constant<CardStatus>('active'), weight: 3 },
  { arbitrary: fc.constantFrom(...all_statuses), weight: 2 },
);
const operation_arbitrary: fc.Arbitrary<Operation> = fc.oneof(
  {
    arbitrary: fc.record({ type: fc.constant('purchase' as const), amountMinor: amount_arbitrary, currency: currency_arbitrary }),
    weight: 4,
  },
  {
    arbitrary: fc.record({ type: fc.constant('top_up' as const), amountMinor: amount_arbitrary, currency: currency_arbitrary }),
    weight: 3,
  },
  { arbitrary: fc.record({ type: fc.constant('reverse' as const), pick: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ type: fc.constant('set_status' as const), status: status_arbitrary }), weight: 1 },
);
const scenario_arbitrary: fc.Arbitrary<Scenario> = fc.record({
  initialBalanceMinor: initial_balance_arbitrary,
  operations: fc.array(operation_arbitrary, { maxLength: 80 }),
});

/** Decides twice, once on deep copies, and requires the same answer: decide is a pure function. */
function decideChecked(state: CardState | undefined, command: CardCommand): CardDecision {
  const decision = decide(deepFreeze(state), deepFreeze(command));
  const again = decide(structuredClone(state), structuredClone(command));
  assert.deepEqual(again, decision, `decide is not deterministic for ${JSON.stringify(command)} on ${JSON.stringify(state)}`);
  return decision;
}

function commandOf(
  operation: Exclude<Operation, { type: 'set_status' }>,
  openPurchases: number[],
): { command: CardCommand; reversedIndex?: number } | undefined {
  if (operation.type !== 'reverse') return { command: operation };
  if (openPurchases.length === 0) return undefined;
  const reversedIndex = operation.pick % openPurchases.length;
  return { command: { type: 'reverse', amountMinor: openPurchases[reversedIndex] as number }, reversedIndex };
}

/** Checks what an approval implies about the state it was decided on. */
function checkApproval(state: CardState, command: CardCommand): void {
  if (command.type === 'purchase') {
    assert.equal(state.status, 'active', 'purchase approved on a non-active card');
    assert.equal(command.currency, state.currency, 'purchase approved in another currency');
    assert.ok(command.amountMinor <= availableMinor(state), 'purchase approved beyond the available balance');
  }
  if (command.type === 'top_up') {
    assert.equal(state.status, 'active', 'top-up approved on a non-active card');
    assert.equal(command.currency, state.currency, 'top-up approved in another currency');
  }
}

function runScenario(scenario: Scenario): void {
  const issue = issueCommand({ initialBalanceMinor: scenario.initialBalanceMinor });
  let state = apply(undefined, approvedEvent(decideChecked(undefined, issue)));
  let expectedBalanceMinor = scenario.initialBalanceMinor;
  const openPurchases: number[] = [];
  for (const operation of scenario.operations) {
    // The lifecycle's table (actors/card/lifecycle.ts) decides status changes; here a status is
    // simply applied, to run the money rules on every status.
    if (operation.type === 'set_status') {
      state = apply(state, { type: 'status_changed', status: operation.status });
      continue;
    }
    const step = commandOf(operation, openPurchases);
    if (step === undefined) continue;
    const { command } = step;
    const decision = decideChecked(state, command);
    if (decision.kind === 'declined' || decision.kind === 'unchanged') {
      // A declined or unchanged decision carries no event: there is nothing to apply, so the
      // state the next command sees is exactly this one.
      assert.ok(!('event' in decision), `${decision.kind} decision carries an event`);
      if (decision.kind === 'declined' && decision.reason === 'insufficient_funds') {
        assert.ok(command.type === 'purchase' && command.amountMinor > availableMinor(state));
      }
      if (decision.kind === 'declined' && decision.reason === 'max_balance_exceeded') {
        assert.ok(
          (command.type === 'top_up' || command.type === 'reverse') && state.balanceMinor + command.amountMinor > amount_abs_max_minor,
        );
      }
      continue;
    }
    assert.equal(decision.kind, 'approved', `unexpected ${JSON.stringify(decision)} for ${JSON.stringify(command)}`);
    checkApproval(state, command);
    state = apply(state, approvedEvent(decision));
    if (command.type === 'purchase') {
      expectedBalanceMinor -= command.amountMinor;
      openPurchases.push(command.amountMinor);
    } else if (command.type === 'top_up' || command.type === 'reverse') {
      expectedBalanceMinor += command.amountMinor;
      if (step.reversedIndex !== undefined) openPurchases.splice(step.reversedIndex, 1);
    }
    assert.ok(Number.isSafeInteger(state.balanceMinor), `balance ${state.balanceMinor} is not a safe integer`);
    assert.ok(state.balanceMinor >= 0, `balance ${state.balanceMinor} went negative`);
    assert.ok(isBoundedAmount(state.balanceMinor), `balance ${state.balanceMinor} is out of bounds`);
    assert.equal(state.balanceMinor, expectedBalanceMinor, 'balance differs from initial + top-ups - purchases + reversals');
  }
}

describe('card rules: properties (fast-check)', () => {
  before(() => announceSeed('card rules'));

  it('keeps the balance a bounded non-negative safe integer equal to the running total; declines change nothing; decide is deterministic', () => {
    assertProperty(
      fc.property(scenario_arbitrary, (scenario) => runScenario(scenario)),
      400,
    );
  });

  it('on any state and command: decide mutates nothing and repeats itself, and an approval applies to a bounded state', () => {
    const state_arbitrary = fc
      .record({
        status: fc.constantFrom(...all_statuses),
        balanceMinor: initial_balance_arbitrary,
        currency: fc.constantFrom('EUR', 'USD'),
      })
      .chain((fields) =>
        fc.record({
          fields: fc.constant(fields),
          heldMinor: fc.integer({ min: 0, max: fields.balanceMinor }),
        }),
      );
    const command_arbitrary: fc.Arbitrary<CardCommand> = fc.oneof(
      fc.record({ type: fc.constant('purchase' as const), amountMinor: amount_arbitrary, currency: currency_arbitrary }),
      fc.record({ type: fc.constant('top_up' as const), amountMinor: amount_arbitrary, currency: currency_arbitrary }),
      fc.record({ type: fc.constant('reverse' as const), amountMinor: amount_arbitrary }),
      initial_balance_arbitrary.map((initialBalanceMinor) => issueCommand({ initialBalanceMinor })),
    );
    assertProperty(
      fc.property(state_arbitrary, command_arbitrary, ({ fields, heldMinor }, command) => {
        const state = card({ ...fields, heldMinor });
        const snapshot = structuredClone(state);
        const decision = decideChecked(state, command);
        assert.deepEqual(state, snapshot, 'decide changed its input state');
        if (decision.kind !== 'approved') return;
        const after = apply(state, decision.event);
        assert.ok(
          isBoundedAmount(after.balanceMinor) && after.balanceMinor >= 0,
          `approved ${command.type} left balance ${after.balanceMinor}`,
        );
      }),
      500,
    );
  });
});
