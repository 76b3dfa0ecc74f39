// What a card's decision leaves behind besides its state: the answer of a money request with its
// stored transaction document (the idempotency record and, unchanged, the outbox entry), and the
// lifecycle / audit documents of operator changes (docs/OUTBOX.md). Pure: the caller passes time
// and ids in.

import type { CardAdminCommand } from './decide';
import { availableMinor, balanceDeltaMinor, heldDeltaMinor, type CardEvent, type CardState } from './rules';
import {
  encodeRecord,
  storedTransaction,
  type DocumentExtras,
  type HoldFields,
  type MoneyRequest,
  type ProgramFigures,
  type TxnResult,
} from './transaction';

/** Kinds whose documents carry the hold fields. */
export const hold_kinds: ReadonlySet<string> = new Set(['pre_authorization', 'incremental', 'completion', 'void', 'hold_expiry']);

/** The amount a hold event moved (what the reply shows as approved / released). */
export function movedMinor(event: CardEvent, requestedMinor: number): number {
  switch (event.type) {
    case 'hold_placed':
    case 'hold_increased':
      return event.amountMinor;
    case 'hold_completed':
      return event.debitedMinor;
    case 'hold_released':
      return event.amountMinor;
    case 'cashed_out':
      return event.balanceMinor + event.depositMinor;
    default:
      return requestedMinor;
  }
}

/** The optional document fields of a transaction about a hold. */
export function holdFields(event: CardEvent | undefined, holdKey: string, after: CardState): HoldFields {
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

/** The deltas and payout of a return (docs/OUTBOX.md `cash_out`). */
export function cashOutFields(event: CardEvent | undefined): DocumentExtras {
  if (event?.type !== 'cashed_out') return { balance_delta: 0, deposit_delta: 0, payout: 0 };
  return { balance_delta: -event.balanceMinor, deposit_delta: -event.depositMinor, payout: event.balanceMinor + event.depositMinor };
}

/** The document fields of a purchase under program rules (docs/OUTBOX.md). */
export function programFields(figures: ProgramFigures, debitedMinor: number): DocumentExtras {
  return {
    balance_delta: -debitedMinor,
    discount: figures.discountMinor,
    points_earned: figures.pointsEarned,
    points_redeemed: figures.pointsRedeemed,
    flags: figures.flags,
  };
}

/** The document of a hold released because it expired (lazily, when the card is next used). */
export function holdExpiryDocument(
  state: CardState,
  after: CardState,
  event: CardEvent,
  holdKey: string,
  merchantId: string,
  id: string,
  nowMs: number,
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
    originalKey: holdKey,
  };
  const result: TxnResult = {
    id,
    kind: 'hold_expiry',
    outcome: 'approved',
    cardId: state.cardId,
    amountMinor: heldDeltaMinor(event) * -1,
    currency: state.currency,
    balanceAfterMinor: availableMinor(after),
    atMs: nowMs,
  };
  return encodeRecord(
    storedTransaction(request, { merchantId, programId: state.programId }, result, '', holdFields(event, holdKey, after)),
  );
}

/** A PIN locked by wrong attempts (a card_pin_changed document beside the decline). */
export function pinLockedDocument(state: CardState, nowMs: number): string {
  return JSON.stringify({
    type: 'card_pin_changed',
    card: state.cardId,
    program: state.programId,
    event: 'locked',
    operator: '',
    reason: 'pin_attempts',
    at: nowMs,
  });
}

/** The lifecycle / audit document of an operator change (docs/OUTBOX.md). */
export function adminDocument(command: CardAdminCommand, before: CardState | undefined, after: CardState, atMs: number): string {
  return JSON.stringify(adminAudit(command, before, after, atMs));
}

