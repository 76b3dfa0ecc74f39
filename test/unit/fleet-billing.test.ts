// Proves the fleet account's postpaid cycle (actors/fleet/billing.ts and the decisions in
// actors/fleet/decide.ts): closing a cycle turns what accrued into an invoice due after the
// payment terms and leaves the debt alone; a payment settles invoices oldest first, is declined
// above what they owe, and restores exactly its amount of credit; a cycle whose reversals outweigh
// its spend closes as a credit note whose credit settles older invoices; an invoice unpaid
// block_after_overdue_days past its due date declines the account's cards (ACCOUNT_OVERDUE) from
// that instant on, and its payment lifts the restriction. A seeded property runs random fill-ups
// (some reversed later), pump pre-authorizations (completed in part, voided or left to expire),
// payments (some too large), cycle closes and the passing of time through the same pure decisions
// the fleet actor commits, against a model that only keeps totals, the open holds and a FIFO of
// invoices: after every step the available credit equals the credit limit less the unpaid
// invoiced amounts less the uninvoiced spend less the live holds, the account's own split of its debt equals
// the model's, the open invoices never mix debt and credit, and a purchase is declined for the
// overdue rule exactly when the model has an invoice that far past due.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  applyPayment,
  closeCycle,
  invoiceNumber,
  netOpenItems,
  outstandingMinor,
  overdueInvoice,
  uninvoicedMinor,
  type FleetBilling,
} from '../../actors/fleet/billing';
import {
  decideCycleClose,
  decideFleetHold,
  decideFleetMoney,
  decideFleetPayment,
  decideFleetReversal,
  type FleetEnv,
} from '../../actors/fleet/decide';
import {
  availableCreditMinor,
  decideFleetAdmin,
  decideFleetCard,
  type FleetAccountState,
  type FleetCardState,
} from '../../actors/fleet/rules';
import { fleetFingerprint, type FleetMoneyRequest, type FleetTxnResult } from '../../actors/fleet/transaction';
import type { IdempotencyRecord } from '../../actors/card/transaction';
import { fleetPaymentKey } from '../../actors/request-keys';
import { announceSeed, assertProperty } from './fast-check-seed';

const day_ms = 86_400_000;
const start = Date.parse('2026-03-02T08:00:00Z');
const limit = 500_000;

function newAccount(terms?: { payment_terms_days: number; block_after_overdue_days?: number }): FleetAccountState {
  const created = decideFleetAdmin('acme', undefined, {
    type: 'create',
    currency: 'EUR',
    creditLimitMinor: limit,
    timeZone: 'Europe/Berlin',
    nowMs: start,
  });
  assert.equal(created.kind, 'changed');
  let account = (created as { state: FleetAccountState }).state;
  // Invoiced below pump prices, so invoiced and pump amounts differ throughout.
  account = { ...account, pricing: { '*': { formula: 'pump_minus_percent', percent_bp: 150 } } };
  if (terms !== undefined) account = { ...account, billing: { ...account.billing, terms } };
  return account;
}

function newCard(account: FleetAccountState, no: number): FleetCardState {
  const issued = decideFleetCard(account, `acme~${no}`, undefined, { type: 'issue', allowedGroups: undefined, limits: {}, nowMs: start });
  assert.equal(issued.kind, 'changed');
  return (issued as { state: FleetCardState }).state;
}

let ids = 0;
const env = (nowMs: number): FleetEnv => ({ nowMs, nextId: () => `n-${++ids}` });

function fillUp(cardId: string, txn: number, amountMinor: number): FleetMoneyRequest {
  const request: Omit<FleetMoneyRequest, 'fingerprint'> = {
    kind: 'purchase',
    key: `t:pump-1:${txn}`,
    cardId,
    terminalId: 'pump-1',
    amountMinor,
    currency: 'EUR',
    source: '',
    operatorId: '',
    originalKey: '',
    fleet: {
      fleetId: 'acme',
      lines: [{ code: 'diesel', group: 'fuel', qty_milli: 40_000, unit_minor: 0, amount_minor: amountMinor }],
      prompts: { odometer_km: 0, driver_id: '', vehicle_id: '' },
    },
  };
  return { ...request, fingerprint: fleetFingerprint(request) };
}

