// What a card decides, as pure functions: given the card's state, a command, the facts the
// command needs from Redis (loaded by the actor before deciding: an original transaction, its
// refund ledger, whether it was reversed, the replacement card), the time and an id source, each
// function returns a plan: the reply, the state after, and what else the commit writes (other
// records, claims, documents). Nothing here does I/O, reads a clock or keeps state; the card actor
// (actor.ts) loads, calls these, and hands the plan to the entity host.
//
// The rules themselves live beside this file: rules.ts (balance, status, top-up limits), holds.ts,
// pin.ts, refunds.ts, closing.ts (replacement, return), lifecycle.ts (transitions) and
// program-rules.ts (a program's limits, risk and loyalty).

import { invalidArgument, notFound, permissionDenied, rejected, type TaplineError } from '../errors';
import { ownsKey, requesterOf, speaksFor } from '../origin';
import type { ProgramConfig } from '../program/config';
import type { ProgramOfflinePolicy } from '../offline/policy';
import type { ProgramRequest, ProgramRules } from '../rules/program';
import type { Claim, CommitEntry, EntityId, EntityWrite, StoredRecord } from '../runtime/persistence';
import { checkCardAuth, decideSetCardAuth, type CryptogramVerifier } from './card-auth';
import { decideLinkToken } from './tokens';
import { decideCashOut, decideReplace, replacementState } from './closing';
import {
  adminDocument,
  cashOutFields,
  holdFields,
  hold_kinds,
  movedMinor,
  pinLockedDocument,
  programFields,
  replacementDocuments,
} from './documents';
import { decideCompletion, decideIncremental, decidePreAuthorization, decideRelease, expiredHoldKeys, openHold } from './holds';
import { decideStatusChange, decideTransition, type SettableStatus, type TransitionRequest } from './lifecycle';
import { checkPin, decideSetPin, decideVerifyPin, withPinFailures } from './pin';
import { afterRuleDecline, decideRuledPurchase, gateHold, recordSpending, resolveCardReview, reversePoints } from './program-rules';
import { decideRefund, empty_refund_ledger, reversibleMinor, type RefundLedger } from './refunds';
import {
  apply,
  availableMinor,
  balanceDeltaMinor,
  decide,
  type AutoReload,
  type CardCommand,
  type CardDecision,
  type CardEvent,
  type CardState,
  type CardStatus,
} from './rules';
import { autoReloadSet, cardDenylistChanged, transactionDocument } from '../outbox/builders';
import { debtMinor, withListing, type DenylistChange, type ListingTransition } from '../offline/denylist';
import { offlineLiabilityReason, offlineSaleDecision, offlineSaleFields } from './offline';
import { decodeRefundLedger, encodeCardState, encodeRefundLedger, encodeSpentKey } from '../state/card';
import {
  tombstone_fingerprint,
  type DocumentExtras,
  type HoldFields,
  type IdempotencyRecord,
  type MoneyRequest,
  type ProgramFigures,
  type ReverseOutcome,
  type TxnResult,
} from './transaction';

/** What a decision may use besides the card's state. */
export interface CardEnv {
  readonly nowMs: number;
  /** Ids of the transactions this decision records (unique per node; see the node's id source). */
  readonly nextId: () => string;
  /** The card's program (defaults when it has none). */
  readonly program: ProgramConfig;
  /** The card's shard (documents it writes to its own outbox). */
  readonly shard: number;
  /** Verifies the cryptograms of cards that authenticate (the node holds the keys); absent: no key here. */
  readonly verifyCryptogram?: CryptogramVerifier;
}

export interface Rejection {
  readonly kind: 'rejected';
  readonly error: TaplineError;
}

/** A money request's decision: its answer and everything its commit entry writes. */
export interface MoneyPlan {
  readonly kind: 'money';
  /** The card after the decision; the same object as the state decided on when nothing changed. */
  readonly after: CardState;
  /** The answer, kept as the idempotency record of the request's key. */
  readonly record: IdempotencyRecord;
  /** The transaction document: the idempotency record's value and, unchanged, the outbox entry. */
  readonly stored: string;
  readonly writes?: readonly EntityWrite[];
  readonly claims?: readonly Claim[];
  readonly extraOutbox?: CommitEntry['extraOutbox'];
  /** The original key this plan reverses, while it commits (a second reversal must see it). */
  readonly reversing?: string;
  /** The card's denylist listing changed (committed with it). */
  readonly denylist?: DenylistChange;
}

export type MoneyDecision = MoneyPlan | Rejection;

// ---------------------------------------------------------------------------------------------
// Purchases, top-ups and holds.

/** Kinds decided by decideMoney (reversals and refunds need facts: decideReversal, decideRefundRequest). */
export function decideMoney(state: CardState, request: MoneyRequest, merchantId: string, env: CardEnv): MoneyDecision {
  switch (request.kind) {
    case 'purchase':
    case 'pre_authorization': {
      // A card that authenticates: its cryptogram first, before anything else is looked at.
      const auth = cardAuthGate(state, request, merchantId, env);
      if (auth.plan !== undefined) return auth.plan;
      const current = auth.base ?? state;
      return request.kind === 'purchase'
        ? decidePurchaseRequest(current, request, merchantId, env)
        : decidePreAuthorizationRequest(current, request, merchantId, env);
    }
    case 'top_up': {
      const { program } = env;
      const command: CardCommand = {
        type: 'top_up',
        amountMinor: request.amountMinor,
        currency: request.currency,
        maxBalanceMinor: program.maxBalanceMinor,
        maxTopUpMinor: program.maxTopUpMinor,
      };
      const decision = decide(state, command);
      return moneyPlan(state, request, merchantId, env, decision, decision.kind === 'approved' ? withMandate(state, request, env) : {});
    }
    case 'incremental':
    case 'completion':
    case 'void': {
      const refusal = holdRefusal(request, merchantId);
      if (refusal !== undefined) return refusal;
      return decideHoldRequest(state, request, merchantId, env);
    }
    default:
      return decideOtherMoney(state, request, merchantId, env);
  }
}

