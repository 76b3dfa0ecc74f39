// The outbox producers as they were before the contract (actors/outbox) existed: each function is
// the code that built a document then, copied unchanged but for its inputs, which are plain values
// here instead of actor messages (the actors are being rewritten; this copy must not follow them).
// test/unit/outbox-contract.test.ts builds the same documents through the contract's builders and
// requires the same bytes: stored idempotency records and ClickHouse depend on them.

import { balanceDeltaMinor, heldDeltaMinor, type CardEvent, type CardState } from '../../actors/card/rules';
import type { MoneyRequest, ProgramFigures, TxnResult } from '../../actors/card/transaction';
import type { FleetMoneyRequest, FleetTxnResult } from '../../actors/fleet/transaction';
import type { FleetCardState } from '../../actors/fleet/rules';
import type { RuleLine } from '../../actors/rules/products';
import type { IssuanceRecord } from '../../actors/card/issuance';
import { programAuditDetail, type ProgramConfig } from '../../actors/program/config';
import type { TerminalState } from '../../actors/terminal/rules';
import type { AutoReload, CardStatus } from '../../actors/card/rules';
import type { TransactionExtras } from '../../actors/outbox/contract';

interface LegacyContext {
  readonly merchantId: string;
  readonly programId: string;
}

/** The optional fields as the card actor passed them (their key order is the producer's). */
type LegacyExtras = TransactionExtras;