function reversal(cardId: string, txn: number, originalKey: string): FleetMoneyRequest {
  const request: Omit<FleetMoneyRequest, 'fingerprint'> = {
    ...fillUp(cardId, txn, 0),
    kind: 'reverse',
    amountMinor: 0,
    currency: '',
    originalKey,
    fleet: { fleetId: 'acme', lines: [], prompts: { odometer_km: 0, driver_id: '', vehicle_id: '' } },
  };
  return { ...request, fingerprint: fleetFingerprint(request) };
}

function payment(reference: string, amountMinor: number, currency = 'EUR'): FleetMoneyRequest {
  const request: Omit<FleetMoneyRequest, 'fingerprint'> = {
    kind: 'fleet_payment',
    key: fleetPaymentKey('acme', reference),
    cardId: '',
    terminalId: '',
    amountMinor,
    currency,
    source: '',
    operatorId: 'ops',
    originalKey: '',
    fleet: { fleetId: 'acme', lines: [], prompts: { odometer_km: 0, driver_id: '', vehicle_id: '' } },
  };
  return { ...request, fingerprint: fleetFingerprint(request) };
}

/** The fleet actor's steps, as pure functions over the account and one card. */
class Ledger {
  account: FleetAccountState;
  card: FleetCardState;
  readonly records = new Map<string, IdempotencyRecord>();
  readonly reversed = new Set<string>();
  txn = 0;

  constructor(account: FleetAccountState) {
    this.account = account;
    this.card = newCard(account, 1);
  }

  buy(amountMinor: number, nowMs: number): FleetTxnResult {
    const request = fillUp(this.card.cardId, ++this.txn, amountMinor);
    const plan = decideFleetMoney(
      'acme',
      { account: this.account, card: this.card, vehicle: undefined, review: undefined },
      request,
      'station-1',
      env(nowMs),
    );
    if (plan.account !== undefined) this.account = plan.account;
    if (plan.card !== undefined) this.card = plan.card;
    this.records.set(request.key, plan.record);
    return plan.record.r as FleetTxnResult;
  }

  reverse(originalKey: string, nowMs: number): FleetTxnResult {
    const original = this.records.get(originalKey);
    const plan = decideFleetReversal(
      'acme',
      { account: this.account, card: this.card },
      reversal(this.card.cardId, ++this.txn, originalKey),
      'station-1',
      { original, alreadyReversed: this.reversed.has(originalKey) },
      env(nowMs),
    );
    assert.equal(plan.kind, 'money');
    if (plan.kind !== 'money') throw new Error('unreachable');
    if (plan.account !== undefined) this.account = plan.account;
    if (plan.card !== undefined) this.card = plan.card;
    this.reversed.add(originalKey);
    return plan.record.r as FleetTxnResult;
  }

  /** A pump pre-authorization (kind pre_authorization), or a completion or void of one (`originalKey`). */
  hold(kind: 'pre_authorization' | 'completion' | 'void', amountMinor: number, nowMs: number, originalKey = ''): FleetTxnResult {
    const base = fillUp(this.card.cardId, ++this.txn, amountMinor);
    const lines = kind === 'completion' ? base.fleet.lines : [];
    const request: Omit<FleetMoneyRequest, 'fingerprint'> = { ...base, kind, originalKey, fleet: { ...base.fleet, lines } };
    const plan = decideFleetHold(
      'acme',
      { account: this.account, card: this.card, vehicle: undefined, review: undefined },
      { ...request, fingerprint: fleetFingerprint(request) },
      'station-1',
      env(nowMs),
    );
    assert.equal(plan.kind, 'money', kind);
    if (plan.kind !== 'money') throw new Error('unreachable');
    if (plan.account !== undefined) this.account = plan.account;
    if (plan.card !== undefined) this.card = plan.card;
    this.records.set(request.key, plan.record);
    return plan.record.r as FleetTxnResult;
  }

  pay(reference: string, amountMinor: number, nowMs: number): FleetTxnResult {
    const plan = decideFleetPayment('acme', this.account, payment(reference, amountMinor), env(nowMs));
    if (plan.account !== undefined) this.account = plan.account;
    return plan.record.r as FleetTxnResult;
  }

  close(nowMs: number): ReturnType<typeof decideCycleClose> {
    const decision = decideCycleClose('acme', this.account, this.account.billing.cycle, 'ops', env(nowMs));
    if (decision.kind === 'changed') this.account = decision.answer.account;
    return decision;
  }
}

