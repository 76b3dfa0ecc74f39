// Wire mapping of what fleet cards add to an authorization answer: the response fields 30-49.
// Pure functions; mapping.ts calls them for every authorization (decline reasons of every kind are
// mapped once, in mapping.ts).

import type { TxnResult } from '../../../actors/card/transaction';
import { isFleetTxnResult } from '../../../actors/fleet/transaction';
import type { AuthorizeResponse } from '../../../gen/tapline/v1/authorization';

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
