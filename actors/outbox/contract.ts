// The outbox contract: what the authorizer writes into a shard's outbox stream and the streamer
// turns into ClickHouse rows. This folder is its one definition (docs/OUTBOX.md explains it in
// prose and points here):
//
//   contract.ts  the lists (document types, transaction kinds, operator actions), the bounds, the
//                defaults of fields added after v1, and the TypeScript type of each document as
//                producers write it;
//   schemas.ts   the zod schema of each document as the streamer reads it (defaults filled in);
//   builders.ts  the functions producers call to build a document: each returns the encoded
//                string, byte for byte what the producers wrote before the contract existed.
//
// Why the bytes matter: a transaction's document is also its idempotency record, and ClickHouse
// deduplicates transactions by id, so a document's fields, their presence and (for transactions)
// their order are part of the contract. A field added later is optional, and readers fill the
// default written here, so every document already stored stays readable.

/** Every kind of money movement a transaction document can carry, once for every reader and writer. */
export const transaction_kinds = [
  'purchase',
  'top_up',
  'reverse',
  'pre_authorization',
  'incremental',
  'completion',
  'void',
  'hold_expiry',
  'refund',
  'cash_out',
  'transfer_out',
  'transfer_in',
  'tab_settlement',
  // Offline selling (docs/OFFLINE.md): a sale a terminal made offline and uploaded, and its void.
  'offline_purchase',
  'offline_void',
  // A payment received for a fleet account's invoices (no card: `card` is "").
  'fleet_payment',
] as const;
export type TransactionKind = (typeof transaction_kinds)[number];

/** Kinds that place, change or release a hold: their documents carry the hold fields. */
export const hold_kinds = ['pre_authorization', 'incremental', 'completion', 'void', 'hold_expiry'] as const;
export type HoldKind = (typeof hold_kinds)[number];

export const transaction_outcomes = ['approved', 'declined'] as const;
export type TransactionOutcome = (typeof transaction_outcomes)[number];

/** What a reversal found: `reverse` of a transaction document ("" for every other kind). */
export type ReverseOutcome = 'reversed' | 'already_reversed' | 'nothing_to_reverse';

/** The lifecycle documents about cards (one ClickHouse table, lifecycle_events, holds them all). */
export const card_event_types = [
  'card_issued',
  'card_status_changed',
  'card_replaced',
  'card_pin_changed',
  'card_denylist_changed',
  'card_issuance_cancelled',
] as const;
export const terminal_event_types = ['terminal_registered', 'terminal_enabled_changed'] as const;

/** Every document type, once: `type` of every document in an outbox stream. */
export const document_types = [
  'transaction',
  ...card_event_types,
  ...terminal_event_types,
  'terminal_offline',
  'fleet_account_changed',
  'fleet_invoice',
  'operator_action',
  'audit_record',
  'tap_pour',
] as const;
export type DocumentType = (typeof document_types)[number];

/**
 * The audit actions of `operator_action` documents (admin calls no other document covers). The
 * streamer accepts any action text; this list is what the authorizer writes.
 */
export const operator_actions = [
  'review_resolved',
  'tab_limit_set',
  'auto_reload_set',
  'auto_reload_removed',
  'cards_bulk_issued',
  'program_defined',
  'manager_registered',
  'fleet_card_limits',
  'price_list_loaded',
  'card_auth_set',
  'card_auth_removed',
  'card_token_linked',
  'card_token_unlinked',
] as const;
export type OperatorAction = (typeof operator_actions)[number];

export const card_pin_events = ['set', 'changed', 'locked', 'unlocked'] as const;
export type CardPinEvent = (typeof card_pin_events)[number];

/** What a terminal_offline document records: settings set, a grant issued, a denylist acknowledged, a batch merged. */
export const terminal_offline_events = ['settings', 'grant', 'ack', 'batch'] as const;
export type TerminalOfflineEvent = (typeof terminal_offline_events)[number];

/** Who carries an offline sale: the issuer (charged to the card) or the merchant ("" on other documents). */
export type OfflineLiability = 'issuer' | 'merchant';

export const fleet_account_events = ['created', 'limits', 'policy', 'pricing', 'billing'] as const;
export type FleetAccountEvent = (typeof fleet_account_events)[number];

