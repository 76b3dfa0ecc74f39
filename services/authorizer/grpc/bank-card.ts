// Authorizations presenting a visitor's bank card instead of a card id (open loop): the bank card
// becomes its token here (the PAN goes no further than this node), the token's index names the
// card it pays from (usecases/card-tokens.ts), and the request goes on as an ordinary Authorize of
// that card, without the bank card, on the card's owner. Unary Authorize and AuthorizeStream items
// both come through here.

import { status as GrpcStatus } from '@grpc/grpc-js';
import { failedPrecondition, InternalError, invalidArgument, type TaplineError } from '../../../actors/errors';
import { requesterOf, type Caller } from '../../common/auth/grpc-access';
import type { TxnAnswer } from '../../../actors/card/transaction';
import type { AuthorizeRequest, AuthorizeResponse } from '../../../gen/tapline/v1/authorization';
import { AuthorizationKind } from '../../../gen/tapline/v1/types';
import { outcomeOf } from '../usecases/outcome';
import { toAuthorizeResponse } from './mapping';
import { cardAuthorize, type ServiceDeps } from './service';
import { errorOfStatus } from './status';
import { optionalId, parseBankCard, requireAmount } from './validate';

const bank_card_kinds: ReadonlySet<AuthorizationKind> = new Set([
  AuthorizationKind.AUTHORIZATION_KIND_UNSPECIFIED,
  AuthorizationKind.AUTHORIZATION_KIND_PURCHASE,
  AuthorizationKind.AUTHORIZATION_KIND_PRE_AUTHORIZATION,
]);

/**
 * Runs an Authorize that presents a bank card: resolves its card, then authorizes that card on its
 * owner, as `caller` (the terminal or gateway the door authenticated).
 */
export async function authorizeByBankCard(
  deps: ServiceDeps,
  wire: AuthorizeRequest,
  caller: Caller | undefined,
): Promise<AuthorizeResponse> {
  const tokens = deps.bankCards;
  if (tokens === undefined) throw failedPrecondition('bank cards are not served by this node');
  if (wire.cardId !== '') throw invalidArgument('bank_card replaces card_id: send one of them', { field: 'bank_card' });
  if (!bank_card_kinds.has(wire.kind)) throw invalidArgument('a bank card pays PURCHASE and PRE_AUTHORIZATION only', { field: 'kind' });
  const bankCard = parseBankCard('bank_card.card', wire.bankCard?.card);
  const programId = optionalId('bank_card.program_id', wire.bankCard?.programId ?? '', '');
  const { currency } = requireAmount('amount', wire.amount);
  const cardId = await tokens.cardFor(bankCard, programId, currency);
  // The request as if the terminal had read the card's id: the bank card stays here.
  const resolved: AuthorizeRequest = { ...wire, cardId, bankCard: undefined };
  return authorizeOnOwner(deps, resolved, caller);
}

function authorizeOnOwner(deps: ServiceDeps, request: AuthorizeRequest, caller: Caller | undefined): Promise<AuthorizeResponse> {
  const cluster = deps.cluster;
  if (cluster === undefined) {
    const parsed = cardAuthorize(deps, request);
    const requester = requesterOf(caller);
    const asked = requester === undefined ? parsed : { ...parsed, requester };
    return outcomeOf<TxnAnswer>((reply) => deps.terminals.runWithCashier(asked, (settle) => deps.region.money(asked, settle), reply)).then(
      toAuthorizeResponse,
    );
  }
  if (caller === undefined) return Promise.reject(new InternalError('assertion: a bank card authorization without its caller'));
  return new Promise((resolve, reject) => {
    cluster.authorize(request, caller, (error, response) => {
      if (error === null && response !== undefined) resolve(response);
      else reject(ownerFailure(error));
    });
  });
}

function ownerFailure(error: { code?: number; details?: string } | null): TaplineError {
  return errorOfStatus(error?.code ?? GrpcStatus.INTERNAL, error?.details ?? '');
}
