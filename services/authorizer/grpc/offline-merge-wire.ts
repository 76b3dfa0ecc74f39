// The wire form of one card's offline merge (CardFanoutService.MergeOfflineEntries, fanout.proto),
// both ways: the node that runs an upload sends a card's judged entries to the card's owner, which
// answers one result per entry. Both sides check what they read: the call crosses the network and
// may come from another build during a rolling update.

import type { TxnResult } from '../../../actors/card/transaction';
import { invalidArgument, RejectedError } from '../../../actors/errors';
import { minorFromWire, request_amount_max_minor } from '../../../actors/money';
import type { AssessedEntry, TerminalLiabilityReason } from '../../../actors/offline/batch';
import { transaction_kinds, type TransactionKind } from '../../../actors/outbox/contract';
import type {
  JudgedOfflineEntry,
  MergedOfflineEntry,
  MergeOfflineEntriesRequest,
  MergeOfflineEntriesResponse,
} from '../../../gen/tapline/internal/v1/fanout';
import type { OfflineCardMerge, OfflineEntryAnswer } from '../usecases/card-fanout';
import { errorOfStatus, statusOf } from './status';
import { requireCurrency, requireId } from './validate';

const liability_reasons: ReadonlySet<string> = new Set<TerminalLiabilityReason | ''>([
  '',
  'superseded_grant',
  'unknown_grant',
  'offline_window',
  'program',
  'currency',
  'txn_cap',
  'card_counter',
  'count_cap',
  'terminal_cap',
  'card_cap',
]);

const kinds: ReadonlySet<string> = new Set(transaction_kinds);

function wireCount(field: string, value: bigint): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument(`${field} is out of range`, { field });
  return Number(value);
}

function wireMoney(field: string, value: bigint, min: number, max: number): number {
  const minor = minorFromWire(value);
  if (minor === undefined || minor < min || minor > max) throw invalidArgument(`${field} is out of range`, { field });
  return minor;
}

export function toMergeRequest(merge: OfflineCardMerge): MergeOfflineEntriesRequest {
  return {
    cardId: merge.cardId,
    terminalId: merge.terminalId,
    merchantId: merge.merchantId,
    entries: merge.entries.map((entry) => ({
      entry: BigInt(entry.entry),
      kind: entry.kind,
      programId: entry.programId,
      amountMinor: BigInt(entry.amountMinor),
      currency: entry.currency,
      voidOf: BigInt(entry.voidOf),
      grant: BigInt(entry.grant),
      capturedAtUnixMs: BigInt(entry.capturedAtMs),
      merchantReason: entry.merchantReason,
      held: BigInt(entry.held),
      receipt: BigInt(entry.receipt),
    })),
  };
}

/** The owner's view of a merge request; INVALID_ARGUMENT (nothing merged) when a field is not one this build writes. */
export function parseMergeRequest(wire: MergeOfflineEntriesRequest): OfflineCardMerge {
  const cardId = requireId('card_id', wire.cardId);
  const entries = wire.entries.map((entry: JudgedOfflineEntry): AssessedEntry => {
    if (entry.kind !== 'sale' && entry.kind !== 'void')
      throw invalidArgument('entries.kind must be sale or void', { field: 'entries.kind' });
    if (!liability_reasons.has(entry.merchantReason))
      throw invalidArgument('entries.merchant_reason is not a reason', { field: 'entries.merchant_reason' });
    return {
      entry: wireCount('entries.entry', entry.entry),
      kind: entry.kind,
      cardId,
      programId: entry.programId,
      amountMinor: wireMoney('entries.amount_minor', entry.amountMinor, 0, request_amount_max_minor),
      // A void carries no amount, hence no currency.
      currency: entry.kind === 'void' && entry.currency === '' ? '' : requireCurrency('entries.currency', entry.currency),
      voidOf: wireCount('entries.void_of', entry.voidOf),
      grant: wireCount('entries.grant', entry.grant),
      capturedAtMs: wireCount('entries.captured_at_unix_ms', entry.capturedAtUnixMs),
      merchantReason: entry.merchantReason as TerminalLiabilityReason | '',
      held: wireCount('entries.held', entry.held),
      receipt: wireCount('entries.receipt', entry.receipt),
    };
  });
  return { cardId, terminalId: requireId('terminal_id', wire.terminalId), merchantId: requireId('merchant_id', wire.merchantId), entries };
}

export function toMergeResponse(answers: readonly OfflineEntryAnswer[]): MergeOfflineEntriesResponse {
  return {
    results: answers.map((answer): MergedOfflineEntry => {
      if (!answer.ok) {
        const status = statusOf(new RejectedError(answer.code, answer.message));
        return { ...empty_result, statusCode: status.code, statusMessage: answer.message, reason: answer.code };
      }
      const r = answer.result;
      return {
        ...empty_result,
        transactionId: r.id,
        kind: r.kind,
        outcome: r.outcome,
        reason: r.reason ?? '',
        rule: r.rule ?? '',
        amountMinor: BigInt(r.amountMinor),
        currency: r.currency,
        balanceAfterMinor: BigInt(r.balanceAfterMinor),
        atUnixMs: BigInt(r.atMs),
        reverse: r.reverse ?? '',
        replayed: answer.replayed,
      };
    }),
  };
}

const empty_result: MergedOfflineEntry = {
  statusCode: 0,
  statusMessage: '',
  transactionId: '',
  kind: '',
  outcome: '',
  reason: '',
  rule: '',
  amountMinor: 0n,
  currency: '',
  balanceAfterMinor: 0n,
  atUnixMs: 0n,
  reverse: '',
  replayed: false,
};

/** The answers of a merge response, one per entry sent; an owner that answers otherwise is a defect (INTERNAL). */
export function parseMergeResponse(wire: MergeOfflineEntriesResponse, sent: number): OfflineEntryAnswer[] {
  if (wire.results.length !== sent) throw new Error(`assertion: the owner answered ${wire.results.length} results for ${sent} entries`);
  return wire.results.map((result): OfflineEntryAnswer => {
    if (result.statusCode !== 0) {
      const error = errorOfStatus(result.statusCode, result.statusMessage);
      if (!(error instanceof RejectedError)) throw error;
      return { ok: false, code: error.code, message: result.statusMessage };
    }
    if (!kinds.has(result.kind) || (result.outcome !== 'approved' && result.outcome !== 'declined'))
      throw new Error('assertion: the owner answered a result this build does not know');
    const amount = minorFromWire(result.amountMinor);
    const balance = minorFromWire(result.balanceAfterMinor);
    if (amount === undefined || balance === undefined) throw new Error('assertion: the owner answered an amount out of range');
    const txn: TxnResult = {
      id: result.transactionId,
      kind: result.kind as TransactionKind,
      outcome: result.outcome,
      ...(result.reason === '' ? {} : { reason: result.reason as NonNullable<TxnResult['reason']>, rule: result.rule }),
      cardId: '',
      amountMinor: amount,
      currency: result.currency,
      balanceAfterMinor: balance,
      atMs: Number(result.atUnixMs),
      ...(result.reverse === '' ? {} : { reverse: result.reverse as NonNullable<TxnResult['reverse']> }),
    };
    return { ok: true, result: txn, replayed: result.replayed };
  });
}