// Bounds a reader holds every document to. A document past them is kept verbatim as a reject
// (services/streamer), never lost and never blocking its stream.

/** Longest text field: ClickHouse keeps it whole, and a longer one is no document of ours. */
export const text_chars_max = 4_096;
/** Longest transaction id (ids are "<node>-<counter>" and a tombstone's ".t"). */
export const id_chars_max = 256;
/** Latest instant a document may carry: ClickHouse's DateTime (UInt32 seconds) ends here. */
export const unix_ms_max = 4_294_967_295_000;
/** Lines one transaction may carry (a basket); more is a malformed document. */
export const lines_max = 500;
/** Flags one transaction may carry. */
export const flags_max = 64;
/** The largest billing cycle number of a fleet account (ClickHouse keeps it as UInt32). */
export const cycle_max = 4_294_967_295;

/**
 * The contract's default for `balance_delta` of a document that does not carry it: documents of the
 * v1 kinds (purchases, top-ups, reversals of purchases) leave it out to stay as small as before.
 */
export function v1BalanceDelta(kind: string, outcome: string, amount: number): number {
  if (outcome !== 'approved') return 0;
  if (kind === 'purchase') return -amount;
  if (kind === 'top_up' || kind === 'reverse') return amount;
  return 0;
}

/** One line of a basket as a transaction document keeps it (`lines`). */
export interface LineItem {
  readonly code: string;
  readonly group: string;
  readonly qty_milli: number;
  readonly unit: number;
  readonly amount: number;
  /** Fleet lines only: unit price at the pump and the invoiced line amount. */
  readonly pump_unit?: number;
  readonly invoiced?: number;
}

/**
 * The optional fields of a transaction document, each written only by the kinds that need it
 * (docs/OUTBOX.md says which), so a plain purchase's document stays as small as in v1.
 */
export interface TransactionExtras {
  readonly balance_delta?: number;
  readonly held_delta?: number;
  readonly hold?: string;
  readonly hold_amount?: number;
  readonly hold_expires_at?: number;
  readonly ledger_after?: number;
  readonly deposit_delta?: number;
  readonly payout?: number;
  readonly account_balance_after?: number;
  readonly discount?: number;
  readonly points_earned?: number;
  readonly points_redeemed?: number;
  readonly flags?: readonly string[];
  /** Offline sales: when the terminal sold (Tapline's time: its grant plus its offset). */
  readonly offline_at?: number;
  /** Offline sales: who carries it. */
  readonly liability?: OfflineLiability | '';
  /** What the card owes changed: by how much (+ owed more, - paid back) and what it owes after. */
  readonly debt_delta?: number;
  readonly debt_after?: number;
}

/**
 * A transaction document as written: every money request, approved or declined. It is also the
 * request's idempotency record (`f` is the request's fingerprint, "*" for a tombstone).
 */
export interface TransactionDocument extends TransactionExtras {
  readonly type: 'transaction';
  readonly f: string;
  readonly id: string;
  readonly kind: TransactionKind;
  readonly outcome: TransactionOutcome;
  /** The decline reason ("" when approved): a card's DeclineReason or a fleet rule's reason. */
  readonly reason: string;
  readonly rule: string;
  readonly card: string;
  readonly program: string;
  readonly terminal: string;
  readonly merchant: string;
  /** What moved (0 when declined or nothing was reversed). */
  readonly amount: number;
  /** What the request asked for. */
  readonly requested: number;
  readonly currency: string;
  readonly balance_after: number;
  readonly key: string;
  readonly original: string;
  readonly reverse: ReverseOutcome | '';
  readonly source: string;
  readonly operator: string;
  readonly at: number;
  readonly lines?: readonly LineItem[];
  /** Cards issued through CardService: what the card has spent so far, this document included. */
  readonly spent_after?: number;
  // Fleet documents.
  readonly fleet?: string;
  readonly pump?: number;
  readonly invoiced?: number;
  readonly odometer?: number;
  readonly driver?: string;
  readonly vehicle?: string;
  /**
   * The fleet account's billing cycle the document accrued to (the invoice that carries it); fleet
   * documents written before cycles existed have none and belong to cycle 1.
   */
  readonly cycle?: number;
  /** The cashier who sold at the terminal (a request naming one); absent otherwise. */
  readonly cashier?: string;
}

