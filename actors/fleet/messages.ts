// What a fleet account actor is told (its protocol) and what it is given to work with. The region
// builds these messages; replies travel as callbacks in them, never through nact's query
// (invariant: every reply reaches exactly its caller).

import type { Acting } from '../principal';
import type { HostContext, MoneyRequestMessage, Reply } from '../runtime/entity-host';
import type { ReviewQueue } from '../rules/review-queue';
import type { FleetCycleClose } from './decide';
import type { PriceListSource } from './price-lists';
import type { FleetAccountState, FleetAdminCommand, FleetCardCommand, FleetCardState } from './rules';
import type { FleetMoneyRequest } from './transaction';

export interface FleetAccountAnswer {
  readonly state: FleetAccountState;
  readonly alreadyExisted: boolean;
}

export interface FleetCardAnswer {
  readonly state: FleetCardState;
  readonly account: FleetAccountState;
  readonly alreadyExisted: boolean;
}

export type FleetMessage =
  | MoneyRequestMessage<FleetMoneyRequest>
  | {
      readonly type: 'account';
      readonly command: FleetAdminCommand;
      readonly operatorId: string;
      readonly reply: Reply<FleetAccountAnswer>;
      readonly attempt: number;
      readonly acting?: Acting;
    }
  | {
      readonly type: 'card';
      readonly cardId: string;
      readonly command: FleetCardCommand;
      readonly operatorId: string;
      readonly reply: Reply<FleetCardAnswer>;
      readonly attempt: number;
      readonly acting?: Acting;
    }
  | { readonly type: 'get_account'; readonly reply: Reply<FleetAccountState>; readonly attempt: number }
  | { readonly type: 'get_card'; readonly cardId: string; readonly reply: Reply<FleetCardAnswer>; readonly attempt: number }
  | { readonly type: 'list_review'; readonly reply: Reply<{ queue: ReviewQueue; currency: string }>; readonly attempt: number }
  | {
      readonly type: 'close_cycle';
      readonly cycle: number;
      readonly operatorId: string;
      readonly reply: Reply<FleetCycleClose>;
      readonly attempt: number;
      readonly acting?: Acting;
    }
  | {
      readonly type: 'resolve_review';
      readonly transactionId: string;
      readonly operatorId: string;
      readonly note: string;
      readonly reply: Reply<ReviewQueue>;
      readonly attempt: number;
      readonly acting?: Acting;
    };

export interface FleetActorContext extends HostContext {
  readonly clock: () => number;
  readonly nextTransactionId: () => string;
  readonly retell: (fleetId: string, message: FleetMessage) => boolean;
  /** Shared SPOT price lists (price-lists.ts), read before an account that follows one decides. */
  readonly priceLists?: PriceListSource;
}
