// A terminal's offline state and grants, as pure rules. A grant is what a terminal is given when
// it syncs: its caps (copied from its settings and from the offline policies of its programs as
// they are at that moment), the denylist versions it must hold, and when it must stop selling. A
// sale made offline is judged against the grant it was made under and nothing else, so a change of
// settings or programs never makes a sale already made right or wrong after the fact.
//
// Only the current grant's sales can be the issuer's: a terminal must upload everything before it
// syncs again (a grant is refused while sales it used are unmerged or a batch is still merging),
// and an entry of an older grant that arrives after a newer grant was issued is the merchant's.
// That is what keeps one terminal's contribution to one card's loss within one grant's caps
// (docs/OFFLINE.md, the loss bound).

import { failedPrecondition, type TaplineError } from '../errors';
import { maxVersions } from './denylist';
import type { ProgramOfflinePolicy, TerminalOfflineSettings } from './policy';

/** The limits of one program as a grant gave them. */
export interface GrantedProgram extends ProgramOfflinePolicy {
  readonly programVersion: number;
}

/** The denylist a terminal acknowledged during a grant, from its entry `fromEntry` on. */
export interface HeldDenylist {
  readonly fromEntry: number;
  readonly versions: readonly number[];
}

export interface OfflineGrant {
  readonly number: number;
  readonly issuedAtMs: number;
  readonly offlineMaxMs: number;
  readonly currency: string;
  readonly totalMaxMinor: number;
  readonly countMax: number;
  readonly programs: Readonly<Record<string, GrantedProgram>>;
  /** The denylist the terminal must hold before selling under this grant. */
  readonly required: readonly number[];
  /** What it acknowledged during the grant (newest last, bounded by held_denylists_max). */
  readonly held: readonly HeldDenylist[];
}

/**
 * Issuer-liable offline sales counted against the current grant's caps. What each card spent
 * under the grant (CardUsage) is kept apart from the terminal's state, beside it (each accepted
 * batch's cards, persistence.ts GrantUsageChange): a grant counts up to thousands of cards and the
 * state is written several times per batch.
 */
export interface GrantUsage {
  readonly count: number;
  readonly totalMinor: number;
  /**
   * Per card, only in a terminal read from layout 3 of its record (actors/state/terminal.ts),
   * which kept them here: its next upload moves them beside the terminal.
   */
  readonly cards?: Readonly<Record<string, number>>;
}

/** Per card: what it spent under the current grant (at most countMax cards). */
export type CardUsage = ReadonlyMap<string, number>;

/** The per-card usage of a terminal read from layout 3, to move beside it (empty when none). */
export function legacyCardUsage(offline: TerminalOffline | undefined): ReadonlyMap<string, number> {
  const cards = offline?.usage.cards;
  return cards === undefined ? new Map() : new Map(Object.entries(cards));
}

/** Entry numbers the terminal's batches carried: the highest, and ranges below it never received. */
export interface EntryNumbers {
  readonly high: number;
  /** Inclusive [from, to] ranges, ascending. */
  readonly missing: readonly (readonly [number, number])[];
}

export interface DenylistAck {
  readonly versions: readonly number[];
  readonly atMs: number;
  /** Changes the terminal was behind when it acknowledged. */
  readonly behind: number;
}

/** A terminal's offline state: its settings, its grant and what its uploads left. */
export interface TerminalOffline extends TerminalOfflineSettings {
  /** Incremented by every SetTerminalOffline. */
  readonly version: number;
  /** 0 until the first grant. */
  readonly grantNumber: number;
  readonly grant?: OfflineGrant;
  /** When the grant before the current one was issued (an older grant's entries are dated by it). */
  readonly previousGrantAtMs?: number;
  readonly usage: GrantUsage;
  readonly entries: EntryNumbers;
  /** Highest batch number accepted. */
  readonly batchHigh: number;
  /** Batches accepted whose merge has not been completed (a re-upload completes them). */
  readonly pendingBatches: readonly number[];
  readonly ack?: DenylistAck;
}

/** Denylist acknowledgements kept per grant (an ack beyond replaces the oldest). */
export const held_denylists_max = 4;

export const empty_usage: GrantUsage = Object.freeze({ count: 0, totalMinor: 0 });