/**
 * A paid first payment's top-up (an approved one) stores the auto-reload the PSP reported with it:
 * the credit and the mandate are one change of the card, written by one commit entry (the card's
 * state, the top-up's idempotency record and spent record, its document and the auto_reload_set
 * document), so neither is ever durable without the other. The mandate reference stays out of the
 * document, as with the desk's SetAutoReload.
 */
function withMandate(state: CardState, request: MoneyRequest, env: CardEnv): MoneyExtras {
  const autoReload = request.autoReload;
  if (autoReload === undefined) return {};
  const set = decide(state, { type: 'set_auto_reload', autoReload });
  // An approved top-up is of an active card, which takes a mandate.
  if (set.kind !== 'approved') throw new Error('assertion: a card that takes a top-up takes its mandate');
  const document = autoReloadSet({
    card: state.cardId,
    threshold: autoReload.thresholdMinor,
    amount: autoReload.amountMinor,
    operator: request.acting?.subject ?? request.operatorId,
    at: env.nowMs,
  });
  return { base: apply(state, set.event), extraOutbox: [{ shard: env.shard, document }] };
}

/** Incremental, completion and void: on the hold their pre-authorization's key names. */
function decideHoldRequest(state: CardState, request: MoneyRequest, merchantId: string, env: CardEnv): MoneyDecision {
  switch (request.kind) {
    case 'incremental':
      return holdPlan(
        state,
        request,
        merchantId,
        env,
        decideIncremental(state, request.originalKey, request.amountMinor, request.currency, env.nowMs, env.program),
      );
    case 'completion':
      return decideCompletionRequest(state, request, merchantId, env);
    default:
      return holdPlan(state, request, merchantId, env, decideRelease(state, request.originalKey));
  }
}

/**
 * A hold belongs to the terminal that placed it: its key is "t:<terminal>:<n>" of the
 * pre-authorization, and only a request of that terminal (actors/origin.ts) may extend, complete or
 * release it. Anything else is refused, nothing written.
 */
export function holdRefusal(request: MoneyRequest, merchantId: string): Rejection | undefined {
  if (ownsKey(requesterOf(request), request, request.originalKey, merchantId)) return undefined;
  return {
    kind: 'rejected',
    error: permissionDenied('a hold is extended, completed or released only by the terminal that placed it', {
      originalKey: request.originalKey,
    }),
  };
}

/** Returns and tab settlements. */
function decideOtherMoney(state: CardState, request: MoneyRequest, merchantId: string, env: CardEnv): MoneyDecision {
  switch (request.kind) {
    case 'cash_out':
      return holdPlan(state, request, merchantId, env, decideCashOut(state, env.nowMs));
    case 'tab_settlement':
      return holdPlan(
        state,
        request,
        merchantId,
        env,
        decide(state, { type: 'settle_tab', amountMinor: request.amountMinor, currency: request.currency }),
      );
    default:
      return { kind: 'rejected', error: invalidArgument(`${request.kind} is not decided here`, { kind: request.kind }) };
  }
}

/** True when a payment left an active card with an auto-reload mandate below its threshold (the PSP charge follows the commit). */
export function belowAutoReloadThreshold(state: CardState): boolean {
  const autoReload = state.profile?.autoReload;
  return autoReload !== undefined && state.status === 'active' && availableMinor(state) < autoReload.thresholdMinor;
}

/** Kinds after which holds past their expiry are released first (decideHoldExpiries). */
export function releasesExpiredHolds(request: MoneyRequest): boolean {
  return request.kind !== 'reverse' && request.kind !== 'refund';
}

function decidePurchaseRequest(state: CardState, request: MoneyRequest, merchantId: string, env: CardEnv): MoneyDecision {
  const rules = env.program.rules;
  if (rules !== undefined) return decideRuledPurchaseRequest(state, request, merchantId, env, rules);
  if (request.redeemPoints !== undefined) {
    const decline: CardDecision = { kind: 'declined', reason: 'points_insufficient', rule: 'loyalty:no_program_rules' };
    return moneyPlan(state, request, merchantId, env, decline, {});
  }
  const pin = pinGate(state, request, merchantId, env);
  if (pin.plan !== undefined) return pin.plan;
  const base = pin.base ?? state;
  const decision = decide(base, { type: 'purchase', amountMinor: request.amountMinor, currency: request.currency, nowMs: env.nowMs });
  return moneyPlan(state, request, merchantId, env, decision, pin.base === undefined ? {} : { base: pin.base });
}

/**
 * A purchase of a card whose program has rules (program-rules.ts). The PIN comes first (a wrong PIN
 * also counts towards the temporary block); the rule state the decision leaves is written with it.
 */
function decideRuledPurchaseRequest(
  state: CardState,
  request: MoneyRequest,
  merchantId: string,
  env: CardEnv,
  rules: ProgramRules,
): MoneyDecision {
  const pin = pinGate(state, request, merchantId, env, rules);
  if (pin.plan !== undefined) return pin.plan;
  const id = env.nextId();
  const ruled = decideRuledPurchase(pin.base ?? state, rules, {
    atMs: env.nowMs,
    amountMinor: request.amountMinor,
    currency: request.currency,
    merchantId,
    terminalId: request.terminalId,
    lines: request.lines,
    redeemPoints: request.redeemPoints ?? 0,
    transactionId: id,
  });
  return moneyPlan(state, request, merchantId, env, ruled.decision, {
    id,
    base: ruled.base,
    amountMinor: ruled.debitMinor,
    ...(ruled.figures === undefined ? {} : { program: ruled.figures }),
  });
}

/**
 * The cryptogram check of a card that authenticates (card-auth.ts): a decline is a plan of its own,
 * written with the flag it counted; a valid cryptogram gives the state with its counter advanced,
 * which the rest of the decision applies to (so the counter is written even if it declines).
 */
function cardAuthGate(
  state: CardState,
  request: MoneyRequest,
  merchantId: string,
  env: CardEnv,
): { plan?: MoneyDecision; base?: CardState } {
  if (state.auth === undefined) return {};
  const payment = { amountMinor: request.amountMinor, currency: request.currency, terminalId: request.terminalId, atMs: env.nowMs };
  const check = checkCardAuth(state, request.cardCryptogram, payment, env.verifyCryptogram);
  if (check.decline === undefined) return check.after === undefined ? {} : { base: check.after };
  return { plan: moneyPlan(state, request, merchantId, env, check.decline, check.after === undefined ? {} : { base: check.after }) };
}

