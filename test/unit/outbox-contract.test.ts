// Proves the outbox contract (actors/outbox) holds for every document the authorizer can write.
// Golden documents are built through the contract's builders, per transaction kind (each with and
// without its optional parts: basket, spent so far, program figures, hold fields, fleet fields,
// declines, tombstones, system actions), per lifecycle document type and per operator action, from
// the inputs the producers have (card and fleet states, requests, results, events run through the
// real card rules). For each it proves: the bytes equal what the producer wrote before the contract
// (test/support/legacy-documents.ts keeps that code), the contract's schema accepts it, the
// streamer turns it into rows (never a reject), the fast path gives the same rows as the schema
// for every kind, and a stored transaction document reads back unchanged. The fixture tables are
// typed by the contract's lists, and a test walks the lists at run time too: a kind, type or action
// added to the contract without a golden document fails here.
//
// The "now" side of each golden document is also the map for switching a producer to the builders:
// which builder, and which of the producer's values go where.

import assert from 'node:assert/strict';
import { apply, type CardEvent, type CardState } from '../../actors/card/rules';
import { decodeRecord, type MoneyRequest, type ProgramFigures, type TxnResult } from '../../actors/card/transaction';
import { decodeFleetRecord, type FleetMoneyRequest, type FleetTxnResult } from '../../actors/fleet/transaction';
import type { FleetCardState } from '../../actors/fleet/rules';
import { replacementState } from '../../actors/card/closing';
import type { IssuanceRecord } from '../../actors/card/issuance';
import { default_program_config, programAuditDetail, type ProgramConfig } from '../../actors/program/config';
import { empty_terminal_parameters, type TerminalState } from '../../actors/terminal/rules';
import {
  document_types,
  operator_actions,
  transaction_kinds,
  type DocumentType,
  type OperatorAction,
  type TransactionExtras,
  type TransactionKind,
} from '../../actors/outbox/contract';
import {
  autoReloadRemoved,
  autoReloadSet,
  cardAuthSet,
  cardTokenLinked,
  cardIssuanceCancelled,
  cardIssued,
  cardPinChanged,
  cardDenylistChanged,
  cardReplaced,
  cardReviewResolved,
  cardStatusChanged,
  cardsBulkIssued,
  fleetAccountChanged,
  tapPour,
  fleetCardIssued,
  fleetCardLimitsSet,
  fleetCardStatusChanged,
  fleetInvoiceIssued,
  fleetReviewResolved,
  fleetTransactionDocument,
  managerRegistered,
  priceListLoaded,
  programDefined,
  replacementCardIssued,
  tabLimitSet,
  terminalEnabledChanged,
  terminalOffline,
  terminalRegistered,
  transactionDocument,
  auditRecord,
} from '../../actors/outbox/builders';
import { document_schemas, parseTransaction, readTransactionDocument, transaction_schema } from '../../actors/outbox/schemas';
import { rowsOf, transactionRows, type OutboxEntry } from '../../services/streamer/rows';
import { fastTransaction } from '../../services/streamer/transaction-fast-path';
import {
  legacyAdminAudit,
  legacyCardsBulkIssued,
  legacyCashOutFields,
  legacyFleetAccountChanged,
  legacyFleetCardAudit,
  legacyFleetReviewResolved,
  legacyFleetTransaction,
  legacyHoldFields,
  legacyManagerRegistered,
  legacyPinLocked,
  legacyProgramDefined,
  legacyProgramFields,
  legacyRefundFields,
  legacyReplacementDocuments,
  legacyTabFields,
  legacyTerminalDocument,
  legacyTransaction,
} from '../support/legacy-documents';

/** One golden document: built now through the builders, and as its producer built it before. */
interface Golden {
  readonly name: string;
  readonly now: string;
  readonly before: string;
}

const at = 1_769_000_000_000;
const day_ms = 86_400_000;
const context = { merchantId: 'bar-1', programId: 'fest-26' };

const plain_card: CardState = {
  cardId: 'c-plain',
  currency: 'EUR',
  programId: 'fest-26',
  status: 'active',
  balanceMinor: 5_000,
  heldMinor: 0,
  issuedAtMs: at - day_ms,
};

const profiled_card: CardState = {
  ...plain_card,
  cardId: 'c-named',
  profile: { named: true, depositMinor: 200, expiresAtMs: at + 30 * day_ms, pinHash: 'h1', pinFailures: 0, issuance: 'box-7' },
  spentMinor: 700,
};

function request(kind: TransactionKind, changes: Partial<MoneyRequest> = {}): MoneyRequest {
  const base = { kind, key: 't:pos-1:7', cardId: 'c-plain', terminalId: 'pos-1', amountMinor: 250, currency: 'EUR' };
  return { ...base, fingerprint: `${kind}|c-plain|250|EUR|pos-1||`, source: '', operatorId: '', originalKey: '', ...changes };
}

function result(kind: TransactionKind, changes: Partial<TxnResult> = {}): TxnResult {
  return {
    id: '4-1001',
    kind,
    outcome: 'approved',
    cardId: 'c-plain',
    amountMinor: 250,
    currency: 'EUR',
    balanceAfterMinor: 4_750,
    atMs: at,
    ...changes,
  };
}

const declined = { outcome: 'declined', reason: 'insufficient_funds', rule: 'balance', amountMinor: 0, balanceAfterMinor: 100 } as const;

/** A card document through the builder and through the old storedTransaction, from the same inputs. */
function txn(
  name: string,
  money: MoneyRequest,
  answer: TxnResult,
  fingerprint = money.fingerprint,
  extras?: TransactionExtras,
  where = context,
): Golden {
  return {
    name,
    now: transactionDocument(money, where, answer, fingerprint, extras),
    before: legacyTransaction(money, where, answer, fingerprint, extras),
  };
}

/** A document about a hold: the event runs through the real card rules to get the state after it. */
function holdTxn(
  name: string,
  kind: TransactionKind,
  state: CardState,
  event: CardEvent | undefined,
  holdKey: string,
  answer: TxnResult,
  money: MoneyRequest,
): Golden {
  const after = event === undefined ? state : apply(state, event);
  return txn(name, money, answer, money.fingerprint, legacyHoldFields(event, holdKey, after));
}

const hold_key = 't:pos-1:8';
const with_hold: CardState = apply(plain_card, { type: 'hold_placed', key: hold_key, amountMinor: 3_000, expiresAtMs: at + 7 * day_ms });
const with_hold_named: CardState = apply(profiled_card, {
  type: 'hold_placed',
  key: hold_key,
  amountMinor: 3_000,
  expiresAtMs: at + 7 * day_ms,
});
const basket = [
  { code: 'beer', group: 'drinks', qty_milli: 2_000, unit: 450, amount: 900 },
  { code: 'fries', group: 'food', qty_milli: 1_000, unit: 350, amount: 350 },
];
const figures: ProgramFigures = { discountMinor: 50, pointsEarned: 12, pointsRedeemed: 100, flags: ['risk:soft_amount'] };

