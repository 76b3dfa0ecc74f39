// Receipt reprint: the stored document of a transaction (its idempotency record, the same
// JSON as its outbox entry) turned into a receipt. Only the card the transaction belongs to can
// reprint it; anything else is NOT_FOUND, so a card id cannot be used to probe other cards.

import { notFound } from '../../../actors/errors';
import { decodeStoredTransaction, tombstone_fingerprint } from '../../../actors/card/transaction';
import type { DeclineReason as DomainDeclineReason } from '../../../actors/card/rules';
import { Outcome } from '../../../gen/tapline/v1/types';
import type { GetReceiptResponse } from '../../../gen/tapline/v1/authorization';
import { wireDeclineReason } from './mapping';

export function receiptOf(stored: string | undefined, cardId: string): GetReceiptResponse {
  const document = stored === undefined ? undefined : decodeStoredTransaction(stored);
  if (document === undefined || document.f === tombstone_fingerprint || document.card !== cardId)
    throw notFound('no such transaction on this card');
  const money = (amountMinor: number): { amountMinor: bigint; currency: string } => ({
    amountMinor: BigInt(amountMinor),
    currency: document.currency,
  });
  return {
    transactionId: document.id,
    kind: document.kind,
    outcome: document.outcome === 'approved' ? Outcome.OUTCOME_APPROVED : Outcome.OUTCOME_DECLINED,
    // A plain card's document: its reason is a card DeclineReason.
    declineReason: wireDeclineReason(document.reason as DomainDeclineReason | ''),
    amount: money(document.amount),
    balanceAfter: money(document.balance_after),
    spentTotal: document.spent_after === undefined ? undefined : money(document.spent_after),
    terminalId: document.terminal,
    merchantId: document.merchant,
    atUnixMs: BigInt(document.at),
    lines: (document.lines ?? []).map((line) => ({
      productCode: line.code,
      productGroup: line.group,
      quantityMilli: BigInt(line.qty_milli),
      unitPriceMinor: BigInt(line.unit),
      amountMinor: BigInt(line.amount),
    })),
  };
}
