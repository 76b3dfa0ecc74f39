// The producers' side of the outbox contract (contract.ts): one typed function per document a
// producer writes, returning the encoded document. Each writes its fields in the order the
// producers wrote them before this module existed, so stored idempotency records, the streamer's
// fast path and ClickHouse see the same bytes (test/unit/outbox-contract.test.ts compares them).
//
// Hot path: a purchase builds its document once, as one object literal and one JSON.stringify;
// that string is both the idempotency record and the outbox entry. Optional fields are added to
// the same object only when present, so a plain purchase allocates nothing more than the literal.
//
// Inputs are structural (what a request and its result must have), so any entity's request and
// result types can be passed as they are, and this module depends on no actor.

import type { SpendLimits } from '../rules/spend-limits';
import { audit_diff_chars_max } from './contract';
import type {
  AuditRecordDocument,
  CardDenylistChangedDocument,
  CardIssuanceCancelledDocument,
  CardIssuedDocument,
  CardPinChangedDocument,
  CardPinEvent,
  CardReplacedDocument,
  CardStatusChangedDocument,
  FleetAccountChangedDocument,
  FleetAccountEvent,
  FleetInvoiceDocument,
  FleetTransactionDocument,
  LineItem,
  OperatorAction,
  OperatorActionDocument,
  ReverseOutcome,
  TapPourDocument,
  TerminalEventDocument,
  TerminalOfflineDocument,
  TerminalOfflineEvent,
  TransactionDocument,
  TransactionExtras,
  TransactionKind,
  TransactionOutcome,
} from './contract';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

// -------------------------------------------------------------------------------------------
// Transactions.

/** What a transaction document needs of the request (a MoneyRequest has it). */
export interface TransactionRequestFields {
  readonly key: string;
  readonly terminalId: string;
  readonly amountMinor: number;
  readonly originalKey: string;
  readonly source: string;
  readonly operatorId: string;
  /** The basket of a purchase, kept as sent (receipt reprint, reports). */
  readonly lines?: readonly LineItem[] | undefined;
  /** The cashier the request named (its id is recorded; the code's hash never is). */
  readonly cashier?: { readonly cashierId: string } | undefined;
}

/** What a transaction document needs of the answer (a TxnResult has it). */
export interface TransactionResultFields {
  readonly id: string;
  readonly kind: TransactionKind;
  readonly outcome: TransactionOutcome;
  readonly reason?: string | undefined;
  readonly rule?: string | undefined;
  readonly cardId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly balanceAfterMinor: number;
  readonly atMs: number;
  readonly reverse?: ReverseOutcome | undefined;
  /** Cards issued through CardService: what the card has spent so far (purchases and completions). */
  readonly spentMinor?: number | undefined;
}

/** Where the request was made and what the card belongs to. */
export interface TransactionContext {
  readonly merchantId: string;
  readonly programId: string;
}

/**
 * The transaction document as an object (the form the card and fleet actors built before the
 * contract; transactionDocument is the one to call). `fingerprint` is the request's, "" for a
 * system action (hold expiry, transfers), "*" for a tombstone. `extras` are the optional fields
 * the kind carries (docs/OUTBOX.md); they are written after the v1 fields in the contract's order.
 */
export function transactionObject(
  request: TransactionRequestFields,
  context: TransactionContext,
  result: TransactionResultFields,
  fingerprint: string,
  extras?: TransactionExtras,
): TransactionDocument {
  const document: Mutable<TransactionDocument> = {
    type: 'transaction',
    f: fingerprint,
    id: result.id,
    kind: result.kind,
    outcome: result.outcome,
    reason: result.reason ?? '',
    rule: result.rule ?? '',
    card: result.cardId,
    program: context.programId,
    terminal: request.terminalId,
    merchant: context.merchantId,
    amount: result.amountMinor,
    requested: request.amountMinor,
    currency: result.currency,
    balance_after: result.balanceAfterMinor,
    key: request.key,
    original: request.originalKey,
    reverse: result.reverse ?? '',
    source: request.source,
    operator: request.operatorId,
    at: result.atMs,
  };
  if (extras !== undefined) addExtras(document, extras);
  if (request.lines !== undefined) document.lines = request.lines;
  if (result.spentMinor !== undefined) document.spent_after = result.spentMinor;
  if (request.cashier !== undefined) document.cashier = request.cashier.cashierId;
  return document;
}

