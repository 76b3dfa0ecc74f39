// Plain cards: the CardService calls about program rules: a card's rule state (points,
// temporary block, open reviews), and the review queue of a program's flagged approvals, listed
// from the cards' durable states and resolved through the card's actor (audited as an
// operator_action review_resolved in the same commit). See docs/FLEET_AND_RULES.md "Plain cards".

import { actingOf } from '../../common/auth/grpc-access';
import { invalidArgument } from '../../../actors/errors';
import type { CardState } from '../../../actors/card/rules';
import type {
  CardServiceServer,
  GetCardRulesRequest,
  GetCardRulesResponse,
  ListProgramReviewsRequest,
  ListProgramReviewsResponse,
  ResolveProgramReviewRequest,
  ResolveProgramReviewResponse,
} from '../../../gen/tapline/v1/cards';
import type { ProgramReviewEntry } from '../store/program-cards';
import type { CardServiceDeps } from './cards-service';
import { unary, unaryAsync } from './service';
import { requireId } from './validate';

/** Entries in one listing: a screenful of work for reviewers, and a bounded reply. */
export const program_review_entries_max = 1_000;

export function programReviewHandlers(
  deps: CardServiceDeps,
): Pick<CardServiceServer, 'getCardRules' | 'listProgramReviews' | 'resolveProgramReview'> {
  const { region } = deps;
  return {
    getCardRules: unary<GetCardRulesRequest, GetCardRulesResponse, CardState>(
      deps,
      'GetCardRules',
      (request, reply) => {
        region.balance(requireId('card_id', request.cardId), reply);
      },
      (state) => ({
        cardId: state.cardId,
        points: BigInt(state.rules?.points ?? 0),
        blockedUntilUnixMs: BigInt(Math.max(0, state.rules?.program.risk.blocked_until_ms ?? 0)),
        openReviews: BigInt(state.rules?.reviews.length ?? 0),
      }),
    ),

    listProgramReviews: unaryAsync<
      ListProgramReviewsRequest,
      ListProgramReviewsResponse,
      { entries: ProgramReviewEntry[]; dropped: number }
    >(
      deps,
      'ListProgramReviews',
      (request) => deps.programCards.reviewsOf(requireId('program_id', request.programId), program_review_entries_max),
      ({ entries, dropped }) => ({
        entries: entries.map((entry) => ({
          transactionId: entry.id,
          cardId: entry.card,
          amount: { amountMinor: BigInt(entry.amount_minor), currency: entry.currency },
          flags: [...entry.flags],
          authorizedAtUnixMs: BigInt(entry.at_ms),
        })),
        dropped: BigInt(dropped),
      }),
    ),

    resolveProgramReview: unary<ResolveProgramReviewRequest, ResolveProgramReviewResponse, CardState>(
      deps,
      'ResolveProgramReview',
      (request, reply, call) => {
        const cardId = requireId('card_id', request.cardId);
        if (request.transactionId === '' || request.transactionId.length > 64)
          throw invalidArgument('transaction_id must be 1-64 characters');
        if (request.note.length > 256) throw invalidArgument('note is at most 256 characters');
        region.resolveCardReview(cardId, request.transactionId, request.note, actingOf(call), reply);
      },
      (state) => ({ remaining: BigInt(state.rules?.reviews.length ?? 0) }),
    ),
  };
}
