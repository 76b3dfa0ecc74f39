// Proves the stored-state codecs (actors/state) read back exactly what they write, for every
// entity kind, and refuse everything else with a typed StoredStateError, never a crash:
// - every codec round-trips a record with every optional field set (typed so that the fixture
//   cannot leave one out: a field missing from a schema would be dropped and fail the round trip)
//   and one with none set (absent stays absent); layout-1 codecs write exactly JSON.stringify, so
//   the bytes stored per record do not change;
// - card states made by the real card rules (issue, purchase, hold, replacement) round-trip;
// - not JSON, not an object, wrong types, missing fields, a version marker that is no version or
//   names a layout newer than this build are StoredStateErrors naming the entity, never the
//   values (a holder is personal data); a seeded property mutates records at random and sees only
//   states or StoredStateErrors;
// - the program configuration's layout step: every layout-1 record (today's, one written before
//   partialHolds existed, an empty one) reads as layout 2 with the defaults the reader used to
//   fill in; layout 2 carries "v":2; a migration that produces a wrong record is refused;
// - the version machinery over several steps, on an exemplary three-layout codec.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { z } from 'zod';
import { apply, decide, type CardState } from '../../actors/card/rules';
import { replacementState } from '../../actors/card/closing';
import type { RefundLedger } from '../../actors/card/refunds';
import type { IssuanceRecord } from '../../actors/card/issuance';
import type { FleetAccountState, FleetCardState, VehicleState } from '../../actors/fleet/rules';
import { default_program_config, type ProgramConfig } from '../../actors/program/config';
import type { ReviewQueue } from '../../actors/rules/review-queue';
import { empty_terminal_parameters, type TerminalState } from '../../actors/terminal/rules';
import { legacyCardUsage, type TerminalOffline } from '../../actors/offline/grant';
import { legacyLayout, stateCodec, StoredStateError, version_key, type StateCodec } from '../../actors/state/codec';
import {
  card_holder_codec,
  card_state_codec,
  refund_ledger_codec,
  spent_key_codec,
  token_record_codec,
  type CardHolder,
} from '../../actors/state/card';
import type { TokenRecord } from '../../actors/card/tokens';
import type { SpentKey } from '../../actors/card/transaction';
import {
  fleet_account_codec,
  fleet_card_codec,
  price_list_codec,
  review_queue_codec,
  vehicle_codec,
  type SharedPriceList,
} from '../../actors/state/fleet';
import { issuance_record_codec } from '../../actors/state/issuance';
import { manager_record_codec, type ManagerRecord } from '../../actors/state/manager';
import { decodeProgramConfig, encodeProgramConfig, program_config_codec } from '../../actors/state/program';
import {
  encodeCompletedOfflineBatch,
  encodeOfflineBatch,
  offline_batch_record_codec,
  terminal_state_codec,
} from '../../actors/state/terminal';
import type { OfflineBatchRecord } from '../../actors/offline/records';
import { state_codecs } from '../../actors/state';
import { announceSeed, assertProperty } from './fast-check-seed';

/** The type with every optional field required, all the way down: a fixture of it sets them all. */
type Complete<T> = T extends readonly [unknown, ...unknown[]]
  ? T
  : T extends readonly (infer E)[]
    ? readonly Complete<E>[]
    : T extends object
      ? { readonly [K in keyof T]-?: Complete<T[K]> }
      : T;

const at = 1_769_000_000_000;

const full_rules: Complete<NonNullable<ProgramConfig['rules']>> = {
  merchant: { allowed_merchants: ['bar-1'], blocked_merchants: ['bar-9'], allowed_terminals: ['pos-1'], blocked_terminals: ['pos-9'] },
  velocity: [{ name: 'fills', window_ms: 3_600_000, count_max: 3, amount_max_minor: 30_000 }],
  risk: {
    hard_amount_minor: 50_000,
    soft_amount_minor: 20_000,
    soft_velocity: [{ name: 'burst', window_ms: 60_000, count_max: 5, amount_max_minor: 5_000 }],
    block_after_declines: 3,
    decline_window_ms: 600_000,
    block_ms: 1_800_000,
    counted_reasons: ['insufficient_funds', 'pin_invalid'],
  },
  loyalty: {
    minor_per_unit: 100,
    points_per_unit: 1,
    group_multiplier_bp: { drinks: 20_000 },
    merchant_multiplier_bp: { 'bar-1': 15_000 },
    discount_bp_by_group: { food: 500 },
    point_value_minor: 1,
  },
};

