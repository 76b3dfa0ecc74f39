// Proves the fleet card's pump and return rules (actors/fleet/pump.ts) and its PIN and points on the
// purchase path (actors/fleet/rules.ts): a pre-authorization passes the purchase's gate and holds
// its amount of the account's credit (every other card sees less credit), expires after the
// account's hold_expiry_ms, and is refused past fleet_holds_max open holds; its completion charges
// what was delivered at negotiated prices, at most the hold plus the tolerance, never twice, only
// on the card that placed it, falls back to the pump price (flagged) without a base price, and a
// void releases it; a refund gives back the same share of the invoiced amount, rounded once on the
// running total, so refunds of the whole pump amount give back exactly the invoiced amount (a
// seeded property), and a reversal after refunds gives back only the rest; the PIN follows the
// card PIN rule (required, wrong counted, locked, right clears), points redeemed pay part of the
// invoice and come back with a reversal.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decideFleetPurchase,
  decideFleetAdmin,
  decideFleetCard,
  availableCreditMinor,
  reverseFleetPurchase,
} from '../../actors/fleet/rules';
import type { FleetAccountState, FleetCardState, FleetPurchase } from '../../actors/fleet/rules';
import {
  decideFleetCompletion,
  decideFleetPreAuthorization,
  decideFleetRefund,
  decideFleetVoid,
  fleet_holds_max,
  invoicedBackMinor,
  reversibleOf,
  withoutExpiredHolds,
} from '../../actors/fleet/pump';
import { empty_refund_ledger } from '../../actors/card/refunds';
import { announceSeed, assertProperty } from './fast-check-seed';

const now = Date.parse('2026-05-04T07:00:00Z');

function account(overrides: Partial<FleetAccountState> = {}): FleetAccountState {
  const created = decideFleetAdmin('acme', undefined, {
    type: 'create',
    currency: 'EUR',
    creditLimitMinor: 100_000,
    timeZone: 'Europe/Berlin',
    nowMs: 0,
  });
  assert.equal(created.kind, 'changed');
  return {
    ...(created as { state: FleetAccountState }).state,
    pricing: { '*': { formula: 'pump_minus_percent', percent_bp: 300 } },
    ...overrides,
  };
}

function card(acc: FleetAccountState, no = 1, overrides: Partial<FleetCardState> = {}): FleetCardState {
  const issued = decideFleetCard(acc, `acme~${no}`, undefined, { type: 'issue', allowedGroups: undefined, limits: {}, nowMs: 0 });
  return { ...(issued as { state: FleetCardState }).state, ...overrides };
}

function pump(amountMinor: number, overrides: Partial<FleetPurchase> = {}): FleetPurchase {
  return {
    atMs: now,
    amountMinor,
    currency: 'EUR',
    merchantId: 'station-1',
    terminalId: 'pump-1',
    lines: [],
    prompts: { odometer_km: 0, driver_id: 'd-1', vehicle_id: 'truck-1' },
    ...overrides,
  };
}

const delivered = (amountMinor: number, atMs = now + 60_000): FleetPurchase =>
  pump(amountMinor, { atMs, lines: [{ code: 'diesel', group: 'diesel', qty_milli: 40_000, unit_minor: 0, amount_minor: amountMinor }] });