/** The encoded transaction document: idempotency record and outbox entry in one string. */
export function transactionDocument(
  request: TransactionRequestFields,
  context: TransactionContext,
  result: TransactionResultFields,
  fingerprint: string,
  extras?: TransactionExtras,
): string {
  return JSON.stringify(transactionObject(request, context, result, fingerprint, extras));
}

/**
 * The optional fields in the contract's order. The kinds that carry them never mix the groups
 * (hold fields; deposit and payout; account balance; program figures; offline sale), and each group
 * keeps the order its producer always wrote; the debt fields come last, on any kind whose decision
 * changed what the card owes.
 */
function addExtras(document: Mutable<TransactionDocument>, extras: TransactionExtras): void {
  if (extras.balance_delta !== undefined) document.balance_delta = extras.balance_delta;
  if (extras.held_delta !== undefined) document.held_delta = extras.held_delta;
  if (extras.hold !== undefined) document.hold = extras.hold;
  if (extras.hold_amount !== undefined) document.hold_amount = extras.hold_amount;
  if (extras.hold_expires_at !== undefined) document.hold_expires_at = extras.hold_expires_at;
  if (extras.ledger_after !== undefined) document.ledger_after = extras.ledger_after;
  if (extras.deposit_delta !== undefined) document.deposit_delta = extras.deposit_delta;
  if (extras.payout !== undefined) document.payout = extras.payout;
  if (extras.account_balance_after !== undefined) document.account_balance_after = extras.account_balance_after;
  if (extras.discount !== undefined) document.discount = extras.discount;
  if (extras.points_earned !== undefined) document.points_earned = extras.points_earned;
  if (extras.points_redeemed !== undefined) document.points_redeemed = extras.points_redeemed;
  if (extras.flags !== undefined) document.flags = extras.flags;
  if (extras.offline_at !== undefined) document.offline_at = extras.offline_at;
  if (extras.liability !== undefined) document.liability = extras.liability;
  if (extras.debt_delta !== undefined) document.debt_delta = extras.debt_delta;
  if (extras.debt_after !== undefined) document.debt_after = extras.debt_after;
}

/** A fleet basket line as the request carries it (RuleLine). */
export interface FleetLineFields {
  readonly code: string;
  readonly group: string;
  readonly qty_milli: number;
  readonly unit_minor: number;
  readonly amount_minor: number;
}

/** The prompt answers a fleet document records. */
export interface FleetPromptFields {
  readonly odometer_km: number;
  readonly driver_id: string;
  readonly vehicle_id: string;
}

export interface FleetRequestFields extends TransactionRequestFields {
  readonly fingerprint: string;
  readonly fleet: { readonly lines: readonly FleetLineFields[]; readonly prompts: FleetPromptFields };
}

export interface FleetResultFields extends TransactionResultFields {
  readonly fleet: {
    readonly fleetId: string;
    readonly pumpMinor: number;
    readonly invoicedMinor: number;
    readonly discountMinor: number;
    readonly pointsEarned: number;
    readonly pointsRedeemed: number;
    readonly flags: readonly string[];
    readonly accountBalanceAfterMinor: number;
    /** The billing cycle the document accrues to (absent in documents written before cycles). */
    readonly cycle?: number | undefined;
  };
  /** Pre-authorizations: the hold open after it (completions and voids: the hold released). */
  readonly holdMinor?: number | undefined;
  readonly holdExpiresAtMs?: number | undefined;
}

