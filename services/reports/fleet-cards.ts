// A fleet account's cards and vehicles, as its manager's portal page lists them: every card issued
// to the account (from the lifecycle documents: the node keeps no list of an account's cards), and
// every vehicle that fuelled with one of them (fill-ups, the last one, its card and odometer). The
// cards' live state (status, limits, spent today) is the node's, which the portal reads per card.
//
//   GET /reports/fleets/<fleetId>/cards   sections: cards, vehicles

import { identifier, stringLiteral } from '../streamer/sql';
import { integer } from './queries';
import { bounded, int, text, type Report, type ReportContext } from './reports';

/** Cards and vehicles one answer lists at most (a larger fleet is answered 413, as any report). */
export const fleet_cards_max = 1_000;

export function fleetCardsSql(database: string, fleet: string): string {
  return `SELECT card, toUInt64(min(at_ms)) AS issued_at_ms
    FROM ${identifier(database)}.lifecycle_events_dedup
    WHERE type = 'card_issued' AND fleet = ${stringLiteral(fleet)}
    GROUP BY card ORDER BY card
    LIMIT ${integer(fleet_cards_max + 1)}`;
}

export function fleetVehiclesSql(database: string, fleet: string): string {
  return `SELECT vehicle, toUInt64(count()) AS fill_ups, toUInt64(max(at_ms)) AS last_at_ms, argMax(card, at_ms) AS last_card,
      toInt64(max(odometer)) AS odometer_km
    FROM ${identifier(database)}.transactions_dedup
    WHERE fleet = ${stringLiteral(fleet)} AND outcome = 'approved' AND vehicle != '' AND kind IN ('purchase', 'completion', 'offline_purchase')
    GROUP BY vehicle ORDER BY vehicle
    LIMIT ${integer(fleet_cards_max + 1)}`;
}

export async function fleetCardsReport(context: ReportContext, fleet: string): Promise<Report> {
  const [cards, vehicles] = await Promise.all([
    bounded(context, fleetCardsSql(context.database, fleet), fleet_cards_max),
    bounded(context, fleetVehiclesSql(context.database, fleet), fleet_cards_max),
  ]);
  return {
    report: 'fleet_cards',
    parameters: { fleet },
    sections: {
      cards: {
        columns: ['card', 'issued_at_ms'],
        rows: cards.map((row) => ({ card: text(row, 'card'), issued_at_ms: int(row, 'issued_at_ms') })),
      },
      vehicles: {
        columns: ['vehicle', 'fill_ups', 'last_at_ms', 'last_card', 'odometer_km'],
        rows: vehicles.map((row) => ({
          vehicle: text(row, 'vehicle'),
          fill_ups: int(row, 'fill_ups'),
          last_at_ms: int(row, 'last_at_ms'),
          last_card: text(row, 'last_card'),
          odometer_km: int(row, 'odometer_km'),
        })),
      },
    },
  };
}