const fleet_request: FleetMoneyRequest = {
  ...request('purchase', { cardId: 'fl-1~3', key: 't:pump-2:99', terminalId: 'pump-2', amountMinor: 7_240 }),
  fingerprint: 'purchase|fl-1~3|7240|EUR|pump-2|||diesel,diesel,40215,180,7240|120500,drv-9,veh-4',
  fleet: {
    fleetId: 'fl-1',
    lines: [
      { code: 'diesel', group: 'diesel', qty_milli: 40_215, unit_minor: 180, amount_minor: 7_239 },
      { code: 'wash', group: 'car_wash', qty_milli: 1_000, unit_minor: 1, amount_minor: 1 },
    ],
    prompts: { odometer_km: 120_500, driver_id: 'drv-9', vehicle_id: 'veh-4' },
  },
};

function fleetResult(outcome: 'approved' | 'declined', kind: TransactionKind = 'purchase'): FleetTxnResult {
  const approved = outcome === 'approved';
  return {
    ...result(kind, { cardId: 'fl-1~3', amountMinor: approved ? 7_240 : 0, balanceAfterMinor: 492_760 }),
    outcome,
    ...(approved ? {} : { reason: 'product_not_allowed' as never, rule: 'products:line 2:car_wash' }),
    fleet: {
      fleetId: 'fl-1',
      pumpMinor: approved ? 7_240 : 0,
      invoicedMinor: approved ? 7_001 : 0,
      discountMinor: approved ? 40 : 0,
      pointsEarned: approved ? 7 : 0,
      pointsRedeemed: 0,
      flags: approved ? ['risk:soft:velocity:fills'] : [],
      accountBalanceAfterMinor: approved ? -7_001 : 0,
      driverId: 'drv-9',
      vehicleId: 'veh-4',
    },
  };
}

function fleetTxn(name: string, money: FleetMoneyRequest, answer: FleetTxnResult, invoicedLines: readonly number[]): Golden {
  const where = { merchantId: 'station-3', programId: 'fl-1' };
  return {
    name,
    now: fleetTransactionDocument(money, where, answer, invoicedLines),
    before: legacyFleetTransaction(money, where, answer, invoicedLines),
  };
}

/** A fleet reversal: the purchase's driver and vehicle, no odometer (the old code spread them into the request). */
function fleetReversal(name: string, reverse: FleetTxnResult['reverse']): Golden {
  const money: FleetMoneyRequest = { ...fleet_request, kind: 'reverse', key: 't:pump-2:100', originalKey: 't:pump-2:99' };
  const answer: FleetTxnResult = {
    ...fleetResult('approved', 'reverse'),
    reverse,
    fleet: { ...fleetResult('approved').fleet, discountMinor: 0, pointsEarned: 0, flags: [] },
  };
  const prompts = { odometer_km: 0, driver_id: 'drv-9', vehicle_id: 'veh-4' };
  const where = { merchantId: 'station-3', programId: 'fl-1' };
  return {
    name,
    now: fleetTransactionDocument(money, where, answer, [], prompts),
    before: legacyFleetTransaction({ ...money, fleet: { ...money.fleet, prompts } }, where, answer, []),
  };
}

/**
 * A fleet document of a billing cycle: the document every fleet producer wrote before cycles, and
 * the cycle number after its last field (so a reader of the older fields sees the same bytes).
 */
function fleetInCycle(name: string, money: FleetMoneyRequest, answer: FleetTxnResult, invoicedLines: readonly number[]): Golden {
  const where = { merchantId: 'station-3', programId: 'fl-1' };
  const inCycle: FleetTxnResult = { ...answer, fleet: { ...answer.fleet, cycle: 3 } };
  const before = legacyFleetTransaction(money, where, answer, invoicedLines);
  return { name, now: fleetTransactionDocument(money, where, inCycle, invoicedLines), before: `${before.slice(0, -1)},"cycle":3}` };
}

/** A payment for a fleet account's invoices: no card, no terminal, keyed by its reference. */
function fleetPayment(outcome: 'approved' | 'declined'): Golden {
  const approved = outcome === 'approved';
  const money: FleetMoneyRequest = {
    ...request('fleet_payment', {
      key: 'k:fleet-payment:fl-1:bank-77',
      cardId: '',
      terminalId: '',
      amountMinor: 9_000,
      operatorId: 'ops-3',
    }),
    fingerprint: 'fleet_payment||9000|EUR||||||0,,',
    fleet: { fleetId: 'fl-1', lines: [], prompts: { odometer_km: 0, driver_id: '', vehicle_id: '' } },
  };
  const answer: FleetTxnResult = {
    ...result('fleet_payment', { cardId: '', amountMinor: approved ? 9_000 : 0, balanceAfterMinor: 491_000 }),
    outcome,
    ...(approved ? {} : { reason: 'settlement_exceeds_debt' as const, rule: 'billing:payment_exceeds_invoiced' }),
    fleet: {
      fleetId: 'fl-1',
      pumpMinor: 0,
      invoicedMinor: 0,
      discountMinor: 0,
      pointsEarned: 0,
      pointsRedeemed: 0,
      flags: [],
      accountBalanceAfterMinor: -9_000,
      cycle: 4,
    },
  };
  const reason = approved ? '' : 'settlement_exceeds_debt';
  const rule = approved ? '' : 'billing:payment_exceeds_invoiced';
  return {
    name: `fleet payment ${outcome}`,
    now: fleetTransactionDocument(money, { merchantId: '', programId: 'fl-1' }, answer, []),
    before:
      `{"type":"transaction","f":"fleet_payment||9000|EUR||||||0,,","id":"4-1001","kind":"fleet_payment","outcome":"${outcome}",` +
      `"reason":"${reason}","rule":"${rule}","card":"","program":"fl-1","terminal":"","merchant":"","amount":${approved ? 9_000 : 0},` +
      `"requested":9000,"currency":"EUR","balance_after":491000,"key":"k:fleet-payment:fl-1:bank-77","original":"","reverse":"",` +
      `"source":"","operator":"ops-3","at":${at},"fleet":"fl-1","lines":[],"pump":0,"invoiced":0,"discount":0,"points_earned":0,` +
      `"points_redeemed":0,"flags":[],"odometer":0,"driver":"","vehicle":"","balance_delta":0,"account_balance_after":-9000,"cycle":4}`,
  };
}

// The replacement's four documents, now: the map for the card actor's replacement.
const replaced_old: CardState = { ...profiled_card, balanceMinor: 1_234 };
const replacement = replacementState(replaced_old, 'c-new', at);
function replacementNow(): Record<'transferOut' | 'replaced' | 'issued' | 'transferIn', string> {
  const depositMinor = replaced_old.profile?.depositMinor ?? 0;
  const transfer = (kind: 'transfer_out' | 'transfer_in', card: CardState, sign: number, id: string): string =>
    transactionDocument(
      {
        key: '',
        terminalId: '',
        amountMinor: replaced_old.balanceMinor,
        originalKey: sign < 0 ? replacement.cardId : replaced_old.cardId,
        source: '',
        operatorId: 'ops-1',
      },
      { merchantId: '', programId: replaced_old.programId },
      {
        id,
        kind,
        outcome: 'approved',
        cardId: card.cardId,
        amountMinor: replaced_old.balanceMinor,
        currency: replaced_old.currency,
        balanceAfterMinor: sign < 0 ? 0 : replacement.balanceMinor,
        atMs: at,
      },
      '',
      { balance_delta: sign * replaced_old.balanceMinor, deposit_delta: sign * depositMinor },
    );
  return {
    transferOut: transfer('transfer_out', replaced_old, -1, '4-2001'),
    transferIn: transfer('transfer_in', replacement, 1, '4-2002'),
    replaced: cardReplaced({
      card: replaced_old.cardId,
      replacement: replacement.cardId,
      program: replaced_old.programId,
      amount: replaced_old.balanceMinor,
      deposit: depositMinor,
      operator: 'ops-1',
      reason: 'damaged',
      at,
    }),
    issued: replacementCardIssued({
      card: replacement.cardId,
      program: replacement.programId,
      currency: replacement.currency,
      named: replacement.profile?.named ?? false,
      expires_at: replacement.profile?.expiresAtMs ?? 0,
      replaces: replaced_old.cardId,
      operator: 'ops-1',
      at,
    }),
  };
}
const replacement_now = replacementNow();
const replacement_before = legacyReplacementDocuments(replaced_old, replacement, 'ops-1', 'damaged', at, ['4-2001', '4-2002']);

