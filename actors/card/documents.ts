// What a card's decision leaves behind besides its state: the optional fields of its transaction
// documents and the lifecycle / audit documents of operator changes, built through the outbox
// contract (actors/outbox/builders.ts). Pure: the caller passes time and ids in.

import type { CardAdminCommand } from './decide';
import { actionTowards, type CardAction, type SettableStatus } from './lifecycle';
import { balanceDeltaMinor, cashOutPayoutMinor, heldDeltaMinor, type CardEvent, type CardState } from './rules';
import { tokenForm } from './tokens';
import type { DocumentExtras, HoldFields, MoneyRequest, ProgramFigures, TxnResult } from './transaction';
import {
  autoReloadRemoved,
  autoReloadSet,
  cardAuthSet,
  cardIssued,
  cardTokenLinked,
  cardPinChanged,
  cardReplaced,
  cardReviewResolved,
  cardStatusChanged,
  replacementCardIssued,
  tabLimitSet,
  transactionDocument,
} from '../outbox/builders';

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
      return cashOutPayoutMinor(event.balanceMinor, event.depositMinor);
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
  return {
    balance_delta: balanceDeltaMinor(event),
    deposit_delta: -event.depositMinor,
    payout: cashOutPayoutMinor(event.balanceMinor, event.depositMinor),
  };
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

/** A PIN locked by wrong attempts (a card_pin_changed document beside the decline). */
export function pinLockedDocument(state: CardState, nowMs: number): string {
  return cardPinChanged({ card: state.cardId, program: state.programId, event: 'locked', operator: '', reason: 'pin_attempts', at: nowMs });
}

/** The lifecycle / audit document of an operator change (docs/OUTBOX.md). */
export function adminDocument(command: CardAdminCommand, before: CardState | undefined, after: CardState, at: number): string {
  const operator = command.operatorId;
  const card = after.cardId;
  switch (command.type) {
    case 'set_auth':
      return cardAuthSet({ card, keyId: command.keyId, counter: command.counter, operator, at });
    case 'link_token':
      return cardTokenLinked({ card, program: after.programId, form: tokenForm(command.token), linked: command.link, operator, at });
    case 'resolve_review':
      return cardReviewResolved({ transaction: command.transactionId, card, program: after.programId, note: command.note, operator, at });
    case 'tab_limit':
      return tabLimitSet({ card, limit: command.limitMinor, operator, at });
    case 'verify_pin':
      // decideAdmin never makes a document of a PIN check; a locking wrong one is pinLockedDocument.
      throw new Error('assertion: a PIN check is no card change');
    case 'set_pin': {
      const event =
        before?.profile === undefined || before.profile.pinHash === ''
          ? 'set'
          : command.reset && before.profile.pinFailures > 0
            ? 'unlocked'
            : 'changed';
      return cardPinChanged({ card, program: after.programId, event, operator, reason: command.reset ? 'reset' : '', at });
    }
    case 'auto_reload':
      // The mandate reference stays out of the document; threshold and amount are the audit.
      return command.autoReload === undefined
        ? autoReloadRemoved({ card, operator, at })
        : autoReloadSet({ card, threshold: command.autoReload.thresholdMinor, amount: command.autoReload.amountMinor, operator, at });
    case 'issue': {
      const profile = after.profile;
      return cardIssued({
        card,
        program: after.programId,
        currency: after.currency,
        status: after.status,
        amount: after.balanceMinor,
        operator,
        at,
        profile:
          profile === undefined
            ? undefined
            : { deposit: profile.depositMinor, named: profile.named, expires_at: profile.expiresAtMs, issuance: profile.issuance },
      });
    }
    case 'set_status':
    case 'transition':
      return cardStatusChanged({
        card,
        program: after.programId,
        currency: after.currency,
        status: after.status,
        previous: before?.status ?? '',
        reason: command.reason,
        operator,
        at,
        transition:
          command.type === 'transition'
            ? { action: command.transition.action, approver: command.transition.approverId }
            : statusChangeAction(before, command.status),
      });
  }
}

/** The action a SetCardStatus took (the audit names it like ChangeCardState's, with no approver). */
function statusChangeAction(before: CardState | undefined, to: SettableStatus): { action: CardAction; approver: string } | undefined {
  const action = before === undefined ? undefined : actionTowards(before.status, to);
  return action === undefined ? undefined : { action, approver: '' };
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
    return transactionDocument(request, { merchantId: '', programId: old.programId }, result, '', {
      balance_delta: sign * old.balanceMinor,
      deposit_delta: sign * depositMinor,
    });
  };
  const profile = replacement.profile;
  return {
    transferOut: transfer('transfer_out', old, -1),
    transferIn: transfer('transfer_in', replacement, 1),
    replaced: cardReplaced({
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
    issued: replacementCardIssued({
      card: replacement.cardId,
      program: replacement.programId,
      currency: replacement.currency,
      named: profile?.named ?? false,
      expires_at: profile?.expiresAtMs ?? 0,
      replaces: old.cardId,
      operator: command.operatorId,
      at: atMs,
    }),
  };
}
