// How a plain card is stored: its state (tl:{s}:card:<id>), its holder (a named card's personal
// data, beside the state so a purchase never rewrites it) and the refund ledger of each refunded
// original (beside the card). All at layout 1: what was written before versions existed.

import { z } from 'zod';
import type { CardState, CardStatus } from '../card/rules';
import type { RefundLedger } from '../card/refunds';
import { stateCodec } from './codec';
import { everyOf, integer, program_card_state_schema, review_entry_schema } from './schemas';

export const card_statuses = everyOf<CardStatus>()(['active', 'frozen', 'blocked', 'lost', 'expired', 'closed', 'replaced', 'unissued']);

const hold_schema = z.object({ amountMinor: integer, expiresAtMs: integer });

const auto_reload_schema = z.object({ thresholdMinor: integer, amountMinor: integer, mandate: z.string() });

const card_profile_schema = z.object({
  named: z.boolean(),
  depositMinor: integer,
  expiresAtMs: integer,
  pinHash: z.string(),
  pinFailures: integer,
  issuance: z.string(),
  replaces: z.string().optional(),
  replacedBy: z.string().optional(),
  autoReload: auto_reload_schema.optional(),
  tabLimitMinor: integer.optional(),
});

const card_rules_state_schema = z.object({
  program: program_card_state_schema,
  points: integer,
  reviews: z.array(review_entry_schema),
  reviews_dropped: integer,
});

export const card_state_schema = z.object({
  cardId: z.string(),
  currency: z.string(),
  programId: z.string(),
  status: z.enum(card_statuses),
  balanceMinor: integer,
  heldMinor: integer,
  issuedAtMs: integer,
  profile: card_profile_schema.optional(),
  holds: z.record(z.string(), hold_schema).optional(),
  spentMinor: integer.optional(),
  rules: card_rules_state_schema.optional(),
  unmoved: z.literal(true).optional(),
});

export const card_state_codec = stateCodec<CardState>('card', card_state_schema);
/** The stored JSON of a card's state: what every commit of the card writes. */
export const encodeCardState = card_state_codec.encode;
/** A card's state read back (actor activation, a replacement's answer, reports, the refund run). */
export const decodeCardState = card_state_codec.decode;

/**
 * A named card's holder as stored: personal data, written once at issue (and copied to a
 * replacement), never part of a document or a log line.
 */
export interface CardHolder {
  readonly name: string;
  /** The IdDocumentType name ("" when no document was given). */
  readonly idDocumentType: string;
  readonly idDocumentNumber: string;
  readonly phone: string;
  readonly email: string;
}

export const card_holder_schema = z.object({
  name: z.string(),
  idDocumentType: z.string(),
  idDocumentNumber: z.string(),
  phone: z.string(),
  email: z.string(),
});

export const card_holder_codec = stateCodec<CardHolder>('holder', card_holder_schema);
export const encodeCardHolder = card_holder_codec.encode;
export const decodeCardHolder = card_holder_codec.decode;

export const refund_ledger_schema = z.object({ refundedMinor: integer, reversed: z.boolean() });

export const refund_ledger_codec = stateCodec<RefundLedger>('refunded', refund_ledger_schema);
export const encodeRefundLedger = refund_ledger_codec.encode;
export const decodeRefundLedger = refund_ledger_codec.decode;