/** A fleet card's transaction document: every fleet field is written, lines always with pump and invoiced prices. */
export interface FleetTransactionDocument extends TransactionDocument {
  readonly fleet: string;
  readonly lines: readonly Required<LineItem>[];
  readonly pump: number;
  readonly invoiced: number;
  readonly discount: number;
  readonly points_earned: number;
  readonly points_redeemed: number;
  readonly flags: readonly string[];
  readonly odometer: number;
  readonly driver: string;
  readonly vehicle: string;
  readonly balance_delta: number;
  readonly account_balance_after: number;
}

// Lifecycle and audit documents: each has `type`, `at` and `operator` ("" for the system).

export interface CardIssuedDocument {
  readonly type: 'card_issued';
  readonly card: string;
  readonly program: string;
  readonly currency: string;
  readonly status: string;
  /** The initial balance (0 for a replacement, whose money arrives by transfer_in, and for fleet cards). */
  readonly amount: number;
  readonly deposit?: number;
  readonly named?: boolean;
  readonly expires_at?: number;
  /** The bulk issuance the card came from ("" = issued alone). */
  readonly issuance?: string;
  /** Fleet cards: their fleet account (also their `program`). */
  readonly fleet?: string;
  readonly operator: string;
  readonly reason: string;
  readonly at: number;
}

export interface CardStatusChangedDocument {
  readonly type: 'card_status_changed';
  readonly card: string;
  readonly program: string;
  readonly currency?: string;
  /** The new status. */
  readonly status: string;
  readonly amount?: number;
  readonly previous: string;
  /** The audited action (CardService.ChangeCardState); absent from a plain SetCardStatus. */
  readonly action?: string;
  /** The second person of an unblock. */
  readonly approver?: string;
  readonly operator: string;
  readonly reason: string;
  readonly at: number;
}

export interface CardReplacedDocument {
  readonly type: 'card_replaced';
  readonly card: string;
  readonly replacement: string;
  readonly program: string;
  /** The balance moved to the replacement. */
  readonly amount: number;
  readonly deposit: number;
  readonly operator: string;
  readonly reason: string;
  readonly at: number;
}

/**
 * A card's issuance undone (CardService.CancelIssuance): the card is stock again (`status`
 * "unissued"). `amount` and `deposit` are the initial balance and deposit the issue had put on it,
 * now taken off: readers subtract them from what `card_issued` added.
 */
export interface CardIssuanceCancelledDocument {
  readonly type: 'card_issuance_cancelled';
  readonly card: string;
  /** The program the card had been issued in. */
  readonly program: string;
  readonly currency: string;
  readonly status: 'unissued';
  readonly previous: string;
  readonly amount: number;
  readonly deposit: number;
  readonly named: boolean;
  /** The bulk issuance the card came from ("" = issued alone). */
  readonly issuance: string;
  readonly operator: string;
  readonly reason: string;
  readonly at: number;
}

export interface CardPinChangedDocument {
  readonly type: 'card_pin_changed';
  readonly card: string;
  readonly program: string;
  readonly event: CardPinEvent;
  readonly operator: string;
  readonly reason: string;
  readonly at: number;
}

/** A card went on the offline denylist (`reason`: why) or left it (`reason` ""). */
export interface CardDenylistChangedDocument {
  readonly type: 'card_denylist_changed';
  readonly card: string;
  readonly program: string;
  readonly reason: string;
  /** What the card owes at the change. */
  readonly amount: number;
  readonly operator: string;
  readonly at: number;
}

/**
 * A terminal's offline life: settings set (`version` = settings version), a grant issued
 * (`version` = grant number), a denylist acknowledged (`version` = the sum of its shard versions,
 * `behind` = changes it lacked), a batch merged (`version` = batch number, `entries`, `missing` =
 * entry numbers still missing).
 */
export interface TerminalOfflineDocument {
  readonly type: 'terminal_offline';
  readonly terminal: string;
  readonly merchant: string;
  readonly event: TerminalOfflineEvent;
  readonly version: number;
  readonly behind: number;
  readonly entries: number;
  readonly missing: number;
  readonly operator: string;
  readonly at: number;
}

export interface TerminalEventDocument {
  readonly type: (typeof terminal_event_types)[number];
  readonly terminal: string;
  readonly merchant: string;
  readonly enabled: boolean;
  readonly operator: string;
  readonly at: number;
}