const full_card: Complete<CardState> = {
  cardId: 'c-full',
  currency: 'EUR',
  programId: 'fest-26',
  status: 'active',
  balanceMinor: -1_500,
  heldMinor: 3_000,
  issuedAtMs: at,
  profile: {
    named: true,
    depositMinor: 200,
    expiresAtMs: at + 86_400_000,
    pinHash: 'f'.repeat(64),
    pinFailures: 2,
    issuance: 'box-7',
    replaces: 'c-old',
    replacedBy: 'c-next',
    autoReload: { thresholdMinor: 1_000, amountMinor: 2_500, mandate: 'mdt-1' },
    tabLimitMinor: 20_000,
  },
  holds: { 't:pos-1:8': { amountMinor: 3_000, expiresAtMs: at + 7 * 86_400_000 } },
  spentMinor: 9_000,
  rules: {
    program: {
      velocity: {
        series: [{ window_ms: 3_600_000, buckets: [[Math.floor(at / 56_250), 1, 250]] }],
        events: [{ at_ms: at, amount_minor: 250 }],
      },
      risk: { declines_at_ms: [at - 5], blocked_until_ms: at + 60_000 },
    },
    points: 120,
    reviews: [{ id: '4-1001', card: 'c-full', amount_minor: 25_000, flags: ['risk:soft_amount'], at_ms: at }],
    reviews_dropped: 1,
  },
  denylisted: 'debt',
  denylistHistory: true,
  offlineMergedMinor: 4_500,
  unmoved: true,
  auth: { keyId: 'fest-key-1', counter: 41, flags: 2, lastFlag: { reason: 'replayed', atMs: at - 1_000, terminalId: 'bar-7' } },
  tokens: [`h:${'ab'.repeat(32)}`],
};

const full_fleet_account: Complete<FleetAccountState> = {
  fleetId: 'fl-1',
  currency: 'EUR',
  timeZone: 'Europe/Amsterdam',
  creditLimitMinor: 500_000,
  balanceMinor: -7_001,
  limits: { per_txn_minor: 20_000, daily_minor: 50_000, weekly_minor: 100_000, monthly_minor: 300_000, lifetime_minor: 10_000_000 },
  spent: {
    day: '2026-01-21',
    day_minor: 7_240,
    week: '2026-W04',
    week_minor: 7_240,
    month: '2026-01',
    month_minor: 7_240,
    lifetime_minor: 7_240,
  },
  allowedGroups: ['diesel', 'adblue'],
  prompts: { require_odometer: true, require_driver: true, require_vehicle: false, odometer_jump_max_km: 2_000 },
  program: full_rules,
  pricing: {
    diesel: { formula: 'spot_plus_amount', amount_milli_minor: 25_000, percent_bp: 0 },
    adblue: { formula: 'pump_minus_percent', amount_milli_minor: 0, percent_bp: 300 },
  },
  prices: [{ product_code: 'diesel', unit_milli_minor: 175_900, effective_from_ms: at - 86_400_000 }],
  points: 7,
  createdAtMs: at - 30 * 86_400_000,
  billing: {
    cycle: 3,
    cycleOpenedAtMs: at - 2 * 86_400_000,
    terms: { payment_terms_days: 14, block_after_overdue_days: 7 },
    invoices: [{ cycle: 2, amountMinor: 9_000, outstandingMinor: 4_000, issuedAtMs: at - 2 * 86_400_000, dueAtMs: at + 12 * 86_400_000 }],
  },
  holds: {
    't:pump-1:7': {
      amountMinor: 10_000,
      expiresAtMs: at + 3_600_000,
      card: 'fl-1~3',
      atMs: at,
      prompts: { odometer_km: 120_500, driver_id: 'd-1', vehicle_id: 'truck-9' },
    },
  },
  heldMinor: 10_000,
  cardPolicy: { pin_required: true, pin_attempts_max: 3, hold_expiry_ms: 3_600_000, completion_tolerance_bp: 500 },
  priceList: 'platts-nwe',
};

const full_fleet_card: Complete<FleetCardState> = {
  cardId: 'fl-1~3',
  fleetId: 'fl-1',
  status: 'frozen',
  limits: { per_txn_minor: 10_000, daily_minor: 20_000, weekly_minor: 50_000, monthly_minor: 100_000, lifetime_minor: 1_000_000 },
  spent: {
    day: '2026-01-21',
    day_minor: 7_240,
    week: '2026-W04',
    week_minor: 7_240,
    month: '2026-01',
    month_minor: 7_240,
    lifetime_minor: 7_240,
  },
  allowedGroups: ['diesel'],
  program: {
    velocity: { series: [{ window_ms: 3_600_000, buckets: [[Math.floor(at / 56_250), 1, 7_240]] }], events: [] },
    risk: { declines_at_ms: [], blocked_until_ms: 0 },
  },
  issuedAtMs: at,
  pinHash: 'c'.repeat(64),
  pinFailures: 1,
};

