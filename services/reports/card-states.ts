// The authorizer's stored card and fleet account balances, as reports need them, read through the
// authorizer's operator API (never its Redis keys, whose layout is the authorizer's own):
// AdminService.ListBalances, page after page, for reconciliation; CardService.GetCard (or
// FleetAdminService.GetFleetCard for "<fleet>~<no>") for one card's history. Fleet cards hold no
// stored value: they are listed with balance 0 and their fleet; fleet accounts are listed with
// their balance, which reconciliation compares with the invoiced amounts of their documents.
// Every call has a deadline; a failed call fails the report (HTTP 503), a missing card is undefined.

import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { parseFleetCardId } from '../../actors/sharding/shard-key';
import { AdminServiceClient, type ListBalancesResponse } from '../../gen/tapline/v1/admin';
import { CardServiceClient, type GetCardResponse } from '../../gen/tapline/v1/cards';
import { FleetAdminServiceClient, type GetFleetCardResponse } from '../../gen/tapline/v1/fleet';
import type { Money } from '../../gen/tapline/v1/types';
import { bearerInterceptor } from '../common/auth/tokens';
import { ReportBackendError, ReportTooLargeError } from './errors';

/** Entries per ListBalances page: the authorizer's maximum, so a reconciliation makes the fewest calls. */
export const list_balances_page_size = 1_000;

/** A card's state as far as reports need it; `undefined` balance when the authorizer could not read it. */
export interface CardBalance {
  readonly balance_minor: number | undefined;
  readonly currency: string;
  readonly program: string;
  /** A fleet card's account (its balance is 0: it spends on the account's credit); absent for stored-value cards. */
  readonly fleet?: string;
}

/** A fleet account's stored balance (≤ 0: minus what the fleet owes); `undefined` when unreadable. */
export interface FleetBalance {
  readonly balance_minor: number | undefined;
  readonly currency: string;
}

export interface StoredBalances {
  /** Every card (fleet cards included), by card id. */
  readonly cards: Map<string, CardBalance>;
  /** Every fleet account, by fleet id. */
  readonly fleets: Map<string, FleetBalance>;
}

export interface CardStateReader {
  /** Every stored card and fleet account. Throws ReportTooLargeError past `cards_max` cards or `fleets_max` accounts. */
  allBalances(cards_max: number, fleets_max: number): Promise<StoredBalances>;
  /** One card's stored state, or undefined when the authorizer has no such card. */
  card(cardId: string): Promise<CardBalance | undefined>;
  close(): void;
}

/** TLS towards the authorizer's operator door with the CA that signed it; plaintext only in development. */
export function authorizerCredentials(caFile: string | undefined): grpc.ChannelCredentials {
  if (caFile === undefined) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(readFileSync(caFile));
}

type Callback<T> = (error: grpc.ServiceError | null, response: T) => void;

export class AuthorizerCardStates implements CardStateReader {
  private readonly admin: AdminServiceClient;
  private readonly cards: CardServiceClient;
  private readonly fleets: FleetAdminServiceClient;

  /** Channels connect lazily: the reports service starts whether or not the authorizer is up yet. */
  constructor(
    address: string,
    credentials: grpc.ChannelCredentials,
    private readonly call_timeout_ms: number,
    /** This service's own bearer token (role "reports"), read fresh for every call. */
    token: () => string,
    channelOptions: grpc.ChannelOptions = {},
  ) {
    const options = { ...channelOptions, interceptors: [bearerInterceptor(token)] };
    this.admin = new AdminServiceClient(address, credentials, options);
    this.cards = new CardServiceClient(address, credentials, options);
    this.fleets = new FleetAdminServiceClient(address, credentials, options);
  }

  async allBalances(cards_max: number, fleets_max: number): Promise<StoredBalances> {
    const cards = new Map<string, CardBalance>();
    const fleets = new Map<string, FleetBalance>();
    let pageToken = '';
    do {
      const token = pageToken;
      const page = await this.call<ListBalancesResponse>('ListBalances', (options, done) =>
        this.admin.listBalances({ pageToken: token, pageSize: list_balances_page_size }, new grpc.Metadata(), options, done),
      );
      // A card listed twice (Redis resized its table during the listing) keeps its last state.
      for (const card of page.cards) cards.set(card.cardId, cardBalanceOf(card));
      for (const account of page.fleetAccounts)
        fleets.set(account.fleetId, {
          balance_minor: account.unreadable ? undefined : minorOf(account.balance),
          currency: currencyOf(account.balance),
        });
      if (cards.size > cards_max) throw new ReportTooLargeError('more cards than one reconciliation compares', { cards_max });
      if (fleets.size > fleets_max) throw new ReportTooLargeError('more fleet accounts than one reconciliation compares', { fleets_max });
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return { cards, fleets };
  }

  async card(cardId: string): Promise<CardBalance | undefined> {
    try {
      if (parseFleetCardId(cardId) !== undefined) {
        const { card } = await this.call<GetFleetCardResponse>('GetFleetCard', (options, done) =>
          this.fleets.getFleetCard({ cardId }, new grpc.Metadata(), options, done),
        );
        const fleetId = card?.fleetId ?? '';
        return { balance_minor: 0, currency: '', program: fleetId, fleet: fleetId };
      }
      const { card } = await this.call<GetCardResponse>('GetCard', (options, done) =>
        this.cards.getCard({ cardId }, new grpc.Metadata(), options, done),
      );
      return { balance_minor: minorOf(card?.balance), currency: currencyOf(card?.balance), program: card?.programId ?? '' };
    } catch (error) {
      if (error instanceof NotFound) return undefined;
      throw error;
    }
  }

  close(): void {
    this.admin.close();
    this.cards.close();
    this.fleets.close();
  }

  /** One call with this reader's deadline; NOT_FOUND becomes NotFound, any other failure a ReportBackendError. */
  private call<T>(method: string, invoke: (options: grpc.CallOptions, done: Callback<T>) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      invoke({ deadline: Date.now() + this.call_timeout_ms }, (error, response) => {
        if (error === null) resolve(response);
        else if (error.code === grpc.status.NOT_FOUND) reject(new NotFound());
        else reject(new ReportBackendError('authorizer', error, { method, code: error.code }));
      });
    });
  }
}

/** The authorizer has no such entity (a normal answer for a card lookup, not a failure). */
class NotFound extends Error {
  constructor() {
    super('not found');
    this.name = 'NotFound';
  }
}

function cardBalanceOf(card: ListBalancesResponse['cards'][number]): CardBalance {
  if (card.unreadable) {
    const fleetCard = parseFleetCardId(card.cardId);
    return { balance_minor: undefined, currency: '', program: '', ...(fleetCard === undefined ? {} : { fleet: fleetCard.fleetId }) };
  }
  // A fleet card holds no stored value: balance 0, its fleet as its program.
  if (card.fleetId !== '') return { balance_minor: 0, currency: '', program: card.fleetId, fleet: card.fleetId };
  return { balance_minor: minorOf(card.balance), currency: currencyOf(card.balance), program: card.programId };
}

/** Minor units of a wire amount, undefined when absent or beyond a JS number's exact range. */
function minorOf(money: Money | undefined): number | undefined {
  if (money === undefined) return undefined;
  const minor = Number(money.amountMinor);
  return Number.isSafeInteger(minor) && BigInt(minor) === money.amountMinor ? minor : undefined;
}

function currencyOf(money: Money | undefined): string {
  return money?.currency ?? '';
}
