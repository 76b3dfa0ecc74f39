// Finds the cards of a program for the end-of-event refund run: SCAN over the card keys (never
// KEYS, which blocks Redis), each page's states read together, filtered by program. The run is a
// rare batch at the end of an event; a per-program index written on every issue would cost the
// issue path instead. Bounded: a program with more cards than cards_max is refused.

import { resourceExhausted } from '../../../actors/errors';
import { card_keys } from './keys';
import type { RedisStore } from './redis-store';
import type { ReviewEntry } from '../../../actors/rules/review-queue';
import { decodeCardState } from '../../../actors/state/card';

/** Keys SCAN looks at per call: few round trips, never a long block of Redis. */
const scan_count = 1_000;

/** A review entry of a plain card, with the card's currency (for the amount). */
export interface ProgramReviewEntry extends ReviewEntry {
  readonly currency: string;
}

export interface ProgramCards {
  /** Ids of the cards of `programId`, sorted; at most `cards_max`. */
  cardsOf(programId: string, cards_max: number): Promise<string[]>;
  /** Open review entries of the program's cards (durable states), oldest first; at most entries_max. */
  reviewsOf(programId: string, entries_max: number): Promise<{ entries: ProgramReviewEntry[]; dropped: number }>;
}

export class RedisProgramCards implements ProgramCards {
  constructor(private readonly store: RedisStore) {}

  async cardsOf(programId: string, cards_max: number): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.store.scanPage(cursor, card_keys.match, scan_count);
      cursor = next;
      const states = await this.store.hashFieldOfMany(keys, 'd');
      keys.forEach((key, index) => {
        const data = states[index];
        const cardId = card_keys.idOf(key);
        if (data === null || data === undefined || cardId === undefined) return;
        if (decodeCardState(data).programId === programId) found.push(cardId);
      });
      if (found.length > cards_max)
        throw resourceExhausted(`program has more than ${cards_max} cards: run the refund per issuance`, { programId });
    } while (cursor !== '0');
    return [...new Set(found)].sort();
  }

  /**
   * A program's review queue is the open entries kept in its cards' states (each written
   * with its flagged approval, so no per-program hot record exists; docs/FLEET_AND_RULES.md). A
   * review listing is a rare operator read, so it is a SCAN like the refund run.
   */
  async reviewsOf(programId: string, entries_max: number): Promise<{ entries: ProgramReviewEntry[]; dropped: number }> {
    const entries: ProgramReviewEntry[] = [];
    let dropped = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.store.scanPage(cursor, card_keys.match, scan_count);
      cursor = next;
      for (const data of await this.store.hashFieldOfMany(keys, 'd')) {
        if (data === null || data === undefined) continue;
        const state = decodeCardState(data);
        if (state.programId !== programId || state.rules === undefined) continue;
        const currency = state.currency;
        for (const entry of state.rules.reviews) entries.push({ ...entry, currency });
        dropped += state.rules.reviews_dropped;
      }
    } while (cursor !== '0');
    entries.sort((a, b) => a.at_ms - b.at_ms || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const over = Math.max(0, entries.length - entries_max);
    return { entries: entries.slice(over), dropped: dropped + over };
  }
}