/**
 * The PIN check of a spending request: a decline is a plan of its own (with the wrong-attempt count
 * it raised, and a card_pin_changed "locked" document when it locked the PIN); a right PIN after
 * wrong ones gives the reset state the decision must apply to.
 */
function pinGate(
  state: CardState,
  request: MoneyRequest,
  merchantId: string,
  env: CardEnv,
  rules?: ProgramRules,
): { plan?: MoneyDecision; base?: CardState } {
  if (state.profile === undefined) return {};
  const check = checkPin(state, env.program, request.pinHash);
  let base = check.failuresAfter === undefined ? undefined : withPinFailures(state, check.failuresAfter);
  if (check.decline === undefined) return base === undefined ? {} : { base };
  if (rules !== undefined) {
    // PIN failures count towards the program's temporary block.
    const counted = afterRuleDecline(base ?? state, rules, ruleRequest(request, merchantId, env.nowMs), check.decline.reason);
    if (counted !== state) base = counted;
  }
  const extraOutbox = check.locked === true ? [{ shard: env.shard, document: pinLockedDocument(state, env.nowMs) }] : undefined;
  return {
    plan: moneyPlan(state, request, merchantId, env, check.decline, {
      ...(base === undefined ? {} : { base }),
      ...(extraOutbox === undefined ? {} : { extraOutbox }),
    }),
  };
}

/** What the program rules see of a request. */
function ruleRequest(request: MoneyRequest, merchantId: string, atMs: number): ProgramRequest {
  return { atMs, amount_minor: request.amountMinor, merchantId, terminalId: request.terminalId };
}

function decidePreAuthorizationRequest(state: CardState, request: MoneyRequest, merchantId: string, env: CardEnv): MoneyDecision {
  const { program, nowMs } = env;
  const pin = pinGate(state, request, merchantId, env, program.rules);
  if (pin.plan !== undefined) return pin.plan;
  const start = pin.base ?? state;
  // The program's gate (temporary block, hard risk, merchant / terminal) before the hold.
  const ruled = program.rules === undefined ? undefined : gateHold(start, program.rules, ruleRequest(request, merchantId, nowMs));
  if (ruled?.decline !== undefined) return holdPlan(state, request, merchantId, env, ruled.decline, ruled.base, 0);
  // A hold under this key already exists only when this is a retry whose answer left the
  // index: the commit finds the stored record and answers with it (this decline is never written).
  const decision: CardDecision =
    openHold(start, request.key) !== undefined
      ? { kind: 'declined', reason: 'hold_not_found', rule: 'hold_exists' }
      : decidePreAuthorization(start, request.key, request.amountMinor, request.currency, nowMs, program);
  // An insufficient-funds decline of a hold counts towards the temporary block.
  const base =
    program.rules !== undefined && decision.kind === 'declined'
      ? afterRuleDecline(start, program.rules, ruleRequest(request, merchantId, nowMs), decision.reason)
      : pin.base;
  return holdPlan(state, request, merchantId, env, decision, base);
}

function decideCompletionRequest(state: CardState, request: MoneyRequest, merchantId: string, env: CardEnv): MoneyDecision {
  const { program, nowMs } = env;
  const decision = decideCompletion(state, request.originalKey, request.amountMinor, request.currency, nowMs, program);
  // A completion is spending: it enters the velocity history (it is never declined by velocity:
  // the merchant delivered against an approved hold).
  if (program.rules !== undefined && decision.kind === 'approved' && decision.event.type === 'hold_completed') {
    const spent = { ...ruleRequest(request, merchantId, nowMs), amount_minor: decision.event.debitedMinor };
    return holdPlan(state, request, merchantId, env, decision, recordSpending(state, program.rules, spent));
  }
  return holdPlan(state, request, merchantId, env, decision);
}

/** A decision about a hold (or a return, or a tab settlement): the amount shown is what the event moved. */
function holdPlan(
  state: CardState,
  request: MoneyRequest,
  merchantId: string,
  env: CardEnv,
  decision: CardDecision,
  base?: CardState,
  amountMinor?: number,
): MoneyDecision {
  const moved = amountMinor ?? (decision.kind === 'approved' ? movedMinor(decision.event, request.amountMinor) : 0);
  return moneyPlan(state, request, merchantId, env, decision, { amountMinor: moved, ...(base === undefined ? {} : { base }) });
}

// ---------------------------------------------------------------------------------------------
// Holds that expired.

export interface HoldExpiryPlan {
  readonly after: CardState;
  readonly document: string;
  /** Released funds paid debt back below the threshold: the card leaves the denylist (and its document). */
  readonly denylist?: DenylistChange;
  readonly listing?: { readonly shard: number; readonly document: string };
}

/**
 * Holds past their expiry are released lazily, when the card is next used: one hold_expiry
 * document each, committed before the command that found them. Decisions never count an expired
 * hold (holds.ts), so the release only settles the books.
 */
export function decideHoldExpiries(state: CardState, merchantId: string, env: CardEnv): HoldExpiryPlan[] {
  const plans: HoldExpiryPlan[] = [];
  let current = state;
  for (const key of expiredHoldKeys(state, env.nowMs)) {
    const decision = decideRelease(current, key);
    if (decision.kind !== 'approved') continue;
    const listed = withListing(apply(current, decision.event), env.program.offline);
    const after = listed.after;
    const document = holdExpiryDocument(current, after, decision, key, merchantId, env);
    plans.push(
      listed.change === undefined
        ? { after, document }
        : { after, document, denylist: listed.change, listing: listingDocument(listed.change, after, env.shard, env.nowMs) },
    );
    current = after;
  }
  return plans;
}