const full_program: Complete<ProgramConfig> = {
  pinRequired: true,
  maxBalanceMinor: 15_000,
  maxTopUpMinor: 10_000,
  holdExpiryMs: 86_400_000,
  completionToleranceBp: 2_000,
  depositMinor: 200,
  pinAttemptsMax: 5,
  partialHolds: true,
  rules: full_rules,
  cardAuthKeyId: 'fest-key-1',
  offline: { txnMaxMinor: 2_000, cardMaxMinor: 5_000, debtThresholdMinor: 1_000, cardCounter: true },
};

const full_terminal: Complete<TerminalState> = {
  terminalId: 'pos-1',
  merchantId: 'bar-1',
  location: 'north stage',
  enabled: false,
  serialNumber: 'SN-4711-A',
  parameters: {
    receiptHeader: 'Bar North\nThank you',
    receiptFooter: 'VAT 21%',
    communication: { host: 'pay.example.org', port: 8443, timeoutMs: 4_000 },
    offlineProfile: 'festival-basic',
  },
  parametersVersion: 3,
  cashiers: { 'c-1': true, 'c-2': false },
  cashierPins: { 'c-1': 'a'.repeat(64), 'c-2': 'b'.repeat(64) },
  offline: {
    publicKey: 'A'.repeat(43) + '=',
    programs: ['fest-26'],
    currency: 'EUR',
    totalMaxMinor: 50_000,
    countMax: 200,
    offlineMaxMs: 4 * 3_600_000,
    version: 2,
    grantNumber: 7,
    grant: {
      number: 7,
      issuedAtMs: at,
      offlineMaxMs: 4 * 3_600_000,
      currency: 'EUR',
      totalMaxMinor: 50_000,
      countMax: 200,
      programs: { 'fest-26': { txnMaxMinor: 2_000, cardMaxMinor: 5_000, debtThresholdMinor: 1_000, cardCounter: true, programVersion: 3 } },
      required: [4, 0, 9],
      held: [{ fromEntry: 31, versions: [5, 0, 9] }],
    },
    previousGrantAtMs: at - 86_400_000,
    usage: { count: 2, totalMinor: 1_500, cards: { 'c-plain': 1_500 } },
    entries: { high: 40, missing: [[33, 34]] },
    batchHigh: 6,
    pendingBatches: [6],
    ack: { versions: [5, 0, 9], atMs: at + 60_000, behind: 1 },
  },
};

const full_offline_batch: Complete<OfflineBatchRecord> = {
  digest: 'ab'.repeat(32),
  acceptedAtMs: at,
  entries: [
    {
      entry: 35,
      kind: 'sale',
      cardId: 'c-plain',
      programId: 'fest-26',
      amountMinor: 900,
      currency: 'EUR',
      voidOf: 0,
      grant: 7,
      capturedAtMs: at - 60_000,
      merchantReason: 'card_cap',
      held: 5,
      receipt: 118,
    },
  ],
  results: [
    {
      entry: 35,
      kind: 'sale',
      liability: 'merchant',
      reason: 'card_cap',
      transactionId: '4-1001',
      amountMinor: 0,
      currency: 'EUR',
      balanceAfterMinor: -400,
      debtAfterMinor: 400,
    },
  ],
  completedAtMs: at + 5,
};

const full_issuance: Complete<IssuanceRecord> = {
  issuance: 'box-7',
  program: 'fest-26',
  currency: 'EUR',
  initialBalanceMinor: 1_000,
  depositMinor: 200,
  expiresAtMs: 0,
  count: 500,
  cardsDigest: 'ab'.repeat(32),
  operator: 'ops-1',
  at,
};

const holder: Complete<CardHolder> = {
  name: 'Ada Lovelace',
  idDocumentType: 'PASSPORT',
  idDocumentNumber: 'X1234567',
  phone: '+44 20 7946 0000',
  email: 'ada@example.org',
};

interface Case<T> {
  readonly codec: StateCodec<T>;
  /** Every optional field set. */
  readonly full: T;
  /** No optional field set. */
  readonly bare: T;
}

function codecCase<T>(codec: StateCodec<T>, full: T, bare: T): Case<unknown> {
  return { codec, full, bare } as Case<unknown>;
}