export interface FleetAccountChangedDocument {
  readonly type: 'fleet_account_changed';
  readonly fleet: string;
  readonly currency: string;
  readonly event: FleetAccountEvent;
  readonly operator: string;
  readonly reason: string;
  readonly at: number;
}

/**
 * A fleet account's billing cycle closed: the invoice it issued. `amount` is the total of the
 * cycle's documents (`cycle` = this cycle; < 0 = a credit note), `applied` the credit it (or an
 * older credit note) settled on older invoices at once, `opened_at` .. `at` the cycle's period.
 */
export interface FleetInvoiceDocument {
  readonly type: 'fleet_invoice';
  readonly fleet: string;
  /** "<fleet>-<cycle>". */
  readonly number: string;
  readonly cycle: number;
  readonly currency: string;
  readonly amount: number;
  readonly applied: number;
  readonly opened_at: number;
  readonly due_at: number;
  readonly operator: string;
  readonly at: number;
}

export interface OperatorActionDocument {
  readonly type: 'operator_action';
  readonly action: OperatorAction;
  /** The entity acted on (a card, program, issuance, transaction or "<merchant>/<manager>"). */
  readonly subject: string;
  /** Short JSON text; never personal data or a PIN. */
  readonly detail: string;
  readonly operator: string;
  readonly reason: string;
  readonly at: number;
}

/**
 * The audit record of one operator action, written in the same commit as the change it records
 * (so one exists exactly when the change does): who acted (the authenticated principal's subject,
 * never a request field), the role and scope that allowed it, the second principal of a four-eyes
 * action, what was acted on, and the changed fields before and after. Secrets (PIN hashes) appear
 * only as "[redacted]", personal data (e-mail, phone, a card's holder) as "[personal data]".
 */
export interface AuditRecordDocument {
  readonly type: 'audit_record';
  /** The operation: "<package.Service>/<Method>", or a reports route ("settlement.batch.approve"). */
  readonly action: string;
  readonly principal: string;
  readonly role: string;
  readonly scope: string;
  /** The approving principal of a four-eyes action; "" otherwise. */
  readonly approver: string;
  /** What was acted on: "<kind>:<id>" of the first entity changed (or "" when nothing was). */
  readonly subject: string;
  /** JSON text: {"<kind>:<id>": {<field>: <value before>}} for every changed field; {} for new entities. */
  readonly before: string;
  /** JSON text: the same fields after the change. */
  readonly after: string;
  readonly at: number;
}

/** Longest before / after text of an audit record; longer field values are replaced by their digest. */
export const audit_diff_chars_max = 3_072;

/**
 * What a beer tap (a terminal) reports it poured: for one paid sale (`transaction` = the sale's
 * idempotency key) or over a period (`from`..`to`, unix ms, `transaction` ""). `report` is the
 * tap's own id of the report, unique per tap (its idempotency key is "k:tap-pour/<terminal>/<report>").
 */
export interface TapPourDocument {
  readonly type: 'tap_pour';
  readonly terminal: string;
  readonly merchant: string;
  readonly report: string;
  readonly transaction: string;
  readonly from: number;
  readonly to: number;
  readonly poured_ml: number;
  readonly product: string;
  readonly at: number;
}

/** Any document as written, by its `type`. */
export interface DocumentsByType {
  readonly transaction: TransactionDocument;
  readonly card_issued: CardIssuedDocument;
  readonly card_status_changed: CardStatusChangedDocument;
  readonly card_replaced: CardReplacedDocument;
  readonly card_pin_changed: CardPinChangedDocument;
  readonly card_denylist_changed: CardDenylistChangedDocument;
  readonly card_issuance_cancelled: CardIssuanceCancelledDocument;
  readonly terminal_registered: TerminalEventDocument;
  readonly terminal_enabled_changed: TerminalEventDocument;
  readonly terminal_offline: TerminalOfflineDocument;
  readonly fleet_account_changed: FleetAccountChangedDocument;
  readonly fleet_invoice: FleetInvoiceDocument;
  readonly operator_action: OperatorActionDocument;
  readonly audit_record: AuditRecordDocument;
  readonly tap_pour: TapPourDocument;
}
export type OutboxDocument = DocumentsByType[DocumentType];