/** The offline state of a terminal set up now, or its settings replaced (its grant stands until the next sync). */
export function configureOffline(current: TerminalOffline | undefined, settings: TerminalOfflineSettings): TerminalOffline {
  if (current === undefined)
    return {
      ...settings,
      version: 1,
      grantNumber: 0,
      usage: empty_usage,
      entries: { high: 0, missing: [] },
      batchHigh: 0,
      pendingBatches: [],
    };
  return { ...current, ...settings, version: current.version + 1 };
}

/** True when the settings are those the terminal has (an idempotent repeat). */
export function sameSettings(current: TerminalOffline | undefined, settings: TerminalOfflineSettings): boolean {
  return (
    current !== undefined &&
    current.publicKey === settings.publicKey &&
    current.currency === settings.currency &&
    current.totalMaxMinor === settings.totalMaxMinor &&
    current.countMax === settings.countMax &&
    current.offlineMaxMs === settings.offlineMaxMs &&
    current.programs.length === settings.programs.length &&
    current.programs.every((program, index) => program === settings.programs[index])
  );
}

/** What a grant request brings: what the terminal says it used, and facts read before deciding. */
export interface GrantRequest {
  /** The highest offline entry number the terminal used. */
  readonly lastEntry: number;
  /** The terminal's state version the facts below were read against (the grant is refused if it moved). */
  readonly readAtVersion: number;
  /** The denylist versions now. */
  readonly required: readonly number[];
  /** The offline policies of the terminal's programs (those without one are left out of the grant). */
  readonly programs: Readonly<Record<string, GrantedProgram>>;
}

export type GrantDecision =
  | { readonly kind: 'granted'; readonly after: TerminalOffline; readonly grant: OfflineGrant }
  | { readonly kind: 'stale' }
  | { readonly kind: 'rejected'; readonly error: TaplineError };

/**
 * Issues the next grant. Refused while the terminal has sales it used that no batch carried, or a
 * batch whose merge has not finished: every sale of the previous grant must be merged before the
 * denylist versions of the new one are read (so a card listed after that read is in the next
 * grant's required versions, and one listed before it has all the previous grant's sales merged).
 * `stale` when the terminal's state changed since the facts were read: read them again.
 */
export function decideGrant(offline: TerminalOffline | undefined, version: number, request: GrantRequest, nowMs: number): GrantDecision {
  if (offline === undefined) return { kind: 'rejected', error: failedPrecondition('terminal is not set up to sell offline') };
  if (version !== request.readAtVersion) return { kind: 'stale' };
  if (request.lastEntry > offline.entries.high || offline.entries.missing.length > 0)
    return {
      kind: 'rejected',
      error: failedPrecondition('upload every offline sale before syncing again', {
        lastEntry: request.lastEntry,
        highestReceived: offline.entries.high,
      }),
    };
  if (offline.pendingBatches.length > 0)
    return {
      kind: 'rejected',
      error: failedPrecondition('an offline batch is still being merged: upload it again', { batch: offline.pendingBatches[0] }),
    };
  const grant: OfflineGrant = {
    number: offline.grantNumber + 1,
    issuedAtMs: nowMs,
    offlineMaxMs: offline.offlineMaxMs,
    currency: offline.currency,
    totalMaxMinor: offline.totalMaxMinor,
    countMax: offline.countMax,
    programs: request.programs,
    required: request.required,
    held: [],
  };
  const after: TerminalOffline = {
    ...offline,
    grantNumber: grant.number,
    grant,
    ...(offline.grant === undefined ? {} : { previousGrantAtMs: offline.grant.issuedAtMs }),
    usage: empty_usage,
  };
  return { kind: 'granted', after, grant };
}

/** Records a denylist acknowledgement (and, during a grant, from which entry on it was held). */
export function acknowledgeDenylist(
  offline: TerminalOffline,
  versions: readonly number[],
  lastEntry: number,
  behind: number,
  nowMs: number,
): TerminalOffline {
  const grant = offline.grant;
  const held =
    grant === undefined
      ? undefined
      : [...grant.held, { fromEntry: lastEntry + 1, versions: maxVersions(grant.required, versions) }].slice(-held_denylists_max);
  return {
    ...offline,
    ack: { versions, atMs: nowMs, behind },
    ...(grant === undefined || held === undefined ? {} : { grant: { ...grant, held } }),
  };
}

/** The denylist an entry of the current grant was sold holding, at the card's shard. */
export function heldVersionFor(grant: OfflineGrant, entry: number, shard: number): number {
  let version = grant.required[shard] ?? 0;
  for (const held of grant.held) if (held.fromEntry <= entry) version = Math.max(version, held.versions[shard] ?? 0);
  return version;
}
