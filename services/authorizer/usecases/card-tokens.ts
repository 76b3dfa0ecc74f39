// Open-loop tokens: a visitor's own bank card registered as a token of a closed-loop card, and a
// purchase presenting the bank card routed to that card. The PAN stops at the node that receives
// it: this use case turns it into HMAC-SHA256(TAPLINE_TOKEN_SECRET, PAN) at once, and only that
// token ("h:<hex>") is stored, indexed, forwarded or logged; a PAR ("par:<PAR>") is a token as it
// is. Without the secret a PAN is refused (FAILED_PRECONDITION) and PARs still work.
//
// Registering lists the token on the card (on the card's owner), then indexes it (on the token's
// owner); removing goes the other way (actors/card/tokens.ts says why). A purchase reads the
// token's index straight from Redis on the node it arrived at and goes on as an ordinary
// Authorize of the card it names.

import type { Acting } from '../../../actors/principal';
import { createHmac } from 'node:crypto';
import { failedPrecondition, rejected, TaplineError } from '../../../actors/errors';
import { pickTokenCard, type TokenRecord } from '../../../actors/card/tokens';
import type { CardFanout } from './card-fanout';

/** A bank card as the boundary validated it: its number, or its payment account reference. */
export type BankCardId = { readonly pan: string } | { readonly par: string };

/** The keyed hash of PANs (a PAN space of ~10^9 per BIN is guessed in seconds without the key). */
export class TokenHasher {
  constructor(private readonly secret: string) {}

  tokenOfPan(pan: string): string {
    return `h:${createHmac('sha256', this.secret).update(pan).digest('hex')}`;
  }
}

export interface TokenRegistration {
  readonly cardId: string;
  readonly bankCard: BankCardId;
  /** Who registers or removes it (the authenticated operator). */
  readonly acting: Acting;
}

export interface TokenRegistered {
  readonly cardId: string;
  readonly programId: string;
  /** Bank cards the card carries now. */
  readonly bankCards: number;
}

export interface CardTokensDeps {
  /** Undefined without TAPLINE_TOKEN_SECRET: PANs are refused. */
  readonly hasher: TokenHasher | undefined;
  /** Reaches the card's owner and the token's owner. */
  readonly fanout: Pick<CardFanout, 'linkCardToken' | 'indexCardToken'>;
  /** Reads a token's index record (any node). */
  readonly index: { load(token: string): Promise<TokenRecord | undefined> };
  /** A registration refused half-way could not take its token off the card again (it routes nowhere: harmless). */
  readonly onUndoFailed: (error: unknown) => void;
}

export class CardTokens {
  constructor(private readonly deps: CardTokensDeps) {}

  /** The token of a bank card: its PAR, or the keyed hash of its PAN. */
  tokenOf(bankCard: BankCardId): string {
    if ('par' in bankCard) return `par:${bankCard.par}`;
    if (this.deps.hasher === undefined) throw failedPrecondition('bank cards by PAN need TAPLINE_TOKEN_SECRET configured on the node');
    return this.deps.hasher.tokenOfPan(bankCard.pan);
  }

  /** Lists the token on the card, then indexes it for the card's program; undone on the card if the index refuses. */
  async register(registration: TokenRegistration): Promise<TokenRegistered> {
    const { cardId, acting } = registration;
    const token = this.tokenOf(registration.bankCard);
    const card = await this.deps.fanout.linkCardToken({ cardId, token, link: true, acting });
    try {
      await this.deps.fanout.indexCardToken({ token, programId: card.programId, currency: card.currency, cardId, link: true });
    } catch (error) {
      if (error instanceof TaplineError && (error.code === 'already_exists' || error.code === 'failed_precondition')) {
        try {
          await this.deps.fanout.linkCardToken({ cardId, token, link: false, acting });
        } catch (undo) {
          this.deps.onUndoFailed(undo);
        }
      }
      throw error;
    }
    return { cardId, programId: card.programId, bankCards: card.tokens };
  }

  /** Removes the token's index entry for the card, then takes the token off the card. */
  async remove(registration: TokenRegistration): Promise<TokenRegistered> {
    const { cardId, acting } = registration;
    const token = this.tokenOf(registration.bankCard);
    const record = await this.deps.index.load(token);
    const entry = record?.cards.find((c) => c.card === cardId);
    if (entry !== undefined)
      await this.deps.fanout.indexCardToken({ token, programId: entry.program, currency: entry.currency, cardId, link: false });
    const card = await this.deps.fanout.linkCardToken({ cardId, token, link: false, acting });
    return { cardId, programId: card.programId, bankCards: card.tokens };
  }

  /** The card a purchase presenting the bank card pays from (the program's, or the one of the currency). */
  async cardFor(bankCard: BankCardId, programId: string, currency: string): Promise<string> {
    const picked = pickTokenCard(await this.deps.index.load(this.tokenOf(bankCard)), programId, currency);
    if ('card' in picked) return picked.card;
    throw rejected(picked.code, picked.message);
  }
}
