// The keys of cards that authenticate (anti-cloning), and the cryptography a card and the node
// agree on. The node holds the programs' master keys (TAPLINE_CARD_AUTH_KEYS, from a Secret, never
// logged); a card holds only its own key, diversified from its program's master key when it was
// personalized, so a card whose key is extracted gives away that card alone.
//
//   card key    K_card = AES-CMAC(master, 0x01 || "TaplineCard" || card id)   (16 bytes)
//   MAC input   "TLC1" || counter (uint32 BE) || amount in minor units (uint64 BE)
//               || currency (3 ASCII letters) || card id (UTF-8)
//   cryptogram  the first 8 bytes of AES-CMAC(K_card, MAC input)
//
// AES-CMAC is RFC 4493 (AES-128), as NTAG 424 DNA and DESFire EV2/EV3 use for their secure
// messages and SUN MACs; the diversification is a CMAC of a constant and the card's id under the
// master key, in the manner of NXP's AN10922. The card increments its counter for every
// cryptogram; the node accepts a counter only above the last one it accepted
// (actors/card/card-auth.ts), so every cryptogram is good for one payment, at any terminal.

import { createCipheriv, timingSafeEqual } from 'node:crypto';
import type { CryptogramInput, CryptogramVerifier } from '../../../actors/card/card-auth';

const block_bytes = 16;
/** The constant of RFC 4493's subkey derivation for a 128-bit block. */
const rb = 0x87;
/** The truncated MAC a card sends. */
export const card_mac_bytes = 8;
/** Master keys one node holds at most (several programs, and old and new keys during a rotation). */
export const card_auth_keys_max = 32;

function aesBlock(key: Buffer, block: Buffer): Buffer {
  const cipher = createCipheriv('aes-128-ecb', key, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

function shiftLeft(block: Buffer): Buffer {
  const out = Buffer.alloc(block_bytes);
  for (let i = 0; i < block_bytes; i++) out[i] = ((block[i] as number) << 1) | ((block[i + 1] ?? 0) >> 7);
  if (((block[0] as number) & 0x80) !== 0) out[block_bytes - 1] = (out[block_bytes - 1] as number) ^ rb;
  return out;
}

/** AES-CMAC (RFC 4493) of `message` under a 16-byte key: 16 bytes. */
export function aesCmac(key: Buffer, message: Buffer): Buffer {
  if (key.length !== block_bytes) throw new RangeError('assertion: AES-CMAC takes a 16-byte key');
  const k1 = shiftLeft(aesBlock(key, Buffer.alloc(block_bytes)));
  const k2 = shiftLeft(k1);
  const blocks = Math.max(1, Math.ceil(message.length / block_bytes));
  const complete = message.length > 0 && message.length % block_bytes === 0;
  const last = Buffer.alloc(block_bytes);
  message.copy(last, 0, (blocks - 1) * block_bytes);
  if (!complete) last[message.length - (blocks - 1) * block_bytes] = 0x80;
  const subkey = complete ? k1 : k2;
  for (let i = 0; i < block_bytes; i++) last[i] = (last[i] as number) ^ (subkey[i] as number);
  const cipher = createCipheriv('aes-128-cbc', key, Buffer.alloc(block_bytes));
  cipher.setAutoPadding(false);
  const prepared = Buffer.concat([message.subarray(0, (blocks - 1) * block_bytes), last]);
  const encrypted = cipher.update(prepared);
  return encrypted.subarray(encrypted.length - block_bytes);
}

const diversification_constant = Buffer.from('TaplineCard', 'ascii');

/** A card's key, diversified from its program's master key. */
export function diversifiedKey(master: Buffer, cardId: string): Buffer {
  return aesCmac(master, Buffer.concat([Buffer.from([0x01]), diversification_constant, Buffer.from(cardId, 'utf8')]));
}

/** The bytes a card's MAC covers. */
export function cryptogramMessage(input: CryptogramInput): Buffer {
  const head = Buffer.alloc(4 + 4 + 8);
  head.write('TLC1', 0, 'ascii');
  head.writeUInt32BE(input.counter, 4);
  head.writeBigUInt64BE(BigInt(input.amountMinor), 8);
  return Buffer.concat([head, Buffer.from(input.currency, 'ascii'), Buffer.from(input.cardId, 'utf8')]);
}

/** The cryptogram a card with this master key computes for a payment (what card personalization implements). */
export function cardCryptogram(master: Buffer, input: CryptogramInput): Buffer {
  return aesCmac(diversifiedKey(master, input.cardId), cryptogramMessage(input)).subarray(0, card_mac_bytes);
}

const key_entry_pattern = /^([A-Za-z0-9._-]{1,32}):([0-9a-fA-F]{32})$/;

/** The node's master keys by id. */
export class CardAuthKeys {
  private constructor(private readonly keys: ReadonlyMap<string, Buffer>) {}

  /**
   * Reads TAPLINE_CARD_AUTH_KEYS ("<id>:<32 hex digits>,..."); undefined when unset. Throws a
   * message that names the entry's position, never a key.
   */
  static parse(text: string | undefined): CardAuthKeys | undefined {
    if (text === undefined) return undefined;
    const keys = new Map<string, Buffer>();
    const entries = text.split(',');
    if (entries.length > card_auth_keys_max) throw new Error(`at most ${card_auth_keys_max} keys`);
    entries.forEach((entry, index) => {
      const match = key_entry_pattern.exec(entry.trim());
      if (match === null) throw new Error(`entry ${index + 1} is not <id>:<32 hex digits>`);
      const [, id = '', hex = ''] = match;
      if (keys.has(id)) throw new Error(`entry ${index + 1} repeats key id ${id}`);
      keys.set(id, Buffer.from(hex, 'hex'));
    });
    return new CardAuthKeys(keys);
  }

  has(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  /** Verifies a card's MAC in constant time (the verifier the card rules are given). */
  readonly verify: CryptogramVerifier = (keyId, input, mac) => {
    const master = this.keys.get(keyId);
    if (master === undefined) return 'unknown_key';
    const given = Buffer.from(mac, 'hex');
    const expected = cardCryptogram(master, input);
    return given.length === expected.length && timingSafeEqual(given, expected) ? 'valid' : 'invalid';
  };
}