function holdExpiryDocument(
  state: CardState,
  after: CardState,
  decision: Extract<CardDecision, { kind: 'approved' }>,
  key: string,
  merchantId: string,
  env: CardEnv,
): string {
  const request: MoneyRequest = {
    kind: 'hold_expiry',
    key: '',
    fingerprint: '',
    cardId: state.cardId,
    terminalId: '',
    amountMinor: 0,
    currency: state.currency,
    source: '',
    operatorId: '',
    originalKey: key,
  };
  const fields = holdFields(decision.event, key, after);
  const result: TxnResult = {
    id: env.nextId(),
    kind: 'hold_expiry',
    outcome: 'approved',
    cardId: state.cardId,
    amountMinor: -fields.held_delta,
    currency: state.currency,
    balanceAfterMinor: availableMinor(after),
    atMs: env.nowMs,
  };
  return transactionDocument(request, { merchantId, programId: state.programId }, result, '', fields);
}

// ---------------------------------------------------------------------------------------------
// Offline sales (actors/card/offline.ts): decided on the card's listing history.

export function decideOfflineSale(
  state: CardState,
  request: MoneyRequest,
  merchantId: string,
  history: readonly ListingTransition[],
  env: CardEnv,
): MoneyDecision {
  const reason = offlineLiabilityReason(state, request, env.program, history);
  return moneyPlan(state, request, merchantId, env, offlineSaleDecision(request, reason), {});
}

// ---------------------------------------------------------------------------------------------
// Reversals and refunds: decided on facts about their original.

/** Kinds whose approval a reversal can undo. */
const reversible_kinds: ReadonlySet<string> = new Set(['purchase', 'pre_authorization', 'completion', 'offline_purchase']);

/** Kinds decided as a reversal of their original (read before deciding): reversals and offline voids. */
export function isReversalKind(kind: MoneyRequest['kind']): boolean {
  return kind === 'reverse' || kind === 'offline_void';
}

export interface ReversalFacts {
  /** The original's stored record (undefined: never seen). */
  readonly original: IdempotencyRecord | undefined;
  /** A reversal of the original was committed, or is committing on this card. */
  readonly alreadyReversed: boolean;
  /** The original's refund ledger, when the original is an approved purchase or completion. */
  readonly ledger: StoredRecord | undefined;
}

/** The refund ledger of an original: the record a reversal and the refunds of that original share. */
export function refundLedgerEntity(originalKey: string): EntityId {
  return { kind: 'refunded', id: originalKey };
}

/** The spent record of a request key that must never be applied twice (recordSpent), beside its card. */
export function spentKeyEntity(cardId: string, key: string): EntityId {
  return { kind: 'spent', id: `${cardId}/${key}` };
}

/** A spent key is written once, with whatever answered it (it must not exist: version 0). */
function spentKeyWrite(state: CardState, request: MoneyRequest, result: TxnResult): EntityWrite {
  return {
    entity: spentKeyEntity(state.cardId, request.key),
    expectVersion: 0,
    data: encodeSpentKey({ transaction: result.id, outcome: result.outcome, at: result.atMs }),
  };
}

/** True when deciding a reversal of `original` needs its refund ledger (and its reversal claim). */
export function reversalNeedsLedger(original: IdempotencyRecord | undefined): boolean {
  return (
    original !== undefined &&
    original.r.outcome === 'approved' &&
    (original.r.kind === 'purchase' || original.r.kind === 'completion' || original.r.kind === 'offline_purchase')
  );
}

export function decideReversal(
  state: CardState,
  request: MoneyRequest,
  merchantId: string,
  facts: ReversalFacts,
  env: CardEnv,
): MoneyDecision {
  const { original } = facts;
  const originalKey = request.originalKey;
  const refusal = reversalRefusal(request, merchantId, original);
  if (refusal !== undefined) return refusal;
  if (original !== undefined && original.f !== tombstone_fingerprint && original.r.cardId !== state.cardId)
    return { kind: 'rejected', error: invalidArgument('original transaction belongs to another card', { originalKey }) };
  // An offline void cancels an offline sale, and only an offline void does.
  if (
    original !== undefined &&
    original.f !== tombstone_fingerprint &&
    (original.r.kind === 'offline_purchase') !== (request.kind === 'offline_void')
  )
    return { kind: 'rejected', error: invalidArgument('an offline void cancels an offline sale, and only it does', { originalKey }) };
  if (original !== undefined && !reversible_kinds.has(original.r.kind))
    return {
      kind: 'rejected',
      error: invalidArgument('only purchases, pre-authorizations and completions can be reversed', { originalKey, kind: original.r.kind }),
    };
  if (original === undefined || original.r.outcome !== 'approved')
    return reversalPlan(state, request, merchantId, env, 'nothing_to_reverse', 0, original === undefined);
  if (facts.alreadyReversed) return reversalPlan(state, request, merchantId, env, 'already_reversed', 0, false);
  if (original.r.kind !== 'pre_authorization') return reverseDebit(state, request, merchantId, env, original.r, facts.ledger);
  // The hold was already completed, voided or expired: nothing of the pre-authorization is left to undo.
  if (openHold(state, originalKey) === undefined) return reversalPlan(state, request, merchantId, env, 'nothing_to_reverse', 0, false);
  const decision = decideRelease(state, originalKey);
  const id = env.nextId();
  return moneyPlan(state, request, merchantId, env, decision, {
    id,
    claims: [{ kind: 'reversal', key: originalKey, value: id }],
    reverse: 'reversed',
    amountMinor: decision.kind === 'approved' ? movedMinor(decision.event, 0) : 0,
  });
}

/**
 * A reversal comes from where its original happened (actors/origin.ts): the original's terminal,
 * or a gateway of its merchant. An original not seen yet is tombstoned only under a key of the
 * reversal's own terminal: naming another terminal's transaction number (a sale it has not made
 * yet) is refused, nothing written. Cards and fleet accounts share this rule.
 */
export function reversalRefusal(request: MoneyRequest, merchantId: string, original: IdempotencyRecord | undefined): Rejection | undefined {
  const requester = requesterOf(request);
  const originalKey = request.originalKey;
  if (original === undefined) {
    if (ownsKey(requester, request, originalKey, merchantId)) return undefined;
    return {
      kind: 'rejected',
      error: permissionDenied("a reversal may name only its own terminal's transactions", { originalKey }),
    };
  }
  if (original.origin !== undefined && speaksFor(requester, original.origin)) return undefined;
  return {
    kind: 'rejected',
    error: permissionDenied('a reversal comes from the terminal the original was made at', { originalKey }),
  };
}

