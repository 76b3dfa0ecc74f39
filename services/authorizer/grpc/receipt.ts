// Receipt reprint: the stored idempotency record of a transaction (the compact layout of
// actors/state/idempotency.ts, or the full document older records are) turned into a receipt.
// Only the card the transaction belongs to can reprint it; anything else is NOT_FOUND, so a card
// id cannot be used to probe other cards.

import { notFound } from '../../../actors/errors';
import { decodeRecord, tombstone_fingerprint } from '../../../actors/card/transaction';
import { Outcome } from '../../../gen/tapline/v1/types';
import type { GetReceiptResponse } from '../../../gen/tapline/v1/authorization';
import { wireDeclineReason } from './mapping';

export function receiptOf(stored: string | undefined, cardId: string): GetReceiptResponse {
  const record = stored === undefined ? undefined : decodeRecord(stored);
  if (record === undefined || record.f === tombstone_fingerprint || record.r.cardId !== cardId)
    throw notFound('no such transaction on this card');
  const { r: result } = record;
  const money = (amountMinor: number): { amountMinor: bigint; currency: string } => ({
    amountMinor: BigInt(amountMinor),
    currency: result.currency,
  });
  return {
    transactionId: result.id,
    kind: result.kind,
    outcome: result.outcome === 'approved' ? Outcome.OUTCOME_APPROVED : Outcome.OUTCOME_DECLINED,
    // A plain card's record: its reason is a card DeclineReason.
    declineReason: wireDeclineReason(result.reason ?? ''),
    amount: money(result.amountMinor),
    balanceAfter: money(result.balanceAfterMinor),
    spentTotal: result.spentMinor === undefined ? undefined : money(result.spentMinor),
    terminalId: record.origin?.terminalId ?? '',
    merchantId: record.origin?.merchantId ?? '',
    atUnixMs: BigInt(result.atMs),
    lines: (record.lines ?? []).map((line) => ({
      productCode: line.code,
      productGroup: line.group,
      quantityMilli: BigInt(line.qty_milli),
      unitPriceMinor: BigInt(line.unit),
      amountMinor: BigInt(line.amount),
    })),
  };
}
