// The facts a card's decision needs besides the card itself, read before deciding: a reversal's
// or refund's original (its stored answer, whether it was reversed, its refund ledger), the
// records a key that must stay spent left behind, the card's listing history, the replacement
// card's record and a named card's holder. The card actor only sequences (load facts, decide,
// commit); the decisions (decide.ts) stay pure because everything they look at from Redis is
// read here first, through the card's host (after the card's own pending writes).

import type { EntityReads } from '../runtime/entity-host';
import type { StoredRecord } from '../runtime/persistence';
import type { ProgramSource } from '../program/registry';
import { default_pin_attempts_max } from '../program/config';
import {
  isReversalKind,
  refundLedgerEntity,
  refundNeedsLedger,
  reversalNeedsLedger,
  spentKeyEntity,
  type AdminEnv,
  type CardAdminCommand,
  type CardEnv,
  type ReplaceCommand,
  type ReplacementFacts,
  type ReversalFacts,
} from './decide';
import type { CardActorContext, CardMessage } from './messages';
import type { CardState } from './rules';
import type { IdempotencyRecord, MoneyRequest } from './transaction';

/** Money requests decided on facts read first: their original (reversals, offline voids, refunds), their key's records, or the card's listing history. */
export function decidedOnFacts(request: MoneyRequest): boolean {
  return isReversalKind(request.kind) || request.kind === 'refund' || request.recordSpent === true || request.kind === 'offline_purchase';
}

/**
 * True when a message waits on Redis for facts before it is decided. An offline sale reads the
 * card's listing history, which only a card listed once has (a card never listed was on no
 * denylist a terminal held).
 */
export function readsFacts(message: CardMessage, state: CardState | undefined): boolean {
  if (message.type === 'money') {
    const { kind, recordSpent } = message.request;
    return (
      isReversalKind(kind) || kind === 'refund' || recordSpent === true || (kind === 'offline_purchase' && state?.denylistHistory === true)
    );
  }
  return message.type === 'replace' || message.type === 'cancel_issuance' || reissuesNamed(message, state);
}

/** An issue of a named card on an unissued card: its holder record exists (blanked), at a version to write over. */
export function reissuesNamed(message: CardMessage, state: CardState | undefined): boolean {
  return (
    message.type === 'admin' && message.command.type === 'issue' && message.command.holder !== undefined && state?.status === 'unissued'
  );
}

/** Which facts about an original a decision looks at: its reversal claim, its refund ledger. */
export interface OriginalNeeds {
  readonly claim: boolean;
  readonly ledger: boolean;
}

/**
 * The facts about the original of a reversal or refund (card or fleet): its answer as the node
 * knows it or as stored, then, as `needs` says for that original, whether a reversal of it was
 * committed (or is committing here: `reversing`) and its refund ledger.
 */
export async function loadOriginalFacts(
  reads: EntityReads,
  originalKey: string,
  reversing: (originalKey: string) => boolean,
  needs: (original: IdempotencyRecord | undefined) => OriginalNeeds,
): Promise<ReversalFacts> {
  const original = reads.knownAnswer(originalKey) ?? (await reads.storedAnswer(originalKey));
  const { claim, ledger: withLedger } = needs(original);
  const alreadyReversed =
    claim && (reversing(originalKey) || (await reads.persistence.loadReversalClaim(reads.shard, originalKey)) !== undefined);
  const ledger = withLedger ? await reads.loadRecord(refundLedgerEntity(originalKey)) : undefined;
  return { original, alreadyReversed, ledger };
}

/**
 * What a card's reversal or refund needs about its original: a reversal of a charge reads its
 * ledger (refunds spent against it) and its claim, so does one of a pre-authorization (its claim
 * only); a refund reads the ledger of any original that exists.
 */
export function cardOriginalNeeds(request: MoneyRequest): (original: IdempotencyRecord | undefined) => OriginalNeeds {
  if (!isReversalKind(request.kind)) return (original) => ({ claim: false, ledger: refundNeedsLedger(original) });
  return (original) => {
    const ledger = reversalNeedsLedger(original);
    return { claim: ledger || original?.r.kind === 'pre_authorization', ledger };
  };
}

/** A request key that must stay spent: its stored answer, else whether its spent record is left. */
export type SpentKeyFacts = { readonly stored: string } | { readonly stored: undefined; readonly spent: boolean };

export async function loadSpentKeyFacts(reads: EntityReads, cardId: string, key: string): Promise<SpentKeyFacts> {
  const stored = await reads.persistence.loadIdempotencyRecord(reads.shard, key);
  if (stored !== undefined) return { stored };
  const spent = await reads.loadRecord(spentKeyEntity(cardId, key));
  return { stored: undefined, spent: spent.data !== undefined };
}

/** The card's listing history as stored (parsed by the caller once the card is known to be there). */
export function loadListingHistory(reads: EntityReads, cardId: string): Promise<string | undefined> {
  return reads.persistence.loadDenylistHistory(reads.shard, cardId, { afterPendingWrites: reads.pendingWrites() });
}

/** A named card's holder record (issuance cancel blanks it; a reissue writes over its version). */
export function loadHolder(reads: EntityReads, cardId: string): Promise<StoredRecord> {
  return reads.loadRecord({ kind: 'holder', id: cardId });
}

/** The replacement card's record (on its own shard) and, for a named card, the holder it copies. */
export async function loadReplacementFacts(
  reads: EntityReads,
  cardId: string,
  state: CardState,
  command: ReplaceCommand,
): Promise<ReplacementFacts> {
  const existing = await reads.loadRecord({ kind: 'card', id: command.replacementId }, command.replacementShard);
  const holder = state.profile?.named === true ? await loadHolder(reads, cardId) : undefined;
  return { existing, holder };
}

/**
 * An operator change's facts from the program cache (loaded with the card): a PIN change needs
 * the wrong-attempt limit, a status change the offline policy (it may list the card or take it off
 * the denylist). An unissued card has no program.
 */
export function adminEnv(
  state: CardState | undefined,
  command: CardAdminCommand,
  programs: ProgramSource,
  nowMs: number,
  shard: number,
): AdminEnv {
  const program = state === undefined || state.status === 'unissued' ? undefined : programs.get(state.programId);
  const pinAttemptsMax =
    (command.type === 'set_pin' || command.type === 'verify_pin') && program !== undefined
      ? program.pinAttemptsMax
      : default_pin_attempts_max;
  return { nowMs, pinAttemptsMax, offline: program?.offline, shard };
}

/** A money decision's facts from the node and the program cache: the clock, ids, the card's program, keys. */
export function cardEnv(context: CardActorContext, state: CardState, shard: number): CardEnv {
  return {
    nowMs: context.clock(),
    nextId: context.nextTransactionId,
    program: context.programs.get(state.programId),
    shard,
    verifyCryptogram: context.verifyCryptogram,
  };
}