const cases: readonly Case<unknown>[] = [
  codecCase<CardState>(card_state_codec, full_card, {
    cardId: 'c-bare',
    currency: 'EUR',
    programId: 'fest-26',
    status: 'active',
    balanceMinor: 0,
    heldMinor: 0,
    issuedAtMs: at,
  }),
  codecCase<CardHolder>(card_holder_codec, holder, { name: 'A', idDocumentType: '', idDocumentNumber: '', phone: '', email: '' }),
  codecCase<RefundLedger>(refund_ledger_codec, { refundedMinor: 300, reversed: true }, { refundedMinor: 0, reversed: false }),
  codecCase<SpentKey>(spent_key_codec, { transaction: 'n1-7', outcome: 'approved', at }, { transaction: '', outcome: 'declined', at: 0 }),
  codecCase<TokenRecord>(token_record_codec, { cards: [{ program: 'fest-26', currency: 'EUR', card: 'c-full' }] }, { cards: [] }),
  codecCase<TerminalState>(terminal_state_codec, full_terminal, {
    terminalId: 'pos-2',
    merchantId: '',
    location: '',
    enabled: true,
    serialNumber: '',
    parameters: empty_terminal_parameters,
    parametersVersion: 0,
    cashiers: {},
    cashierPins: {},
  }),
  codecCase<OfflineBatchRecord>(offline_batch_record_codec, full_offline_batch, { digest: '', acceptedAtMs: 0, entries: [] }),
  codecCase<FleetAccountState>(fleet_account_codec, full_fleet_account, {
    ...full_fleet_account,
    limits: {},
    allowedGroups: undefined,
    program: {},
    pricing: {},
    prices: [],
    billing: { cycle: 1, cycleOpenedAtMs: 0, terms: { payment_terms_days: 30 }, invoices: [] },
    holds: {},
    heldMinor: 0,
    priceList: undefined,
  }),
  codecCase<FleetCardState>(fleet_card_codec, full_fleet_card, {
    ...full_fleet_card,
    limits: {},
    allowedGroups: undefined,
    pinHash: undefined,
    pinFailures: undefined,
  }),
  codecCase<VehicleState>(vehicle_codec, { odometerKm: 120_500, atMs: at }, { odometerKm: 0, atMs: 0 }),
  codecCase<SharedPriceList>(
    price_list_codec,
    { prices: [{ product_code: 'diesel', unit_milli_minor: 151_300, effective_from_ms: at }] },
    { prices: [] },
  ),
  codecCase<ReviewQueue>(
    review_queue_codec,
    { entries: [{ id: '4-1', card: 'fl-1~3', amount_minor: 25_000, flags: ['risk:soft_amount'], at_ms: at }], dropped: 3 },
    { entries: [], dropped: 0 },
  ),
  codecCase<ProgramConfig>(program_config_codec, full_program, default_program_config),
  codecCase<IssuanceRecord>(issuance_record_codec, full_issuance, full_issuance),
  codecCase<ManagerRecord>(manager_record_codec, { pinHash: 'e'.repeat(64), operator: 'ops-1' }, { pinHash: '', operator: '' }),
];

/** A record without the fields a later layout added. */
function without<T extends object, K extends keyof T>(record: T, keys: readonly K[]): Omit<T, K> {
  const copy = { ...record } as Record<string, unknown>;
  for (const key of keys) delete copy[key as string];
  return copy as Omit<T, K>;
}

/** A bare record keeps no key for an absent optional field (JSON drops undefined). */
function withoutUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function assertStoredStateError(decode: () => unknown, entity: string, problem: RegExp, secret?: string): void {
  assert.throws(decode, (error: unknown) => {
    assert.ok(error instanceof StoredStateError, `expected a StoredStateError, got ${String(error)}`);
    assert.equal(error.stored, entity);
    assert.match(error.problem, problem);
    if (secret !== undefined) assert.ok(!error.message.includes(secret), `the error repeats a stored value: ${error.message}`);
    return true;
  });
}

