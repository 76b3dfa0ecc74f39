// Wire mapping of what fleet cards and program rules add to an authorization answer: the decline
// reasons of the rules (proto numbers 40-59 and the older rule reasons) and the response fields
// 30-49. Pure functions; mapping.ts calls them for every authorization.

import type { TxnResult } from '../../../actors/card/transaction';
import { isFleetTxnResult } from '../../../actors/fleet/transaction';
import type { RuleDeclineReason } from '../../../actors/rules/rule';
import type { AuthorizeResponse } from '../../../gen/tapline/v1/authorization';
import { DeclineReason } from '../../../gen/tapline/v1/types';

const rule_decline_reasons: Readonly<Record<RuleDeclineReason, DeclineReason>> = {
  limit_exceeded: DeclineReason.DECLINE_REASON_LIMIT_EXCEEDED,
  credit_limit_exceeded: DeclineReason.DECLINE_REASON_CREDIT_LIMIT_EXCEEDED,
  product_restricted: DeclineReason.DECLINE_REASON_PRODUCT_RESTRICTED,
  prompt_required: DeclineReason.DECLINE_REASON_PROMPT_REQUIRED,
  prompt_implausible: DeclineReason.DECLINE_REASON_PROMPT_IMPLAUSIBLE,
  velocity_exceeded: DeclineReason.DECLINE_REASON_VELOCITY_EXCEEDED,
  merchant_restricted: DeclineReason.DECLINE_REASON_MERCHANT_RESTRICTED,
  terminal_restricted: DeclineReason.DECLINE_REASON_TERMINAL_RESTRICTED,
  risk: DeclineReason.DECLINE_REASON_RISK,
  temporarily_blocked: DeclineReason.DECLINE_REASON_TEMPORARILY_BLOCKED,
  price_unavailable: DeclineReason.DECLINE_REASON_PRICE_UNAVAILABLE,
  points_insufficient: DeclineReason.DECLINE_REASON_POINTS_INSUFFICIENT,
};

/** The wire reason of a rule decline; undefined when `reason` is not a rule reason. */
export function ruleDeclineReason(reason: string): DeclineReason | undefined {
  return (rule_decline_reasons as Readonly<Record<string, DeclineReason>>)[reason];
}

type FleetFields = Pick<
  AuthorizeResponse,
  'invoicedAmount' | 'pumpAmount' | 'discount' | 'pointsEarned' | 'pointsRedeemed' | 'suspicious' | 'flags'
>;

const no_fleet_fields: FleetFields = Object.freeze({
  invoicedAmount: undefined,
  pumpAmount: undefined,
  discount: undefined,
  pointsEarned: 0n,
  pointsRedeemed: 0n,
  suspicious: false,
  flags: [],
});

export function fleetResponseFields(result: TxnResult): FleetFields {
  if (!isFleetTxnResult(result)) return no_fleet_fields;
  const { fleet, currency } = result;
  return {
    invoicedAmount: { amountMinor: BigInt(fleet.invoicedMinor), currency },
    pumpAmount: { amountMinor: BigInt(fleet.pumpMinor), currency },
    discount: { amountMinor: BigInt(fleet.discountMinor), currency },
    pointsEarned: BigInt(fleet.pointsEarned),
    pointsRedeemed: BigInt(fleet.pointsRedeemed),
    suspicious: fleet.flags.length > 0,
    flags: [...fleet.flags],
  };
}