describe('fleet billing: the postpaid cycle', function () {
  before(() => announceSeed('fleet billing'));

  it('a close invoices what accrued, due after the terms, and leaves the debt and the credit alone', function () {
    const ledger = new Ledger(newAccount({ payment_terms_days: 14 }));
    const bought = ledger.buy(10_000, start + 1_000);
    assert.equal(bought.outcome, 'approved');
    assert.equal(bought.fleet.invoicedMinor, 9_850, 'pump - 1.5 %');
    assert.equal(bought.fleet.cycle, 1, 'the purchase accrued to the open cycle');
    const before = availableCreditMinor(ledger.account, start + 2_000);
    const closed = ledger.close(start + 2_000);
    assert.equal(closed.kind, 'changed');
    if (closed.kind !== 'changed') return;
    assert.deepEqual(closed.answer.invoice, {
      cycle: 1,
      amountMinor: 9_850,
      outstandingMinor: 9_850,
      issuedAtMs: start + 2_000,
      dueAtMs: start + 2_000 + 14 * day_ms,
    });
    assert.match(
      closed.document,
      /"type":"fleet_invoice","fleet":"acme","number":"acme-1","cycle":1,"currency":"EUR","amount":9850,"applied":0/,
    );
    assert.equal(ledger.account.billing.cycle, 2);
    assert.equal(ledger.account.balanceMinor, -9_850, 'the debt did not move');
    assert.equal(availableCreditMinor(ledger.account, start + 2_000), before);
    assert.equal(uninvoicedMinor(ledger.account.balanceMinor, ledger.account.billing), 0);
    assert.equal(ledger.buy(100, start + 3_000).fleet.cycle, 2, 'later spend accrues to the next cycle');
  });

  it('closing a closed cycle changes nothing; closing one not open yet is refused', function () {
    const ledger = new Ledger(newAccount());
    assert.equal(ledger.close(start).kind, 'changed');
    const again = decideCycleClose('acme', ledger.account, 1, 'ops', env(start + 5));
    assert.equal(again.kind, 'unchanged');
    const ahead = decideCycleClose('acme', ledger.account, 3, 'ops', env(start + 5));
    assert.equal(ahead.kind, 'rejected');
    if (ahead.kind === 'rejected') assert.equal(ahead.error.code, 'failed_precondition');
    assert.equal(decideCycleClose('acme', undefined, 1, 'ops', env(start)).kind, 'rejected');
  });

  it('a payment settles invoices oldest first and restores exactly its credit; more than they owe is declined', function () {
    const ledger = new Ledger(newAccount());
    ledger.buy(10_000, start); // 9_850 invoiced
    ledger.close(start + 1);
    ledger.buy(20_000, start + 2); // 19_700
    ledger.close(start + 3);
    ledger.buy(5_000, start + 4); // 4_925, not invoiced yet
    const before = availableCreditMinor(ledger.account, start + 5);
    const paid = ledger.pay('bank-1', 12_000, start + 5);
    assert.equal(paid.outcome, 'approved');
    assert.equal(paid.balanceAfterMinor, before + 12_000);
    assert.equal(availableCreditMinor(ledger.account, start + 5), before + 12_000);
    assert.deepEqual(
      ledger.account.billing.invoices.map((invoice) => [invoice.cycle, invoice.outstandingMinor]),
      [[2, 19_700 - (12_000 - 9_850)]],
      'invoice 1 paid in full and gone, invoice 2 paid in part',
    );
    const tooMuch = ledger.pay('bank-2', 17_550 + 1, start + 6);
    assert.equal(tooMuch.outcome, 'declined');
    assert.equal(tooMuch.reason, 'settlement_exceeds_debt', 'uninvoiced spend is not payable yet');
    assert.equal(availableCreditMinor(ledger.account, start + 6), before + 12_000, 'a declined payment moves nothing');
    const wrongCurrency = decideFleetPayment('acme', ledger.account, payment('bank-3', 100, 'USD'), env(start + 7));
    assert.equal(wrongCurrency.record.r.reason, 'currency_mismatch');
    assert.equal(wrongCurrency.account, undefined);
    assert.equal(ledger.pay('bank-4', 17_550, start + 8).outcome, 'approved', 'exactly what is owed');
    assert.deepEqual(ledger.account.billing.invoices, []);
    assert.equal(uninvoicedMinor(ledger.account.balanceMinor, ledger.account.billing), 4_925);
  });

  it('a cycle of reversals closes as a credit note whose credit settles the older invoices, the rest carried forward', function () {
    const ledger = new Ledger(newAccount());
    ledger.buy(10_000, start); // t:pump-1:1, 9_850
    ledger.close(start + 1);
    ledger.reverse('t:pump-1:1', start + 2); // -9_850 in cycle 2
    ledger.buy(2_000, start + 3); // 1_970 in cycle 2
    const closed = ledger.close(start + 4);
    assert.equal(closed.kind, 'changed');
    if (closed.kind !== 'changed') return;
    assert.equal(closed.answer.invoice?.amountMinor, 1_970 - 9_850, 'a credit note');
    assert.equal(closed.answer.appliedMinor, 7_880, 'its credit paid invoice 1 in part');
    assert.deepEqual(
      ledger.account.billing.invoices.map((invoice) => [invoice.cycle, invoice.outstandingMinor]),
      [[1, 9_850 - 7_880]],
    );
    // Now a credit larger than what is owed: the rest stays open as credit, absorbed by the next invoice.
    ledger.pay('bank-1', 1_970, start + 5);
    ledger.buy(3_000, start + 6); // t:pump-1:4, 2_955
    ledger.close(start + 7);
    ledger.reverse('t:pump-1:4', start + 8);
    ledger.close(start + 9);
    assert.deepEqual(
      ledger.account.billing.invoices.map((invoice) => [invoice.cycle, invoice.outstandingMinor]),
      [],
      'cycle 4 credit (-2_955) settled cycle 3 (2_955)',
    );
    ledger.buy(1_000, start + 10); // t:pump-1:6, 985
    ledger.close(start + 10);
    ledger.pay('bank-2', 985, start + 10);
    ledger.reverse('t:pump-1:6', start + 11); // -985 in cycle 6, nothing owed any more
    ledger.buy(500, start + 12); // 492.5, rounded half up
    ledger.close(start + 13); // +493 - 985 = -492 credit with nothing owed: stays open
    assert.deepEqual(
      ledger.account.billing.invoices.map((invoice) => invoice.outstandingMinor),
      [493 - 985],
    );
    assert.equal(ledger.pay('bank-3', 1, start + 14).reason, 'settlement_exceeds_debt', 'nothing is owed');
    ledger.buy(1_000, start + 15); // 985
    ledger.close(start + 16);
    assert.deepEqual(
      ledger.account.billing.invoices.map((invoice) => invoice.outstandingMinor),
      [985 - 492],
    );
  });

  it('an invoice unpaid block_after_overdue_days past due declines the cards from that instant on, until it is paid', function () {
    const ledger = new Ledger(newAccount({ payment_terms_days: 10, block_after_overdue_days: 3 }));
    ledger.buy(10_000, start);
    ledger.close(start);
    const due = start + 10 * day_ms;
    assert.equal(ledger.buy(100, due + 3 * day_ms - 1).outcome, 'approved', 'one millisecond before the restriction');
    const blocked = ledger.buy(100, due + 3 * day_ms);
    assert.equal(blocked.outcome, 'declined');
    assert.equal(blocked.reason, 'account_overdue');
    assert.equal(blocked.rule, `billing:overdue:${invoiceNumber('acme', 1)}`);
    ledger.pay('bank-1', 9_000, due + 4 * day_ms);
    assert.equal(ledger.buy(100, due + 4 * day_ms).reason, 'account_overdue', 'a part payment leaves it restricted');
    ledger.pay('bank-2', 850, due + 4 * day_ms);
    assert.equal(ledger.buy(100, due + 4 * day_ms).outcome, 'approved', 'paid in full: free again');
    const never = new Ledger(newAccount({ payment_terms_days: 0 }));
    never.buy(100, start);
    never.close(start);
    assert.equal(never.buy(100, start + 400 * day_ms).outcome, 'approved', 'no block_after_overdue_days: never restricted');
  });

  it('netting and payment rules keep open items single-signed and never zero', function () {
    const { invoices, applied } = netOpenItems([
      { cycle: 1, amountMinor: 100, outstandingMinor: 100, issuedAtMs: 0, dueAtMs: 0 },
      { cycle: 2, amountMinor: 50, outstandingMinor: 50, issuedAtMs: 0, dueAtMs: 0 },
      { cycle: 3, amountMinor: -120, outstandingMinor: -120, issuedAtMs: 0, dueAtMs: 0 },
    ]);
    assert.deepEqual(
      invoices.map((invoice) => [invoice.cycle, invoice.outstandingMinor]),
      [[2, 30]],
    );
    assert.deepEqual(applied, [
      { cycle: 1, amountMinor: 100 },
      { cycle: 2, amountMinor: 20 },
    ]);
    const billing: FleetBilling = { cycle: 4, cycleOpenedAtMs: 0, terms: { payment_terms_days: 30 }, invoices };
    assert.equal(applyPayment(billing, 0).kind, 'refused');
    assert.equal(applyPayment(billing, -5).kind, 'refused');
    assert.equal(applyPayment(billing, 31).kind, 'refused');
    const refused = closeCycle(
      -125,
      { ...billing, invoices: Array.from({ length: 120 }, (_, i) => ({ ...invoices[0]!, cycle: i + 1, outstandingMinor: 1 })) },
      4,
      0,
    );
    assert.equal(refused.kind, 'refused', 'at most 120 open invoices');
  });

  type Step =
    | { readonly kind: 'buy'; readonly amountMinor: number }
    | { readonly kind: 'reverse'; readonly pick: number }
    | { readonly kind: 'pay'; readonly per_mille: number }
    | { readonly kind: 'close' }
    | { readonly kind: 'wait'; readonly ms: number }
    | { readonly kind: 'preauth'; readonly amountMinor: number }
    | { readonly kind: 'complete'; readonly pick: number; readonly per_mille: number }
    | { readonly kind: 'void'; readonly pick: number };

  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 60_000 }).map((amountMinor) => ({ kind: 'buy' as const, amountMinor })) },
    { weight: 1, arbitrary: fc.nat(1_000).map((pick) => ({ kind: 'reverse' as const, pick })) },
    // Up to 1.2 x what the invoices owe: some payments are too large and must be declined.
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 1_200 }).map((per_mille) => ({ kind: 'pay' as const, per_mille })) },
    { weight: 2, arbitrary: fc.constant({ kind: 'close' as const }) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 20 * day_ms }).map((ms) => ({ kind: 'wait' as const, ms })) },
    // Pay at the pump: holds on the credit, completed for part of them, voided, or left to expire.
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 60_000 }).map((amountMinor) => ({ kind: 'preauth' as const, amountMinor })) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('complete' as const), pick: fc.nat(1_000), per_mille: fc.integer({ min: 1, max: 1_000 }) }),
    },
    { weight: 1, arbitrary: fc.nat(1_000).map((pick) => ({ kind: 'void' as const, pick })) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 * 3_600_000 }).map((ms) => ({ kind: 'wait' as const, ms })) },
  );

  it('property: available credit = limit - unpaid invoiced - uninvoiced spend - live holds after every fill-up, pump hold, payment, reversal and close', function () {
    assertProperty(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
        fc.array(step, { minLength: 1, maxLength: 120 }),
        (terms_days, block_days, steps) => {
          const terms =
            block_days === undefined
              ? { payment_terms_days: terms_days }
              : { payment_terms_days: terms_days, block_after_overdue_days: block_days };
          const ledger = new Ledger(newAccount(terms));
          // The model: totals, and the open invoices as a FIFO of [due, remaining] (credit negative).
          let uninvoiced = 0;
          let queue: { due: number; remaining: number }[] = [];
          const approved: { key: string; invoiced: number }[] = [];
          let nowMs = start;
          let reference = 0;
          const unpaid = (): number => queue.reduce((sum, item) => sum + item.remaining, 0);
          // Open pre-authorizations: key -> amount and expiry (a hold lives an hour by default).
          const holds = new Map<string, { amount: number; expires: number }>();
          const held = (): number => {
            for (const [key, hold] of holds) if (hold.expires <= nowMs) holds.delete(key);
            return [...holds.values()].reduce((sum, hold) => sum + hold.amount, 0);
          };
          const modelOverdue = (): boolean =>
            block_days !== undefined && queue.some((item) => item.remaining > 0 && nowMs >= item.due + block_days * day_ms);
          for (const s of steps) {
            nowMs += 1;
            if (s.kind === 'buy') {
              const available = limit - unpaid() - uninvoiced - held();
              const result = ledger.buy(s.amountMinor, nowMs);
              if (modelOverdue()) assert.equal(result.reason, 'account_overdue', 'an overdue invoice restricts the card');
              else if (result.outcome === 'declined') {
                assert.equal(result.reason, 'credit_limit_exceeded');
                assert.ok(result.fleet.invoicedMinor === 0 && available < s.amountMinor, 'declined only for want of credit');
              }
              if (result.outcome === 'approved') {
                uninvoiced += result.fleet.invoicedMinor;
                approved.push({ key: `t:pump-1:${ledger.txn}`, invoiced: result.fleet.invoicedMinor });
              }
            } else if (s.kind === 'reverse' && approved.length > 0) {
              const [original] = approved.splice(s.pick % approved.length, 1);
              const result = ledger.reverse(original!.key, nowMs);
              assert.equal(result.reverse, 'reversed');
              uninvoiced -= original!.invoiced;
            } else if (s.kind === 'pay') {
              const owed = Math.max(0, unpaid());
              const amount = Math.max(1, Math.floor((owed * s.per_mille) / 1_000));
              const result = ledger.pay(`bank-${++reference}`, amount, nowMs);
              if (amount <= owed) {
                assert.equal(result.outcome, 'approved', `a payment of ${amount} of ${owed} owed`);
                let left = amount;
                for (const item of queue) {
                  const part = item.remaining > 0 ? Math.min(left, item.remaining) : 0;
                  item.remaining -= part;
                  left -= part;
                }
                queue = queue.filter((item) => item.remaining !== 0);
              } else assert.equal(result.reason, 'settlement_exceeds_debt', `a payment of ${amount} of ${owed} owed`);
            } else if (s.kind === 'close') {
              const decision = ledger.close(nowMs);
              assert.equal(decision.kind, 'changed');
              queue.push({ due: nowMs + terms_days * day_ms, remaining: uninvoiced });
              uninvoiced = 0;
              // Credit settles debt oldest first on both sides.
              for (const credit of queue) {
                for (const owing of queue) {
                  if (credit.remaining >= 0) break;
                  if (owing.remaining <= 0) continue;
                  const part = Math.min(owing.remaining, -credit.remaining);
                  owing.remaining -= part;
                  credit.remaining += part;
                }
              }
              queue = queue.filter((item) => item.remaining !== 0);
            } else if (s.kind === 'wait') nowMs += s.ms;
            else if (s.kind === 'preauth') {
              const available = limit - unpaid() - uninvoiced - held();
              const result = ledger.hold('pre_authorization', s.amountMinor, nowMs);
              if (modelOverdue()) assert.equal(result.reason, 'account_overdue');
              else assert.equal(result.outcome, available >= s.amountMinor ? 'approved' : 'declined', 'a hold needs the credit');
              if (result.outcome === 'approved') holds.set(`t:pump-1:${ledger.txn}`, { amount: s.amountMinor, expires: nowMs + 3_600_000 });
            } else if ((s.kind === 'complete' || s.kind === 'void') && held() > 0) {
              const keys = [...holds.keys()];
              const key = keys[s.pick % keys.length]!;
              const hold = holds.get(key)!;
              const amount = s.kind === 'complete' ? Math.max(1, Math.floor((hold.amount * s.per_mille) / 1_000)) : 0;
              const result = ledger.hold(s.kind === 'complete' ? 'completion' : 'void', amount, nowMs, key);
              assert.equal(result.outcome, 'approved', `${s.kind} of a live hold (delivered fuel is never declined by the rules)`);
              holds.delete(key);
              if (s.kind === 'complete') {
                uninvoiced += result.fleet.invoicedMinor;
                approved.push({ key: `t:pump-1:${ledger.txn}`, invoiced: result.fleet.invoicedMinor });
              }
            }
            const { account } = ledger;
            assert.equal(
              availableCreditMinor(account, nowMs),
              limit - unpaid() - uninvoiced - held(),
              'available = limit - unpaid - uninvoiced - live holds',
            );
            assert.equal(uninvoicedMinor(account.balanceMinor, account.billing), uninvoiced, 'uninvoiced spend');
            assert.equal(outstandingMinor(account.billing), unpaid(), 'unpaid invoiced');
            assert.deepEqual(
              account.billing.invoices.map((invoice) => invoice.outstandingMinor),
              queue.map((item) => item.remaining),
            );
            const signs = new Set(account.billing.invoices.map((invoice) => Math.sign(invoice.outstandingMinor)));
            assert.ok(!signs.has(0) && signs.size <= 1, 'open invoices all owe or are all credit');
            assert.equal(overdueInvoice(account.billing, nowMs) !== undefined, modelOverdue());
          }
        },
      ),
      300,
    );
  });
});
