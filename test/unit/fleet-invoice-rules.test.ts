// Proves the fleet invoice rules (services/reports/fleet-rules.ts) on hand-computed cases: fuel is
// counted only from fuel product groups; totals per vehicle sign reversals and refunds negative;
// consumption is fill-to-fill (the first fill's litres are excluded, distance is the sum of
// forward odometer steps, a backwards reading adds nothing, a fill without a reading is not a
// reading); l/100km is rounded half up to 2 decimals, exactly (property: agrees with BigInt
// long division), and absent with fewer than two readings.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuelByTransaction, litresPer100km, vehicleTotals, type InvoiceTransaction } from '../../services/reports/fleet-rules';
import { announceSeed, assertProperty } from './fast-check-seed';

const fill = (id: string, at_ms: number, odometer: number, overrides: Partial<InvoiceTransaction> = {}): InvoiceTransaction => ({
  id,
  at_ms,
  kind: 'purchase',
  card: 'c1',
  vehicle: 'truck-1',
  driver: 'd1',
  odometer,
  merchant: 'm',
  currency: 'EUR',
  pump_minor: 1_000,
  invoiced_minor: 900,
  ...overrides,
});

describe('fleet invoice rules', () => {
  before(() => announceSeed('fleet invoice rules'));

  it('counts fuel only from fuel groups', () => {
    const fuel = fuelByTransaction([
      { id: 'a', product_group: 'diesel', qty_milli: 40_000 },
      { id: 'a', product_group: 'shop', qty_milli: 1_000 },
      { id: 'b', product_group: 'adblue', qty_milli: 10_000 },
      { id: 'b', product_group: 'fuel', qty_milli: 5_500 },
    ]);
    assert.deepEqual(
      [...fuel.entries()],
      [
        ['a', 40_000],
        ['b', 5_500],
      ],
    );
  });

  it('computes fill-to-fill consumption and signed totals per vehicle', () => {
    const fuel = new Map([
      ['f1', 50_000],
      ['f2', 40_000],
      ['f3', 30_000],
      ['f4', 20_000],
      ['f5', 33_000],
    ]);
    const totals = vehicleTotals(
      [
        fill('f1', 1, 100_000), // first reading: its 50 l are not counted
        fill('f2', 2, 100_500), // +500 km, 40 l
        fill('f3', 3, 0), // no reading: neither distance nor litres for consumption
        fill('f4', 4, 100_400), // backwards (typo): no distance, but its 20 l count (a reading)
        fill('f5', 5, 101_000), // +600 km, 33 l
        fill('r1', 6, 0, { kind: 'refund', pump_minor: 300, invoiced_minor: 300 }),
        fill('v1', 7, 5_000, { vehicle: 'van-2', currency: 'CHF' }),
      ],
      fuel,
    );
    assert.deepEqual(totals, [
      {
        vehicle: 'truck-1',
        currency: 'EUR',
        transactions: 6,
        pump_minor: 5 * 1_000 - 300,
        invoiced_minor: 5 * 900 - 300,
        fuel_milli: 173_000,
        readings: 4,
        first_odometer: 100_000,
        last_odometer: 101_000,
        distance_km: 1_100,
        consumption_milli: 93_000,
        litres_per_100km: '8.45',
      },
      {
        vehicle: 'van-2',
        currency: 'CHF',
        transactions: 1,
        pump_minor: 1_000,
        invoiced_minor: 900,
        fuel_milli: 0,
        readings: 1,
        first_odometer: 5_000,
        last_odometer: 5_000,
        distance_km: 0,
        consumption_milli: 0,
        litres_per_100km: null,
      },
    ]);
  });

  it('rounds l/100km half up to 2 decimals, exactly', () => {
    assert.equal(litresPer100km(93_000, 1_100), '8.45'); // 8.4545…
    assert.equal(litresPer100km(1, 20), '0.01'); // 0.005 → 0.01
    assert.equal(litresPer100km(1, 21), '0.00'); // 0.00476…
    assert.equal(litresPer100km(5_000, 1), '500.00');
    assert.equal(litresPer100km(5_000, 0), null);
    assertProperty(
      fc.property(fc.integer({ min: 0, max: 10 ** 12 }), fc.integer({ min: 1, max: 10 ** 7 }), (litres_milli, km) => {
        const text = litresPer100km(litres_milli, km);
        assert.ok(text !== null && /^[0-9]+\.[0-9]{2}$/.test(text));
        const hundredths = BigInt(text.replace('.', ''));
        // hundredths is the nearest integer to litres_milli × 10 / km, ties up.
        const twice = BigInt(litres_milli) * 20n;
        assert.ok(hundredths * 2n * BigInt(km) <= twice + BigInt(km) && twice + BigInt(km) < (hundredths + 1n) * 2n * BigInt(km));
      }),
      2_000,
    );
  });
});