/**
 * A fleet card's transaction document as an object. `invoicedLines` are the invoiced amounts of
 * the basket's lines (empty when declined: nothing is invoiced); `prompts` default to the
 * request's (a reversal passes the purchase's driver and vehicle, and no odometer reading).
 * One fixed-shape literal: this runs for every fleet authorization.
 */
export function fleetTransactionObject(
  request: FleetRequestFields,
  context: TransactionContext,
  result: FleetResultFields,
  invoicedLines: readonly number[],
  prompts: FleetPromptFields = request.fleet.prompts,
): FleetTransactionDocument {
  const approved = result.outcome === 'approved';
  const requestLines = request.fleet.lines;
  const lines = new Array<FleetTransactionDocument['lines'][number]>(requestLines.length);
  for (let index = 0; index < requestLines.length; index++) {
    const line = requestLines[index] as FleetLineFields;
    lines[index] = {
      code: line.code,
      group: line.group,
      qty_milli: line.qty_milli,
      unit: line.unit_minor,
      amount: line.amount_minor,
      pump_unit: line.unit_minor,
      invoiced: approved ? (invoicedLines[index] ?? line.amount_minor) : 0,
    };
  }
  const document: Mutable<FleetTransactionDocument> = {
    type: 'transaction',
    f: request.fingerprint,
    id: result.id,
    kind: result.kind,
    outcome: result.outcome,
    reason: result.reason ?? '',
    rule: result.rule ?? '',
    card: result.cardId,
    program: context.programId,
    terminal: request.terminalId,
    merchant: context.merchantId,
    amount: result.amountMinor,
    requested: request.amountMinor,
    currency: result.currency,
    balance_after: result.balanceAfterMinor,
    key: request.key,
    original: request.originalKey,
    reverse: result.reverse ?? '',
    source: request.source,
    operator: request.operatorId,
    at: result.atMs,
    fleet: result.fleet.fleetId,
    lines,
    pump: result.fleet.pumpMinor,
    invoiced: result.fleet.invoicedMinor,
    discount: result.fleet.discountMinor,
    points_earned: result.fleet.pointsEarned,
    points_redeemed: result.fleet.pointsRedeemed,
    flags: result.fleet.flags,
    odometer: prompts.odometer_km,
    driver: prompts.driver_id,
    vehicle: prompts.vehicle_id,
    // A fleet card holds no balance of its own: the purchase accrues to the account.
    balance_delta: 0,
    account_balance_after: result.fleet.accountBalanceAfterMinor,
  };
  // Written after the fields every fleet document had, so documents without them keep their bytes.
  if (result.holdMinor !== undefined) {
    document.hold = result.kind === 'pre_authorization' ? request.key : request.originalKey;
    document.hold_amount = result.holdMinor;
    document.hold_expires_at = result.holdExpiresAtMs ?? 0;
  }
  if (result.fleet.cycle !== undefined) document.cycle = result.fleet.cycle;
  return document;
}

/** The encoded fleet transaction document (idempotency record and outbox entry). */
export function fleetTransactionDocument(
  request: FleetRequestFields,
  context: TransactionContext,
  result: FleetResultFields,
  invoicedLines: readonly number[],
  prompts: FleetPromptFields = request.fleet.prompts,
): string {
  return JSON.stringify(fleetTransactionObject(request, context, result, invoicedLines, prompts));
}

// -------------------------------------------------------------------------------------------
// Card lifecycle.

/** What a card was issued with through CardService (absent for AdminService.IssueCard). */
export interface IssuedProfileFields {
  readonly deposit: number;
  readonly named: boolean;
  readonly expires_at: number;
  readonly issuance: string;
}