const cashed_out: CardEvent = { type: 'cashed_out', balanceMinor: 5_000, depositMinor: 200 };

const transactions: { readonly [K in TransactionKind]: readonly Golden[] } = {
  purchase: [
    txn('v1 purchase (no optional field)', request('purchase'), result('purchase')),
    txn('declined purchase', request('purchase'), result('purchase', declined)),
    txn('purchase with a basket', request('purchase', { lines: basket, amountMinor: 1_250 }), result('purchase', { amountMinor: 1_250 })),
    txn('purchase of a card issued through CardService (spent so far)', request('purchase'), result('purchase', { spentMinor: 950 })),
    // The cashier is new with the contract: its golden is the plain purchase plus the cashier's id
    // (never the code's hash), as the last field.
    {
      name: 'purchase sold by a cashier at the terminal',
      now: transactionDocument(
        request('purchase', { cashier: { cashierId: 'anna', pinHash: 'f'.repeat(64) } }),
        context,
        result('purchase'),
        'fp',
      ),
      before: JSON.stringify({
        ...(JSON.parse(legacyTransaction(request('purchase'), context, result('purchase'), 'fp')) as object),
        cashier: 'anna',
      }),
    },
    txn(
      'purchase under program rules: figures, basket and spent so far',
      request('purchase', { lines: basket, amountMinor: 1_250, redeemPoints: 100 }),
      result('purchase', { amountMinor: 1_100, spentMinor: 1_800, program: figures }),
      undefined,
      legacyProgramFields(figures, 1_100),
    ),
    txn(
      'tombstone of a purchase reversed before it arrived',
      { ...request('reverse', { originalKey: 't:pos-1:6' }), kind: 'purchase', key: 't:pos-1:6', amountMinor: 0, originalKey: '' },
      result('purchase', {
        id: '4-1002.t',
        outcome: 'declined',
        reason: 'reversed_before_authorization',
        rule: 'reversal',
        amountMinor: 0,
      }),
      '*',
    ),
    fleetTxn('fleet purchase with basket, prompts, prices and flags', fleet_request, fleetResult('approved'), [7_000, 1]),
    fleetTxn('fleet purchase declined by a rule (nothing invoiced)', fleet_request, fleetResult('declined'), []),
    fleetInCycle('fleet purchase in a billing cycle (the cycle last)', fleet_request, fleetResult('approved'), [7_000, 1]),
  ],
  top_up: [
    txn('cash top-up', request('top_up', { source: 'cash' }), result('top_up', { balanceAfterMinor: 5_250 })),
    txn(
      'PSP top-up declined over the program maximum',
      request('top_up', { source: 'psp', key: 'k:psp:ref-9', terminalId: '' }),
      result('top_up', { ...declined, reason: 'max_balance_exceeded', rule: 'balance_max' }),
    ),
    txn(
      'auto-reload top-up',
      request('top_up', { source: 'auto_reload', key: 'k:psp:auto-c-plain-4-1', terminalId: '' }),
      result('top_up'),
    ),
    txn(
      'admin top-up by an operator',
      request('top_up', { source: 'admin', operatorId: 'ops-1', key: 'k:adm-1', terminalId: '' }),
      result('top_up'),
    ),
  ],
  reverse: [
    txn(
      'reversal of a purchase',
      request('reverse', { key: 't:pos-1:9', originalKey: 't:pos-1:7' }),
      result('reverse', { reverse: 'reversed', balanceAfterMinor: 5_250 }),
    ),
    txn(
      'reversal finding nothing to reverse',
      request('reverse', { key: 't:pos-1:9', originalKey: 't:pos-1:6' }),
      result('reverse', { reverse: 'nothing_to_reverse', amountMinor: 0 }),
    ),
    txn(
      'reversal of a reversed purchase',
      request('reverse', { key: 't:pos-1:10', originalKey: 't:pos-1:7' }),
      result('reverse', { reverse: 'already_reversed', amountMinor: 0 }),
    ),
    txn(
      'reversal declined on a closed card',
      request('reverse', { key: 't:pos-1:11', originalKey: 't:pos-1:7' }),
      result('reverse', { ...declined, reason: 'card_closed', rule: 'status:closed' }),
    ),
    holdTxn(
      'reversal of a pre-authorization: its hold released',
      'reverse',
      with_hold,
      { type: 'hold_released', key: hold_key, amountMinor: 3_000 },
      hold_key,
      result('reverse', {
        reverse: 'reversed',
        amountMinor: 3_000,
        balanceAfterMinor: 5_000,
        holdMinor: 3_000,
        holdExpiresAtMs: 0,
        ledgerAfterMinor: 5_000,
      }),
      request('reverse', { key: 't:pos-1:12', originalKey: hold_key }),
    ),
    fleetReversal('fleet reversal (driver and vehicle of the purchase, no odometer)', 'reversed'),
    fleetReversal('fleet reversal finding nothing to reverse', 'nothing_to_reverse'),
  ],
  pre_authorization: [
    holdTxn(
      'pre-authorization holding',
      'pre_authorization',
      plain_card,
      { type: 'hold_placed', key: hold_key, amountMinor: 3_000, expiresAtMs: at + 7 * day_ms },
      hold_key,
      result('pre_authorization', { amountMinor: 3_000, balanceAfterMinor: 2_000 }),
      request('pre_authorization', { key: hold_key, amountMinor: 3_000 }),
    ),
    holdTxn(
      'pre-authorization declined (no hold)',
      'pre_authorization',
      plain_card,
      undefined,
      hold_key,
      result('pre_authorization', declined),
      request('pre_authorization', { key: hold_key, amountMinor: 9_000 }),
    ),
  ],
  incremental: [
    holdTxn(
      'incremental raising a hold',
      'incremental',
      with_hold,
      { type: 'hold_increased', key: hold_key, amountMinor: 500, expiresAtMs: at + 8 * day_ms },
      hold_key,
      result('incremental', { amountMinor: 500, balanceAfterMinor: 1_500 }),
      request('incremental', { key: 't:pos-1:13', originalKey: hold_key, amountMinor: 500 }),
    ),
  ],
  completion: [
    holdTxn(
      'completion of a hold, card issued through CardService (spent so far)',
      'completion',
      with_hold_named,
      { type: 'hold_completed', key: hold_key, releasedMinor: 3_000, debitedMinor: 2_800 },
      hold_key,
      result('completion', { amountMinor: 2_800, balanceAfterMinor: 2_200, spentMinor: 3_500 }),
      request('completion', { key: 't:pos-1:14', originalKey: hold_key, amountMinor: 2_800 }),
    ),
    holdTxn(
      'completion declined over the tolerance',
      'completion',
      with_hold,
      undefined,
      hold_key,
      result('completion', { ...declined, reason: 'completion_exceeds_hold', rule: 'hold_tolerance' }),
      request('completion', { key: 't:pos-1:15', originalKey: hold_key, amountMinor: 9_000 }),
    ),
  ],
  void: [
    holdTxn(
      'void of a hold',
      'void',
      with_hold,
      { type: 'hold_released', key: hold_key, amountMinor: 3_000 },
      hold_key,
      result('void', { amountMinor: 3_000, balanceAfterMinor: 5_000 }),
      request('void', { key: 't:pos-1:16', originalKey: hold_key, amountMinor: 0 }),
    ),
  ],
  hold_expiry: [
    holdTxn(
      'expiry of a stale hold (a system action: no key, no fingerprint)',
      'hold_expiry',
      with_hold,
      { type: 'hold_released', key: hold_key, amountMinor: 3_000 },
      hold_key,
      result('hold_expiry', { amountMinor: 3_000, balanceAfterMinor: 5_000 }),
      { ...request('hold_expiry', { key: '', terminalId: '', amountMinor: 0, originalKey: hold_key }), fingerprint: '' },
    ),
  ],
  refund: [
    txn(
      'refund against a purchase',
      request('refund', { key: 't:pos-1:17', originalKey: 't:pos-1:7', operatorId: 'mgr-1' }),
      result('refund', { balanceAfterMinor: 5_250 }),
      undefined,
      legacyRefundFields(250),
    ),
    txn(
      'refund declined over the original',
      request('refund', { key: 't:pos-1:18', originalKey: 't:pos-1:7', operatorId: 'mgr-1' }),
      result('refund', { ...declined, reason: 'refund_exceeds_original', rule: 'refund_total' }),
      undefined,
      legacyRefundFields(0),
    ),
  ],
  cash_out: [
    txn(
      'return of a card: balance and deposit paid out',
      request('cash_out', { key: 'k:ret-1', terminalId: '', operatorId: 'ops-1', amountMinor: 0 }),
      result('cash_out', { amountMinor: 5_200, balanceAfterMinor: 0 }),
      undefined,
      legacyCashOutFields(cashed_out),
    ),
    txn(
      'return declined on a blocked card',
      request('cash_out', { key: 'k:ret-2', terminalId: '', operatorId: 'ops-1', amountMinor: 0 }),
      result('cash_out', { ...declined, reason: 'card_blocked', rule: 'status:blocked' }),
      undefined,
      legacyCashOutFields(undefined),
    ),
  ],
  transfer_out: [
    { name: 'replacement: the old card transfers out', now: replacement_now.transferOut, before: replacement_before.transferOut },
  ],
  transfer_in: [{ name: 'replacement: the new card receives', now: replacement_now.transferIn, before: replacement_before.transferIn }],
  offline_purchase: [
    {
      name: 'offline sale charged to the card past its balance (issuer; debt)',
      now: transactionDocument(
        request('offline_purchase', { key: 'o:pos-1:3', source: 'offline', amountMinor: 900 }),
        context,
        result('offline_purchase', { amountMinor: 900, balanceAfterMinor: -400 }),
        'offline_purchase|c-plain|900|EUR|pos-1|offline|',
        { balance_delta: -900, offline_at: at - 3_600_000, liability: 'issuer', debt_delta: 400, debt_after: 400 },
      ),
      before:
        '{"type":"transaction","f":"offline_purchase|c-plain|900|EUR|pos-1|offline|","id":"4-1001","kind":"offline_purchase","outcome":"approved","reason":"","rule":"","card":"c-plain","program":"fest-26","terminal":"pos-1","merchant":"bar-1","amount":900,"requested":900,"currency":"EUR","balance_after":-400,"key":"o:pos-1:3","original":"","reverse":"","source":"offline","operator":"","at":1769000000000,"balance_delta":-900,"offline_at":1768996400000,"liability":"issuer","debt_delta":400,"debt_after":400}',
    },
    {
      name: 'offline sale the merchant carries (the card was on the denylist the terminal held)',
      now: transactionDocument(
        request('offline_purchase', { key: 'o:pos-1:4', source: 'offline' }),
        context,
        result('offline_purchase', {
          outcome: 'declined',
          reason: 'merchant_liability',
          rule: 'offline:denylisted',
          amountMinor: 0,
          balanceAfterMinor: 5_000,
        }),
        'offline_purchase|c-plain|250|EUR|pos-1|offline|',
        { balance_delta: 0, offline_at: at - 60_000, liability: 'merchant' },
      ),
      before:
        '{"type":"transaction","f":"offline_purchase|c-plain|250|EUR|pos-1|offline|","id":"4-1001","kind":"offline_purchase","outcome":"declined","reason":"merchant_liability","rule":"offline:denylisted","card":"c-plain","program":"fest-26","terminal":"pos-1","merchant":"bar-1","amount":0,"requested":250,"currency":"EUR","balance_after":5000,"key":"o:pos-1:4","original":"","reverse":"","source":"offline","operator":"","at":1769000000000,"balance_delta":0,"offline_at":1768999940000,"liability":"merchant"}',
    },
  ],
  offline_void: [
    {
      name: 'offline void giving a sale back (debt paid back)',
      now: transactionDocument(
        request('offline_void', { key: 'o:pos-1:5', source: 'offline', amountMinor: 0, originalKey: 'o:pos-1:3' }),
        context,
        result('offline_void', { amountMinor: 900, balanceAfterMinor: 500, reverse: 'reversed' }),
        'offline_void|c-plain|0|EUR|pos-1|offline|o:pos-1:3',
        { balance_delta: 900, debt_delta: -400, debt_after: 0 },
      ),
      before:
        '{"type":"transaction","f":"offline_void|c-plain|0|EUR|pos-1|offline|o:pos-1:3","id":"4-1001","kind":"offline_void","outcome":"approved","reason":"","rule":"","card":"c-plain","program":"fest-26","terminal":"pos-1","merchant":"bar-1","amount":900,"requested":0,"currency":"EUR","balance_after":500,"key":"o:pos-1:5","original":"o:pos-1:3","reverse":"reversed","source":"offline","operator":"","at":1769000000000,"balance_delta":900,"debt_delta":-400,"debt_after":0}',
    },
  ],
  fleet_payment: [fleetPayment('approved'), fleetPayment('declined')],
  tab_settlement: [
    txn(
      'on-tab debt settled by invoice',
      request('tab_settlement', { key: 'k:inv-1', terminalId: '', source: 'invoice', operatorId: 'ops-1', amountMinor: 12_000 }),
      result('tab_settlement', { amountMinor: 12_000, balanceAfterMinor: 2_000 }),
      undefined,
      legacyTabFields(12_000, -8_000),
    ),
    txn(
      'direct debit declined over the debt',
      request('tab_settlement', { key: 'k:dd-1', terminalId: '', source: 'direct_debit', operatorId: 'ops-1' }),
      result('tab_settlement', { ...declined, reason: 'settlement_exceeds_debt', rule: 'tab_debt' }),
      undefined,
      legacyTabFields(0, -8_000),
    ),
  ],
};