/**
 * Reversal of a purchase or completion: gives back what was debited less what was refunded
 * against it since, and marks the refund ledger reversed in the same entry (its version
 * serializes this reversal against any refund of the same original).
 */
function reverseDebit(
  state: CardState,
  request: MoneyRequest,
  merchantId: string,
  env: CardEnv,
  original: TxnResult,
  stored: StoredRecord | undefined,
): MoneyDecision {
  const ledger = decodeLedger(stored);
  const amountMinor = reversibleMinor(original.amountMinor, ledger);
  // Everything was refunded already: nothing is left to give back.
  if (amountMinor === 0) return reversalPlan(state, request, merchantId, env, 'nothing_to_reverse', 0, false);
  const marked: RefundLedger = { refundedMinor: ledger.refundedMinor, reversed: true };
  const ledgerWrite: EntityWrite = {
    entity: refundLedgerEntity(request.originalKey),
    expectVersion: stored?.version ?? 0,
    data: encodeRefundLedger(marked),
  };
  return reversalPlan(state, request, merchantId, env, 'reversed', amountMinor, false, ledgerWrite, original.program);
}

function reversalPlan(
  state: CardState,
  request: MoneyRequest,
  merchantId: string,
  env: CardEnv,
  outcome: ReverseOutcome,
  amountMinor: number,
  tombstone: boolean,
  ledgerWrite?: EntityWrite,
  figures?: ProgramFigures,
): MoneyDecision {
  const offline = request.kind === 'offline_void';
  const decision: CardDecision = outcome === 'reversed' ? decide(state, { type: 'reverse', amountMinor, offline }) : { kind: 'unchanged' };
  const claims: Claim[] = [];
  const id = env.nextId();
  // Only a reversal that moves money claims the original; a declined one leaves it reversible.
  const reversing = outcome === 'reversed' && decision.kind === 'approved';
  if (reversing) claims.push({ kind: 'reversal', key: request.originalKey, value: id });
  if (tombstone)
    claims.push({ kind: 'idempotency', key: request.originalKey, value: tombstoneDocument(state, request, merchantId, id, env) });
  // Reversing a purchase decided under program rules takes back its points (earned points out,
  // redeemed points back; never below zero), as the fleet reversal does.
  const base = reversing && figures !== undefined ? reversePoints(state, figures) : undefined;
  return moneyPlan(state, request, merchantId, env, decision, {
    id,
    claims,
    ...(decision.kind === 'declined' ? {} : { reverse: outcome }),
    amountMinor,
    ...(reversing && ledgerWrite !== undefined ? { writes: [ledgerWrite] } : {}),
    ...(base === undefined ? {} : { base }),
  });
}

/** The original never reached us: a tombstone under its key makes it declined if it arrives after this. */
function tombstoneDocument(state: CardState, request: MoneyRequest, merchantId: string, id: string, env: CardEnv): string {
  const kind = request.kind === 'offline_void' ? 'offline_purchase' : 'purchase';
  const result: TxnResult = {
    id: `${id}.t`,
    kind,
    outcome: 'declined',
    reason: 'reversed_before_authorization',
    rule: 'reversal',
    cardId: state.cardId,
    amountMinor: 0,
    currency: state.currency,
    balanceAfterMinor: availableMinor(state),
    atMs: env.nowMs,
  };
  const original: MoneyRequest = { ...request, kind, key: request.originalKey, amountMinor: 0, originalKey: '' };
  return transactionDocument(original, { merchantId, programId: state.programId }, result, tombstone_fingerprint);
}

export interface RefundFacts {
  readonly original: IdempotencyRecord | undefined;
  /** The original's refund ledger; read only when the original exists. */
  readonly ledger: StoredRecord | undefined;
}

/** True when deciding a refund against `original` needs its ledger (else it is refused without). */
export function refundNeedsLedger(original: IdempotencyRecord | undefined): boolean {
  return original !== undefined && original.f !== tombstone_fingerprint;
}

/**
 * A refund (returned goods) against a purchase or completion of this card: never more in total
 * than was spent on it, never after it was reversed. The manager's credential was checked before
 * the request reached the card.
 */
export function decideRefundRequest(
  state: CardState,
  request: MoneyRequest,
  merchantId: string,
  facts: RefundFacts,
  env: CardEnv,
): MoneyDecision {
  const { original } = facts;
  const originalKey = request.originalKey;
  if (original === undefined || original.f === tombstone_fingerprint)
    return { kind: 'rejected', error: notFound('original transaction not found', { originalKey }) };
  // The manager was verified for the merchant of the refund's terminal: the goods must have been
  // bought there.
  if (original.origin === undefined || original.origin.merchantId !== merchantId)
    return {
      kind: 'rejected',
      error: permissionDenied('a refund is made by a manager of the merchant the original was bought at', { originalKey }),
    };
  if (original.r.cardId !== state.cardId)
    return { kind: 'rejected', error: invalidArgument('original transaction belongs to another card', { originalKey }) };
  if (original.r.kind !== 'purchase' && original.r.kind !== 'completion')
    return {
      kind: 'rejected',
      error: invalidArgument('only purchases and completions can be refunded', { originalKey, kind: original.r.kind }),
    };
  const ledger = decodeLedger(facts.ledger);
  const decision: CardDecision =
    original.r.outcome !== 'approved'
      ? { kind: 'declined', reason: 'original_not_refundable', rule: 'declined' }
      : decideRefund(state, request.amountMinor, request.currency, original.r.amountMinor, ledger);
  const writes: EntityWrite[] =
    decision.kind === 'approved'
      ? [
          {
            entity: refundLedgerEntity(originalKey),
            expectVersion: facts.ledger?.version ?? 0,
            data: encodeRefundLedger({ refundedMinor: ledger.refundedMinor + request.amountMinor, reversed: false }),
          },
        ]
      : [];
  return moneyPlan(state, request, merchantId, env, decision, { writes });
}

