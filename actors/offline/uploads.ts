// An upload as the terminal's actor decides it, pure: a batch is accepted (judged and recorded
// before any card is touched), answered again from its record when it was uploaded before (the
// same bytes), or refused (a signature that does not verify, a number reused for other bytes, a
// malformed batch); once every entry reached its card, the batch is completed with the results.

import { alreadyExists, failedPrecondition, permissionDenied, type TaplineError } from '../errors';
import { transactionDocument } from '../outbox/builders';
import { assessBatch, type AssessEnv, type AssessedEntry, type OfflineBatchInput } from './batch';
import type { CardUsage, TerminalOffline } from './grant';
import { merchant_rule_prefix, type EntryResult, type OfflineBatchRecord } from './records';

export interface AcceptEnv extends AssessEnv {
  /**
   * How long after its acceptance a half-merged batch may still be completed by a re-upload: its
   * entries' records must still be in Redis to be found (a re-upload after that would apply again
   * what they answered), so this is well inside the idempotency retention.
   */
  readonly resume_within_ms: number;
}

export type AcceptDecision =
  | {
      readonly kind: 'accept';
      readonly after: TerminalOffline;
      readonly record: OfflineBatchRecord;
      /** What the batch adds to each card's usage of the grant (batch.ts BatchAssessment). */
      readonly cardsAdded: ReadonlyMap<string, number>;
    }
  /** The same batch again: its results (completed), or its entries to merge again (a crash interrupted it). */
  | { readonly kind: 'replay'; readonly record: OfflineBatchRecord }
  | { readonly kind: 'rejected'; readonly error: TaplineError };

export function decideAccept(
  offline: TerminalOffline | undefined,
  cards: CardUsage,
  existing: OfflineBatchRecord | undefined,
  batch: OfflineBatchInput,
  proof: { readonly digest: string; readonly signed: boolean },
  env: AcceptEnv,
): AcceptDecision {
  if (offline === undefined) return { kind: 'rejected', error: failedPrecondition('terminal is not set up to sell offline') };
  if (!proof.signed)
    return { kind: 'rejected', error: permissionDenied("the batch's signature does not verify with the terminal's registered key") };
  if (existing !== undefined) {
    if (existing.digest !== proof.digest)
      return { kind: 'rejected', error: alreadyExists('this batch number was used for other content', { batch: batch.batch }) };
    if (existing.results === undefined && env.nowMs - existing.acceptedAtMs > env.resume_within_ms)
      return {
        kind: 'rejected',
        error: failedPrecondition('this batch was accepted too long ago to complete its merge safely: reconcile it by hand', {
          batch: batch.batch,
        }),
      };
    return { kind: 'replay', record: existing };
  }
  const assessed = assessBatch(offline, cards, batch, env);
  if ('error' in assessed) return { kind: 'rejected', error: assessed.error };
  const record = { digest: proof.digest, acceptedAtMs: env.nowMs, entries: assessed.entries };
  return { kind: 'accept', after: assessed.after, record, cardsAdded: assessed.cardsAdded };
}

/** A merged batch: its record with the results, and the terminal without it pending. */
export function completeBatch(
  offline: TerminalOffline,
  record: OfflineBatchRecord,
  batch: number,
  results: readonly EntryResult[],
  nowMs: number,
): { after: TerminalOffline; record: OfflineBatchRecord } {
  return {
    after: { ...offline, pendingBatches: offline.pendingBatches.filter((pending) => pending !== batch) },
    record: { ...record, results, completedAtMs: nowMs },
  };
}

/**
 * The document of an offline sale whose card does not exist: nothing is charged, the merchant
 * carries it; it is recorded on the terminal's shard with the batch's completion.
 */
export function unknownCardDocument(
  entry: AssessedEntry,
  where: { readonly terminalId: string; readonly merchantId: string; readonly key: string },
  id: string,
  nowMs: number,
): string {
  return transactionDocument(
    { key: where.key, terminalId: where.terminalId, amountMinor: entry.amountMinor, originalKey: '', source: 'offline', operatorId: '' },
    { merchantId: where.merchantId, programId: entry.programId },
    {
      id,
      kind: 'offline_purchase',
      outcome: 'declined',
      reason: 'merchant_liability',
      rule: `${merchant_rule_prefix}unknown_card`,
      cardId: entry.cardId,
      amountMinor: 0,
      currency: entry.currency,
      balanceAfterMinor: 0,
      atMs: nowMs,
    },
    '',
    { balance_delta: 0, offline_at: entry.capturedAtMs, liability: 'merchant' },
  );
}