// Operator audit, one entry per action: the card actor's, the fleet actor's and the services'.
const issuance: IssuanceRecord = {
  issuance: 'box-7',
  program: 'fest-26',
  currency: 'EUR',
  initialBalanceMinor: 1_000,
  depositMinor: 200,
  expiresAtMs: 0,
  count: 500,
  cardsDigest: 'ab'.repeat(32),
  operator: 'ops-1',
  at,
};
const ruled_program: ProgramConfig = {
  ...default_program_config,
  pinRequired: true,
  rules: { merchant: { blocked_merchants: ['m-x'] }, loyalty: { minor_per_unit: 100, points_per_unit: 1 } },
};
const long_program: ProgramConfig = {
  ...default_program_config,
  rules: { merchant: { allowed_merchants: Array.from({ length: 600 }, (_, n) => `merchant-${n}`) } },
};
const fleet_card: FleetCardState = {
  cardId: 'fl-1~3',
  fleetId: 'fl-1',
  status: 'frozen',
  limits: { per_txn_minor: 20_000, daily_minor: 50_000 },
  spent: { day: '', day_minor: 0, week: '', week_minor: 0, month: '', month_minor: 0, lifetime_minor: 0 },
  allowedGroups: ['diesel', 'adblue'],
  program: { velocity: { series: [] }, risk: { declines_at_ms: [], blocked_until_ms: 0 } },
  issuedAtMs: at,
};

