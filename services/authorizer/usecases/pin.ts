// PINs are never stored or logged in clear: a card keeps HMAC-SHA256(server secret, card id ":"
// PIN) and checks are constant-time compares of two such hashes. The card id in the message keeps
// two cards with the same PIN from sharing a hash; the secret (TAPLINE_PIN_SECRET, never logged)
// keeps a stolen Redis dump from being brute-forced over the small PIN space offline.

import { createHmac, timingSafeEqual } from 'node:crypto';

/** 4 to 12 digits, as pinpads accept. */
export const pin_pattern = /^[0-9]{4,12}$/;

export class PinHasher {
  constructor(private readonly secret: string) {}

  hash(cardId: string, pin: string): string {
    return createHmac('sha256', this.secret).update(`${cardId}:${pin}`).digest('hex');
  }

  /** Constant-time: the time taken does not depend on where the hashes differ. */
  matches(cardId: string, pin: string, storedHash: string): boolean {
    const candidate = Buffer.from(this.hash(cardId, pin), 'hex');
    const stored = Buffer.from(storedHash, 'hex');
    return stored.length === candidate.length && timingSafeEqual(stored, candidate);
  }
}
