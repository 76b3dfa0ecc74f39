// Why an authorization was declined: one list for every entity kind. A decline is a value in an
// OK reply (never an error); the gRPC adapter maps each reason to the wire in one table
// (services/authorizer/grpc/mapping.ts). Rules shared by cards and fleets (actors/rules) decline
// with a subset of these; a card or a fleet account adds its own (balance, status, PIN, holds).

export const decline_reasons = [
  // Balance, status and currency of the card or account.
  'insufficient_funds',
  'card_blocked',
  'card_frozen',
  'card_expired',
  'card_closed',
  'currency_mismatch',
  'max_balance_exceeded',
  'top_up_limit_exceeded',
  // Reversals, holds, refunds and tabs.
  'reversed_before_authorization',
  'hold_not_found',
  'completion_exceeds_hold',
  'refund_exceeds_original',
  'original_not_refundable',
  'settlement_exceeds_debt',
  // A fleet account with an invoice unpaid too long past its due date (its billing terms).
  'account_overdue',
  // Cards that authenticate: the cryptogram is missing, does not verify, or was replayed.
  'card_auth_failed',
  // Offline sales not charged to the card: the merchant's loss (the rule says why).
  'merchant_liability',
  // PINs.
  'pin_required',
  'pin_invalid',
  'pin_locked',
  // Rules (limits, products, prompts, velocity, merchants, risk, pricing, loyalty).
  'limit_exceeded',
  'credit_limit_exceeded',
  'product_restricted',
  'prompt_required',
  'prompt_implausible',
  'velocity_exceeded',
  'merchant_restricted',
  'terminal_restricted',
  'risk',
  'temporarily_blocked',
  'price_unavailable',
  'points_insufficient',
] as const;

export type DeclineReason = (typeof decline_reasons)[number];

/** The reasons a rule of actors/rules can decline with. */
export type RuleDeclineReason = Extract<
  DeclineReason,
  | 'limit_exceeded'
  | 'credit_limit_exceeded'
  | 'product_restricted'
  | 'prompt_required'
  | 'prompt_implausible'
  | 'velocity_exceeded'
  | 'merchant_restricted'
  | 'terminal_restricted'
  | 'risk'
  | 'temporarily_blocked'
  | 'price_unavailable'
  | 'points_insufficient'
>;

const known: ReadonlySet<string> = new Set(decline_reasons);

export function isDeclineReason(value: string): value is DeclineReason {
  return known.has(value);
}