/** A card issued alone or in bulk: `amount` is its initial balance. */
export function cardIssued(input: {
  readonly card: string;
  readonly program: string;
  readonly currency: string;
  readonly status: string;
  readonly amount: number;
  readonly operator: string;
  readonly at: number;
  readonly profile?: IssuedProfileFields | undefined;
}): string {
  const base = {
    type: 'card_issued',
    card: input.card,
    program: input.program,
    currency: input.currency,
    status: input.status,
    amount: input.amount,
    operator: input.operator,
    reason: '',
    at: input.at,
  } as const;
  const profile = input.profile;
  const document: CardIssuedDocument =
    profile === undefined
      ? base
      : { ...base, deposit: profile.deposit, named: profile.named, expires_at: profile.expires_at, issuance: profile.issuance };
  return JSON.stringify(document);
}

/**
 * The new card of a replacement: issued empty and active (its balance and deposit arrive by
 * transfer_in, so per-card reconciliation holds), with the old card's holder kind and expiry.
 */
export function replacementCardIssued(input: {
  readonly card: string;
  readonly program: string;
  readonly currency: string;
  readonly named: boolean;
  readonly expires_at: number;
  /** The card this one replaces. */
  readonly replaces: string;
  readonly operator: string;
  readonly at: number;
}): string {
  const document: CardIssuedDocument = {
    type: 'card_issued',
    card: input.card,
    program: input.program,
    currency: input.currency,
    status: 'active',
    amount: 0,
    deposit: 0,
    named: input.named,
    expires_at: input.expires_at,
    issuance: '',
    operator: input.operator,
    reason: `replaces ${input.replaces}`,
    at: input.at,
  };
  return JSON.stringify(document);
}

/** A fleet account's closed billing cycle: the invoice it issued (contract.ts, FleetInvoiceDocument). */
export function fleetInvoiceIssued(input: {
  readonly fleet: string;
  readonly number: string;
  readonly cycle: number;
  readonly currency: string;
  readonly amount: number;
  readonly applied: number;
  readonly opened_at: number;
  readonly due_at: number;
  readonly operator: string;
  readonly at: number;
}): string {
  const document: FleetInvoiceDocument = {
    type: 'fleet_invoice',
    fleet: input.fleet,
    number: input.number,
    cycle: input.cycle,
    currency: input.currency,
    amount: input.amount,
    applied: input.applied,
    opened_at: input.opened_at,
    due_at: input.due_at,
    operator: input.operator,
    at: input.at,
  };
  return JSON.stringify(document);
}

/** A fleet card: no stored value (amount 0), its fleet account as its program. */
export function fleetCardIssued(input: {
  readonly card: string;
  readonly fleet: string;
  readonly currency: string;
  readonly status: string;
  readonly operator: string;
  readonly at: number;
}): string {
  const document: CardIssuedDocument = {
    type: 'card_issued',
    card: input.card,
    program: input.fleet,
    currency: input.currency,
    status: input.status,
    amount: 0,
    fleet: input.fleet,
    operator: input.operator,
    reason: '',
    at: input.at,
  };
  return JSON.stringify(document);
}

/**
 * A plain card's new status: from SetCardStatus (no transition), or from an audited
 * ChangeCardState action with its approver (the second person of an unblock, else "").
 */
export function cardStatusChanged(input: {
  readonly card: string;
  readonly program: string;
  readonly currency: string;
  readonly status: string;
  readonly previous: string;
  readonly reason: string;
  readonly operator: string;
  readonly at: number;
  readonly transition?: { readonly action: string; readonly approver: string } | undefined;
}): string {
  const base = {
    type: 'card_status_changed',
    card: input.card,
    program: input.program,
    currency: input.currency,
    status: input.status,
    amount: 0,
    reason: input.reason,
    at: input.at,
    operator: input.operator,
    previous: input.previous,
  } as const;
  const transition = input.transition;
  const document: CardStatusChangedDocument =
    transition === undefined ? base : { ...base, action: transition.action, approver: transition.approver };
  return JSON.stringify(document);
}

