// How a plain card is stored: its state (tl:{s}:card:<id>), its holder (a named card's personal
// data, beside the state so a purchase never rewrites it), the refund ledger of each refunded
// original and the spent keys of its PSP top-ups (beside the card). The card's state is at layout
// 2 (velocity kept in time buckets: actors/rules/velocity.ts); layout 1 (velocity events) is read
// and upgraded. The others are at layout 1.

import { z } from 'zod';
import type { CardState, CardStatus } from '../card/rules';
import type { RefundLedger } from '../card/refunds';
import type { SpentKey } from '../card/transaction';
import { legacyLayout, stateCodec } from './codec';
import {
  everyOf,
  integer,
  program_card_state_schema,
  program_card_state_v1_schema,
  review_entry_schema,
  upgradeProgramCardState,
} from './schemas';

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

/** A card's state, with what it keeps for its program's rules in the given layout. */
function cardStateSchema<P extends z.ZodType>(program: P) {
  return z.object({
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
    rules: z.object({ program, points: integer, reviews: z.array(review_entry_schema), reviews_dropped: integer }).optional(),
    unmoved: z.literal(true).optional(),
  });
}

/** Layout 1: velocity as events (at most 64 remembered). */
const card_state_v1_schema = cardStateSchema(program_card_state_v1_schema);

/** Layout 2 (current): velocity as time buckets per window. */
export const card_state_schema = cardStateSchema(program_card_state_schema);

export const card_state_codec = stateCodec<CardState>('card', card_state_schema, [
  legacyLayout(card_state_v1_schema, (v1) =>
    v1.rules === undefined ? v1 : { ...v1, rules: { ...v1.rules, program: upgradeProgramCardState(v1.rules.program) } },
  ),
]);
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

export const spent_key_schema = z.object({ transaction: z.string(), outcome: z.enum(['approved', 'declined']), at: integer });

export const spent_key_codec = stateCodec<SpentKey>('spent', spent_key_schema);
export const encodeSpentKey = spent_key_codec.encode;
export const decodeSpentKey = spent_key_codec.decode;
