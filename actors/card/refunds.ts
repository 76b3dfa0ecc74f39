// Pure rules for refunds (returned goods) against an earlier purchase or completion. What was
// refunded against one original is a small versioned record beside the card (RefundLedger,
// written in the same commit entry as the card), so the total can never pass what was spent:
// two refunds, or a refund and a reversal, of one original are serialized by its version.

import { amount_abs_max_minor } from '../money';
import type { CardDecision, CardState } from './rules';

/** What has been given back against one original. */
export interface RefundLedger {
  readonly refundedMinor: number;
  /** The original was reversed: nothing more may be refunded against it. */
  readonly reversed: boolean;
}

export const empty_refund_ledger: RefundLedger = Object.freeze({ refundedMinor: 0, reversed: false });

/** Dead cards take no money; a blocked, frozen or lost card still gets its goods' money back. */
const refund_refused_statuses: ReadonlySet<string> = new Set(['closed', 'replaced']);

export function decideRefund(
  state: CardState,
  amountMinor: number,
  currency: string,
  originalMinor: number,
  ledger: RefundLedger,
): CardDecision {
  if (refund_refused_statuses.has(state.status)) return { kind: 'declined', reason: 'card_closed', rule: `status:${state.status}` };
  if (currency !== state.currency) return { kind: 'declined', reason: 'currency_mismatch', rule: 'currency' };
  if (ledger.reversed) return { kind: 'declined', reason: 'original_not_refundable', rule: 'reversed' };
  if (ledger.refundedMinor + amountMinor > originalMinor)
    return { kind: 'declined', reason: 'refund_exceeds_original', rule: 'refund_total' };
  if (state.balanceMinor + amountMinor > amount_abs_max_minor)
    return { kind: 'declined', reason: 'max_balance_exceeded', rule: 'balance_max' };
  return { kind: 'approved', event: { type: 'credited', amountMinor } };
}

/** What a reversal of the original may still give back: the original less what was refunded. */
export function reversibleMinor(originalMinor: number, ledger: RefundLedger): number {
  return Math.max(0, originalMinor - ledger.refundedMinor);
}