/** A fleet card's new status (set by the fleet's operator). */
export function fleetCardStatusChanged(input: {
  readonly card: string;
  readonly fleet: string;
  readonly status: string;
  readonly previous: string;
  readonly operator: string;
  readonly at: number;
}): string {
  const document: CardStatusChangedDocument = {
    type: 'card_status_changed',
    card: input.card,
    program: input.fleet,
    status: input.status,
    previous: input.previous,
    operator: input.operator,
    reason: '',
    at: input.at,
  };
  return JSON.stringify(document);
}

/** The old card of a replacement: `amount` and `deposit` moved to `replacement`. */
export function cardReplaced(input: {
  readonly card: string;
  readonly replacement: string;
  readonly program: string;
  readonly amount: number;
  readonly deposit: number;
  readonly operator: string;
  readonly reason: string;
  readonly at: number;
}): string {
  const document: CardReplacedDocument = {
    type: 'card_replaced',
    card: input.card,
    replacement: input.replacement,
    program: input.program,
    amount: input.amount,
    deposit: input.deposit,
    operator: input.operator,
    reason: input.reason,
    at: input.at,
  };
  return JSON.stringify(document);
}

/** A PIN set, changed, locked (too many wrong attempts: operator "", reason "pin_attempts") or unlocked. */
export function cardPinChanged(input: {
  readonly card: string;
  readonly program: string;
  readonly event: CardPinEvent;
  readonly operator: string;
  readonly reason: string;
  readonly at: number;
}): string {
  const document: CardPinChangedDocument = {
    type: 'card_pin_changed',
    card: input.card,
    program: input.program,
    event: input.event,
    operator: input.operator,
    reason: input.reason,
    at: input.at,
  };
  return JSON.stringify(document);
}

/** A card went on the offline denylist, or (reason "") left it; `amount` is what it owes then. */
export function cardDenylistChanged(input: {
  readonly card: string;
  readonly program: string;
  readonly reason: string;
  readonly amount: number;
  readonly at: number;
}): string {
  const document: CardDenylistChangedDocument = {
    type: 'card_denylist_changed',
    card: input.card,
    program: input.program,
    reason: input.reason,
    amount: input.amount,
    operator: '',
    at: input.at,
  };
  return JSON.stringify(document);
}

/** A card's issuance cancelled: the initial balance and deposit of its issue taken off, the card stock again. */
export function cardIssuanceCancelled(input: {
  readonly card: string;
  readonly program: string;
  readonly currency: string;
  readonly previous: string;
  readonly amount: number;
  readonly deposit: number;
  readonly named: boolean;
  readonly issuance: string;
  readonly operator: string;
  readonly reason: string;
  readonly at: number;
}): string {
  const document: CardIssuanceCancelledDocument = {
    type: 'card_issuance_cancelled',
    card: input.card,
    program: input.program,
    currency: input.currency,
    status: 'unissued',
    previous: input.previous,
    amount: input.amount,
    deposit: input.deposit,
    named: input.named,
    issuance: input.issuance,
    operator: input.operator,
    reason: input.reason,
    at: input.at,
  };
  return JSON.stringify(document);
}

// -------------------------------------------------------------------------------------------
// Terminals and fleet accounts.

interface TerminalEventInput {
  readonly terminal: string;
  readonly merchant: string;
  readonly enabled: boolean;
  readonly operator: string;
  readonly at: number;
}

function terminalEvent(type: TerminalEventDocument['type'], input: TerminalEventInput): string {
  // Terminal documents never carried `reason`; the reader's default is "".
  const document: TerminalEventDocument = {
    type,
    terminal: input.terminal,
    merchant: input.merchant,
    enabled: input.enabled,
    operator: input.operator,
    at: input.at,
  };
  return JSON.stringify(document);
}

export function terminalRegistered(input: TerminalEventInput): string {
  return terminalEvent('terminal_registered', input);
}

export function terminalEnabledChanged(input: TerminalEventInput): string {
  return terminalEvent('terminal_enabled_changed', input);
}