describe('fleet pump: pre-authorization, completion, void', function () {
  before(() => announceSeed('fleet pump'));

  it('a pre-authorization holds its amount of the account credit, for every card, until it expires', function () {
    const acc = account();
    const held = decideFleetPreAuthorization(acc, card(acc), undefined, pump(30_000), 't:pump-1:1');
    assert.equal(held.kind, 'approved');
    if (held.kind !== 'approved') return;
    assert.equal(availableCreditMinor(held.account, now), 70_000);
    assert.deepEqual(held.hold, {
      amountMinor: 30_000,
      expiresAtMs: now + 3_600_000,
      card: 'acme~1',
      atMs: now,
      prompts: { odometer_km: 0, driver_id: 'd-1', vehicle_id: 'truck-1' },
    });
    const other = decideFleetPurchase(
      held.account,
      card(acc, 2),
      undefined,
      pump(73_000, { lines: [{ code: 'x', group: 'y', qty_milli: 1, unit_minor: 0, amount_minor: 73_000 }] }),
    );
    assert.equal(other.kind, 'declined', 'another card sees the credit the hold binds (70,810 invoiced > 70,000)');
    assert.equal(availableCreditMinor(held.account, now + 3_600_000), 100_000, 'an expired hold binds nothing');
    assert.deepEqual(withoutExpiredHolds(held.account, now + 3_600_000).holds, {});
    assert.equal(withoutExpiredHolds(held.account, now + 3_600_000).heldMinor, 0);
    const tooMuch = decideFleetPreAuthorization(held.account, card(acc, 2), undefined, pump(70_001), 't:pump-2:1');
    assert.equal(tooMuch.kind, 'declined');
    if (tooMuch.kind === 'declined') assert.equal(tooMuch.reason, 'credit_limit_exceeded');
  });

  it('a pre-authorization passes the purchase gate: limits for its amount, status, overdue', function () {
    const acc = account({ limits: { per_txn_minor: 5_000 } });
    const declined = decideFleetPreAuthorization(acc, card(acc), undefined, pump(5_001), 't:pump-1:1');
    assert.equal(declined.kind, 'declined');
    if (declined.kind === 'declined') assert.equal(declined.rule, 'limit:fleet:per_txn');
    const blocked = decideFleetPreAuthorization(acc, card(acc, 1, { status: 'blocked' }), undefined, pump(100), 't:pump-1:2');
    assert.equal(blocked.kind === 'declined' ? blocked.reason : '', 'card_blocked');
  });

  it('refuses a pre-authorization past fleet_holds_max open holds; expired ones make room', function () {
    const base = account({ creditLimitMinor: 100_000_000 });
    const holds = Object.fromEntries(
      Array.from({ length: fleet_holds_max }, (_, i) => [
        `t:p:${i}`,
        { amountMinor: 1, expiresAtMs: now + 1, card: 'acme~1', atMs: now, prompts: { odometer_km: 0, driver_id: '', vehicle_id: '' } },
      ]),
    );
    const full = { ...base, holds, heldMinor: fleet_holds_max };
    assert.equal(decideFleetPreAuthorization(full, card(base), undefined, pump(1), 't:x:1').kind, 'full');
    assert.equal(decideFleetPreAuthorization(full, card(base), undefined, pump(1, { atMs: now + 1 }), 't:x:1').kind, 'approved');
  });

  it('a completion charges what was delivered, releases the hold, and cannot happen twice', function () {
    const acc = account();
    const held = decideFleetPreAuthorization(acc, card(acc), undefined, pump(30_000), 't:pump-1:1');
    if (held.kind !== 'approved') throw new Error('held');
    const done = decideFleetCompletion(held.account, held.card, delivered(21_000), 't:pump-1:1');
    assert.equal(done.kind, 'approved');
    if (done.kind !== 'approved') return;
    assert.equal(done.invoicedMinor, 20_370, 'pump less 3 %');
    assert.equal(done.account.balanceMinor, -20_370);
    assert.equal(done.account.heldMinor, 0);
    assert.equal(availableCreditMinor(done.account, now + 60_000), 100_000 - 20_370);
    assert.equal(done.card.spent.lifetime_minor, 21_000, 'limits take the pump amount');
    const again = decideFleetCompletion(done.account, done.card, delivered(21_000), 't:pump-1:1');
    assert.equal(again.kind === 'declined' ? again.reason : '', 'hold_not_found');
  });

  it('a completion above its hold needs the tolerance and the credit; another card, an expired hold are refused', function () {
    const acc = account({
      cardPolicy: { pin_required: false, pin_attempts_max: 3, hold_expiry_ms: 600_000, completion_tolerance_bp: 1_000 },
    });
    const held = decideFleetPreAuthorization(acc, card(acc), undefined, pump(10_000), 't:pump-1:1');
    if (held.kind !== 'approved') throw new Error('held');
    const over = decideFleetCompletion(held.account, held.card, delivered(11_001), 't:pump-1:1');
    assert.equal(over.kind === 'declined' ? over.reason : '', 'completion_exceeds_hold');
    assert.equal(decideFleetCompletion(held.account, held.card, delivered(11_000), 't:pump-1:1').kind, 'approved', '10 % over');
    const wrongCard = decideFleetCompletion(held.account, card(acc, 2), delivered(5_000), 't:pump-1:1');
    assert.equal(wrongCard.kind === 'declined' ? wrongCard.reason : '', 'hold_not_found');
    const late = decideFleetCompletion(held.account, held.card, delivered(5_000, now + 600_000), 't:pump-1:1');
    assert.equal(late.kind === 'declined' ? late.reason : '', 'hold_not_found');
    const tight = { ...held.account, creditLimitMinor: 10_000 };
    const noCredit = decideFleetCompletion(tight, held.card, delivered(11_000), 't:pump-1:1');
    assert.equal(noCredit.kind === 'declined' ? noCredit.rule : '', 'credit:completion', '10,670 invoiced > 10,000 of credit');
  });

  it('a completion without a base price in effect is charged the pump price and flagged', function () {
    const acc = account({ pricing: { '*': { formula: 'spot_plus_amount', amount_milli_minor: 5_000 } } });
    const held = decideFleetPreAuthorization(acc, card(acc), undefined, pump(10_000), 't:pump-1:1');
    if (held.kind !== 'approved') throw new Error('held');
    const done = decideFleetCompletion(held.account, held.card, delivered(9_000), 't:pump-1:1');
    assert.equal(done.kind, 'approved');
    if (done.kind !== 'approved') return;
    assert.equal(done.invoicedMinor, 9_000);
    assert.deepEqual(done.flags, ['price:pump_fallback']);
  });

  it('a void releases the hold unused, once', function () {
    const acc = account();
    const held = decideFleetPreAuthorization(acc, card(acc), undefined, pump(30_000), 't:pump-1:1');
    if (held.kind !== 'approved') throw new Error('held');
    const voided = decideFleetVoid(held.account, 'acme~1', 't:pump-1:1', now + 1);
    assert.equal(voided.kind, 'approved');
    if (voided.kind !== 'approved') return;
    assert.equal(availableCreditMinor(voided.account, now + 1), 100_000);
    assert.equal(decideFleetVoid(voided.account, 'acme~1', 't:pump-1:1', now + 2).kind, 'declined');
  });
});