const audits: { readonly [A in OperatorAction]: readonly Golden[] } = {
  review_resolved: [
    {
      name: 'plain card review resolved',
      now: cardReviewResolved({ transaction: '4-1001', card: 'c-plain', program: 'fest-26', note: 'known regular', operator: 'ops-2', at }),
      before: legacyAdminAudit(
        { type: 'resolve_review', transactionId: '4-1001', note: 'known regular', operatorId: 'ops-2' },
        plain_card,
        plain_card,
        at,
      ),
    },
    {
      name: 'fleet review resolved',
      now: fleetReviewResolved({ transaction: '4-1003', fleet: 'fl-1', note: 'fuel run', operator: 'ops-2', at }),
      before: legacyFleetReviewResolved('fl-1', '4-1003', 'fuel run', 'ops-2', at),
    },
  ],
  tab_limit_set: [
    {
      name: 'tab limit set',
      now: tabLimitSet({ card: 'c-named', limit: 20_000, operator: 'ops-1', at }),
      before: legacyAdminAudit({ type: 'tab_limit', limitMinor: 20_000, operatorId: 'ops-1' }, profiled_card, profiled_card, at),
    },
  ],
  auto_reload_set: [
    {
      name: 'auto-reload set (the mandate stays out)',
      now: autoReloadSet({ card: 'c-named', threshold: 1_000, amount: 2_500, operator: 'ops-1', at }),
      before: legacyAdminAudit(
        { type: 'auto_reload', autoReload: { thresholdMinor: 1_000, amountMinor: 2_500, mandate: 'mdt-1' }, operatorId: 'ops-1' },
        profiled_card,
        profiled_card,
        at,
      ),
    },
  ],
  auto_reload_removed: [
    {
      name: 'auto-reload removed',
      now: autoReloadRemoved({ card: 'c-named', operator: 'ops-1', at }),
      before: legacyAdminAudit({ type: 'auto_reload', autoReload: undefined, operatorId: 'ops-1' }, profiled_card, profiled_card, at),
    },
  ],
  cards_bulk_issued: [
    {
      name: 'bulk issuance recorded',
      now: cardsBulkIssued({
        issuance: issuance.issuance,
        program: issuance.program,
        count: issuance.count,
        currency: issuance.currency,
        operator: issuance.operator,
        at: issuance.at,
      }),
      before: legacyCardsBulkIssued(issuance),
    },
  ],
  price_list_loaded: [
    {
      name: 'shared SPOT price list loaded',
      now: priceListLoaded({ list: 'platts-nwe', loaded: 2, kept: 5, products: ['diesel', 'petrol'], operator: 'ops-3', at }),
      before:
        `{"type":"operator_action","action":"price_list_loaded","subject":"platts-nwe",` +
        `"detail":"{\\"loaded\\":2,\\"kept\\":5,\\"products\\":[\\"diesel\\",\\"petrol\\"]}","operator":"ops-3","reason":"","at":${at}}`,
    },
  ],
  program_defined: [
    {
      name: 'program defined with rules',
      now: programDefined({ program: 'fest-26', detail: programAuditDetail(ruled_program), operator: 'ops-1', at }),
      before: legacyProgramDefined('fest-26', ruled_program, 'ops-1', at),
    },
    {
      name: 'program defined with a rule list too long to audit whole (digest)',
      now: programDefined({ program: 'fest-27', detail: programAuditDetail(long_program), operator: 'ops-1', at }),
      before: legacyProgramDefined('fest-27', long_program, 'ops-1', at),
    },
  ],
  manager_registered: [
    {
      name: 'manager registered (never the PIN)',
      now: managerRegistered({ merchant: 'bar-1', manager: 'boss', operator: 'ops-1', at }),
      before: legacyManagerRegistered('bar-1', 'boss', 'ops-1', at),
    },
  ],
  card_auth_set: [
    {
      name: 'card enrolled for authentication (key id and counter, never a key)',
      now: cardAuthSet({ card: 'c-nfc', keyId: 'fest-key-1', counter: 7, operator: 'ops-1', at }),
      before: `{"type":"operator_action","action":"card_auth_set","subject":"c-nfc","detail":"{\\"key\\":\\"fest-key-1\\",\\"counter\\":7}","operator":"ops-1","reason":"","at":${at}}`,
    },
  ],
  card_auth_removed: [
    {
      name: 'card no longer authenticating',
      now: cardAuthSet({ card: 'c-nfc', keyId: '', counter: 0, operator: 'ops-1', at }),
      before: `{"type":"operator_action","action":"card_auth_removed","subject":"c-nfc","detail":"{}","operator":"ops-1","reason":"","at":${at}}`,
    },
  ],
  card_token_linked: [
    {
      name: 'bank card token listed (its form and program, never the token or the PAN)',
      now: cardTokenLinked({ card: 'c-eur', program: 'fest-26', form: 'pan', linked: true, operator: 'ops-1', at }),
      before: `{"type":"operator_action","action":"card_token_linked","subject":"c-eur","detail":"{\\"form\\":\\"pan\\",\\"program\\":\\"fest-26\\"}","operator":"ops-1","reason":"","at":${at}}`,
    },
  ],
  card_token_unlinked: [
    {
      name: 'bank card token taken off',
      now: cardTokenLinked({ card: 'c-eur', program: 'fest-26', form: 'par', linked: false, operator: 'ops-1', at }),
      before: `{"type":"operator_action","action":"card_token_unlinked","subject":"c-eur","detail":"{\\"form\\":\\"par\\",\\"program\\":\\"fest-26\\"}","operator":"ops-1","reason":"","at":${at}}`,
    },
  ],
  fleet_card_limits: [
    {
      name: 'fleet card limits and groups',
      now: fleetCardLimitsSet({
        card: fleet_card.cardId,
        limits: fleet_card.limits,
        groups: fleet_card.allowedGroups,
        operator: 'ops-3',
        at,
      }),
      before: legacyFleetCardAudit('set_limits', 'fl-1', fleet_card.cardId, 'EUR', undefined, fleet_card, 'ops-3', at),
    },
    {
      name: 'fleet card limits, every group allowed',
      now: fleetCardLimitsSet({ card: fleet_card.cardId, limits: {}, groups: undefined, operator: 'ops-3', at }),
      before: legacyFleetCardAudit(
        'set_limits',
        'fl-1',
        fleet_card.cardId,
        'EUR',
        undefined,
        { ...fleet_card, limits: {}, allowedGroups: undefined },
        'ops-3',
        at,
      ),
    },
  ],
};