/** A terminal's offline settings, grant, denylist acknowledgement or merged batch (contract.ts says what each field holds). */
export function terminalOffline(input: {
  readonly terminal: string;
  readonly merchant: string;
  readonly event: TerminalOfflineEvent;
  readonly version: number;
  readonly behind?: number;
  readonly entries?: number;
  readonly missing?: number;
  readonly operator?: string;
  readonly at: number;
}): string {
  const document: TerminalOfflineDocument = {
    type: 'terminal_offline',
    terminal: input.terminal,
    merchant: input.merchant,
    event: input.event,
    version: input.version,
    behind: input.behind ?? 0,
    entries: input.entries ?? 0,
    missing: input.missing ?? 0,
    operator: input.operator ?? '',
    at: input.at,
  };
  return JSON.stringify(document);
}

/** A beer tap's pour report: for one paid sale (`transaction`, its idempotency key) or over a period (`from`..`to`). */
export function tapPour(input: Omit<TapPourDocument, 'type'>): string {
  const document: TapPourDocument = {
    type: 'tap_pour',
    terminal: input.terminal,
    merchant: input.merchant,
    report: input.report,
    transaction: input.transaction,
    from: input.from,
    to: input.to,
    poured_ml: input.poured_ml,
    product: input.product,
    at: input.at,
  };
  return JSON.stringify(document);
}

/** A fleet account created, or its limits, policy or pricing changed. */
export function fleetAccountChanged(input: {
  readonly fleet: string;
  readonly currency: string;
  readonly event: FleetAccountEvent;
  readonly operator: string;
  readonly at: number;
}): string {
  const document: FleetAccountChangedDocument = {
    type: 'fleet_account_changed',
    fleet: input.fleet,
    currency: input.currency,
    event: input.event,
    operator: input.operator,
    reason: '',
    at: input.at,
  };
  return JSON.stringify(document);
}

// -------------------------------------------------------------------------------------------
// Operator audit: one builder per action, each with its detail's fields.

function operatorAction(action: OperatorAction, subject: string, detail: string, operator: string, at: number): string {
  const document: OperatorActionDocument = { type: 'operator_action', action, subject, detail, operator, reason: '', at };
  return JSON.stringify(document);
}

/** An operator cleared a flagged approval of a plain card (subject: the transaction id). */
export function cardReviewResolved(input: {
  readonly transaction: string;
  readonly card: string;
  readonly program: string;
  readonly note: string;
  readonly operator: string;
  readonly at: number;
}): string {
  const detail = JSON.stringify({ card: input.card, program: input.program, note: input.note });
  return operatorAction('review_resolved', input.transaction, detail, input.operator, input.at);
}

/** An operator cleared a flagged approval of a fleet card (subject: the transaction id). */
export function fleetReviewResolved(input: {
  readonly transaction: string;
  readonly fleet: string;
  readonly note: string;
  readonly operator: string;
  readonly at: number;
}): string {
  const detail = JSON.stringify({ fleet: input.fleet, note: input.note });
  return operatorAction('review_resolved', input.transaction, detail, input.operator, input.at);
}

/** An on-tab card's limit set (minor units). */
export function tabLimitSet(input: {
  readonly card: string;
  readonly limit: number;
  readonly operator: string;
  readonly at: number;
}): string {
  return operatorAction('tab_limit_set', input.card, JSON.stringify({ limit: input.limit }), input.operator, input.at);
}

/** An auto-reload mandate set: threshold and amount are the audit; the mandate reference stays out. */
export function autoReloadSet(input: {
  readonly card: string;
  readonly threshold: number;
  readonly amount: number;
  readonly operator: string;
  readonly at: number;
}): string {
  const detail = JSON.stringify({ threshold: input.threshold, amount: input.amount });
  return operatorAction('auto_reload_set', input.card, detail, input.operator, input.at);
}

export function autoReloadRemoved(input: { readonly card: string; readonly operator: string; readonly at: number }): string {
  return operatorAction('auto_reload_removed', input.card, '{}', input.operator, input.at);
}