describe('fleet returns: refunds and reversal after refunds', function () {
  it('a refund gives back its share of the invoiced amount, never more in total than the pump amount, never after a reversal', function () {
    const acc = { ...account(), balanceMinor: -9_700 };
    const original = { pumpMinor: 10_000, invoicedMinor: 9_700, atMs: now };
    const first = decideFleetRefund(acc, card(acc), original, empty_refund_ledger, 3_333, 'EUR');
    assert.equal(first.kind, 'approved');
    if (first.kind !== 'approved') return;
    assert.equal(first.invoicedMinor, 3_233, '9,700 x 3,333 / 10,000 = 3,233.01');
    assert.deepEqual(first.ledger, { refundedMinor: 3_333, reversed: false });
    assert.equal(first.account.balanceMinor, -9_700 + 3_233);
    const over = decideFleetRefund(first.account, first.card, original, first.ledger, 6_668, 'EUR');
    assert.equal(over.kind === 'declined' ? over.reason : '', 'refund_exceeds_original');
    assert.equal(decideFleetRefund(acc, card(acc), original, { refundedMinor: 0, reversed: true }, 1, 'EUR').kind, 'declined');
    assert.equal(decideFleetRefund(acc, card(acc), original, empty_refund_ledger, 1, 'USD').kind, 'declined');
    assert.deepEqual(reversibleOf(original, first.ledger), { pumpMinor: 6_667, invoicedMinor: 9_700 - 3_233, atMs: now });
  });

  it('property: refunds of the whole pump amount, in any split, give back exactly the invoiced amount', function () {
    assertProperty(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.array(fc.integer({ min: 1, max: 1_000 }), { minLength: 1, maxLength: 12 }),
        (pumpMinor, per_ten_thousand, weights) => {
          const invoicedMinor = Math.floor((pumpMinor * per_ten_thousand) / 10_000);
          const total = weights.reduce((a, b) => a + b, 0);
          // Split the pump amount by the weights; the last part takes the rounding rest.
          const parts = weights.map((w) => Math.floor((pumpMinor * w) / total));
          parts[parts.length - 1]! += pumpMinor - parts.reduce((a, b) => a + b, 0);
          let refunded = 0;
          let back = 0;
          for (const part of parts) {
            back +=
              invoicedBackMinor({ pumpMinor, invoicedMinor, atMs: 0 }, refunded + part) -
              invoicedBackMinor({ pumpMinor, invoicedMinor, atMs: 0 }, refunded);
            refunded += part;
          }
          assert.equal(back, invoicedMinor);
        },
      ),
      500,
    );
  });
});

