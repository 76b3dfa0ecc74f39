// The card PIN use cases: the PIN a payment carries, a new card's PIN, and PIN changes. PINs
// reach no further than here (hashed with pin.ts's keyed hash); the card's actor compares hashes
// and counts failures (actors/card/pin.ts).

import type { Acting } from '../../../actors/principal';
import { failedPrecondition } from '../../../actors/errors';
import type { CardState } from '../../../actors/card/rules';
import type { MoneyRequest } from '../../../actors/card/transaction';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import { outcomeOf } from './outcome';
import type { PinHasher } from './pin';

/** A PIN change of one card: by its holder (the old PIN must match) or an operator's reset. */
export interface PinChange {
  readonly cardId: string;
  readonly newPin: string;
  /** The PIN the holder entered as the current one; undefined for a reset or a first PIN. */
  readonly oldPin: string | undefined;
  readonly reset: boolean;
  readonly acting: Acting;
}

/**
 * The card PIN use cases: PINs reach no further than here, everything past it sees their keyed
 * hashes. Without a secret (TAPLINE_PIN_SECRET unset) every PIN is refused as FAILED_PRECONDITION
 * while cards without a PIN work as usual.
 */
export class CardPins {
  constructor(
    private readonly hasher: PinHasher | undefined,
    private readonly region: Pick<ShardRegion, 'setPin' | 'verifyPin'>,
  ) {}

  /** The payment with the entered PIN as its keyed hash; '' = no PIN entered (one comparison). */
  forPayment<R extends MoneyRequest>(request: R, pin: string): R {
    if (pin === '') return request;
    return { ...request, pinHash: this.required().hash(request.cardId, pin) };
  }

  /** The keyed hash a new card stores; '' when it is issued without a PIN. */
  forIssue(cardId: string, pin: string | undefined): string {
    return pin === undefined ? '' : this.hashOf(cardId, pin);
  }

  /** The keyed hash of a card's PIN (a fleet card's, set by its fleet's operator). */
  hashOf(cardId: string, pin: string): string {
    return this.required().hash(cardId, pin);
  }

  /** Sets a card's PIN; the card's actor compares the old PIN's hash and counts failures. */
  setPin(change: PinChange): Promise<CardState> {
    const hasher = this.required();
    const newHash = hasher.hash(change.cardId, change.newPin);
    const oldHash = change.oldPin === undefined ? undefined : hasher.hash(change.cardId, change.oldPin);
    return outcomeOf((reply) => this.region.setPin(change.cardId, newHash, oldHash, change.reset, change.acting, reply));
  }

  /**
   * Checks a card's PIN without changing it: the card compares the keyed hashes and counts a wrong
   * one (PERMISSION_DENIED once it is written); resolves with the card when it is right.
   */
  verifyPin(cardId: string, pin: string, acting: Acting): Promise<CardState> {
    const hash = this.required().hash(cardId, pin);
    return outcomeOf((reply) => this.region.verifyPin(cardId, hash, acting, reply));
  }

  private required(): PinHasher {
    if (this.hasher === undefined) throw failedPrecondition('PINs need TAPLINE_PIN_SECRET configured on the node');
    return this.hasher;
  }
}
