// The pure rules of a fleet invoice: which line items are fuel, the signed amounts of each
// transaction, the totals per vehicle, and fuel consumption per vehicle from consecutive odometer
// readings. No I/O. Money is integer minor units; quantities are thousandths (millilitres).
//
// Fuel consumption (fill-to-fill): a vehicle's readings are its approved purchases and completions
// in the period with an odometer reading (> 0), in time order. distance_km = the sum over
// consecutive readings of max(0, next − previous) (a reading lower than the one before is a typo
// and contributes no distance). litres = the fuel bought at every reading except the first (the
// fuel bought at the first fill was burnt before the period's distance was driven).
// l/100km = litres × 100 / distance_km, rounded half up to 2 decimals; null with fewer than two
// readings or no distance.

/** Product groups whose quantity is litres of fuel a vehicle burns (AdBlue, oil, shop items are not). */
export const fuel_groups: readonly string[] = ['fuel', 'diesel', 'petrol', 'gasoline', 'lpg', 'cng', 'ethanol'];

/** Kinds that appear on an invoice, and their sign: a reversal or refund gives back what a purchase charged. */
export const invoice_kind_sign: Readonly<Record<string, 1 | -1>> = { purchase: 1, completion: 1, reverse: -1, refund: -1 };

export interface InvoiceTransaction {
  readonly id: string;
  readonly at_ms: number;
  readonly kind: string;
  readonly card: string;
  readonly vehicle: string;
  readonly driver: string;
  readonly odometer: number;
  readonly merchant: string;
  readonly currency: string;
  readonly pump_minor: number;
  readonly invoiced_minor: number;
}

export interface InvoiceLine {
  readonly id: string;
  readonly product_group: string;
  readonly qty_milli: number;
}

export interface VehicleTotals {
  readonly vehicle: string;
  readonly currency: string;
  readonly transactions: number;
  readonly pump_minor: number;
  readonly invoiced_minor: number;
  readonly fuel_milli: number;
  readonly readings: number;
  readonly first_odometer: number | null;
  readonly last_odometer: number | null;
  readonly distance_km: number;
  readonly consumption_milli: number;
  /** Litres per 100 km to 2 decimals, as text ("8.25"), or null. */
  readonly litres_per_100km: string | null;
}

/** Fuel litres (thousandths) per transaction id. */
export function fuelByTransaction(lines: readonly InvoiceLine[]): Map<string, number> {
  const fuel = new Map<string, number>();
  for (const line of lines) {
    if (!fuel_groups.includes(line.product_group)) continue;
    fuel.set(line.id, (fuel.get(line.id) ?? 0) + line.qty_milli);
  }
  return fuel;
}

/** litres_milli × 100 / km, half up to 2 decimals, as "12.34". */
export function litresPer100km(litres_milli: number, distance_km: number): string | null {
  if (distance_km <= 0) return null;
  // hundredths of l/100km = litres_milli / 1000 × 100 / km × 100 = litres_milli × 10 / km
  const numerator = BigInt(litres_milli) * 10n;
  const denominator = BigInt(distance_km);
  const hundredths = (numerator * 2n + denominator) / (denominator * 2n);
  const text = hundredths.toString().padStart(3, '0');
  return `${text.slice(0, -2)}.${text.slice(-2)}`;
}

/** Totals per vehicle and currency (sorted by vehicle, currency), with fuel consumption. Transactions must be in time order. */
export function vehicleTotals(transactions: readonly InvoiceTransaction[], fuel: ReadonlyMap<string, number>): VehicleTotals[] {
  interface Acc {
    transactions: number;
    pump: number;
    invoiced: number;
    fuel: number;
    readings: number[];
    fuel_after_first: number;
  }
  const groups = new Map<string, Acc>();
  for (const t of transactions) {
    const sign = invoice_kind_sign[t.kind];
    if (sign === undefined) continue;
    const key = `${t.vehicle}\u0000${t.currency}`;
    const acc = groups.get(key) ?? { transactions: 0, pump: 0, invoiced: 0, fuel: 0, readings: [], fuel_after_first: 0 };
    groups.set(key, acc);
    const litres = sign * (fuel.get(t.id) ?? 0);
    acc.transactions += 1;
    acc.pump += sign * t.pump_minor;
    acc.invoiced += sign * t.invoiced_minor;
    acc.fuel += litres;
    if (sign > 0 && t.odometer > 0) {
      if (acc.readings.length > 0) acc.fuel_after_first += litres;
      acc.readings.push(t.odometer);
    }
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, acc]) => {
      const [vehicle = '', currency = ''] = key.split('\u0000');
      let distance_km = 0;
      for (let index = 1; index < acc.readings.length; index += 1)
        distance_km += Math.max(0, (acc.readings[index] ?? 0) - (acc.readings[index - 1] ?? 0));
      const measured = acc.readings.length >= 2 && distance_km > 0;
      return {
        vehicle,
        currency,
        transactions: acc.transactions,
        pump_minor: acc.pump,
        invoiced_minor: acc.invoiced,
        fuel_milli: acc.fuel,
        readings: acc.readings.length,
        first_odometer: acc.readings[0] ?? null,
        last_odometer: acc.readings[acc.readings.length - 1] ?? null,
        distance_km,
        consumption_milli: measured ? acc.fuel_after_first : 0,
        litres_per_100km: measured ? litresPer100km(acc.fuel_after_first, distance_km) : null,
      };
    });
}