function adminAudit(command: CardAdminCommand, before: CardState | undefined, after: CardState, atMs: number): Record<string, unknown> {
  const operator = command.operatorId;
  switch (command.type) {
    case 'resolve_review':
      return {
        type: 'operator_action',
        action: 'review_resolved',
        subject: command.transactionId,
        detail: JSON.stringify({ card: after.cardId, program: after.programId, note: command.note }),
        operator,
        reason: '',
        at: atMs,
      };
    case 'tab_limit':
      return {
        type: 'operator_action',
        action: 'tab_limit_set',
        subject: after.cardId,
        detail: JSON.stringify({ limit: command.limitMinor }),
        operator,
        reason: '',
        at: atMs,
      };
    case 'set_pin': {
      const event =
        before?.profile === undefined || before.profile.pinHash === ''
          ? 'set'
          : command.reset && before.profile.pinFailures > 0
            ? 'unlocked'
            : 'changed';
      return {
        type: 'card_pin_changed',
        card: after.cardId,
        program: after.programId,
        event,
        operator,
        reason: command.reset ? 'reset' : '',
        at: atMs,
      };
    }
    case 'auto_reload': {
      // The mandate reference stays out of the document; threshold and amount are the audit.
      const detail =
        command.autoReload === undefined ? {} : { threshold: command.autoReload.thresholdMinor, amount: command.autoReload.amountMinor };
      return {
        type: 'operator_action',
        action: command.autoReload === undefined ? 'auto_reload_removed' : 'auto_reload_set',
        subject: after.cardId,
        detail: JSON.stringify(detail),
        operator,
        reason: '',
        at: atMs,
      };
    }
    case 'issue': {
      const profile = after.profile;
      return {
        type: 'card_issued',
        card: after.cardId,
        program: after.programId,
        currency: after.currency,
        status: after.status,
        amount: after.balanceMinor,
        operator,
        reason: '',
        at: atMs,
        ...(profile === undefined
          ? {}
          : { deposit: profile.depositMinor, named: profile.named, expires_at: profile.expiresAtMs, issuance: profile.issuance }),
      };
    }
    case 'set_status':
    case 'transition': {
      const base = {
        type: 'card_status_changed',
        card: after.cardId,
        program: after.programId,
        currency: after.currency,
        status: after.status,
        amount: 0,
        reason: command.reason,
        at: atMs,
      };
      if (command.type === 'set_status') return { ...base, operator, previous: before?.status ?? '' };
      return {
        ...base,
        operator: command.transition.operatorId,
        previous: before?.status ?? '',
        action: command.transition.action,
        approver: command.transition.approverId,
      };
    }
  }
}

/** The four documents of a replacement: transfer out (old card), card_replaced, card_issued and transfer in (new card). */
export function replacementDocuments(
  old: CardState,
  replacement: CardState,
  command: { readonly operatorId: string; readonly reason: string },
  atMs: number,
  nextId: () => string,
): Record<'transferOut' | 'replaced' | 'issued' | 'transferIn', string> {
  const depositMinor = old.profile?.depositMinor ?? 0;
  const transfer = (kind: 'transfer_out' | 'transfer_in', card: CardState, sign: number): string => {
    const request: MoneyRequest = {
      kind,
      key: '',
      fingerprint: '',
      cardId: card.cardId,
      terminalId: '',
      amountMinor: old.balanceMinor,
      currency: old.currency,
      source: '',
      operatorId: command.operatorId,
      originalKey: sign < 0 ? replacement.cardId : old.cardId,
    };
    const result: TxnResult = {
      id: nextId(),
      kind,
      outcome: 'approved',
      cardId: card.cardId,
      amountMinor: old.balanceMinor,
      currency: old.currency,
      balanceAfterMinor: sign < 0 ? 0 : replacement.balanceMinor,
      atMs,
    };
    return encodeRecord(
      storedTransaction(request, { merchantId: '', programId: old.programId }, result, '', {
        balance_delta: sign * old.balanceMinor,
        deposit_delta: sign * depositMinor,
      }),
    );
  };
  const profile = replacement.profile;
  return {
    transferOut: transfer('transfer_out', old, -1),
    transferIn: transfer('transfer_in', replacement, 1),
    replaced: JSON.stringify({
      type: 'card_replaced',
      card: old.cardId,
      replacement: replacement.cardId,
      program: old.programId,
      amount: old.balanceMinor,
      deposit: depositMinor,
      operator: command.operatorId,
      reason: command.reason,
      at: atMs,
    }),
    // The new card is issued empty; its money arrives by transfer_in (per-card reconciliation).
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
      operator: command.operatorId,
      reason: `replaces ${old.cardId}`,
      at: atMs,
    }),
  };
}
