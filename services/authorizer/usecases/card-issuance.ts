// Issuing cards: one card (named or anonymous, with or without a PIN), a bulk issuance of many
// anonymous cards fanned out to their owners, and the owner's side of one card of a bulk
// issuance. Every card is idempotent by its id (the same fields again: already existed; other
// fields: ALREADY_EXISTS), and a bulk issuance's record is compared, never overwritten, so a
// retried or re-run issuance issues nothing twice.

import type { Acting } from '../../../actors/principal';
import { alreadyExists, invalidArgument } from '../../../actors/errors';
import type { IssueAnswer } from '../../../actors/sharding/shard-region';
import { cardsDigest, sameIssuance, type IssuanceRecord, type IssuanceRecords } from '../../../actors/card/issuance';
import type { CardCommand, CardProfile } from '../../../actors/card/rules';
import type { ProgramRegistry } from '../../../actors/program/registry';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import type { BulkCardIssue, BulkCardIssued, CardFanout } from './card-fanout';
import { forEachBounded, outcomeOf } from './outcome';
import type { CardPins } from './card-pins';

/** Cards of one bulk issuance in flight at once: keeps the commit queue and mailboxes shallow. */
const bulk_issue_concurrency = 128;

/** What a card is issued with, validated. */
export interface IssueParams {
  readonly initialBalanceMinor: number;
  readonly currency: string;
  readonly programId: string;
  /** undefined = the program's deposit. */
  readonly depositMinor: number | undefined;
  /** 0 = the card does not expire. */
  readonly expiresAtMs: number;
}

export interface CardIssue {
  readonly cardId: string;
  readonly params: IssueParams;
  /** A named card's holder (JSON of plain fields); undefined for an anonymous card. */
  readonly holder: string | undefined;
  readonly pin: string | undefined;
  /** Who acted (the authenticated operator). */
  readonly acting: Acting;
  readonly nowMs: number;
}

export interface BulkIssue {
  readonly issuanceId: string;
  /** Distinct ids, at most bulk_issue_cards_max (validated). */
  readonly cardIds: readonly string[];
  readonly params: IssueParams;
  readonly acting: Acting;
  readonly nowMs: number;
}

export interface BulkIssueResult {
  readonly issuanceId: string;
  readonly issued: number;
  readonly alreadyExisted: number;
}

type IssueCommand = Extract<CardCommand, { type: 'issue' }>;

export interface CardIssuanceDeps {
  readonly region: Pick<ShardRegion, 'issueProfiledCard'>;
  readonly programs: Pick<ProgramRegistry, 'ensure' | 'get'>;
  readonly issuances: Pick<IssuanceRecords, 'load' | 'write'>;
  readonly pins: CardPins;
  /** Reaches each card of a bulk issuance on its owner. */
  readonly fanout: CardFanout;
}

export class CardIssuance {
  constructor(private readonly deps: CardIssuanceDeps) {}

  /** Issues one card with its profile (and holder), checked against its program. */
  async issue(issue: CardIssue): Promise<IssueAnswer> {
    const pinHash = this.deps.pins.forIssue(issue.cardId, issue.pin);
    await this.deps.programs.ensure(issue.params.programId);
    const profile = this.profileOf(issue.params, issue.holder !== undefined, pinHash, '');
    const command = issueCommand(
      issue.cardId,
      issue.params,
      profile,
      issue.nowMs,
      this.deps.programs.get(issue.params.programId).cardAuthKeyId,
    );
    return outcomeOf((reply) => this.deps.region.issueProfiledCard(command, issue.holder, issue.acting, reply));
  }

  /**
   * Issues every card on its owner (at most bulk_issue_concurrency at once), then writes the
   * issuance record. A retry with the same issuance id re-issues nothing: each card is idempotent
   * by id, and the record is compared, not overwritten.
   */
  async bulkIssue(bulk: BulkIssue): Promise<BulkIssueResult> {
    const { params, issuanceId, cardIds, acting, nowMs } = bulk;
    await this.deps.programs.ensure(params.programId);
    const profile = this.profileOf(params, false, '', issuanceId);
    const cardAuthKeyId = this.deps.programs.get(params.programId).cardAuthKeyId;
    const record: IssuanceRecord = {
      issuance: issuanceId,
      program: params.programId,
      currency: params.currency,
      initialBalanceMinor: params.initialBalanceMinor,
      depositMinor: profile.depositMinor,
      expiresAtMs: params.expiresAtMs,
      count: cardIds.length,
      cardsDigest: cardsDigest(cardIds),
      operator: acting.subject,
      at: nowMs,
    };
    const existing = await this.deps.issuances.load(issuanceId);
    if (existing !== undefined && !sameIssuance(existing, record)) {
      throw alreadyExists('issuance id already used for other cards or parameters', { issuance: issuanceId });
    }
    let issued = 0;
    let alreadyExisted = 0;
    await forEachBounded(cardIds, bulk_issue_concurrency, async (cardId) => {
      const answer = await this.deps.fanout.issueBulkCard({
        cardId,
        issuanceId,
        programId: params.programId,
        currency: params.currency,
        initialBalanceMinor: params.initialBalanceMinor,
        depositMinor: profile.depositMinor,
        expiresAtMs: params.expiresAtMs,
        issuedAtMs: nowMs,
        acting,
        cardAuthKeyId,
      });
      if (answer.alreadyExisted) alreadyExisted += 1;
      else issued += 1;
    });
    await outcomeOf((reply) => this.deps.issuances.write(record, acting, reply));
    return { issuanceId, issued, alreadyExisted };
  }

  /** The owner's side of one card of a bulk issuance: the card's ordinary idempotent issue. */
  async issueBulkCard(issue: BulkCardIssue): Promise<BulkCardIssued> {
    await this.deps.programs.ensure(issue.programId);
    const profile: CardProfile = {
      named: false,
      depositMinor: issue.depositMinor,
      expiresAtMs: issue.expiresAtMs,
      pinHash: '',
      pinFailures: 0,
      issuance: issue.issuanceId,
    };
    const command = issueCommand(issue.cardId, issue, profile, issue.issuedAtMs, issue.cardAuthKeyId);
    const { alreadyExisted } = await outcomeOf<IssueAnswer>((reply) =>
      this.deps.region.issueProfiledCard(command, undefined, issue.acting, reply),
    );
    return { alreadyExisted };
  }

  /** Checks the issue against its program (loaded first) and builds the card's profile. */
  private profileOf(params: IssueParams, named: boolean, pinHash: string, issuance: string): CardProfile {
    const program = this.deps.programs.get(params.programId);
    const depositMinor = params.depositMinor ?? program.depositMinor;
    if (program.maxBalanceMinor > 0 && params.initialBalanceMinor > program.maxBalanceMinor) {
      throw invalidArgument(`initial balance exceeds the program's max_balance_minor ${program.maxBalanceMinor}`);
    }
    return { named, depositMinor, expiresAtMs: params.expiresAtMs, pinHash, pinFailures: 0, issuance };
  }
}

function issueCommand(
  cardId: string,
  params: Pick<IssueParams, 'currency' | 'initialBalanceMinor' | 'programId'>,
  profile: CardProfile,
  nowMs: number,
  cardAuthKeyId: string,
): IssueCommand {
  return {
    type: 'issue',
    cardId,
    currency: params.currency,
    initialBalanceMinor: params.initialBalanceMinor,
    programId: params.programId,
    nowMs,
    profile,
    // A card of a program whose cards authenticate starts with counter 0 under the program's key.
    ...(cardAuthKeyId === '' ? {} : { authKeyId: cardAuthKeyId }),
  };
}