/** A card enrolled for authentication, moved to another key, or ('' key) no longer authenticating: key id and counter, never a key. */
export function cardAuthSet(input: {
  readonly card: string;
  readonly keyId: string;
  readonly counter: number;
  readonly operator: string;
  readonly at: number;
}): string {
  if (input.keyId === '') return operatorAction('card_auth_removed', input.card, '{}', input.operator, input.at);
  return operatorAction(
    'card_auth_set',
    input.card,
    JSON.stringify({ key: input.keyId, counter: input.counter }),
    input.operator,
    input.at,
  );
}

/**
 * A bank card's token listed on a card or taken off it: the token's form and the program, never
 * the token (a keyed hash of a PAN stays out of reporting) and never the PAN.
 */
export function cardTokenLinked(input: {
  readonly card: string;
  readonly program: string;
  readonly form: 'par' | 'pan';
  readonly linked: boolean;
  readonly operator: string;
  readonly at: number;
}): string {
  const detail = JSON.stringify({ form: input.form, program: input.program });
  return operatorAction(input.linked ? 'card_token_linked' : 'card_token_unlinked', input.card, detail, input.operator, input.at);
}

/** A bulk issuance recorded (subject: the issuance id). */
export function cardsBulkIssued(input: {
  readonly issuance: string;
  readonly program: string;
  readonly count: number;
  readonly currency: string;
  readonly operator: string;
  readonly at: number;
}): string {
  const detail = JSON.stringify({ program: input.program, count: input.count, currency: input.currency });
  return operatorAction('cards_bulk_issued', input.issuance, detail, input.operator, input.at);
}

/** A program defined; `detail` is programAuditDetail(config) (a digest of long rule lists). */
export function programDefined(input: {
  readonly program: string;
  readonly detail: string;
  readonly operator: string;
  readonly at: number;
}): string {
  return operatorAction('program_defined', input.program, input.detail, input.operator, input.at);
}

/**
 * Entries loaded into a shared SPOT price list (subject: the list): how many were given, how many
 * the list keeps, and the products they price.
 */
export function priceListLoaded(input: {
  readonly list: string;
  readonly loaded: number;
  readonly kept: number;
  readonly products: readonly string[];
  readonly operator: string;
  readonly at: number;
}): string {
  const detail = JSON.stringify({
    loaded: input.loaded,
    kept: input.kept,
    products: input.products.slice(0, price_list_products_audited_max),
  });
  return operatorAction('price_list_loaded', input.list, detail, input.operator, input.at);
}

/** Products named in a price list's audit detail (its text stays far below the 4,096 characters reports keep). */
export const price_list_products_audited_max = 32;

/** A merchant manager registered; the PIN never enters the document. */
export function managerRegistered(input: {
  readonly merchant: string;
  readonly manager: string;
  readonly operator: string;
  readonly at: number;
}): string {
  return operatorAction('manager_registered', `${input.merchant}/${input.manager}`, '{}', input.operator, input.at);
}

/** A fleet card's limits and product groups set (groups null: every group allowed). */
export function fleetCardLimitsSet(input: {
  readonly card: string;
  readonly limits: SpendLimits;
  readonly groups: readonly string[] | undefined;
  readonly operator: string;
  readonly at: number;
}): string {
  const detail = JSON.stringify({ limits: input.limits, groups: input.groups ?? null });
  return operatorAction('fleet_card_limits', input.card, detail, input.operator, input.at);
}

// -------------------------------------------------------------------------------------------
// Audit records of operator actions (contract.ts AuditRecordDocument).

/** Who acted, as the services authenticated them (actors/principal.ts Acting). */
export interface AuditActor {
  readonly subject: string;
  readonly role: string;
  readonly scope: string;
  readonly action: string;
  readonly approver?: string;
}

/** One entity an action changed: its state before (undefined: it did not exist) and after. */
export interface StateChange {
  readonly entity: string;
  readonly before: unknown;
  readonly after: unknown;
}