function decodeLedger(stored: StoredRecord | undefined): RefundLedger {
  return stored?.data === undefined ? empty_refund_ledger : decodeRefundLedger(stored.data);
}

// ---------------------------------------------------------------------------------------------
// The answer and document of a money decision.

interface MoneyExtras {
  readonly id?: string;
  readonly claims?: readonly Claim[];
  readonly reverse?: ReverseOutcome;
  readonly amountMinor?: number;
  readonly writes?: readonly EntityWrite[];
  /** The state the decision applies to when it differs from the current one (PIN attempt count, rule state). */
  readonly base?: CardState;
  /** Loyalty and risk figures of a purchase under program rules. */
  readonly program?: ProgramFigures;
  readonly extraOutbox?: CommitEntry['extraOutbox'];
}

function moneyPlan(
  before: CardState,
  request: MoneyRequest,
  merchantId: string,
  env: CardEnv,
  decision: CardDecision,
  extra: MoneyExtras,
): MoneyDecision {
  if (decision.kind === 'rejected')
    return { kind: 'rejected', error: rejected(decision.code, decision.message, { cardId: before.cardId }) };
  const start = extra.base ?? before;
  const after = decision.kind === 'approved' ? apply(start, decision.event) : start;
  const approved = decision.kind !== 'declined';
  const result: TxnResult = {
    id: extra.id ?? env.nextId(),
    kind: request.kind,
    outcome: approved ? 'approved' : 'declined',
    reason: decision.kind === 'declined' ? decision.reason : undefined,
    rule: decision.kind === 'declined' ? decision.rule : undefined,
    cardId: before.cardId,
    amountMinor: approved ? (extra.amountMinor ?? request.amountMinor) : 0,
    currency: before.currency,
    balanceAfterMinor: availableMinor(after),
    atMs: env.nowMs,
    reverse: extra.reverse,
    // Receipt data of cards issued through CardService.
    spentMinor:
      after.profile !== undefined && (request.kind === 'purchase' || request.kind === 'completion') ? (after.spentMinor ?? 0) : undefined,
  };
  // Documents of the v1 kinds keep their v1 shape (deltas derived by the reader); the others
  // say their deltas (docs/OUTBOX.md).
  const holdKey = request.originalKey === '' ? request.key : request.originalKey;
  const event = decision.kind === 'approved' ? decision.event : undefined;
  const hold =
    hold_kinds.has(request.kind) || (event !== undefined && event.type === 'hold_released') ? holdFields(event, holdKey, after) : undefined;
  const fullResult: TxnResult =
    hold !== undefined
      ? { ...result, holdMinor: hold.hold_amount, holdExpiresAtMs: hold.hold_expires_at, ledgerAfterMinor: hold.ledger_after }
      : request.kind === 'tab_settlement'
        ? { ...result, ledgerAfterMinor: after.balanceMinor }
        : extra.program !== undefined
          ? { ...result, program: extra.program }
          : result;
  const extras = withDebtFields(documentExtras(request, result, extra, after, event, hold), before, after);
  const stored = transactionDocument(request, { merchantId, programId: before.programId }, fullResult, request.fingerprint, extras);
  const listed = withListing(after, env.program.offline);
  const plan: { -readonly [K in keyof MoneyPlan]: MoneyPlan[K] } = {
    kind: 'money',
    after: listed.after,
    record:
      request.lines === undefined
        ? { f: request.fingerprint, r: fullResult, origin: { terminalId: request.terminalId, merchantId } }
        : { f: request.fingerprint, r: fullResult, origin: { terminalId: request.terminalId, merchantId }, lines: request.lines },
    stored,
  };
  const writes = request.recordSpent === true ? [...(extra.writes ?? []), spentKeyWrite(before, request, fullResult)] : extra.writes;
  if (writes !== undefined && writes.length > 0) plan.writes = writes;
  if (extra.claims !== undefined && extra.claims.length > 0) plan.claims = extra.claims;
  if (extra.extraOutbox !== undefined) plan.extraOutbox = extra.extraOutbox;
  if (listed.change !== undefined) {
    plan.denylist = listed.change;
    plan.extraOutbox = [...(plan.extraOutbox ?? []), listingDocument(listed.change, listed.after, env.shard, env.nowMs)];
  }
  if (extra.reverse === 'reversed') plan.reversing = request.originalKey;
  return plan;
}

/** The document of a card's listing change, to its own shard's outbox beside the decision's. */
function listingDocument(change: DenylistChange, after: CardState, shard: number, nowMs: number): { shard: number; document: string } {
  return {
    shard,
    document: cardDenylistChanged({
      card: after.cardId,
      program: after.programId,
      reason: change.reason,
      amount: debtMinor(after),
      at: nowMs,
    }),
  };
}

/** The optional document fields of a money decision, by kind (docs/OUTBOX.md). */
function documentExtras(
  request: MoneyRequest,
  result: TxnResult,
  extra: MoneyExtras,
  after: CardState,
  event: CardEvent | undefined,
  hold: HoldFields | undefined,
): DocumentExtras | undefined {
  if (extra.program !== undefined) return programFields(extra.program, result.amountMinor);
  switch (request.kind) {
    case 'refund':
      return { balance_delta: result.amountMinor };
    case 'tab_settlement':
      return { balance_delta: result.amountMinor, account_balance_after: after.balanceMinor };
    case 'cash_out':
      return cashOutFields(event);
    case 'offline_purchase':
      return offlineSaleFields(request, result);
    case 'offline_void':
      return { balance_delta: event === undefined ? 0 : balanceDeltaMinor(event) };
    default:
      return hold;
  }
}

/**
 * A decision that changed what the card owes (an offline sale past its balance, a top-up, refund,
 * return or void paying it back) says so in its document: the change and what is owed after.
 * Cards that never owed anything never carry these fields.
 */
function withDebtFields(extras: DocumentExtras | undefined, before: CardState, after: CardState): DocumentExtras | undefined {
  const owedBefore = debtMinor(before);
  const owedAfter = debtMinor(after);
  if (owedBefore === owedAfter) return extras;
  return { ...extras, debt_delta: owedAfter - owedBefore, debt_after: owedAfter };
}

