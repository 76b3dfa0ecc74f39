// Finds the cards of a program for the end-of-event refund run: SCAN over the card keys (never
// KEYS, which blocks Redis), each page's states read together, filtered by program. The run is a
// rare batch at the end of an event; a per-program index written on every issue would cost the
// issue path instead. Bounded: a program with more cards than cards_max is refused.

import { resourceExhausted } from '../../../actors/errors';
import type { RedisStore } from './redis-store';

/** Keys SCAN looks at per call: few round trips, never a long block of Redis. */
const scan_count = 1_000;
const card_key_pattern = /^tl:\{s[0-9]+\}:card:(.+)$/;

export interface ProgramCards {
  /** Ids of the cards of `programId`, sorted; at most `cards_max`. */
  cardsOf(programId: string, cards_max: number): Promise<string[]>;
}

export class RedisProgramCards implements ProgramCards {
  constructor(private readonly store: RedisStore) {}

  async cardsOf(programId: string, cards_max: number): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.store.scanPage(cursor, 'tl:{s*}:card:*', scan_count);
      cursor = next;
      const states = await this.store.hashFieldOfMany(keys, 'd');
      keys.forEach((key, index) => {
        const data = states[index];
        const cardId = card_key_pattern.exec(key)?.[1];
        if (data === null || data === undefined || cardId === undefined) return;
        if ((JSON.parse(data) as { programId?: string }).programId === programId) found.push(cardId);
      });
      if (found.length > cards_max) throw resourceExhausted(`program has more than ${cards_max} cards: run the refund per issuance`, { programId });
    } while (cursor !== '0');
    return [...new Set(found)].sort();
  }
}