describe('fleet cards: PIN and points', function () {
  const pinned = (acc: FleetAccountState): FleetCardState => card(acc, 1, { pinHash: 'a'.repeat(64), pinFailures: 0 });
  const withPolicy = account({
    cardPolicy: { pin_required: true, pin_attempts_max: 2, hold_expiry_ms: 3_600_000, completion_tolerance_bp: 0 },
  });

  it('follows the card PIN rule: required, a wrong one counted and then locked, a right one clears the count', function () {
    const noPin = decideFleetPurchase(withPolicy, card(withPolicy), undefined, pump(100));
    assert.equal(noPin.kind === 'declined' ? noPin.rule : '', 'pin_not_set');
    const missing = decideFleetPurchase(withPolicy, pinned(withPolicy), undefined, pump(100));
    assert.equal(missing.kind === 'declined' ? missing.reason : '', 'pin_required');
    const wrong = decideFleetPurchase(withPolicy, pinned(withPolicy), undefined, pump(100, { pinHash: 'b'.repeat(64) }));
    assert.equal(wrong.kind, 'declined');
    if (wrong.kind !== 'declined') return;
    assert.equal(wrong.reason, 'pin_invalid');
    assert.equal(wrong.card.pinFailures, 1, 'the wrong PIN is counted on the card');
    const right = decideFleetPurchase(withPolicy, wrong.card, undefined, pump(100, { pinHash: 'a'.repeat(64) }));
    assert.equal(right.kind, 'approved');
    if (right.kind === 'approved') assert.equal(right.card.pinFailures, 0, 'a right PIN clears the count');
    const twice = decideFleetPurchase(withPolicy, { ...wrong.card, pinFailures: 2 }, undefined, pump(100, { pinHash: 'a'.repeat(64) }));
    assert.equal(twice.kind === 'declined' ? twice.reason : '', 'pin_locked', 'locked even with the right PIN');
    const preAuthorization = decideFleetPreAuthorization(
      withPolicy,
      pinned(withPolicy),
      undefined,
      pump(100, { pinHash: 'b'.repeat(64) }),
      't:p:1',
    );
    assert.equal(preAuthorization.kind === 'declined' ? preAuthorization.reason : '', 'pin_invalid', 'the pump checks the PIN too');
  });

  it('points redeemed pay part of the invoice, never more than due, and come back with a reversal', function () {
    const acc = account({ points: 500, program: { loyalty: { minor_per_unit: 100, points_per_unit: 1, point_value_minor: 10 } } });
    const bought = decideFleetPurchase(acc, card(acc), undefined, pump(1_000, { redeemPoints: 30 }));
    assert.equal(bought.kind, 'approved');
    if (bought.kind !== 'approved') return;
    assert.equal(bought.invoicedMinor, 1_000 - 300, 'no lines: charged the amount, less 30 points of 10');
    assert.equal(bought.pointsRedeemed, 30);
    assert.equal(bought.account.points, 500 - 30 + bought.pointsEarned);
    const capped = decideFleetPurchase(acc, card(acc), undefined, pump(95, { redeemPoints: 400 }));
    assert.equal(capped.kind === 'approved' ? capped.pointsRedeemed : -1, 9, 'never more than is due');
    const short = decideFleetPurchase(acc, card(acc), undefined, pump(1_000, { redeemPoints: 501 }));
    assert.equal(short.kind === 'declined' ? short.reason : '', 'points_insufficient');
    const back = reverseFleetPurchase(bought.account, bought.card, {
      pumpMinor: 1_000,
      invoicedMinor: bought.invoicedMinor,
      pointsEarned: bought.pointsEarned,
      pointsRedeemed: bought.pointsRedeemed,
      atMs: now,
    });
    assert.equal(back.account.points, 500);
    assert.equal(back.account.balanceMinor, 0);
  });

  it('pump plus: the pump price with a markup per unit or a percentage', function () {
    const plusAmount = account({ pricing: { '*': { formula: 'pump_plus_amount', amount_milli_minor: 2_500 } } });
    const line = { code: 'diesel', group: 'diesel', qty_milli: 40_215, unit_minor: 180, amount_minor: 7_239 };
    const a = decideFleetPurchase(plusAmount, card(plusAmount), undefined, pump(7_239, { lines: [line] }));
    assert.equal(a.kind === 'approved' ? a.invoicedMinor : -1, 7_239 + 101, '40.215 l x 2.5 ct = 100.5375 -> 101');
    const plusPercent = account({ pricing: { '*': { formula: 'pump_plus_percent', percent_bp: 150 } } });
    const p = decideFleetPurchase(plusPercent, card(plusPercent), undefined, pump(7_239, { lines: [line] }));
    assert.equal(p.kind === 'approved' ? p.invoicedMinor : -1, 7_348, '7,239 x 1.015 = 7,347.585 -> 7,348');
  });
});