// ---------------------------------------------------------------------------------------------
// Operator changes.

export type CardAdminCommand =
  | {
      readonly type: 'issue';
      readonly command: Extract<CardCommand, { type: 'issue' }>;
      readonly operatorId: string;
      /** A named card's holder (personal data, JSON), written to its own record. */
      readonly holder?: string;
      /**
       * The holder record's version when it exists already (a card issued again after its
       * issuance was cancelled: the record was blanked); absent = it must not exist.
       */
      readonly holderVersion?: number;
    }
  | { readonly type: 'set_status'; readonly status: SettableStatus; readonly reason: string; readonly operatorId: string }
  | { readonly type: 'transition'; readonly transition: TransitionRequest; readonly reason: string; readonly operatorId: string }
  | { readonly type: 'auto_reload'; readonly autoReload: AutoReload | undefined; readonly operatorId: string }
  | { readonly type: 'tab_limit'; readonly limitMinor: number; readonly operatorId: string }
  | {
      readonly type: 'set_pin';
      readonly newHash: string;
      readonly oldHash: string | undefined;
      readonly reset: boolean;
      readonly operatorId: string;
    }
  /** Checks the PIN (VerifyPin): changes the card only to count a wrong one or clear the count. */
  | { readonly type: 'verify_pin'; readonly hash: string; readonly operatorId: string }
  /** An operator cleared a flagged approval of this card. */
  | { readonly type: 'resolve_review'; readonly transactionId: string; readonly note: string; readonly operatorId: string }
  /** Enrols the card for authentication under a key with the chip's counter, or ('' key) stops it. */
  | { readonly type: 'set_auth'; readonly keyId: string; readonly counter: number; readonly operatorId: string }
  /** Lists a bank card's token on the card (`link`), or takes it off (tokens.ts). */
  | { readonly type: 'link_token'; readonly token: string; readonly link: boolean; readonly operatorId: string };

export interface AdminAnswer {
  readonly state: CardState;
  /** The status before the change. */
  readonly previous: CardStatus;
  /** True when the command changed nothing (an idempotent repeat). */
  readonly unchanged: boolean;
}

export type AdminDecision =
  | Rejection
  /** Refused, yet the card changes and the change is committed before the refusal is answered (a wrong old PIN counted). */
  | { readonly kind: 'refused_after'; readonly after: CardState; readonly document: string | undefined; readonly error: TaplineError }
  | { readonly kind: 'unchanged'; readonly answer: AdminAnswer }
  /** Answered as done, after a change that is no event of its own (a PIN's wrong-attempt count cleared). */
  | { readonly kind: 'counted'; readonly after: CardState; readonly answer: AdminAnswer }
  | {
      readonly kind: 'changed';
      readonly after: CardState;
      readonly document: string;
      readonly writes: readonly EntityWrite[];
      readonly answer: AdminAnswer;
      /** The change put the card on the denylist or took it off (committed with it, with its document). */
      readonly denylist?: DenylistChange;
      readonly extraOutbox?: NonNullable<CommitEntry['extraOutbox']>;
    };

/**
 * What an operator change may use besides the card: the time, the card's program's PIN attempts,
 * and its offline policy (a status change lists the card, or takes it off the denylist).
 */
export interface AdminEnv {
  readonly nowMs: number;
  readonly pinAttemptsMax: number;
  readonly offline?: ProgramOfflinePolicy | undefined;
  /** The card's shard (its listing document goes to its own outbox). */
  readonly shard: number;
}

export function decideAdmin(state: CardState | undefined, command: CardAdminCommand, env: AdminEnv): AdminDecision {
  // A card whose issuance was cancelled is stock: only an issue reaches it.
  if (state?.status === 'unissued' && command.type !== 'issue')
    return { kind: 'rejected', error: rejected('not_found', 'card not found', { cardId: state.cardId }) };
  if (command.type === 'verify_pin') return verifyPin(state, command.hash, env);
  if (command.type === 'set_pin' && state !== undefined) {
    const pin = decideSetPin(state, command.newHash, command.oldHash, command.reset, env.pinAttemptsMax);
    if (pin.wrongAttempt !== undefined) return wrongOldPin(state, pin.wrongAttempt, env.nowMs);
  }
  const decision = adminDecision(state, command, env);
  if (decision.kind === 'rejected')
    return {
      kind: 'rejected',
      error: rejected(decision.code, decision.message, { cardId: command.type === 'issue' ? command.command.cardId : '' }),
    };
  if (decision.kind !== 'approved') {
    const current = state as CardState;
    return { kind: 'unchanged', answer: { state: current, previous: current.status, unchanged: true } };
  }
  const listed = withListing(apply(state, decision.event), env.offline);
  const after = listed.after;
  // A named card's holder goes to its own record in the same atomic entry: personal data is
  // neither rewritten with every purchase nor part of any document.
  const writes: EntityWrite[] =
    command.type === 'issue' && command.holder !== undefined
      ? [{ entity: { kind: 'holder', id: after.cardId }, expectVersion: command.holderVersion ?? 0, data: command.holder }]
      : [];
  return {
    kind: 'changed',
    after,
    document: adminDocument(command, state, after, env.nowMs),
    writes,
    answer: { state: after, previous: state?.status ?? after.status, unchanged: false },
    ...(listed.change === undefined
      ? {}
      : { denylist: listed.change, extraOutbox: [listingDocument(listed.change, after, env.shard, env.nowMs)] }),
  };
}

/** VerifyPin: a wrong PIN is counted like SetPin's wrong old PIN; a right one clears a count. */
function verifyPin(state: CardState | undefined, hash: string, env: AdminEnv): AdminDecision {
  const check = decideVerifyPin(state, hash, env.pinAttemptsMax);
  if (check.kind === 'rejected') return { kind: 'rejected', error: rejected(check.code, check.message, { cardId: state?.cardId ?? '' }) };
  const current = state as CardState;
  if (check.kind === 'wrong') return wrongOldPin(current, check, env.nowMs, 'the PIN is wrong');
  const answer = (after: CardState): AdminAnswer => ({ state: after, previous: current.status, unchanged: !check.clearFailures });
  if (!check.clearFailures) return { kind: 'unchanged', answer: answer(current) };
  const after = withPinFailures(current, 0);
  return { kind: 'counted', after, answer: answer(after) };
}