/** Fields whose values are secrets: recorded as changed, never with their value. */
const secret_field = /pin|hash|secret|mandate/i;
/** Fields that hold a person's contact or identity: recorded as changed, never with their value. */
const personal_field = /^(email|phone|holder)$/i;

/**
 * A field's value as the audit record may show it: a secret or personal field as a marker, at any
 * depth (a card's profile holds its PIN hash and its auto-reload mandate one level down).
 */
function shown(field: string, value: unknown): unknown {
  if (value === undefined) return null;
  if (secret_field.test(field)) return '[redacted]';
  if (personal_field.test(field)) return '[personal data]';
  if (Array.isArray(value)) return value.map((item: unknown) => shown('', item));
  if (typeof value !== 'object' || value === null) return value;
  const inner: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) if (item !== undefined) inner[key] = shown(key, item);
  return inner;
}

/** The fields of one entity that differ, before and after (top-level fields of its state). */
function fieldDiff(before: unknown, after: unknown): { before: Record<string, unknown>; after: Record<string, unknown> } {
  const was = (typeof before === 'object' && before !== null ? before : {}) as Record<string, unknown>;
  const now = (typeof after === 'object' && after !== null ? after : {}) as Record<string, unknown>;
  const diff = { before: {} as Record<string, unknown>, after: {} as Record<string, unknown> };
  for (const field of new Set([...Object.keys(was), ...Object.keys(now)])) {
    const a = JSON.stringify(was[field]);
    const b = JSON.stringify(now[field]);
    if (a === b) continue;
    if (before !== undefined) diff.before[field] = shown(field, was[field]);
    diff.after[field] = shown(field, now[field]);
  }
  return diff;
}

/** A field value too long for the record, as its length and a short fingerprint (FNV-1a). */
function digestOf(value: unknown): { chars: number; fnv1a: string } {
  const text = JSON.stringify(value) ?? '';
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return { chars: text.length, fnv1a: (hash >>> 0).toString(16) };
}

/** JSON of the per-entity diffs, within audit_diff_chars_max: the longest values give way to digests. */
function boundedJson(diffs: Record<string, Record<string, unknown>>): string {
  let text = JSON.stringify(diffs);
  while (text.length > audit_diff_chars_max) {
    let longest: { entity: string; field: string; chars: number } | undefined;
    for (const [entity, fields] of Object.entries(diffs))
      for (const [field, value] of Object.entries(fields)) {
        const chars = JSON.stringify(value)?.length ?? 0;
        if (typeof value === 'object' && value !== null && 'fnv1a' in value) continue;
        if (longest === undefined || chars > longest.chars) longest = { entity, field, chars };
      }
    if (longest === undefined) return JSON.stringify({ truncated: true, ...digestOf(diffs) });
    (diffs[longest.entity] as Record<string, unknown>)[longest.field] = digestOf(
      (diffs[longest.entity] as Record<string, unknown>)[longest.field],
    );
    text = JSON.stringify(diffs);
  }
  return text;
}

/** The audit record of an operator action and the entity states it changed. */
export function auditRecord(input: { readonly actor: AuditActor; readonly changes: readonly StateChange[]; readonly at: number }): string {
  const before: Record<string, Record<string, unknown>> = {};
  const after: Record<string, Record<string, unknown>> = {};
  for (const change of input.changes) {
    const diff = fieldDiff(change.before, change.after);
    if (Object.keys(diff.after).length === 0 && Object.keys(diff.before).length === 0) continue;
    before[change.entity] = diff.before;
    after[change.entity] = diff.after;
  }
  const document: AuditRecordDocument = {
    type: 'audit_record',
    action: input.actor.action,
    principal: input.actor.subject,
    role: input.actor.role,
    scope: input.actor.scope,
    approver: input.actor.approver ?? '',
    subject: input.changes[0]?.entity ?? '',
    before: boundedJson(before),
    after: boundedJson(after),
    at: input.at,
  };
  return JSON.stringify(document);
}
