// Benchmark phase: fleet card authorizations against plain card authorizations, in the same run,
// alternating round by round so drift of the shared machine affects both alike. A fleet
// authorization here does everything the issue asks to be measured: the card and its fleet
// account are decided by the account's actor and committed in one entry, the basket passes a
// product restriction, the pinpad's odometer and vehicle prompts are checked for plausibility
// and recorded, and the invoiced price is computed from a negotiated SPOT + amount agreement on a
// loaded base price list. The ratio `fleet_vs_card` (goal >= 0.7) is median fleet rps over median
// plain card rps.

import { fleetCardId } from '../actors/sharding/shard-key';
import { FleetClient, fleetPurchase } from '../tools/client/fleet-client';
import type { ClientAccess } from '../tools/client/access';
import { PriceFormula } from '../gen/tapline/v1/fleet';
import { closedLoopUnary, medianRound, pairedRatio, type PhaseResult, type RequestFactory, type UnaryTarget } from './driver';

export const fleet_bench_settings = {
  /** Fleet accounts, spread over the shards like customers of a real issuer. */
  fleets: Number(process.env['BENCH_FLEETS'] ?? 64),
  cards_per_fleet: Number(process.env['BENCH_FLEET_CARDS'] ?? 50),
  /** Every fleet card purchase is at most this (minor units); credit never runs out in a run. */
  amount_max_minor: 9_000,
};

const fleet_id = (f: number): string => `bench-fleet-${f}`;

/** Creates the fleets, their policy, pricing, base prices and cards through FleetAdminService. */
export async function seedFleets(access: ClientAccess, nowMs: number): Promise<void> {
  const client = new FleetClient(access);
  try {
    const { fleets, cards_per_fleet } = fleet_bench_settings;
    await Promise.all(
      Array.from({ length: fleets }, async (_, f) => {
        const fleetId = fleet_id(f);
        await client.createAccount({ fleetId, creditLimitMinor: 1_000_000_000_000_000, timeZone: 'Europe/Berlin' });
        await client.setLimits({ fleetId, limits: { dailyMinor: 100_000_000_000_000n, perTxnMinor: 1_000_000n }, operatorId: 'bench' });
        await client.setPolicy({
          fleetId,
          productGroups: { allowed: ['fuel', 'car_wash'] },
          operatorId: 'bench',
          program: undefined,
          prompts: { requireOdometer: true, requireDriver: false, requireVehicle: true, odometerJumpMaxKm: 0n },
        });
        await client.setPricing({
          fleetId,
          operatorId: 'bench',
          agreements: [
            {
              productCode: 'diesel',
              productGroup: '',
              formula: PriceFormula.PRICE_FORMULA_SPOT_PLUS_AMOUNT,
              amountMilliMinor: 2_500n,
              percentBp: 0n,
            },
          ],
        });
        await client.loadBasePrices({
          fleetId,
          operatorId: 'bench',
          prices: [{ productCode: 'diesel', unitMilliMinor: 150_000n, effectiveFromUnixMs: BigInt(nowMs - 86_400_000) }],
        });
        for (let c = 0; c < cards_per_fleet; c++)
          await client.issueCard({
            fleetId,
            cardNo: String(c),
            limits: { dailyMinor: 100_000_000_000n },
            productGroups: undefined,
            operatorId: 'bench',
          });
      }),
    );
  } finally {
    client.close();
  }
}

/**
 * The i-th fleet purchase: a diesel line at the pump, the card's vehicle and a rising odometer.
 * `nextTxn` gives every request its own terminal transaction number.
 */
export function fleetRequests(terminals: number, nextTxn: () => number): RequestFactory {
  const { fleets, cards_per_fleet } = fleet_bench_settings;
  let odometer = 1_000;
  return (i: number) => {
    const fleet = (i * 7919) % fleets;
    const card = Math.floor(i / fleets) % cards_per_fleet;
    const amountMinor = 1 + (i % fleet_bench_settings.amount_max_minor);
    // Readings only rise; the rare reordering of two requests of one vehicle on different
    // connections makes one of them an (equally measured) implausible-odometer decline.
    odometer += 1;
    return fleetPurchase(
      `bench-t${i % terminals}`,
      nextTxn(),
      fleetCardId(fleet_id(fleet), String(card)),
      [{ code: 'diesel', group: 'fuel', qtyMilli: 10_000, unitMinor: 150, amountMinor }],
      { odometerKm: odometer, vehicleId: `v${card}` },
    );
  };
}

export interface FleetVsCard {
  readonly fleet: PhaseResult;
  readonly card: PhaseResult;
  readonly fleet_rps: number[];
  readonly card_rps: number[];
  readonly fleet_vs_card: number;
}

/** Alternating closed-loop rounds of plain card and fleet authorizations on the same node. */
export async function fleetVsCard(
  targets: UnaryTarget[],
  plain: RequestFactory,
  fleet: RequestFactory,
  options: { concurrency: number; warmup_s: number; measure_s: number; rounds: number },
  phase: (name: string, run: () => Promise<PhaseResult>) => Promise<PhaseResult>,
): Promise<FleetVsCard> {
  const card: PhaseResult[] = [];
  const fleets: PhaseResult[] = [];
  for (let r = 1; r <= options.rounds; r++) {
    const warmup = r === 1 ? options.warmup_s : 1;
    card.push(
      await phase(`round ${r}: authorize unary, plain cards`, () =>
        closedLoopUnary(targets, plain, options.concurrency, warmup, options.measure_s),
      ),
    );
    fleets.push(
      await phase(`round ${r}: authorize unary, fleet cards (product, prompt, price)`, () =>
        closedLoopUnary(targets, fleet, options.concurrency, warmup, options.measure_s),
      ),
    );
  }
  return {
    fleet: medianRound(fleets),
    card: medianRound(card),
    fleet_rps: fleets.map((r) => r.rps),
    card_rps: card.map((r) => r.rps),
    // The median of the rounds' own ratios: each pairs windows seconds apart.
    fleet_vs_card: pairedRatio(fleets, card, (r) => r.rps),
  };
}