/** actors/card/transaction.ts storedTransaction, then encodeRecord. */
export function legacyTransaction(
  request: MoneyRequest,
  context: LegacyContext,
  result: TxnResult,
  fingerprint = request.fingerprint,
  hold?: LegacyExtras,
): string {
  const stored = {
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
  if (hold === undefined && request.lines === undefined && result.spentMinor === undefined) return JSON.stringify(stored);
  return JSON.stringify({
    ...stored,
    ...hold,
    ...(request.lines === undefined ? {} : { lines: request.lines }),
    ...(result.spentMinor === undefined ? {} : { spent_after: result.spentMinor }),
  });
}

/** actors/fleet/transaction.ts fleetStoredTransaction, then encodeRecord. */
export function legacyFleetTransaction(
  request: FleetMoneyRequest,
  context: LegacyContext,
  result: FleetTxnResult,
  invoicedLines: readonly number[],
): string {
  const approved = result.outcome === 'approved';
  const requestLines = request.fleet.lines;
  const lines = new Array<Record<string, unknown>>(requestLines.length);
  for (let index = 0; index < requestLines.length; index++) {
    const line = requestLines[index] as RuleLine;
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
  const { prompts } = request.fleet;
  return JSON.stringify({
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
    balance_delta: 0,
    account_balance_after: result.fleet.accountBalanceAfterMinor,
  });
}

// The optional fields as the card actor computes them (their key order is what the documents had).

/** actors/card/actor.ts holdFields. */
export function legacyHoldFields(event: CardEvent | undefined, holdKey: string, after: CardState): LegacyExtras {
  const open = after.holds?.[holdKey];
  return {
    balance_delta: event === undefined ? 0 : balanceDeltaMinor(event),
    held_delta: event === undefined ? 0 : heldDeltaMinor(event),
    hold: holdKey,
    hold_amount: open?.amountMinor ?? (event === undefined ? 0 : -heldDeltaMinor(event)),
    hold_expires_at: open?.expiresAtMs ?? 0,
    ledger_after: after.balanceMinor,
  };
}

/** actors/card/actor.ts cashOutFields. */
export function legacyCashOutFields(event: CardEvent | undefined): LegacyExtras {
  if (event?.type !== 'cashed_out') return { balance_delta: 0, deposit_delta: 0, payout: 0 };
  return { balance_delta: -event.balanceMinor, deposit_delta: -event.depositMinor, payout: event.balanceMinor + event.depositMinor };
}

/** actors/card/actor.ts programFields. */
export function legacyProgramFields(figures: ProgramFigures, debitedMinor: number): LegacyExtras {
  return {
    balance_delta: -debitedMinor,
    discount: figures.discountMinor,
    points_earned: figures.pointsEarned,
    points_redeemed: figures.pointsRedeemed,
    flags: figures.flags,
  };
}

/** actors/card/actor.ts commitMoney: a refund's and a tab settlement's extras. */
export function legacyRefundFields(amountMinor: number): LegacyExtras {
  return { balance_delta: amountMinor };
}
export function legacyTabFields(amountMinor: number, balanceAfterMinor: number): LegacyExtras {
  return { balance_delta: amountMinor, account_balance_after: balanceAfterMinor };
}

/** actors/card/actor.ts replacementDocuments: the four documents of a replacement. */
export function legacyReplacementDocuments(
  old: CardState,
  replacement: CardState,
  operatorId: string,
  reason: string,
  atMs: number,
  ids: readonly [string, string],
): Record<'transferOut' | 'replaced' | 'issued' | 'transferIn', string> {
  const depositMinor = old.profile?.depositMinor ?? 0;
  const transfer = (kind: 'transfer_out' | 'transfer_in', card: CardState, sign: number, id: string): string => {
    const request: MoneyRequest = {
      kind,
      key: '',
      fingerprint: '',
      cardId: card.cardId,
      terminalId: '',
      amountMinor: old.balanceMinor,
      currency: old.currency,
      source: '',
      operatorId,
      originalKey: sign < 0 ? replacement.cardId : old.cardId,
    };
    const result: TxnResult = {
      id,
      kind,
      outcome: 'approved',
      cardId: card.cardId,
      amountMinor: old.balanceMinor,
      currency: old.currency,
      balanceAfterMinor: sign < 0 ? 0 : replacement.balanceMinor,
      atMs,
    };
    return legacyTransaction(request, { merchantId: '', programId: old.programId }, result, '', {
      balance_delta: sign * old.balanceMinor,
      deposit_delta: sign * depositMinor,
    });
  };
  const profile = replacement.profile;
  return {
    transferOut: transfer('transfer_out', old, -1, ids[0]),
    transferIn: transfer('transfer_in', replacement, 1, ids[1]),
    replaced: JSON.stringify({
      type: 'card_replaced',
      card: old.cardId,
      replacement: replacement.cardId,
      program: old.programId,
      amount: old.balanceMinor,
      deposit: depositMinor,
      operator: operatorId,
      reason,
      at: atMs,
    }),
    issued: JSON.stringify({
      type: 'card_issued',
      card: replacement.cardId,
      program: replacement.programId,
      currency: replacement.currency,
      status: 'active',
      amount: 0,
      deposit: 0,
      named: profile?.named ?? false,
      expires_at: profile?.expiresAtMs ?? 0,
      issuance: '',
      operator: operatorId,
      reason: `replaces ${old.cardId}`,
      at: atMs,
    }),
  };
}

/** actors/card/actor.ts pinGate: the document of a PIN locked by wrong attempts. */
export function legacyPinLocked(cardId: string, programId: string, atMs: number): string {
  return JSON.stringify({
    type: 'card_pin_changed',
    card: cardId,
    program: programId,
    event: 'locked',
    operator: '',
    reason: 'pin_attempts',
    at: atMs,
  });
}

/** The card actor's admin messages, as far as adminAudit read them. */
export type LegacyAdminMessage =
  | { readonly type: 'issue'; readonly operatorId: string }
  | { readonly type: 'set_status'; readonly reason: string; readonly operatorId: string }
  | {
      readonly type: 'transition';
      readonly reason: string;
      readonly transition: { readonly action: string; readonly operatorId: string; readonly approverId: string };
    }
  | { readonly type: 'auto_reload'; readonly autoReload: AutoReload | undefined; readonly operatorId: string }
  | { readonly type: 'tab_limit'; readonly limitMinor: number; readonly operatorId: string }
  | { readonly type: 'set_pin'; readonly reset: boolean; readonly operatorId: string }
  | { readonly type: 'resolve_review'; readonly transactionId: string; readonly note: string; readonly operatorId: string };

/** actors/card/actor.ts adminAudit, then JSON.stringify. */
export function legacyAdminAudit(message: LegacyAdminMessage, before: CardState | undefined, after: CardState, atMs: number): string {
  if (message.type === 'resolve_review') {
    return JSON.stringify({
      type: 'operator_action',
      action: 'review_resolved',
      subject: message.transactionId,
      detail: JSON.stringify({ card: after.cardId, program: after.programId, note: message.note }),
      operator: message.operatorId,
      reason: '',
      at: atMs,
    });
  }
  if (message.type === 'tab_limit') {
    return JSON.stringify({
      type: 'operator_action',
      action: 'tab_limit_set',
      subject: after.cardId,
      detail: JSON.stringify({ limit: message.limitMinor }),
      operator: message.operatorId,
      reason: '',
      at: atMs,
    });
  }
  if (message.type === 'set_pin') {
    const event =
      before?.profile === undefined || before.profile.pinHash === ''
        ? 'set'
        : message.reset && before.profile.pinFailures > 0
          ? 'unlocked'
          : 'changed';
    return JSON.stringify({
      type: 'card_pin_changed',
      card: after.cardId,
      program: after.programId,
      event,
      operator: message.operatorId,
      reason: message.reset ? 'reset' : '',
      at: atMs,
    });
  }
  if (message.type === 'auto_reload') {
    const detail =
      message.autoReload === undefined ? {} : { threshold: message.autoReload.thresholdMinor, amount: message.autoReload.amountMinor };
    return JSON.stringify({
      type: 'operator_action',
      action: message.autoReload === undefined ? 'auto_reload_removed' : 'auto_reload_set',
      subject: after.cardId,
      detail: JSON.stringify(detail),
      operator: message.operatorId,
      reason: '',
      at: atMs,
    });
  }
  if (message.type === 'issue') {
    const profile = after.profile;
    return JSON.stringify({
      type: 'card_issued',
      card: after.cardId,
      program: after.programId,
      currency: after.currency,
      status: after.status,
      amount: after.balanceMinor,
      operator: message.operatorId,
      reason: '',
      at: atMs,
      ...(profile === undefined
        ? {}
        : { deposit: profile.depositMinor, named: profile.named, expires_at: profile.expiresAtMs, issuance: profile.issuance }),
    });
  }
  const base = {
    type: 'card_status_changed',
    card: after.cardId,
    program: after.programId,
    currency: after.currency,
    status: after.status,
    amount: 0,
    reason: message.reason,
    at: atMs,
  };
  if (message.type === 'set_status') return JSON.stringify({ ...base, operator: message.operatorId, previous: before?.status ?? '' });
  return JSON.stringify({
    ...base,
    operator: message.transition.operatorId,
    previous: before?.status ?? '',
    action: message.transition.action,
    approver: message.transition.approverId,
  });
}

/** actors/fleet/actor.ts handleAccount. */
export function legacyFleetAccountChanged(fleetId: string, currency: string, event: string, operatorId: string, atMs: number): string {
  return JSON.stringify({
    type: 'fleet_account_changed',
    fleet: fleetId,
    currency,
    event,
    operator: operatorId,
    reason: '',
    at: atMs,
  });
}

/** actors/fleet/actor.ts handleCard: the document of an issue, a status change or new limits. */
export function legacyFleetCardAudit(
  command: 'issue' | 'set_status' | 'set_limits',
  fleetId: string,
  cardId: string,
  currency: string,
  before: { readonly status: CardStatus | FleetCardState['status'] } | undefined,
  after: FleetCardState,
  operator: string,
  at: number,
): string {
  let audit: Record<string, unknown>;
  if (command === 'issue') {
    audit = {
      type: 'card_issued',
      card: cardId,
      program: fleetId,
      currency,
      status: after.status,
      amount: 0,
      fleet: fleetId,
      operator,
      reason: '',
      at,
    };
  } else if (command === 'set_status') {
    audit = {
      type: 'card_status_changed',
      card: cardId,
      program: fleetId,
      status: after.status,
      previous: before?.status ?? '',
      operator,
      reason: '',
      at,
    };
  } else {
    audit = {
      type: 'operator_action',
      action: 'fleet_card_limits',
      subject: cardId,
      detail: JSON.stringify({ limits: after.limits, groups: after.allowedGroups ?? null }),
      operator,
      reason: '',
      at,
    };
  }
  return JSON.stringify(audit);
}

/** actors/fleet/actor.ts handleResolve. */
export function legacyFleetReviewResolved(fleetId: string, transactionId: string, note: string, operatorId: string, atMs: number): string {
  return JSON.stringify({
    type: 'operator_action',
    action: 'review_resolved',
    subject: transactionId,
    detail: JSON.stringify({ fleet: fleetId, note }),
    operator: operatorId,
    reason: '',
    at: atMs,
  });
}

/** actors/terminal/actor.ts change. */
export function legacyTerminalDocument(
  register: boolean,
  terminalId: string,
  after: TerminalState,
  operatorId: string,
  atMs: number,
): string {
  return JSON.stringify({
    type: register ? 'terminal_registered' : 'terminal_enabled_changed',
    terminal: terminalId,
    merchant: after.merchantId,
    enabled: after.enabled,
    operator: operatorId,
    at: atMs,
  });
}

/** actors/card/issuance.ts IssuanceRecords.write. */
export function legacyCardsBulkIssued(record: IssuanceRecord): string {
  return JSON.stringify({
    type: 'operator_action',
    action: 'cards_bulk_issued',
    subject: record.issuance,
    detail: JSON.stringify({ program: record.program, count: record.count, currency: record.currency }),
    operator: record.operator,
    reason: '',
    at: record.at,
  });
}

/** actors/program/registry.ts ProgramRegistry.define. */
export function legacyProgramDefined(programId: string, config: ProgramConfig, operatorId: string, atMs: number): string {
  return JSON.stringify({
    type: 'operator_action',
    action: 'program_defined',
    subject: programId,
    detail: programAuditDetail(config),
    operator: operatorId,
    reason: '',
    at: atMs,
  });
}

/** services/authorizer/managers.ts ManagerDirectory.register. */
export function legacyManagerRegistered(merchantId: string, managerId: string, operatorId: string, atMs: number): string {
  return JSON.stringify({
    type: 'operator_action',
    action: 'manager_registered',
    subject: `${merchantId}/${managerId}`,
    detail: '{}',
    operator: operatorId,
    reason: '',
    at: atMs,
  });
}
