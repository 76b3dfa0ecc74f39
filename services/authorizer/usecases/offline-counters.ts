// The signed base of a card medium's offline-spend counter (docs/OFFLINE.md, "The card counter"):
// a terminal online with a card whose program counts offline spend on the medium asks for it and
// writes it to the card; offline, terminals add their sales to what the medium counts since that
// base and refuse a sale past the program's card maximum. The base is what Tapline has charged the
// card offline so far: what the medium counted beyond it is still unmerged. A listed card gets no
// new base, so its medium can never be spent offline past the maximum again.

import { sign, type KeyObject } from 'node:crypto';
import { failedPrecondition } from '../../../actors/errors';
import type { CardState } from '../../../actors/card/rules';
import { counterSigningBytes } from '../../../actors/offline/signature';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import { outcomeOf } from './outcome';

export interface CounterBase {
  readonly cardId: string;
  readonly mergedMinor: number;
  readonly issuedAtMs: number;
  readonly signature: Uint8Array;
}

export class CardCounters {
  constructor(
    private readonly region: Pick<ShardRegion, 'balance'>,
    private readonly key: KeyObject | undefined,
    private readonly clock: () => number,
  ) {}

  async refresh(cardId: string): Promise<CounterBase> {
    if (this.key === undefined) throw failedPrecondition('card counters need a signing key: configure TAPLINE_OFFLINE_COUNTER_KEY_FILE');
    const card = await outcomeOf<CardState>((reply) => this.region.balance(cardId, reply));
    if (card.denylisted !== undefined) throw failedPrecondition('the card is on the denylist: its counter is not refreshed', { cardId });
    const mergedMinor = card.offlineMergedMinor ?? 0;
    const issuedAtMs = this.clock();
    return { cardId, mergedMinor, issuedAtMs, signature: sign(null, counterSigningBytes(cardId, mergedMinor, issuedAtMs), this.key) };
  }
}
