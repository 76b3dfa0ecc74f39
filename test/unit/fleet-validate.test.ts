// Proves that fleet wire requests become exactly the domain commands intended, and that every
// malformed one is refused with INVALID_ARGUMENT or UNIMPLEMENTED before it can reach an actor
// (services/authorizer/grpc/fleet-validate.ts): fleet card ids, baskets, prompts, limits,
// program rules, price agreements, base prices and card statuses. The fingerprint covers the
// basket and the prompts, so a retry with a different basket is a different request.

import assert from 'node:assert/strict';
import { TaplineError } from '../../actors/errors';
import {
  parseBasePrices,
  parseFleetAuthorize,
  parseFleetCardStatus,
  parseFleetReverse,
  parsePolicy,
  parsePricing,
  parseSpendLimits,
  requireFleetCardId,
} from '../../services/authorizer/grpc/fleet-validate';
import { fleetPurchase } from '../../tools/client/fleet-client';
import { AuthorizationKind } from '../../gen/tapline/v1/types';
import { FleetCardStatus, PriceFormula, type ProgramRules } from '../../gen/tapline/v1/fleet';

function refused(run: () => unknown, code: 'invalid_argument' | 'unimplemented' = 'invalid_argument'): void {
  assert.throws(run, (error: unknown) => error instanceof TaplineError && error.code === code);
}

const line = { code: 'diesel', group: 'fuel', qtyMilli: 40_215, unitMinor: 180, amountMinor: 7_235 };

describe('fleet validate: authorizations', function () {
  it('parses a fleet purchase with its basket and prompts', function () {
    const request = parseFleetAuthorize(
      fleetPurchase('pump-1', 7, 'acme~12', [line], { odometerKm: 1234, driverId: 'd1', vehicleId: 'v1' }),
    );
    assert.equal(request.key, 't:pump-1:7');
    assert.equal(request.cardId, 'acme~12');
    assert.deepEqual(request.fleet, {
      fleetId: 'acme',
      lines: [{ code: 'diesel', group: 'fuel', qty_milli: 40_215, unit_minor: 180, amount_minor: 7_235 }],
      prompts: { odometer_km: 1234, driver_id: 'd1', vehicle_id: 'v1' },
    });
    const other = parseFleetAuthorize(fleetPurchase('pump-1', 7, 'acme~12', [line], { odometerKm: 1235, driverId: 'd1', vehicleId: 'v1' }));
    assert.notEqual(other.fingerprint, request.fingerprint);
    assert.equal(
      parseFleetAuthorize(fleetPurchase('pump-1', 7, 'acme~12', [line], { odometerKm: 1234, driverId: 'd1', vehicleId: 'v1' })).fingerprint,
      request.fingerprint,
    );
  });

  it('refuses malformed fleet card ids, baskets and prompts', function () {
    refused(() => requireFleetCardId('card_id', 'acme'));
    refused(() => requireFleetCardId('card_id', 'a~b~c'));
    refused(() => parseFleetAuthorize(fleetPurchase('pump-1', 1, '~1', [line])));
    refused(() => parseFleetAuthorize(fleetPurchase('pump-1', 1, 'acme~1', [{ ...line, group: '' }])));
    refused(() => parseFleetAuthorize(fleetPurchase('pump-1', 1, 'acme~1', [{ ...line, code: 'a b' }])));
    refused(() => parseFleetAuthorize(fleetPurchase('pump-1', 1, 'acme~1', [{ ...line, qtyMilli: 1_000_000_001 }])));
    refused(() => parseFleetAuthorize(fleetPurchase('pump-1', 1, 'acme~1', [{ ...line, unitMinor: -1 }])));
    refused(() => parseFleetAuthorize(fleetPurchase('pump-1', 1, 'acme~1', [line], { odometerKm: 10_000_001 })));
    refused(() => parseFleetAuthorize(fleetPurchase('pump-1', 1, 'acme~1', [line], { driverId: 'x'.repeat(65) })));
    refused(() =>
      parseFleetAuthorize({ ...fleetPurchase('pump-1', 1, 'acme~1', [line]), amount: { amountMinor: 7_236n, currency: 'EUR' } }),
    );
    refused(() =>
      parseFleetAuthorize({
        ...fleetPurchase('pump-1', 1, 'acme~1', [line]),
        lineItems: Array.from({ length: 201 }, () => ({
          productCode: 'a',
          productGroup: 'b',
          quantityMilli: 0n,
          unitPriceMinor: 0n,
          amountMinor: 0n,
        })),
      }),
    );
    refused(
      () =>
        parseFleetAuthorize({
          ...fleetPurchase('pump-1', 1, 'acme~1', [line]),
          kind: AuthorizationKind.AUTHORIZATION_KIND_INCREMENTAL,
          original: { ref: { $case: 'terminalTxn', value: { terminalId: 'pump-1', txnNumber: 7n } } },
        }),
      'unimplemented',
    );
    refused(
      () => parseFleetAuthorize({ ...fleetPurchase('pump-1', 1, 'acme~1', [line]), kind: AuthorizationKind.AUTHORIZATION_KIND_REFUND }),
      'unimplemented',
    );
    const original = { ref: { $case: 'terminalTxn' as const, value: { terminalId: 'pump-1', txnNumber: 7n } } };
    const completion = { ...fleetPurchase('pump-1', 8, 'acme~1', [line]), kind: AuthorizationKind.AUTHORIZATION_KIND_COMPLETION, original };
    const parsed = parseFleetAuthorize(completion);
    assert.deepEqual([parsed.kind, parsed.originalKey], ['completion', 't:pump-1:7']);
    refused(() => parseFleetAuthorize({ ...completion, original: undefined }), 'invalid_argument');
    refused(() => parseFleetAuthorize({ ...completion, pin: '1234' }), 'invalid_argument');
    refused(() => parseFleetAuthorize({ ...completion, prompts: { odometerKm: 5n, driverId: '', vehicleId: '' } }), 'invalid_argument');
    refused(() => parseFleetAuthorize({ ...completion, redeemPoints: 5n }), 'invalid_argument');
    refused(() => parseFleetAuthorize({ ...fleetPurchase('pump-1', 1, 'acme~1', [line]), original }), 'invalid_argument');
    const preAuthorization = parseFleetAuthorize({
      ...fleetPurchase('pump-1', 1, 'acme~1', []),
      amount: { amountMinor: 10_000n, currency: 'EUR' },
      kind: AuthorizationKind.AUTHORIZATION_KIND_PRE_AUTHORIZATION,
    });
    assert.deepEqual([preAuthorization.kind, preAuthorization.amountMinor], ['pre_authorization', 10_000]);
    refused(() =>
      parseFleetAuthorize({
        ...fleetPurchase('pump-1', 1, 'acme~1', [line]),
        kind: AuthorizationKind.AUTHORIZATION_KIND_PRE_AUTHORIZATION,
        redeemPoints: 3n,
      }),
    );
    refused(() => parseFleetAuthorize({ ...fleetPurchase('pump-1', 1, 'acme~1', [line]), kind: AuthorizationKind.UNRECOGNIZED }));
  });

  it('parses a fleet reversal and refuses one that reverses itself', function () {
    const reversal = parseFleetReverse({
      terminalId: 'pump-1',
      terminalTxnNumber: 9n,
      cardId: 'acme~1',
      original: { ref: { $case: 'terminalTxn', value: { terminalId: 'pump-1', txnNumber: 7n } } },
    });
    assert.deepEqual([reversal.kind, reversal.originalKey, reversal.fleet.fleetId], ['reverse', 't:pump-1:7', 'acme']);
    refused(() =>
      parseFleetReverse({
        terminalId: 'pump-1',
        terminalTxnNumber: 7n,
        cardId: 'acme~1',
        original: { ref: { $case: 'terminalTxn', value: { terminalId: 'pump-1', txnNumber: 7n } } },
      }),
    );
  });
});