/** A wrong old PIN in SetPin (or a wrong PIN in VerifyPin): refused, with the card's wrong-attempt count raised (and a "locked" document when it locks). */
function wrongOldPin(
  state: CardState,
  attempt: { failuresAfter: number; locked: boolean },
  nowMs: number,
  message = 'the current PIN is wrong',
): AdminDecision {
  return {
    kind: 'refused_after',
    after: withPinFailures(state, attempt.failuresAfter),
    document: attempt.locked ? pinLockedDocument(state, nowMs) : undefined,
    error: rejected('permission_denied', message, { cardId: state.cardId }),
  };
}

function adminDecision(state: CardState | undefined, command: CardAdminCommand, env: AdminEnv): CardDecision {
  switch (command.type) {
    case 'issue':
      return decide(state, command.command);
    case 'set_status':
      return decideStatusChange(state, command.status, command.operatorId);
    case 'transition':
      return decideTransition(state, command.transition);
    case 'auto_reload':
      return decide(state, { type: 'set_auto_reload', autoReload: command.autoReload });
    case 'tab_limit':
      return decide(state, { type: 'set_tab_limit', limitMinor: command.limitMinor });
    case 'set_pin':
      return decideSetPin(state, command.newHash, command.oldHash, command.reset, env.pinAttemptsMax).decision;
    case 'verify_pin':
      // decideAdmin answers it before (verifyPin): it is never an event of its own.
      return { kind: 'rejected', code: 'failed_precondition', message: 'a PIN check is no card change' };
    case 'set_auth':
      return decideSetCardAuth(state, command.keyId, command.counter);
    case 'link_token':
      return decideLinkToken(state, command.token, command.link);
    case 'resolve_review': {
      if (state === undefined) return { kind: 'rejected', code: 'not_found', message: 'card not found' };
      const rules = resolveCardReview(state, command.transactionId);
      if (rules === undefined) return { kind: 'rejected', code: 'not_found', message: 'no open review of this transaction on this card' };
      return { kind: 'approved', event: { type: 'rules_changed', rules } };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Replacement.

export interface ReplaceCommand {
  readonly replacementId: string;
  readonly replacementShard: number;
  readonly reason: string;
  readonly operatorId: string;
}

export interface ReplaceAnswer {
  readonly old: CardState;
  readonly replacement: CardState;
  readonly alreadyReplaced: boolean;
}

export interface ReplacementFacts {
  /** The replacement card's record (must not exist, unless this is a retry of the same replacement). */
  readonly existing: StoredRecord;
  /** A named card's holder record, copied to the new card. */
  readonly holder: StoredRecord | undefined;
}

export type ReplaceDecision =
  | Rejection
  | { readonly kind: 'answer'; readonly answer: ReplaceAnswer }
  | {
      readonly kind: 'replace';
      readonly after: CardState;
      readonly writes: readonly EntityWrite[];
      readonly outbox: string;
      readonly extraOutbox: NonNullable<CommitEntry['extraOutbox']>;
      readonly answer: ReplaceAnswer;
      readonly denylist?: DenylistChange;
    };

/**
 * Replaces this card by a new one, in one commit entry fenced by both cards' shards: this card
 * becomes `replaced` with nothing on it, the new card is created (it must not exist: expected
 * version 0) with this card's balance, deposit, program, expiry and holder, and the documents
 * transfer_out (this card), card_replaced, card_issued and transfer_in (new card) are appended.
 */
export function decideReplacement(
  state: CardState,
  command: ReplaceCommand,
  facts: ReplacementFacts,
  env: CardEnv,
  decodeCard: (data: string) => CardState,
): ReplaceDecision {
  if (state.status === 'replaced') {
    // A retry of the same replacement answers it again; another one is refused.
    if (state.profile?.replacedBy === command.replacementId && facts.existing.data !== undefined)
      return { kind: 'answer', answer: { old: state, replacement: decodeCard(facts.existing.data), alreadyReplaced: true } };
    return { kind: 'rejected', error: rejected('failed_precondition', 'card was already replaced', { cardId: state.cardId }) };
  }
  const decision = decideReplace(state, command.replacementId, env.nowMs);
  if (decision.kind === 'rejected') return { kind: 'rejected', error: rejected(decision.code, decision.message, { cardId: state.cardId }) };
  if (decision.kind !== 'approved') throw new Error('assertion: a replacement is approved or rejected');
  if (facts.existing.data !== undefined)
    return {
      kind: 'rejected',
      error: rejected('already_exists', 'the replacement card already exists', { cardId: command.replacementId }),
    };
  // The replaced card goes on the denylist (its medium must not sell offline any more).
  const listed = withListing(apply(state, decision.event), env.program.offline);
  const after = listed.after;
  const replacement = replacementState(state, command.replacementId, env.nowMs);
  const documents = replacementDocuments(state, replacement, command, env.nowMs, env.nextId);
  const writes: EntityWrite[] = [
    {
      entity: { kind: 'card', id: command.replacementId },
      expectVersion: 0,
      data: encodeCardState(replacement),
      shard: command.replacementShard,
    },
  ];
  if (facts.holder?.data !== undefined)
    writes.push({
      entity: { kind: 'holder', id: command.replacementId },
      expectVersion: 0,
      data: facts.holder.data,
      shard: command.replacementShard,
    });
  return {
    kind: 'replace',
    after,
    writes,
    outbox: documents.transferOut,
    extraOutbox: [
      { shard: env.shard, document: documents.replaced },
      { shard: command.replacementShard, document: documents.issued },
      { shard: command.replacementShard, document: documents.transferIn },
      ...(listed.change === undefined ? [] : [listingDocument(listed.change, after, env.shard, env.nowMs)]),
    ],
    answer: { old: after, replacement, alreadyReplaced: false },
    ...(listed.change === undefined ? {} : { denylist: listed.change }),
  };
}
