// An offline sale as its card decides it, once its terminal's batch judged it (actors/offline/
// batch.ts). The sale happened: it is never declined for want of funds. It is charged to the card
// (the issuer's liability: the card may go below zero, its debt) unless the merchant must carry
// it: the terminal judged it outside its grant, or the card's program is not the one the medium
// named or sells nothing offline, or the currency differs, or the card was listed in the denylist
// the terminal held when it sold. A sale the merchant carries is recorded as a decline (reason
// merchant_liability, rule "offline:<why>"): nothing moves on the card and settlement, which pays
// approved sales only, leaves it out.

import type { ProgramConfig } from '../program/config';
import { listedAt, type ListingTransition } from '../offline/denylist';
import { merchant_rule_prefix } from '../offline/records';
import type { CardDecision, CardState } from './rules';
import type { DocumentExtras, MoneyRequest, TxnResult } from './transaction';

/** Why the merchant carries an offline sale, or '' when it is charged to the card. */
export function offlineLiabilityReason(
  state: CardState,
  request: MoneyRequest,
  program: ProgramConfig,
  history: readonly ListingTransition[],
): string {
  const offline = request.offline;
  if (offline === undefined) throw new Error('assertion: an offline sale without its offline fields');
  if (offline.merchantReason !== '') return offline.merchantReason;
  if (offline.programId !== state.programId || program.offline === undefined) return 'program';
  if (request.currency !== state.currency) return 'currency';
  if (listedAt(history, offline.held) !== undefined) return 'denylisted';
  return '';
}

/** The decision of an offline sale: charged (possibly below zero), or the merchant's. */
export function offlineSaleDecision(request: MoneyRequest, reason: string): CardDecision {
  if (reason !== '') return { kind: 'declined', reason: 'merchant_liability', rule: `${merchant_rule_prefix}${reason}` };
  return { kind: 'approved', event: { type: 'offline_debited', amountMinor: request.amountMinor } };
}

/** The document fields of an offline sale: what moved, when it was sold, and who carries it. */
export function offlineSaleFields(request: MoneyRequest, result: TxnResult): DocumentExtras {
  const approved = result.outcome === 'approved';
  return {
    balance_delta: approved ? -result.amountMinor : 0,
    offline_at: request.offline?.capturedAtMs ?? result.atMs,
    liability: approved ? 'issuer' : result.reason === 'merchant_liability' ? 'merchant' : '',
  };
}