const frozen_named: CardState = { ...profiled_card, status: 'frozen' };
const terminal: TerminalState = {
  terminalId: 'pos-1',
  merchantId: 'bar-1',
  location: 'north stage',
  enabled: true,
  serialNumber: '',
  parameters: empty_terminal_parameters,
  parametersVersion: 1,
  cashiers: {},
  cashierPins: {},
};

const support_acting = { subject: 'alice@example.com', role: 'support', scope: '*', action: 'tapline.v1.CardService/ChangeCardState' };

const lifecycle: { readonly [T in Exclude<DocumentType, 'transaction' | 'operator_action'>]: readonly Golden[] } = {
  // The audit record is new with the contract: its golden is the document as the contract spells it.
  audit_record: [
    {
      name: 'an unblock with its approver: the changed fields before and after, the PIN hash redacted',
      now: auditRecord({
        actor: { ...support_acting, approver: 'bob@example.com' },
        changes: [
          {
            entity: 'card:c-1',
            before: { status: 'blocked', balanceMinor: 5, pinHash: 'h1' },
            after: { status: 'active', balanceMinor: 5, pinHash: 'h2' },
          },
        ],
        at,
      }),
      before:
        '{"type":"audit_record","action":"tapline.v1.CardService/ChangeCardState","principal":"alice@example.com","role":"support","scope":"*",' +
        '"approver":"bob@example.com","subject":"card:c-1","before":"{\\"card:c-1\\":{\\"status\\":\\"blocked\\",\\"pinHash\\":\\"[redacted]\\"}}",' +
        '"after":"{\\"card:c-1\\":{\\"status\\":\\"active\\",\\"pinHash\\":\\"[redacted]\\"}}","at":1769000000000}',
    },
    {
      name: 'a profile change: secrets and personal data nested in the profile are redacted too, the rest is shown',
      now: auditRecord({
        actor: support_acting,
        changes: [
          {
            entity: 'card:c-2',
            before: { status: 'active', profile: { named: true, pinHash: 'h1', contact: { email: 'ann@example.com' } } },
            after: {
              status: 'active',
              profile: {
                named: true,
                pinHash: 'h1',
                contact: { email: 'ann@example.com' },
                autoReload: { amountMinor: 2_500, thresholdMinor: 500, mandate: 'cst_abc.mdt_def' },
                tags: [{ holder: 'Ann' }],
              },
            },
          },
        ],
        at,
      }),
      before:
        '{"type":"audit_record","action":"tapline.v1.CardService/ChangeCardState","principal":"alice@example.com","role":"support","scope":"*",' +
        '"approver":"","subject":"card:c-2","before":"{\\"card:c-2\\":{\\"profile\\":{\\"named\\":true,\\"pinHash\\":\\"[redacted]\\",\\"contact\\":{\\"email\\":\\"[personal data]\\"}}}}",' +
        '"after":"{\\"card:c-2\\":{\\"profile\\":{\\"named\\":true,\\"pinHash\\":\\"[redacted]\\",\\"contact\\":{\\"email\\":\\"[personal data]\\"},' +
        '\\"autoReload\\":{\\"amountMinor\\":2500,\\"thresholdMinor\\":500,\\"mandate\\":\\"[redacted]\\"},\\"tags\\":[{\\"holder\\":\\"[personal data]\\"}]}}}","at":1769000000000}',
    },
    {
      name: 'a new entity: nothing before, every field after',
      now: auditRecord({
        actor: { subject: 'ops-1', role: 'merchant_admin', scope: 'bar-1', action: 'tapline.v1.AdminService/RegisterTerminal' },
        changes: [{ entity: 'terminal:pos-1', before: undefined, after: terminal }],
        at,
      }),
      before: JSON.stringify({
        type: 'audit_record',
        action: 'tapline.v1.AdminService/RegisterTerminal',
        principal: 'ops-1',
        role: 'merchant_admin',
        scope: 'bar-1',
        approver: '',
        subject: 'terminal:pos-1',
        before: '{"terminal:pos-1":{}}',
        after: JSON.stringify({ 'terminal:pos-1': { ...terminal, cashierPins: '[redacted]' } }),
        at,
      }),
    },
  ],
  card_issued: [
    {
      name: 'card issued through AdminService (no profile)',
      now: cardIssued({ card: 'c-plain', program: 'fest-26', currency: 'EUR', status: 'active', amount: 5_000, operator: 'ops-1', at }),
      before: legacyAdminAudit({ type: 'issue', operatorId: 'ops-1' }, undefined, plain_card, at),
    },
    {
      name: 'card issued through CardService (deposit, named, expiry, issuance)',
      now: cardIssued({
        card: profiled_card.cardId,
        program: profiled_card.programId,
        currency: profiled_card.currency,
        status: profiled_card.status,
        amount: profiled_card.balanceMinor,
        operator: 'ops-1',
        at,
        profile: { deposit: 200, named: true, expires_at: at + 30 * day_ms, issuance: 'box-7' },
      }),
      before: legacyAdminAudit({ type: 'issue', operatorId: 'ops-1' }, undefined, profiled_card, at),
    },
    {
      name: 'the new card of a replacement (empty: its money arrives by transfer_in)',
      now: replacement_now.issued,
      before: replacement_before.issued,
    },
    {
      name: 'fleet card issued',
      now: fleetCardIssued({ card: 'fl-1~3', fleet: 'fl-1', currency: 'EUR', status: 'active', operator: 'ops-3', at }),
      before: legacyFleetCardAudit('issue', 'fl-1', 'fl-1~3', 'EUR', undefined, { ...fleet_card, status: 'active' }, 'ops-3', at),
    },
  ],
  card_status_changed: [
    {
      name: 'SetCardStatus (no action)',
      now: cardStatusChanged({
        card: 'c-named',
        program: 'fest-26',
        currency: 'EUR',
        status: 'frozen',
        previous: 'active',
        reason: 'lost wallet?',
        operator: 'ops-1',
        at,
      }),
      before: legacyAdminAudit({ type: 'set_status', reason: 'lost wallet?', operatorId: 'ops-1' }, profiled_card, frozen_named, at),
    },
    {
      name: 'ChangeCardState unblock with its approver',
      now: cardStatusChanged({
        card: 'c-named',
        program: 'fest-26',
        currency: 'EUR',
        status: 'active',
        previous: 'blocked',
        reason: 'found',
        operator: 'ops-1',
        at,
        transition: { action: 'unblock', approver: 'ops-2' },
      }),
      before: legacyAdminAudit(
        { type: 'transition', reason: 'found', transition: { action: 'unblock', operatorId: 'ops-1', approverId: 'ops-2' } },
        { ...profiled_card, status: 'blocked' },
        profiled_card,
        at,
      ),
    },
    {
      name: 'ChangeCardState freeze (approver "")',
      now: cardStatusChanged({
        card: 'c-named',
        program: 'fest-26',
        currency: 'EUR',
        status: 'frozen',
        previous: 'active',
        reason: '',
        operator: 'ops-1',
        at,
        transition: { action: 'freeze', approver: '' },
      }),
      before: legacyAdminAudit(
        { type: 'transition', reason: '', transition: { action: 'freeze', operatorId: 'ops-1', approverId: '' } },
        profiled_card,
        frozen_named,
        at,
      ),
    },
    {
      name: 'fleet card status',
      now: fleetCardStatusChanged({ card: 'fl-1~3', fleet: 'fl-1', status: 'frozen', previous: 'active', operator: 'ops-3', at }),
      before: legacyFleetCardAudit('set_status', 'fl-1', 'fl-1~3', 'EUR', { status: 'active' }, fleet_card, 'ops-3', at),
    },
  ],
  card_replaced: [{ name: 'replacement: the old card', now: replacement_now.replaced, before: replacement_before.replaced }],
  card_pin_changed: [
    {
      name: 'PIN locked by wrong attempts (system)',
      now: cardPinChanged({ card: 'c-named', program: 'fest-26', event: 'locked', operator: '', reason: 'pin_attempts', at }),
      before: legacyPinLocked('c-named', 'fest-26', at),
    },
    {
      name: 'first PIN set',
      now: cardPinChanged({ card: 'c-plain', program: 'fest-26', event: 'set', operator: 'ops-1', reason: '', at }),
      before: legacyAdminAudit({ type: 'set_pin', reset: false, operatorId: 'ops-1' }, plain_card, plain_card, at),
    },
    {
      name: 'PIN reset unlocking',
      now: cardPinChanged({ card: 'c-named', program: 'fest-26', event: 'unlocked', operator: 'ops-1', reason: 'reset', at }),
      before: legacyAdminAudit(
        { type: 'set_pin', reset: true, operatorId: 'ops-1' },
        { ...profiled_card, profile: { ...(profiled_card.profile as NonNullable<CardState['profile']>), pinFailures: 3 } },
        profiled_card,
        at,
      ),
    },
    {
      name: 'PIN changed',
      now: cardPinChanged({ card: 'c-named', program: 'fest-26', event: 'changed', operator: 'ops-1', reason: '', at }),
      before: legacyAdminAudit({ type: 'set_pin', reset: false, operatorId: 'ops-1' }, profiled_card, profiled_card, at),
    },
  ],
  // Born with the contract: `before` is the layout as documented (docs/OUTBOX.md), field for field.
  card_issuance_cancelled: [
    {
      name: 'issuance of a named card of a bulk issuance cancelled',
      now: cardIssuanceCancelled({
        card: 'c-named',
        program: 'fest-26',
        currency: 'EUR',
        previous: 'active',
        amount: 2_000,
        deposit: 200,
        named: true,
        issuance: 'box-7',
        operator: 'ops-1',
        reason: 'wrong program',
        at,
      }),
      before: `{"type":"card_issuance_cancelled","card":"c-named","program":"fest-26","currency":"EUR","status":"unissued","previous":"active","amount":2000,"deposit":200,"named":true,"issuance":"box-7","operator":"ops-1","reason":"wrong program","at":${at}}`,
    },
  ],
  terminal_registered: [
    {
      name: 'terminal registered',
      now: terminalRegistered({ terminal: 'pos-1', merchant: 'bar-1', enabled: true, operator: 'ops-1', at }),
      before: legacyTerminalDocument(true, 'pos-1', terminal, 'ops-1', at),
    },
  ],
  terminal_enabled_changed: [
    {
      name: 'terminal disabled',
      now: terminalEnabledChanged({ terminal: 'pos-1', merchant: 'bar-1', enabled: false, operator: 'ops-1', at }),
      before: legacyTerminalDocument(false, 'pos-1', { ...terminal, enabled: false }, 'ops-1', at),
    },
  ],
  card_denylist_changed: [
    {
      name: 'card listed for offline debt',
      now: cardDenylistChanged({ card: 'c-plain', program: 'fest-26', reason: 'debt', amount: 1_400, at }),
      before:
        '{"type":"card_denylist_changed","card":"c-plain","program":"fest-26","reason":"debt","amount":1400,"operator":"","at":1769000000000}',
    },
    {
      name: 'card off the denylist',
      now: cardDenylistChanged({ card: 'c-plain', program: 'fest-26', reason: '', amount: 0, at }),
      before:
        '{"type":"card_denylist_changed","card":"c-plain","program":"fest-26","reason":"","amount":0,"operator":"","at":1769000000000}',
    },
  ],
  terminal_offline: [
    {
      name: 'terminal offline settings set',
      now: terminalOffline({ terminal: 'pos-1', merchant: 'bar-1', event: 'settings', version: 2, operator: 'ops-1', at }),
      before:
        '{"type":"terminal_offline","terminal":"pos-1","merchant":"bar-1","event":"settings","version":2,"behind":0,"entries":0,"missing":0,"operator":"ops-1","at":1769000000000}',
    },
    {
      name: 'denylist acknowledged, behind',
      now: terminalOffline({ terminal: 'pos-1', merchant: 'bar-1', event: 'ack', version: 812, behind: 3, at }),
      before:
        '{"type":"terminal_offline","terminal":"pos-1","merchant":"bar-1","event":"ack","version":812,"behind":3,"entries":0,"missing":0,"operator":"","at":1769000000000}',
    },
    {
      name: 'batch merged with entries missing',
      now: terminalOffline({ terminal: 'pos-1', merchant: 'bar-1', event: 'batch', version: 7, entries: 40, missing: 2, at }),
      before:
        '{"type":"terminal_offline","terminal":"pos-1","merchant":"bar-1","event":"batch","version":7,"behind":0,"entries":40,"missing":2,"operator":"","at":1769000000000}',
    },
  ],
  fleet_account_changed: [
    ...(['created', 'limits', 'policy', 'pricing'] as const).map((event) => ({
      name: `fleet account ${event}`,
      now: fleetAccountChanged({ fleet: 'fl-1', currency: 'EUR', event, operator: 'ops-3', at }),
      before: legacyFleetAccountChanged('fl-1', 'EUR', event, 'ops-3', at),
    })),
    {
      name: 'fleet account billing terms',
      now: fleetAccountChanged({ fleet: 'fl-1', currency: 'EUR', event: 'billing', operator: 'ops-3', at }),
      before: `{"type":"fleet_account_changed","fleet":"fl-1","currency":"EUR","event":"billing","operator":"ops-3","reason":"","at":${at}}`,
    },
  ],
  fleet_invoice: [
    {
      name: 'fleet invoice of a closed cycle (credit of an older credit note applied)',
      now: fleetInvoiceIssued({
        fleet: 'fl-1',
        number: 'fl-1-3',
        cycle: 3,
        currency: 'EUR',
        amount: 12_500,
        applied: 500,
        opened_at: at - 30 * day_ms,
        due_at: at + 14 * day_ms,
        operator: 'ops-3',
        at,
      }),
      before:
        `{"type":"fleet_invoice","fleet":"fl-1","number":"fl-1-3","cycle":3,"currency":"EUR","amount":12500,"applied":500,` +
        `"opened_at":${at - 30 * day_ms},"due_at":${at + 14 * day_ms},"operator":"ops-3","at":${at}}`,
    },
  ],
  // Born with the contract: `before` is the layout as documented (docs/OUTBOX.md), field for field.
  tap_pour: [
    {
      name: 'tap pour of one sale',
      now: tapPour({
        terminal: 'tap-1',
        merchant: 'bar',
        report: 'r-1',
        transaction: 't:tap-1:7',
        from: 0,
        to: 0,
        poured_ml: 480,
        product: 'pils',
        at,
      }),
      before: `{"type":"tap_pour","terminal":"tap-1","merchant":"bar","report":"r-1","transaction":"t:tap-1:7","from":0,"to":0,"poured_ml":480,"product":"pils","at":${at}}`,
    },
    {
      name: 'tap pour over a period',
      now: tapPour({
        terminal: 'tap-1',
        merchant: 'bar',
        report: 'r-2',
        transaction: '',
        from: at - 3_600_000,
        to: at,
        poured_ml: 51_200,
        product: '',
        at,
      }),
      before: `{"type":"tap_pour","terminal":"tap-1","merchant":"bar","report":"r-2","transaction":"","from":${at - 3_600_000},"to":${at},"poured_ml":51200,"product":"","at":${at}}`,
    },
  ],
};

