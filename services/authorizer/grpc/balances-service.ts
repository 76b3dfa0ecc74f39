// AdminService.ListBalances: the stored balances of every card and fleet account, a page at a
// time, for reconciliation (services/reports reads them through this, never Redis). Any node
// answers from its store (store/balances.ts owns the key layout and the SCAN); the method has no
// routing key, so it runs where it arrives.

import type { TaplineError } from '../../../actors/errors';
import { invalidArgument } from '../../../actors/errors';
import type { AdminServiceServer, ListBalancesRequest, ListBalancesResponse } from '../../../gen/tapline/v1/admin';
import {
  balances_page_size_max,
  decodeBalancesPageToken,
  encodeBalancesPageToken,
  type BalancesPage,
  type StoredBalances,
} from '../store/balances';
import { unary, type ServiceDeps } from './service';

export interface BalancesServiceDeps extends ServiceDeps {
  readonly balances: StoredBalances;
}

export function listBalancesHandler(deps: BalancesServiceDeps): AdminServiceServer['listBalances'] {
  return unary<ListBalancesRequest, ListBalancesResponse, BalancesPage>(
    deps,
    'ListBalances',
    (request, reply) => {
      if (request.pageSize > balances_page_size_max)
        throw invalidArgument(`page_size must be at most ${balances_page_size_max}`, { field: 'page_size' });
      const size = request.pageSize === 0 ? balances_page_size_max : request.pageSize;
      const from = decodeBalancesPageToken(request.pageToken);
      deps.balances.page(from, size).then(
        (page) => reply({ ok: true, value: page }),
        // Store failures are typed (UNAVAILABLE); anything else is a bug and becomes INTERNAL at the boundary.
        (error: unknown) => reply({ ok: false, error: error as TaplineError }),
      );
    },
    toListBalancesResponse,
  );
}

function toListBalancesResponse(page: BalancesPage): ListBalancesResponse {
  const money = (balance: { amountMinor: number; currency: string } | undefined) =>
    balance === undefined ? undefined : { amountMinor: BigInt(balance.amountMinor), currency: balance.currency };
  return {
    cards: page.cards.map((card) => ({
      cardId: card.cardId,
      programId: card.programId,
      balance: money(card.balance),
      fleetId: card.fleetId,
      unreadable: card.unreadable,
    })),
    fleetAccounts: page.fleetAccounts.map((account) => ({
      fleetId: account.fleetId,
      balance: money(account.balance),
      unreadable: account.unreadable,
    })),
    nextPageToken: page.next === undefined ? '' : encodeBalancesPageToken(page.next),
  };
}