describe('stored state codecs', () => {
  before(() => announceSeed('state codecs'));

  it('cover every entity kind, each under its own name', () => {
    for (const [kind, codec] of Object.entries(state_codecs)) assert.equal(codec.entity, kind);
    assert.deepEqual(cases.map((c) => c.codec.entity).sort(), Object.keys(state_codecs).sort());
  });

  it('read back every record they write, with every optional field set and with none', () => {
    for (const { codec, full, bare } of cases) {
      for (const state of [full, withoutUndefined(bare)]) {
        const json = codec.encode(state);
        assert.deepStrictEqual(codec.decode(json), state, `${codec.entity}: ${json}`);
        // A batch record stores its entries as tuples (actors/state/terminal.ts): not its JSON.
        if (codec.version === 1 && codec.entity !== 'offline_batch')
          assert.equal(json, JSON.stringify(state), `${codec.entity}: layout 1 is stored as it always was`);
      }
    }
  });

  it('read back card states the card rules make: issued, spent, held, replaced', () => {
    const issued = decide(undefined, {
      type: 'issue',
      cardId: 'c-r',
      currency: 'EUR',
      initialBalanceMinor: 10_000,
      programId: 'fest-26',
      nowMs: at,
      profile: { named: true, depositMinor: 200, expiresAtMs: 0, pinHash: '', pinFailures: 0, issuance: '' },
    });
    assert.equal(issued.kind, 'approved');
    if (issued.kind !== 'approved') return;
    const states: CardState[] = [apply(undefined, issued.event)];
    const last = (): CardState => states[states.length - 1] as CardState;
    const purchase = decide(last(), { type: 'purchase', amountMinor: 2_500, currency: 'EUR', nowMs: at });
    if (purchase.kind === 'approved') states.push(apply(last(), purchase.event));
    states.push(apply(last(), { type: 'hold_placed', key: 't:p:1', amountMinor: 1_000, expiresAtMs: at + 1_000 }));
    states.push(apply(last(), { type: 'hold_released', key: 't:p:1', amountMinor: 1_000 }));
    states.push(replacementState(last(), 'c-r2', at));
    assert.equal(states.length, 5, 'every rule step applied');
    for (const state of states) assert.deepStrictEqual(card_state_codec.decode(card_state_codec.encode(state)), withoutUndefined(state));
  });

  it('write a completed offline batch from its accepted form exactly as from the whole record, and refuse a completed form', () => {
    const { results, completedAtMs, ...accepted } = full_offline_batch;
    const acceptedForm = encodeOfflineBatch(accepted);
    const completed = encodeCompletedOfflineBatch(acceptedForm, results, completedAtMs);
    assert.equal(completed, encodeOfflineBatch(full_offline_batch));
    assert.deepEqual(offline_batch_record_codec.decode(completed), full_offline_batch);
    assert.throws(() => encodeCompletedOfflineBatch(completed, results, completedAtMs), /not the stored form of an accepted batch/);
  });

  it('refuse what is not their layout with a StoredStateError naming the entity, never the values', () => {
    for (const { codec, full } of cases) {
      const json = codec.encode(full);
      const record = JSON.parse(json) as Record<string, unknown>;
      const [first] = Object.keys(record).filter((key) => key !== version_key);
      assert.ok(first !== undefined);
      assertStoredStateError(() => codec.decode('{"oops'), codec.entity, /not JSON/);
      assertStoredStateError(() => codec.decode('[]'), codec.entity, /not a JSON object/);
      assertStoredStateError(() => codec.decode('null'), codec.entity, /not a JSON object/);
      assertStoredStateError(() => codec.decode('42'), codec.entity, /not a JSON object/);
      assertStoredStateError(() => codec.decode(JSON.stringify({ ...record, [first]: { nested: true } })), codec.entity, new RegExp(first));
      const missing = { ...record };
      delete missing[first];
      assertStoredStateError(() => codec.decode(JSON.stringify(missing)), codec.entity, new RegExp(first));
      assertStoredStateError(
        () => codec.decode(JSON.stringify({ ...record, [version_key]: codec.version + 1 })),
        codec.entity,
        /newer than this build/,
      );
      for (const version of ['2', 0, 1.5, null, -1])
        assertStoredStateError(() => codec.decode(JSON.stringify({ ...record, [version_key]: version })), codec.entity, /is not a version/);
    }
    const secret = holder.name;
    assertStoredStateError(() => card_holder_codec.decode(JSON.stringify({ ...holder, email: 42 })), 'holder', /email/, secret);
  });

  it('decode any mutation of a stored record to a state or a StoredStateError, nothing else', () => {
    const mutation = fc.record({
      which: fc.nat(),
      value: fc.oneof(
        fc.constantFrom<unknown>(undefined, null, '', 'x', 0, -1, 1.5, 2 ** 60, true, [], {}, [1], { a: 1 }),
        fc.string(),
        fc.integer(),
      ),
      key: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
    });
    assertProperty(
      fc.property(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 4 }), (index, mutations) => {
        const { codec, full } = cases[index % cases.length] as Case<unknown>;
        const record = JSON.parse(codec.encode(full)) as Record<string, unknown>;
        for (const change of mutations) {
          const keys = Object.keys(record);
          const key = change.key ?? keys[change.which % Math.max(1, keys.length)] ?? 'extra';
          if (change.value === undefined) delete record[key];
          else record[key] = change.value;
        }
        try {
          const state = codec.decode(JSON.stringify(record));
          // What decodes is a state of the layout: it is written and read back the same.
          assert.deepStrictEqual(codec.decode(codec.encode(state)), state);
        } catch (error) {
          if (!(error instanceof StoredStateError)) throw error;
        }
      }),
      2_000,
    );
  });

  describe('program configuration: layout 1 upgrades to layout 2, layout 2 to layout 3, layout 3 to layout 4', () => {
    const layout_2_program: { -readonly [K in keyof ProgramConfig]?: ProgramConfig[K] } = { ...full_program };
    delete layout_2_program.cardAuthKeyId;
    delete layout_2_program.offline;
    const today_layout_1 = JSON.stringify(layout_2_program);
    const before_partial_holds =
      '{"pinRequired":true,"maxBalanceMinor":15000,"maxTopUpMinor":0,"holdExpiryMs":604800000,"completionToleranceBp":1500,"depositMinor":200,"pinAttemptsMax":3}';

    it('reads a configuration written without a version as it always was read', () => {
      assert.deepStrictEqual(decodeProgramConfig(today_layout_1), { ...layout_2_program, cardAuthKeyId: '' });
      assert.deepStrictEqual(decodeProgramConfig(before_partial_holds), {
        pinRequired: true,
        maxBalanceMinor: 15_000,
        maxTopUpMinor: 0,
        holdExpiryMs: 604_800_000,
        completionToleranceBp: 1_500,
        depositMinor: 200,
        pinAttemptsMax: 3,
        partialHolds: false,
        cardAuthKeyId: '',
      });
      assert.deepStrictEqual(decodeProgramConfig('{}'), default_program_config);
    });

    it('reads a layout-2 configuration as one whose cards do not authenticate and never sell offline', () => {
      const layout_2 = `{"v":2,${JSON.stringify(layout_2_program).slice(1)}`;
      assert.deepStrictEqual(decodeProgramConfig(layout_2), { ...layout_2_program, cardAuthKeyId: '' });
    });

    it('writes layout 4: the marker first and every parameter', () => {
      const json = encodeProgramConfig(decodeProgramConfig(before_partial_holds));
      assert.ok(json.startsWith('{"v":4,"pinRequired":true,'), json);
      assert.match(json, /"partialHolds":false/);
      assert.match(json, /"cardAuthKeyId":""/);
      assert.deepStrictEqual(decodeProgramConfig(json), decodeProgramConfig(before_partial_holds));
      assertStoredStateError(() => decodeProgramConfig('{"v":4,"pinRequired":true}'), 'program', /layout 4: .*maxBalanceMinor/);
    });

    it('reads a layout-3 configuration as a program never sold offline; layout 4 keeps the offline policy', () => {
      const without_policy: { -readonly [K in keyof ProgramConfig]?: ProgramConfig[K] } = { ...full_program };
      delete without_policy.offline;
      const layout_3 = `{"v":3,${JSON.stringify(without_policy).slice(1)}`;
      assert.deepStrictEqual(decodeProgramConfig(layout_3), without_policy);
      assert.ok(encodeProgramConfig(full_program).startsWith('{"v":4,'));
      assert.deepStrictEqual(decodeProgramConfig(encodeProgramConfig(full_program)), full_program);
    });

    it('refuses a layout-1 record of the wrong shape, and a migration that produces a wrong record', () => {
      assertStoredStateError(() => decodeProgramConfig('{"partialHolds":"yes"}'), 'program', /layout 1: partialHolds/);
      const broken = stateCodec('program', z.object({ pinRequired: z.boolean() }), [
        legacyLayout(z.object({}), () => ({ pinRequired: 'no' })),
      ]);
      assertStoredStateError(() => broken.decode('{}'), 'program', /upgrade from layout 1: pinRequired/);
    });
  });

  describe('terminal: layout 1 and layout 2 (offline) upgrade to layout 3 (serial number, parameters, cashiers), layout 3 to layout 4 (grant usage per card beside it)', () => {
    const registered = { terminalId: 'pos-7', merchantId: 'bar-1', location: 'Hall A', enabled: false };
    const added_in_layout_3 = {
      serialNumber: '',
      parameters: empty_terminal_parameters,
      parametersVersion: 1,
      cashiers: {},
      cashierPins: {},
    };

    it('reads a layout-1 terminal as one with no offline settings, no serial, empty parameters at version 1 and no cashiers', () => {
      assert.deepStrictEqual(terminal_state_codec.decode(JSON.stringify(registered)), { ...registered, ...added_in_layout_3 });
    });

    it('reads a layout-2 terminal with its offline settings kept, and no serial, empty parameters at version 1 and no cashiers', () => {
      const layout_2 = { ...registered, offline: full_terminal.offline };
      const decoded = terminal_state_codec.decode(`{"v":2,${JSON.stringify(layout_2).slice(1)}`);
      assert.deepStrictEqual(decoded, { ...layout_2, ...added_in_layout_3 });
      assert.ok(terminal_state_codec.encode(decoded).startsWith('{"v":4,'), 'written back at layout 4');
    });

    it('reads a layout-2 terminal that never sold offline', () => {
      const decoded = terminal_state_codec.decode(`{"v":2,${JSON.stringify(registered).slice(1)}`);
      assert.deepStrictEqual(decoded, { ...registered, ...added_in_layout_3 });
    });

    it('writes layout 4 and reads it back whole', () => {
      assert.ok(terminal_state_codec.encode(full_terminal).startsWith('{"v":4,'));
      assert.deepStrictEqual(terminal_state_codec.decode(terminal_state_codec.encode(full_terminal)), full_terminal);
    });

    it('reads a layout-3 terminal with the per-card usage of its grant kept, for its next upload to move beside it', () => {
      const decoded = terminal_state_codec.decode(`{"v":3,${JSON.stringify(full_terminal).slice(1)}`);
      assert.deepStrictEqual(decoded, full_terminal);
      assert.deepStrictEqual(decoded.offline?.usage.cards, { 'c-plain': 1_500 });
      assert.deepStrictEqual([...legacyCardUsage(decoded.offline)], [['c-plain', 1_500]]);
    });

    it('writes a terminal whose per-card usage is kept beside it without any, and reads it back so', () => {
      const offline = full_terminal.offline as TerminalOffline;
      const moved: TerminalState = { ...full_terminal, offline: { ...offline, usage: { count: 2, totalMinor: 1_500 } } };
      const encoded = terminal_state_codec.encode(moved);
      assert.ok(!encoded.includes('c-plain'), 'no card in the stored terminal');
      assert.deepStrictEqual(terminal_state_codec.decode(encoded), moved);
      assert.equal(legacyCardUsage(moved.offline).size, 0);
    });

    it('refuses a layout-3 record without the per-card usage of its grant (the upgrade never guesses)', () => {
      const offline = full_terminal.offline as TerminalOffline;
      const without_cards = { ...full_terminal, offline: { ...offline, usage: { count: 2, totalMinor: 1_500 } } };
      assertStoredStateError(
        () => terminal_state_codec.decode(`{"v":3,${JSON.stringify(without_cards).slice(1)}`),
        'terminal',
        /layout 3: offline.usage.cards/,
      );
    });

    it('refuses a layout-1 record missing its enabled flag (the upgrade never guesses)', () => {
      assertStoredStateError(
        () => terminal_state_codec.decode(JSON.stringify({ terminalId: 'pos-7', merchantId: 'bar-1', location: '' })),
        'terminal',
        /layout 1: enabled/,
      );
    });

    it('refuses a layout-3 record without its parameters', () => {
      const without_parameters = without(full_terminal, ['parameters']);
      assertStoredStateError(
        () => terminal_state_codec.decode(`{"v":3,${JSON.stringify(without_parameters).slice(1)}`),
        'terminal',
        /layout 3: parameters/,
      );
    });
  });

  describe('fleet account and fleet card: older layouts read as the current one', () => {
    const layout_1 = without(full_fleet_account, ['billing', 'holds', 'heldMinor', 'cardPolicy', 'priceList']);

    it('reads a layout-1 account as an account in its first cycle, opened at its creation, with no holds and the default card policy', () => {
      const decoded = fleet_account_codec.decode(JSON.stringify(layout_1));
      assert.deepStrictEqual(decoded, {
        ...layout_1,
        billing: { cycle: 1, cycleOpenedAtMs: layout_1.createdAtMs, terms: { payment_terms_days: 30 }, invoices: [] },
        holds: {},
        heldMinor: 0,
        cardPolicy: { pin_required: false, pin_attempts_max: 3, hold_expiry_ms: 3_600_000, completion_tolerance_bp: 0 },
      });
      assert.ok(fleet_account_codec.encode(decoded).startsWith('{"v":2,'), 'written back at layout 2');
    });

    it('reads a layout-2 fleet card as a card without a PIN, and writes layout 3', () => {
      const layout_2 = without(full_fleet_card, ['pinHash', 'pinFailures']);
      const decoded = fleet_card_codec.decode(`{"v":2,${JSON.stringify(layout_2).slice(1)}`);
      assert.deepStrictEqual(decoded, layout_2);
      assert.ok(fleet_card_codec.encode(decoded).startsWith('{"v":3,'));
    });

    it('refuses a layout-1 account of the wrong shape', () => {
      assertStoredStateError(
        () => fleet_account_codec.decode(JSON.stringify({ ...layout_1, balanceMinor: 'x' })),
        'fleet',
        /layout 1: balanceMinor/,
      );
    });
  });

  describe('card state: layout 2 upgrades to layout 3 (cards that authenticate), layout 3 to layout 4 (offline)', () => {
    const layout_3_card: { -readonly [K in keyof CardState]?: CardState[K] } = { ...full_card };
    delete layout_3_card.denylisted;
    delete layout_3_card.denylistHistory;
    delete layout_3_card.offlineMergedMinor;
    const layout_2_card: { -readonly [K in keyof CardState]?: CardState[K] } = { ...layout_3_card };
    delete layout_2_card.auth;
    delete layout_2_card.tokens;

    it('reads a layout-2 card as a card that does not authenticate, and writes layout 4', () => {
      const layout_2 = `{"v":2,${JSON.stringify(layout_2_card).slice(1)}`;
      assert.deepStrictEqual(card_state_codec.decode(layout_2), layout_2_card);
      assert.ok(card_state_codec.encode(full_card).startsWith('{"v":4,'));
      assert.deepStrictEqual(card_state_codec.decode(card_state_codec.encode(full_card)), full_card);
    });

    it('reads a layout-3 card as a card never listed nor sold offline', () => {
      const layout_3 = `{"v":3,${JSON.stringify(layout_3_card).slice(1)}`;
      assert.deepStrictEqual(card_state_codec.decode(layout_3), layout_3_card);
    });

    it('refuses a layout-2 record that carries what only layout 3 may (never drops a counter silently)', () => {
      // What an older build's codec did with an unknown field: dropped it. Layout 3 is refused by it instead.
      const older = stateCodec<unknown>(
        'card',
        z.object({ cardId: z.string() }).passthrough(),
        [z.object({})].map((schema) => legacyLayout(schema, (r) => r)),
      );
      assertStoredStateError(
        () => older.decode(card_state_codec.encode(full_card)),
        'card',
        /layout 4 is newer than this build's layout 2/,
      );
    });

    it('a layout-3 build refuses a layout-4 card (never drops a listing or offline charges silently)', () => {
      const layout_3_build = stateCodec<unknown>(
        'card',
        z.object({ cardId: z.string() }).passthrough(),
        [z.object({}), z.object({})].map((schema) => legacyLayout(schema, (r) => r)),
      );
      assertStoredStateError(
        () => layout_3_build.decode(card_state_codec.encode(full_card)),
        'card',
        /layout 4 is newer than this build's layout 3/,
      );
    });
  });

  it('upgrades step by step through several layouts (exemplary three-layout codec)', () => {
    // Layout 1 {name}, layout 2 {first, last}, layout 3 {first, last, initials}.
    const layout1 = z.object({ name: z.string() });
    const layout2 = z.object({ first: z.string(), last: z.string() });
    const layout3 = z.object({ first: z.string(), last: z.string(), initials: z.string() });
    const codec = stateCodec<z.output<typeof layout3>>('person', layout3, [
      legacyLayout(layout1, (old) => {
        const [first = '', ...rest] = old.name.split(' ');
        return { first, last: rest.join(' ') };
      }),
      legacyLayout(layout2, (old) => ({ ...old, initials: `${old.first.charAt(0)}${old.last.charAt(0)}` })),
    ]);
    const ada = { first: 'Ada', last: 'Lovelace', initials: 'AL' };
    assert.deepStrictEqual(codec.decode('{"name":"Ada Lovelace"}'), ada);
    assert.deepStrictEqual(codec.decode('{"v":2,"first":"Ada","last":"Lovelace"}'), ada);
    assert.equal(codec.encode(ada), '{"v":3,"first":"Ada","last":"Lovelace","initials":"AL"}');
    assert.deepStrictEqual(codec.decode(codec.encode(ada)), ada);
    const empty = stateCodec('empty', z.object({}), [legacyLayout(z.object({}), () => ({}))]);
    assert.equal(empty.encode({}), '{"v":2}');
    assert.deepStrictEqual(empty.decode('{"v":2}'), {});
  });
});