const by_type: { readonly [T in DocumentType]: readonly Golden[] } = {
  transaction: Object.values(transactions).flat(),
  ...lifecycle,
  operator_action: Object.values(audits).flat(),
};

function entryOf(document: string, n: number): OutboxEntry {
  return { shard: 5, streamId: `1769000000000-${n}`, document };
}

describe('outbox contract: every document every producer writes', () => {
  it('has golden documents for every transaction kind, document type and operator action of the contract', () => {
    for (const kind of transaction_kinds) {
      const goldens = transactions[kind] as readonly Golden[] | undefined;
      assert.ok(goldens !== undefined && goldens.length > 0, `transaction kind ${kind} has no golden document`);
      for (const golden of goldens) assert.equal((JSON.parse(golden.now) as { kind: string }).kind, kind, golden.name);
    }
    for (const type of document_types) {
      const goldens = by_type[type] as readonly Golden[] | undefined;
      assert.ok(goldens !== undefined && goldens.length > 0, `document type ${type} has no golden document`);
      for (const golden of goldens) assert.equal((JSON.parse(golden.now) as { type: string }).type, type, golden.name);
    }
    for (const action of operator_actions) {
      const goldens = audits[action] as readonly Golden[] | undefined;
      assert.ok(goldens !== undefined && goldens.length > 0, `operator action ${action} has no golden document`);
      for (const golden of goldens) assert.equal((JSON.parse(golden.now) as { action: string }).action, action, golden.name);
    }
  });

  it('builds every document byte for byte as its producer wrote it before the contract', () => {
    for (const type of document_types) {
      for (const golden of by_type[type]) assert.equal(golden.now, golden.before, `${type}: ${golden.name}`);
    }
  });

  it('every golden document passes its contract schema and becomes rows, never a reject', () => {
    let n = 0;
    for (const type of document_types) {
      for (const golden of by_type[type]) {
        const parsed = document_schemas[type].safeParse(JSON.parse(golden.now));
        assert.ok(parsed.success, `${type}: ${golden.name}: ${parsed.success ? '' : parsed.error.message}`);
        const rows = rowsOf(entryOf(golden.now, n++));
        const tables: Partial<Record<DocumentType, string>> = {
          transaction: 'transactions',
          audit_record: 'audit_log',
          fleet_invoice: 'fleet_invoices',
          tap_pour: 'tap_pours',
        };
        const table = tables[type] ?? 'lifecycle_events';
        assert.equal(rows[0]?.table, table, `${type}: ${golden.name}: ${JSON.stringify(rows[0])}`);
        const lines = (JSON.parse(golden.now) as { lines?: unknown[] }).lines ?? [];
        assert.equal(rows.length, 1 + lines.length, `${golden.name}: one transaction_lines row per line`);
      }
    }
  });

  it('the streamer fast path builds the same rows as the contract schema for every kind, and takes every document without a basket', () => {
    let n = 0;
    let fast = 0;
    for (const kind of transaction_kinds) {
      for (const golden of transactions[kind]) {
        const document = JSON.parse(golden.now) as Record<string, unknown>;
        const entry = entryOf(golden.now, n++);
        const schema = parseTransaction(document);
        assert.ok(schema !== undefined, golden.name);
        assert.deepStrictEqual(rowsOf(entry), transactionRows(schema, entry), `${kind}: ${golden.name}`);
        const hasLines = Array.isArray(document['lines']) && document['lines'].length > 0;
        if (!hasLines) {
          assert.notEqual(fastTransaction(document), undefined, `${kind}: ${golden.name} must take the fast path`);
          fast += 1;
        }
      }
    }
    assert.ok(fast >= transaction_kinds.length, `the fast path took ${fast} golden documents`);
  });

  it('the golden transactions carry every field of the contract a producer writes', () => {
    const seen = new Set<string>();
    for (const golden of by_type.transaction) for (const key of Object.keys(JSON.parse(golden.now) as object)) seen.add(key);
    const written = Object.keys(transaction_schema.shape);
    assert.deepEqual([...seen].sort(), written.sort());
  });

  it('a stored transaction document reads back as written, and as the answer it recorded', () => {
    for (const golden of by_type.transaction) {
      const read = readTransactionDocument(golden.now);
      assert.ok(read.ok, golden.name);
      assert.equal(JSON.stringify(read.document), golden.now, `${golden.name}: absent fields stay absent`);
      const document = read.document;
      const record = document.fleet === undefined ? decodeRecord(golden.now) : decodeFleetRecord(golden.now);
      assert.equal(record.f, document.f, golden.name);
      assert.deepEqual(
        [record.r.id, record.r.kind, record.r.outcome, record.r.amountMinor, record.r.balanceAfterMinor, record.r.atMs],
        [document.id, document.kind, document.outcome, document.amount, document.balance_after, document.at],
        golden.name,
      );
      if (document.spent_after !== undefined) assert.equal(record.r.spentMinor, document.spent_after, golden.name);
      if (document.hold_amount !== undefined) assert.equal(record.r.holdMinor, document.hold_amount, golden.name);
    }
  });

  it('a stored transaction document that breaks the contract is refused with what is wrong, never read', () => {
    const good = JSON.parse(transactions.purchase[0]?.now ?? '') as Record<string, unknown>;
    for (const [change, problem] of [
      [{ kind: 'gift' }, 'kind'],
      [{ amount: 2.5 }, 'amount'],
      [{ at: -1 }, 'at'],
      [{ lines: [{ code: 'x' }] }, 'lines.0.amount'],
    ] as const) {
      const read = readTransactionDocument(JSON.stringify({ ...good, ...change }));
      assert.ok(!read.ok && read.problem.includes(problem), `${JSON.stringify(change)}: ${JSON.stringify(read)}`);
    }
    assert.deepEqual(readTransactionDocument('{"type":'), { ok: false, problem: 'not JSON' });
  });
});
