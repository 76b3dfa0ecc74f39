// Tabs of named cards: a card may spend below zero up to its tab limit, and the tab is settled
// later by invoice or direct debit. Setting the limit checks it against the card's currency
// first; a settlement is a money request keyed by its settlement reference, so a settlement sent
// twice credits the card once.

import type { Acting } from '../../../actors/principal';
import { invalidArgument } from '../../../actors/errors';
import type { CardState } from '../../../actors/card/rules';
import { fingerprintOf, type MoneyRequest, type TxnAnswer } from '../../../actors/card/transaction';
import { tabSettlementKey } from '../../../actors/request-keys';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import { outcomeOf } from './outcome';

export interface TabLimitChange {
  readonly cardId: string;
  /** 0 removes the tab. */
  readonly limitMinor: number;
  readonly currency: string;
  readonly acting: Acting;
}

export type TabSettlementMethod = 'invoice' | 'direct_debit';

export interface TabSettlement {
  readonly cardId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly method: TabSettlementMethod;
  /** The settlement's own reference: its idempotency key. */
  readonly reference: string;
  readonly acting: Acting;
}

export class CardTabs {
  constructor(private readonly region: Pick<ShardRegion, 'balance' | 'setTabLimit' | 'money'>) {}

  async setLimit(change: TabLimitChange): Promise<CardState> {
    const card = await outcomeOf<CardState>((reply) => this.region.balance(change.cardId, reply));
    if (card.currency !== change.currency) throw invalidArgument("limit.currency is not the card's currency");
    return outcomeOf((reply) => this.region.setTabLimit(change.cardId, change.limitMinor, change.acting, reply));
  }

  settle(settlement: TabSettlement): Promise<TxnAnswer> {
    const request: Omit<MoneyRequest, 'fingerprint'> = {
      kind: 'tab_settlement',
      key: tabSettlementKey(settlement.reference),
      cardId: settlement.cardId,
      terminalId: '',
      amountMinor: settlement.amountMinor,
      currency: settlement.currency,
      source: settlement.method,
      operatorId: settlement.acting.subject,
      originalKey: '',
      acting: settlement.acting,
    };
    return outcomeOf((reply) => this.region.money({ ...request, fingerprint: fingerprintOf(request) }, reply));
  }
}
