// Plain cards: wire mapping of a program's rules and of what they add to a plain card's
// authorization answer. The rules are parsed by fleet-validate.ts' parseProgram (one validation
// for fleets and programs); this file gives them back for GetProgram and fills the response
// fields 32-36 (discount, points, suspicious, flags) of a purchase decided under them.

import type { TxnResult } from '../../../actors/card/transaction';
import type { ProgramRules } from '../../../actors/rules/program';
import type { VelocityRule } from '../../../actors/rules/velocity';
import type { AuthorizeResponse } from '../../../gen/tapline/v1/authorization';
import type { ProgramRules as WireProgramRules, VelocityRule as WireVelocityRule } from '../../../gen/tapline/v1/fleet';

function wireVelocity(rules: readonly VelocityRule[] | undefined): WireVelocityRule[] {
  return (rules ?? []).map((rule) => ({
    name: rule.name,
    windowMs: BigInt(rule.window_ms),
    ...(rule.count_max === undefined ? {} : { countMax: BigInt(rule.count_max) }),
    ...(rule.amount_max_minor === undefined ? {} : { amountMaxMinor: BigInt(rule.amount_max_minor) }),
  }));
}

function bigintMap(map: Readonly<Record<string, number>> | undefined): Record<string, bigint> {
  return Object.fromEntries(Object.entries(map ?? {}).map(([key, value]) => [key, BigInt(value)]));
}

/** The wire form of rules parsed by parseProgram (GetProgram answers what DefineProgram stored). */
export function wireProgramRules(rules: ProgramRules): WireProgramRules {
  const { merchant, risk, loyalty } = rules;
  return {
    allowedMerchants: [...(merchant?.allowed_merchants ?? [])],
    blockedMerchants: [...(merchant?.blocked_merchants ?? [])],
    allowedTerminals: [...(merchant?.allowed_terminals ?? [])],
    blockedTerminals: [...(merchant?.blocked_terminals ?? [])],
    restrictMerchants: merchant?.allowed_merchants !== undefined,
    restrictTerminals: merchant?.allowed_terminals !== undefined,
    velocity: wireVelocity(rules.velocity),
    ...(risk === undefined
      ? {}
      : {
          risk: {
            ...(risk.hard_amount_minor === undefined ? {} : { hardAmountMinor: BigInt(risk.hard_amount_minor) }),
            ...(risk.soft_amount_minor === undefined ? {} : { softAmountMinor: BigInt(risk.soft_amount_minor) }),
            softVelocity: wireVelocity(risk.soft_velocity),
            blockAfterDeclines: BigInt(risk.block_after_declines ?? 0),
            declineWindowMs: BigInt(risk.decline_window_ms ?? 0),
            blockMs: BigInt(risk.block_ms ?? 0),
          },
        }),
    ...(loyalty === undefined
      ? {}
      : {
          loyalty: {
            minorPerUnit: BigInt(loyalty.minor_per_unit),
            pointsPerUnit: BigInt(loyalty.points_per_unit),
            groupMultiplierBp: bigintMap(loyalty.group_multiplier_bp),
            merchantMultiplierBp: bigintMap(loyalty.merchant_multiplier_bp),
            discountBpByGroup: bigintMap(loyalty.discount_bp_by_group),
            pointValueMinor: BigInt(loyalty.point_value_minor ?? 0),
          },
        }),
  };
}

type ProgramFields = Pick<AuthorizeResponse, 'discount' | 'pointsEarned' | 'pointsRedeemed' | 'suspicious' | 'flags'>;

/** Response fields of a plain card's purchase under program rules; {} for any other answer. */
export function programResponseFields(result: TxnResult): Partial<ProgramFields> {
  const figures = result.program;
  if (figures === undefined) return {};
  return {
    discount: { amountMinor: BigInt(figures.discountMinor), currency: result.currency },
    pointsEarned: BigInt(figures.pointsEarned),
    pointsRedeemed: BigInt(figures.pointsRedeemed),
    suspicious: figures.flags.length > 0,
    flags: [...figures.flags],
  };
}
