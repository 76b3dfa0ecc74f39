// How a plain card is stored: its state (tl:{s}:card:<id>), its holder (a named card's personal
// data, beside the state so a purchase never rewrites it), the refund ledger of each refunded
// original and the spent keys of its PSP top-ups (beside the card). The card's state is at layout
// 3: layout 2 (velocity kept in time buckets: actors/rules/velocity.ts) and what an authenticating
// card keeps (its key id, the last counter accepted, its flags). Layouts 1 (velocity events) and 2
// are read and upgraded; layout 3 also lists the tokens of the bank cards that pay from the card.
// Layout 3 exists so that a node of an older build refuses such a card instead of decoding it
// without what it does not know (zod drops unknown fields) and writing it back: that would reset
// the counter and make every cryptogram the card ever sent valid again, or forget its tokens.
// The others, and the index of a bank card's token (which cards it pays from), are at layout 1.
// Layout 4 adds what offline selling keeps on a card (its denylist listing, whether it has a
// listing history, the offline sales charged to it), refused by a layout-3 reader for the same
// reason (a listed card written back unlisted would leave the denylist and the card disagreeing).

import { z } from 'zod';
import type { CardState, CardStatus } from '../card/rules';
import type { RefundLedger } from '../card/refunds';
import type { SpentKey } from '../card/transaction';
import type { TokenRecord } from '../card/tokens';
import type { ListingReason } from '../offline/denylist';
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

/** Layout 2: velocity as time buckets per window. */
const card_state_v2_schema = cardStateSchema(program_card_state_schema);

const card_auth_schema = z.object({
  keyId: z.string(),
  counter: integer,
  flags: integer,
  lastFlag: z.object({ reason: z.enum(['replayed', 'cryptogram']), atMs: integer, terminalId: z.string() }).optional(),
});

/** Layout 3: layout 2, card authentication, and the tokens of the bank cards that pay from the card. */
const card_state_v3_schema = card_state_v2_schema.extend({ auth: card_auth_schema.optional(), tokens: z.array(z.string()).optional() });

export const listing_reasons = everyOf<ListingReason>()(['blocked', 'lost', 'frozen', 'expired', 'closed', 'replaced', 'debt']);

/** Layout 4 (current): layout 3 and the card's offline fields. */
export const card_state_schema = card_state_v3_schema.extend({
  denylisted: z.enum(listing_reasons).optional(),
  denylistHistory: z.boolean().optional(),
  offlineMergedMinor: integer.optional(),
});

export const card_state_codec = stateCodec<CardState>('card', card_state_schema, [
  legacyLayout(card_state_v1_schema, (v1) =>
    v1.rules === undefined ? v1 : { ...v1, rules: { ...v1.rules, program: upgradeProgramCardState(v1.rules.program) } },
  ),
  // A layout-2 card does not authenticate: it is a layout-3 card as it is.
  legacyLayout(card_state_v2_schema, (v2) => v2),
  // A layout-3 card has never been listed nor sold offline: it is a layout-4 card as it is.
  legacyLayout(card_state_v3_schema, (v3) => v3),
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

export const token_record_schema = z.object({
  cards: z.array(z.object({ program: z.string(), currency: z.string(), card: z.string() })),
});

export const token_record_codec = stateCodec<TokenRecord>('token', token_record_schema);
export const encodeTokenRecord = token_record_codec.encode;
export const decodeTokenRecord = token_record_codec.decode;