describe('fleet validate: administration', function () {
  it('limits: absent fields are no limit; negative or oversized ones are refused', function () {
    assert.deepEqual(parseSpendLimits('limits', undefined), {});
    assert.deepEqual(parseSpendLimits('limits', { dailyMinor: 5n, lifetimeMinor: 0n }), { daily_minor: 5, lifetime_minor: 0 });
    refused(() => parseSpendLimits('limits', { weeklyMinor: -1n }));
    refused(() => parseSpendLimits('limits', { monthlyMinor: 10n ** 16n }));
  });

  const program = (overrides: Partial<ProgramRules> = {}): ProgramRules => ({
    allowedMerchants: ['m1'],
    blockedMerchants: [],
    allowedTerminals: [],
    blockedTerminals: ['t9'],
    velocity: [],
    risk: undefined,
    loyalty: undefined,
    restrictMerchants: true,
    restrictTerminals: false,
    ...overrides,
  });

  it('policy: prompts and program rules map to the domain; allow lists only when restricting', function () {
    const parsed = parsePolicy(
      { requireOdometer: true, requireDriver: false, requireVehicle: true, odometerJumpMaxKm: 1500n },
      program({
        velocity: [{ name: 'burst', windowMs: 60_000n, countMax: 3n, amountMaxMinor: undefined }],
        risk: {
          hardAmountMinor: 100n,
          softAmountMinor: undefined,
          softVelocity: [],
          blockAfterDeclines: 3n,
          declineWindowMs: 1n,
          blockMs: 2n,
        },
        loyalty: {
          minorPerUnit: 100n,
          pointsPerUnit: 1n,
          groupMultiplierBp: { shop: 20_000n },
          merchantMultiplierBp: {},
          discountBpByGroup: { wash: 500n },
          pointValueMinor: 1n,
        },
      }),
    );
    assert.deepEqual(parsed.prompts, { require_odometer: true, require_driver: false, require_vehicle: true, odometer_jump_max_km: 1500 });
    assert.deepEqual(parsed.program.merchant, { allowed_merchants: ['m1'], blocked_merchants: [], blocked_terminals: ['t9'] });
    assert.deepEqual(parsed.program.velocity, [{ name: 'burst', window_ms: 60_000, count_max: 3 }]);
    assert.deepEqual(parsed.program.risk, {
      hard_amount_minor: 100,
      soft_velocity: [],
      block_after_declines: 3,
      decline_window_ms: 1,
      block_ms: 2,
    });
    assert.equal(parsed.program.loyalty?.group_multiplier_bp?.['shop'], 20_000);
    assert.deepEqual(parsePolicy(undefined, undefined).program, {});
  });

  it('policy: refuses velocity counts past velocity_count_max, zero windows, bad ids and oversized maps', function () {
    refused(() =>
      parsePolicy(undefined, program({ velocity: [{ name: 'v', windowMs: 1000n, countMax: 1_000_001n, amountMaxMinor: undefined }] })),
    );
    // Counts past the 64 events cards used to remember are enforced exactly (buckets).
    assert.equal(
      parsePolicy(undefined, program({ velocity: [{ name: 'v', windowMs: 1000n, countMax: 65n, amountMaxMinor: undefined }] })).program
        .velocity?.[0]?.count_max,
      65,
    );
    refused(() => parsePolicy(undefined, program({ velocity: [{ name: 'v', windowMs: 0n, countMax: 1n, amountMaxMinor: undefined }] })));
    refused(() => parsePolicy(undefined, program({ blockedMerchants: ['bad id'] })));
    refused(() =>
      parsePolicy(
        undefined,
        program({
          loyalty: {
            minorPerUnit: 1n,
            pointsPerUnit: 1n,
            groupMultiplierBp: {},
            merchantMultiplierBp: {},
            discountBpByGroup: { x: 10_001n },
            pointValueMinor: 0n,
          },
        }),
      ),
    );
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`g${i}`, 1n]));
    refused(() =>
      parsePolicy(
        undefined,
        program({
          loyalty: {
            minorPerUnit: 1n,
            pointsPerUnit: 1n,
            groupMultiplierBp: many,
            merchantMultiplierBp: {},
            discountBpByGroup: {},
            pointValueMinor: 0n,
          },
        }),
      ),
    );
    refused(() => parsePolicy({ requireOdometer: true, requireDriver: false, requireVehicle: false, odometerJumpMaxKm: -1n }, undefined));
  });

  it('pricing: keys by code, group or default; refuses both, none, duplicates and unknown formulas', function () {
    const agreement = (productCode: string, productGroup: string, formula = PriceFormula.PRICE_FORMULA_PUMP_MINUS_PERCENT) => ({
      productCode,
      productGroup,
      formula,
      amountMilliMinor: 0n,
      percentBp: 150n,
    });
    assert.deepEqual(Object.keys(parsePricing([agreement('diesel', ''), agreement('', 'shop'), agreement('', '')])), [
      'code:diesel',
      'group:shop',
      '*',
    ]);
    refused(() => parsePricing([agreement('diesel', 'fuel')]));
    refused(() => parsePricing([agreement('diesel', ''), agreement('diesel', '')]));
    refused(() => parsePricing([agreement('diesel', '', PriceFormula.PRICE_FORMULA_UNSPECIFIED)]));
    refused(() => parsePricing([agreement('diesel', '', PriceFormula.UNRECOGNIZED)]));
    refused(() => parsePricing([{ ...agreement('diesel', ''), percentBp: -1n }]));
  });

  it('base prices: 1-1000 entries with valid codes, prices and instants', function () {
    assert.deepEqual(parseBasePrices([{ productCode: 'diesel', unitMilliMinor: 179_900n, effectiveFromUnixMs: 5n }]), [
      { product_code: 'diesel', unit_milli_minor: 179_900, effective_from_ms: 5 },
    ]);
    refused(() => parseBasePrices([]));
    refused(() => parseBasePrices([{ productCode: 'diesel', unitMilliMinor: -1n, effectiveFromUnixMs: 5n }]));
    refused(() => parseBasePrices([{ productCode: 'diesel', unitMilliMinor: 1n, effectiveFromUnixMs: -5n }]));
  });

  it('card status: ACTIVE, FROZEN or BLOCKED only', function () {
    assert.equal(parseFleetCardStatus(FleetCardStatus.FLEET_CARD_STATUS_FROZEN), 'frozen');
    refused(() => parseFleetCardStatus(FleetCardStatus.FLEET_CARD_STATUS_UNSPECIFIED));
    refused(() => parseFleetCardStatus(FleetCardStatus.UNRECOGNIZED));
  });
});
