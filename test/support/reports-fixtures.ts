// A small, exactly-known history for report tests: cards of two programs (EUR and CHF) are
// issued (festival cards with a deposit), then purchases (some declined for insufficient funds or
// currency, some with line items and suspicious flags), top-ups, reversals and refunds are
// simulated card by card the way the authorizer decides them; at the end one card is replaced
// (transfer_out / transfer_in) and one is returned (cash_out of balance and deposit), giving outbox
// documents in its format, the card states it would leave in Redis, and — computed here by plain
// loops, independently of the report SQL — the numbers every report must show. Seeded.

import { createClient } from 'redis';
import type { StoredTransaction } from '../../actors/card/transaction';
import { shardOf } from '../../actors/sharding/shard-key';
import { cardKey } from '../../services/authorizer/store/keys';
import type { OutboxDocument } from './outbox-fixtures';
import { feeOf, type FeeRate, type SettlementLine } from '../../services/reports/settlement-rules';
import { seededRandom } from '../../tools/seeded-random';

export const programs = [
  { id: 'festival-2026', currency: 'EUR' },
  { id: 'fleet.west', currency: 'CHF' },
] as const;

/** 2026-01-31 21:00 UTC: the money requests run past midnight into February. */
export const history_start_ms = Date.UTC(2026, 0, 31, 21, 0, 0);
const request_step_ms = 61_000;

export interface CardModel {
  readonly card: string;
  readonly program: string;
  readonly currency: string;
  balance_minor: number;
  deposit_minor: number;
  readonly issued_at_ms: number;
}

export interface FixtureLine {
  readonly code: string;
  readonly group: string;
  readonly qty_milli: number;
  readonly unit: number;
  readonly amount: number;
  readonly pump_unit?: number;
  readonly invoiced?: number;
}

/** A transaction document: the authorizer's v1 fields plus the contract's optional ones used here. */
export type FixtureTransaction = Omit<StoredTransaction, 'kind' | 'reason' | 'reverse'> & {
  kind: string;
  reason: string;
  reverse: string;
  balance_delta?: number;
  deposit_delta?: number;
  payout?: number;
  lines?: FixtureLine[];
  flags?: string[];
  odometer?: number;
  driver?: string;
  vehicle?: string;
  fleet?: string;
  pump?: number;
  invoiced?: number;
};

export interface History {
  readonly documents: OutboxDocument[];
  readonly transactions: FixtureTransaction[];
  readonly issued: { card: string; program: string; currency: string; amount: number; deposit: number; at: number }[];
  readonly replaced: { card: string; replacement: string; at: number }[];
  readonly cards: CardModel[];
}

/** The contract's balance_delta of a document (explicit, or the v1 default). */
export function deltaOf(t: FixtureTransaction): number {
  if (t.balance_delta !== undefined) return t.balance_delta;
  if (t.outcome !== 'approved') return 0;
  return t.kind === 'purchase' ? -t.amount : t.kind === 'top_up' || t.kind === 'reverse' ? t.amount : 0;
}

export function reportHistory(seed: number, cardCount: number, requestCount: number, shardCount: number): History {
  const random = seededRandom(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const documents: OutboxDocument[] = [];
  const transactions: FixtureTransaction[] = [];
  const issued: History['issued'] = [];
  const replaced: History['replaced'] = [];
  const cards: CardModel[] = [];
  const add = (card: string, document: object): void => {
    documents.push({ shard: shardOf('card', card, shardCount), json: JSON.stringify(document) });
  };
  const issue = (card: string, program: { id: string; currency: string }, amount: number, deposit: number, at: number): CardModel => {
    const model = {
      card,
      program: program.id,
      currency: program.currency,
      balance_minor: amount,
      deposit_minor: deposit,
      issued_at_ms: at,
    };
    cards.push(model);
    issued.push({ card, program: program.id, currency: program.currency, amount, deposit, at });
    add(card, {
      type: 'card_issued',
      card,
      program: program.id,
      currency: program.currency,
      status: 'active',
      amount,
      deposit,
      operator: 'ops-1',
      reason: '',
      at,
    });
    return model;
  };
  for (let index = 0; index < cardCount; index += 1) {
    const program = programs[index % programs.length] ?? programs[0];
    const card = `card-${String(index).padStart(2, '0')}`;
    issue(card, program, 1_000 + pick(5_000), program.currency === 'EUR' ? 300 : 0, history_start_ms - 3_600_000 + index * 1_000);
  }
  // Lifecycle noise that moves no money: a status change and terminal registrations.
  add('card-01', {
    type: 'card_status_changed',
    card: 'card-01',
    program: 'fleet.west',
    currency: 'CHF',
    status: 'active',
    amount: 0,
    operator: 'ops-1',
    reason: 'checked',
    at: history_start_ms - 60_000,
  });
  for (let terminal = 0; terminal < 6; terminal += 1) {
    documents.push({
      shard: 0,
      json: JSON.stringify({
        type: 'terminal_registered',
        terminal: `pos-${terminal}`,
        merchant: `bar-${terminal % 3}`,
        enabled: true,
        operator: 'ops-1',
        at: history_start_ms - 120_000,
      }),
    });
  }
  // An operator action of the audit trail (not a money movement).
  documents.push({
    shard: 1,
    json: JSON.stringify({
      type: 'operator_action',
      action: 'set_fee_rates',
      subject: 'bar-0',
      detail: '{"percent_bp":175}',
      operator: 'ops-9',
      at: history_start_ms - 30_000,
    }),
  });
  const reversible: FixtureTransaction[] = [];
  const record = (transaction: FixtureTransaction): void => {
    transactions.push(transaction);
    add(transaction.card, transaction);
  };
  for (let n = 0; n < requestCount; n += 1) {
    const model = cards[pick(cards.length)] ?? cards[0];
    if (model === undefined) throw new Error('assertion: no cards');
    const terminalIndex = pick(6);
    const at = history_start_ms + n * request_step_ms;
    const roll = random();
    const kind = roll < 0.55 ? 'purchase' : roll < 0.75 ? 'top_up' : roll < 0.9 ? 'reverse' : 'refund';
    let requested = 100 + pick(3_000);
    let currency = model.currency;
    let outcome: 'approved' | 'declined' = 'approved';
    let reason = '';
    let amount = requested;
    let reverse = '';
    let original = '';
    const extra: Partial<FixtureTransaction> = {};
    if (kind === 'purchase') {
      if (random() < 0.05) currency = model.currency === 'EUR' ? 'CHF' : 'EUR';
      if (currency !== model.currency) [outcome, reason, amount] = ['declined', 'currency_mismatch', 0];
      else if (model.balance_minor < requested) [outcome, reason, amount] = ['declined', 'insufficient_funds', 0];
      else model.balance_minor -= requested;
      if (outcome === 'approved' && random() < 0.5) {
        const first = Math.floor(requested / 2);
        extra.lines = [
          { code: `food-${pick(3)}`, group: 'food', qty_milli: 1_000, unit: first, amount: first },
          {
            code: `drink-${pick(3)}`,
            group: 'drink',
            qty_milli: 2_000,
            unit: Math.floor((requested - first) / 2),
            amount: requested - first,
          },
        ];
      }
      if (outcome === 'approved' && requested > 2_500) extra.flags = ['risk:soft_amount'];
    } else if (kind === 'top_up') {
      model.balance_minor += requested;
    } else {
      const index = reversible.findIndex((candidate) => candidate.card === model.card);
      const target = index < 0 ? undefined : reversible.splice(index, 1)[0];
      if (kind === 'reverse') {
        if (target === undefined) {
          [reverse, amount, requested, original] = ['nothing_to_reverse', 0, 0, `t:pos-9:${n}`];
        } else {
          [reverse, amount, requested, original] = ['reversed', target.amount, target.amount, target.key];
          model.balance_minor += amount;
        }
      } else if (target === undefined) {
        [outcome, reason, amount, original] = ['declined', 'nothing_to_refund', 0, `t:pos-9:${n}`];
        extra.balance_delta = 0;
      } else {
        // A partial or full refund, never more than the purchase.
        amount = Math.min(requested, target.amount);
        original = target.key;
        model.balance_minor += amount;
        extra.balance_delta = amount;
      }
    }
    const terminal = `pos-${terminalIndex}`;
    const transaction: FixtureTransaction = {
      type: 'transaction',
      f: `${kind}|${model.card}|${requested}`,
      id: `rep-${n}`,
      kind,
      outcome,
      reason,
      rule: reason === '' ? '' : 'rule',
      card: model.card,
      program: model.program,
      terminal,
      merchant: `bar-${terminalIndex % 3}`,
      amount,
      requested,
      currency,
      balance_after: model.balance_minor,
      key: `t:${terminal}:${n}`,
      original,
      reverse,
      source: 'pos',
      operator: '',
      at,
      ...extra,
    };
    if (kind === 'purchase' && outcome === 'approved') reversible.push(transaction);
    record(transaction);
  }
  // The end of the night: card-00 is replaced by card-00r (balance and deposit move over), and
  // card-02 is returned at the box office (balance and deposit paid out).
  const end_ms = history_start_ms + requestCount * request_step_ms;
  const old = cards.find((model) => model.card === 'card-00');
  const returned = cards.find((model) => model.card === 'card-02');
  if (old === undefined || returned === undefined) throw new Error('assertion: history needs at least 3 cards');
  const festival = programs[0];
  const moving = { ...old };
  add(old.card, {
    type: 'card_replaced',
    card: old.card,
    replacement: 'card-00r',
    program: old.program,
    amount: moving.balance_minor,
    deposit: moving.deposit_minor,
    operator: 'ops-2',
    reason: 'lost',
    at: end_ms,
  });
  replaced.push({ card: old.card, replacement: 'card-00r', at: end_ms });
  const successor = issue('card-00r', festival, 0, 0, end_ms + 1);
  const movement = (id: string, kind: string, model: CardModel, at: number, fields: Partial<FixtureTransaction>): void =>
    record({
      type: 'transaction',
      f: `${kind}|${model.card}`,
      id,
      kind,
      outcome: 'approved',
      reason: '',
      rule: '',
      card: model.card,
      program: model.program,
      terminal: 'desk-1',
      merchant: 'box-office',
      amount: 0,
      requested: 0,
      currency: model.currency,
      balance_after: model.balance_minor,
      key: `k:${id}`,
      original: '',
      reverse: '',
      source: 'admin',
      operator: 'ops-2',
      at,
      ...fields,
    });
  old.balance_minor = 0;
  old.deposit_minor = 0;
  movement('rep-x1', 'transfer_out', old, end_ms + 2, {
    amount: moving.balance_minor,
    requested: moving.balance_minor,
    balance_delta: -moving.balance_minor,
    deposit_delta: -moving.deposit_minor,
  });
  successor.balance_minor = moving.balance_minor;
  successor.deposit_minor = moving.deposit_minor;
  movement('rep-x2', 'transfer_in', successor, end_ms + 3, {
    amount: moving.balance_minor,
    requested: moving.balance_minor,
    balance_delta: moving.balance_minor,
    deposit_delta: moving.deposit_minor,
  });
  const paid = returned.balance_minor;
  const deposit = returned.deposit_minor;
  returned.balance_minor = 0;
  returned.deposit_minor = 0;
  movement('rep-x3', 'cash_out', returned, end_ms + 4, {
    amount: paid,
    requested: paid,
    balance_delta: -paid,
    deposit_delta: -deposit,
    payout: paid + deposit,
  });
  // Fleet fuel: two fleet.west cards of account fleet-acme, topped up, then four fills each with
  // odometer, driver and vehicle prompts, pump and negotiated (invoiced) prices, one fill without
  // an odometer reading, some with a shop item; one shop item refunded.
  let fleet_n = 0;
  for (const [card, vehicle, driver] of [
    ['card-01', 'truck-1', 'drv-7'],
    ['card-03', 'van-2', 'drv-8'],
  ] as const) {
    const model = cards.find((candidate) => candidate.card === card);
    if (model === undefined) throw new Error('assertion: history needs at least 4 cards');
    const at0 = end_ms + 600_000 + fleet_n * 3_600_000;
    model.balance_minor += 500_000;
    movement(`rep-f${fleet_n}-top`, 'top_up', model, at0, { amount: 500_000, requested: 500_000, source: 'admin' });
    let odometer = 50_000 + pick(1_000);
    for (let fill = 0; fill < 5; fill += 1) {
      const qty_milli = 20_000 + pick(40_000);
      const pump_unit = 189;
      const fuel_amount = Math.round((qty_milli * pump_unit) / 1_000);
      const fuel_invoiced = Math.round((qty_milli * 170) / 1_000);
      const lines: FixtureLine[] = [
        { code: 'diesel', group: 'diesel', qty_milli, unit: pump_unit, amount: fuel_amount, pump_unit, invoiced: fuel_invoiced },
      ];
      if (fill % 2 === 1)
        lines.push({ code: 'coffee', group: 'shop', qty_milli: 1_000, unit: 350, amount: 350, pump_unit: 350, invoiced: 350 });
      const amount = lines.reduce((sum, line) => sum + line.amount, 0);
      const invoiced = fuel_invoiced + (fill % 2 === 1 ? 350 : 0);
      const reading = fill === 2 ? 0 : odometer;
      odometer += 300 + pick(400);
      model.balance_minor -= amount;
      movement(`rep-f${fleet_n}-${fill}`, 'purchase', model, at0 + (fill + 1) * 60_000, {
        terminal: 'pump-1',
        merchant: 'fuel-stop',
        source: 'pos',
        operator: '',
        amount,
        requested: amount,
        lines,
        odometer: reading,
        driver,
        vehicle,
        fleet: 'fleet-acme',
        pump: amount,
        invoiced,
      });
    }
    model.balance_minor += 350;
    movement(`rep-f${fleet_n}-refund`, 'refund', model, at0 + 10 * 60_000, {
      terminal: 'pump-1',
      merchant: 'fuel-stop',
      source: 'pos',
      operator: '',
      amount: 350,
      requested: 350,
      balance_delta: 350,
      original: `k:rep-f${fleet_n}-1`,
      driver,
      vehicle,
      fleet: 'fleet-acme',
      pump: 350,
      invoiced: 350,
    });
    fleet_n += 1;
  }
  return { documents, transactions, issued, replaced, cards };
}

/** Writes each card's final state where the authorizer keeps it. */
export async function writeCardStates(redisUrl: string, cards: readonly CardModel[], shardCount: number): Promise<void> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    await Promise.all(
      cards.map((model) =>
        client.sendCommand([
          'HSET',
          cardKey(shardOf('card', model.card, shardCount), model.card),
          'v',
          '1',
          'd',
          JSON.stringify({
            cardId: model.card,
            currency: model.currency,
            programId: model.program,
            status: 'active',
            balanceMinor: model.balance_minor,
            heldMinor: 0,
            issuedAtMs: model.issued_at_ms,
          }),
        ]),
      ),
    );
  } finally {
    await client.close();
  }
}

// ---- the expected reports, by plain loops -------------------------------------------------------

type Counts = Record<string, number>;

function groupInto(map: Map<string, Counts>, key: string, fields: readonly string[]): Counts {
  let entry = map.get(key);
  if (entry === undefined) {
    entry = Object.fromEntries(fields.map((field) => [field, 0]));
    map.set(key, entry);
  }
  return entry;
}

const approved = (t: FixtureTransaction, kind: string): boolean => t.outcome === 'approved' && t.kind === kind;
const spends = (t: FixtureTransaction): boolean => approved(t, 'purchase') || approved(t, 'completion');

export const float_columns = [
  'issued_minor',
  'top_ups_minor',
  'spend_minor',
  'reversals_minor',
  'refunds_minor',
  'other_minor',
  'outstanding_minor',
  'deposits_held_minor',
  'payouts_minor',
];

export function expectedFloat(history: History, currency?: string): Record<string, string | number>[] {
  const groups = new Map<string, Counts>();
  const fields = [
    'issued_minor',
    'top_ups_minor',
    'spend_minor',
    'reversals_minor',
    'refunds_minor',
    'delta',
    'deposits_held_minor',
    'payouts_minor',
  ];
  for (const issue of history.issued) {
    if (currency !== undefined && issue.currency !== currency) continue;
    const entry = groupInto(groups, `${issue.program}\u0000${issue.currency}`, fields);
    entry['issued_minor'] = (entry['issued_minor'] ?? 0) + issue.amount;
    entry['deposits_held_minor'] = (entry['deposits_held_minor'] ?? 0) + issue.deposit;
  }
  for (const t of history.transactions) {
    if (t.outcome !== 'approved' || (currency !== undefined && t.currency !== currency)) continue;
    const entry = groupInto(groups, `${t.program}\u0000${t.currency}`, fields);
    const bump = (field: string, value: number): void => {
      entry[field] = (entry[field] ?? 0) + value;
    };
    if (spends(t)) bump('spend_minor', t.amount);
    if (t.kind === 'top_up') bump('top_ups_minor', t.amount);
    if (t.kind === 'reverse') bump('reversals_minor', t.amount);
    if (t.kind === 'refund') bump('refunds_minor', t.amount);
    bump('delta', deltaOf(t));
    bump('deposits_held_minor', t.deposit_delta ?? 0);
    bump('payouts_minor', t.payout ?? 0);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, c]) => {
      const [program, cur] = key.split('\u0000');
      const value = (name: string): number => c[name] ?? 0;
      const explained = value('top_ups_minor') - value('spend_minor') + value('reversals_minor') + value('refunds_minor');
      return {
        program: program ?? '',
        currency: cur ?? '',
        issued_minor: value('issued_minor'),
        top_ups_minor: value('top_ups_minor'),
        spend_minor: value('spend_minor'),
        reversals_minor: value('reversals_minor'),
        refunds_minor: value('refunds_minor'),
        other_minor: value('delta') - explained,
        outstanding_minor: value('issued_minor') + value('delta'),
        deposits_held_minor: value('deposits_held_minor'),
        payouts_minor: value('payouts_minor'),
      };
    });
}

const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const utcMonth = (ms: number): string => `${new Date(ms).toISOString().slice(0, 7)}-01`;

export const merchant_fields = [
  'purchases',
  'purchases_minor',
  'declines',
  'reversals',
  'reversals_minor',
  'top_ups',
  'top_ups_minor',
  'refunds',
  'refunds_minor',
];

export function expectedMerchants(
  history: History,
  from_ms: number,
  until_ms: number,
  granularity: 'day' | 'month',
  by: 'merchant' | 'terminal',
): Record<string, string | number>[] {
  const fields = merchant_fields;
  const groups = new Map<string, Counts>();
  for (const t of history.transactions) {
    if (t.at < from_ms || t.at >= until_ms) continue;
    const period = granularity === 'day' ? utcDay(t.at) : utcMonth(t.at);
    const keys = by === 'terminal' ? [t.merchant, t.terminal, t.currency, period] : [t.merchant, t.currency, period];
    const entry = groupInto(groups, keys.join('\u0000'), fields);
    const bump = (field: string, by_value: number): void => {
      entry[field] = (entry[field] ?? 0) + by_value;
    };
    if (spends(t)) {
      bump('purchases', 1);
      bump('purchases_minor', t.amount);
    }
    if (t.outcome === 'declined') bump('declines', 1);
    if (approved(t, 'reverse') && t.reverse === 'reversed') bump('reversals', 1);
    if (approved(t, 'reverse')) bump('reversals_minor', t.amount);
    if (approved(t, 'top_up')) {
      bump('top_ups', 1);
      bump('top_ups_minor', t.amount);
    }
    if (approved(t, 'refund')) {
      bump('refunds', 1);
      bump('refunds_minor', t.amount);
    }
  }
  const names = by === 'terminal' ? ['merchant', 'terminal', 'currency', 'period'] : ['merchant', 'currency', 'period'];
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, c]) => ({
      ...Object.fromEntries(key.split('\u0000').map((part, index) => [names[index] ?? '', part])),
      ...Object.fromEntries(fields.map((field) => [field, c[field] ?? 0])),
    }));
}

export interface OperationsExpected {
  requests: number;
  approved: number;
  declined: number;
  insufficient_funds: number;
  flagged: number;
  by_reason: Map<string, number>;
  by_flag: Map<string, { transactions: number; approved: number; amount_minor: number }>;
  by_terminal: Map<string, { requests: number; approved: number; declined: number; insufficient_funds: number }>;
  by_hour: Map<string, { requests: number; approved: number; declined: number; insufficient_funds: number }>;
}

export function expectedOperations(history: History, from_ms: number, until_ms: number): OperationsExpected {
  const result: OperationsExpected = {
    requests: 0,
    approved: 0,
    declined: 0,
    insufficient_funds: 0,
    flagged: 0,
    by_reason: new Map(),
    by_flag: new Map(),
    by_terminal: new Map(),
    by_hour: new Map(),
  };
  const count = (map: OperationsExpected['by_terminal'], key: string, t: FixtureTransaction): void => {
    const entry = map.get(key) ?? { requests: 0, approved: 0, declined: 0, insufficient_funds: 0 };
    entry.requests += 1;
    if (t.outcome === 'approved') entry.approved += 1;
    else entry.declined += 1;
    if (t.reason === 'insufficient_funds') entry.insufficient_funds += 1;
    map.set(key, entry);
  };
  for (const t of history.transactions) {
    if (t.at < from_ms || t.at >= until_ms) continue;
    result.requests += 1;
    if (t.outcome === 'approved') result.approved += 1;
    else {
      result.declined += 1;
      result.by_reason.set(t.reason, (result.by_reason.get(t.reason) ?? 0) + 1);
    }
    if (t.reason === 'insufficient_funds') result.insufficient_funds += 1;
    if ((t.flags ?? []).length > 0) result.flagged += 1;
    for (const flag of t.flags ?? []) {
      const entry = result.by_flag.get(flag) ?? { transactions: 0, approved: 0, amount_minor: 0 };
      entry.transactions += 1;
      if (t.outcome === 'approved') entry.approved += 1;
      entry.amount_minor += t.amount;
      result.by_flag.set(flag, entry);
    }
    count(result.by_terminal, t.terminal, t);
    count(result.by_hour, `${new Date(Math.floor(t.at / 3_600_000) * 3_600_000).toISOString().slice(0, 13)}:00Z`, t);
  }
  return result;
}

export function expectedProgram(history: History, program: string): Record<string, string | number> {
  const issued = history.issued.filter((issue) => issue.program === program);
  const mine = history.transactions.filter((t) => t.program === program && t.outcome === 'approved');
  const sum = (kind: string): number => mine.filter((t) => t.kind === kind).reduce((total, t) => total + t.amount, 0);
  const initial_minor = issued.reduce((total, issue) => total + issue.amount, 0);
  const top_ups_minor = sum('top_up');
  const spent_minor = sum('purchase') + sum('completion');
  const reversed_minor = sum('reverse');
  const refunded_minor = sum('refund');
  const delta = mine.reduce((total, t) => total + deltaOf(t), 0);
  return {
    currency: issued[0]?.currency ?? '',
    cards_issued: issued.length,
    initial_minor,
    top_ups_minor,
    deposited_minor: initial_minor + top_ups_minor,
    spent_minor,
    reversed_minor,
    refunded_minor,
    remaining_minor: initial_minor + delta,
    deposits_held_minor:
      issued.reduce((total, issue) => total + issue.deposit, 0) + mine.reduce((total, t) => total + (t.deposit_delta ?? 0), 0),
    payouts_minor: mine.reduce((total, t) => total + (t.payout ?? 0), 0),
  };
}

/**
 * The program's approved sales per UTC minute, of the latest minutes with one (at most `minutes_max`),
 * in time order.
 */
export function expectedSalesPerMinute(history: History, program: string, minutes_max: number): Record<string, string | number>[] {
  const minutes = new Map<string, Counts>();
  for (const t of history.transactions) {
    if (t.program !== program || !spends(t)) continue;
    const key = [`${new Date(Math.floor(t.at / 60_000) * 60_000).toISOString().slice(0, 16)}Z`, t.currency].join('\u0000');
    const entry = groupInto(minutes, key, ['purchases', 'purchases_minor']);
    entry['purchases'] = (entry['purchases'] ?? 0) + 1;
    entry['purchases_minor'] = (entry['purchases_minor'] ?? 0) + t.amount;
  }
  const rows = [...minutes.entries()].map(([key, counts]) => {
    const [minute, currency] = key.split('\u0000');
    return {
      minute: minute ?? '',
      currency: currency ?? '',
      purchases: counts['purchases'] ?? 0,
      purchases_minor: counts['purchases_minor'] ?? 0,
    };
  });
  rows.sort((a, b) => (a.minute < b.minute ? -1 : a.minute > b.minute ? 1 : a.currency < b.currency ? -1 : 1));
  return rows.slice(-minutes_max);
}

/** The program's declines per reason, with the amounts they asked for, most frequent first. */
export function expectedDeclines(history: History, program: string): Record<string, string | number>[] {
  const reasons = new Map<string, Counts>();
  for (const t of history.transactions) {
    if (t.program !== program || t.outcome !== 'declined') continue;
    const entry = groupInto(reasons, t.reason, ['declines', 'requested_minor']);
    entry['declines'] = (entry['declines'] ?? 0) + 1;
    entry['requested_minor'] = (entry['requested_minor'] ?? 0) + t.requested;
  }
  return [...reasons.entries()]
    .map(([reason, counts]) => ({ reason, declines: counts['declines'] ?? 0, requested_minor: counts['requested_minor'] ?? 0 }))
    .sort((a, b) => b.declines - a.declines || (a.reason < b.reason ? -1 : 1));
}

/** The program's products by sold amount (approved purchases' lines), largest first, at most 10. */
export function expectedTopProducts(history: History, program: string): Record<string, string | number>[] {
  const groups = new Map<string, Counts>();
  for (const t of history.transactions) {
    if (t.program !== program || !spends(t)) continue;
    for (const line of t.lines ?? []) {
      const entry = groupInto(groups, [line.code, line.group, t.currency].join('\u0000'), ['lines', 'qty_milli', 'amount_minor']);
      entry['lines'] = (entry['lines'] ?? 0) + 1;
      entry['qty_milli'] = (entry['qty_milli'] ?? 0) + line.qty_milli;
      entry['amount_minor'] = (entry['amount_minor'] ?? 0) + line.amount;
    }
  }
  return [...groups.entries()]
    .map(([key, c]) => {
      const [code, group, currency] = key.split('\u0000');
      return {
        code: code ?? '',
        product_group: group ?? '',
        currency: currency ?? '',
        lines: c['lines'] ?? 0,
        qty_milli: c['qty_milli'] ?? 0,
        amount_minor: c['amount_minor'] ?? 0,
      };
    })
    .sort((a, b) => b.amount_minor - a.amount_minor || (a.code < b.code ? -1 : a.code > b.code ? 1 : a.currency < b.currency ? -1 : 1))
    .slice(0, 10);
}

/** The batch lines for one merchant and period, transaction by transaction. */
export function expectedSettlementLines(
  history: History,
  merchant: string,
  from_ms: number,
  until_ms: number,
  rates: readonly FeeRate[],
  deployer_share_bp = 0,
): SettlementLine[] {
  const lines = new Map<
    string,
    {
      purchases: number;
      gross_minor: number;
      reversals: number;
      reversals_minor: number;
      refunds: number;
      refunds_minor: number;
      fees_minor: number;
      top_ups: number;
      top_ups_minor: number;
      top_up_commission_minor: number;
    }
  >();
  for (const t of history.transactions) {
    if (t.merchant !== merchant || t.outcome !== 'approved' || t.at < from_ms || t.at >= until_ms) continue;
    if (!['purchase', 'completion', 'reverse', 'refund', 'top_up'].includes(t.kind)) continue;
    const line = lines.get(t.currency) ?? {
      purchases: 0,
      gross_minor: 0,
      reversals: 0,
      reversals_minor: 0,
      refunds: 0,
      refunds_minor: 0,
      fees_minor: 0,
      top_ups: 0,
      top_ups_minor: 0,
      top_up_commission_minor: 0,
    };
    lines.set(t.currency, line);
    const charge = feeOf(
      t.amount,
      rates.find((rate) => rate.kind === t.kind),
    );
    if (t.kind === 'top_up') {
      [line.top_ups, line.top_ups_minor, line.top_up_commission_minor] = [
        line.top_ups + 1,
        line.top_ups_minor + t.amount,
        line.top_up_commission_minor + charge,
      ];
      continue;
    }
    if (t.kind === 'purchase' || t.kind === 'completion')
      [line.purchases, line.gross_minor] = [line.purchases + 1, line.gross_minor + t.amount];
    if (t.kind === 'reverse') [line.reversals, line.reversals_minor] = [line.reversals + 1, line.reversals_minor + t.amount];
    if (t.kind === 'refund') [line.refunds, line.refunds_minor] = [line.refunds + 1, line.refunds_minor + t.amount];
    line.fees_minor += charge;
  }
  return [...lines.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([currency, line]) => ({
      currency,
      purchases: line.purchases,
      gross_minor: line.gross_minor,
      reversals: line.reversals,
      reversals_minor: line.reversals_minor,
      refunds: line.refunds,
      refunds_minor: line.refunds_minor,
      fees_minor: line.fees_minor,
      top_ups: line.top_ups,
      top_ups_minor: line.top_ups_minor,
      top_up_commission_minor: line.top_up_commission_minor,
      // Long hand: the share of the fees, rounded half up.
      deployer_share_minor: Math.floor((line.fees_minor * deployer_share_bp) / 10_000 + 0.5),
      net_minor:
        line.gross_minor - line.reversals_minor - line.refunds_minor - line.fees_minor - line.top_ups_minor + line.top_up_commission_minor,
    }));
}

/** The vehicles of a fleet's card list: approved fill-ups per vehicle, the last one's card, the highest odometer. */
export function expectedFleetCardVehicles(history: History, fleet: string): Record<string, string | number>[] {
  const vehicles = new Map<string, { fill_ups: number; last_at_ms: number; last_card: string; odometer_km: number }>();
  for (const t of history.transactions) {
    if (t.fleet !== fleet || t.outcome !== 'approved' || (t.vehicle ?? '') === '' || !['purchase', 'completion'].includes(t.kind)) continue;
    const seen = vehicles.get(t.vehicle ?? '') ?? { fill_ups: 0, last_at_ms: 0, last_card: '', odometer_km: 0 };
    vehicles.set(t.vehicle ?? '', {
      fill_ups: seen.fill_ups + 1,
      last_at_ms: Math.max(seen.last_at_ms, t.at),
      last_card: t.at >= seen.last_at_ms ? t.card : seen.last_card,
      odometer_km: Math.max(seen.odometer_km, t.odometer ?? 0),
    });
  }
  return [...vehicles.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([vehicle, seen]) => ({ vehicle, ...seen }));
}

/** A fleet invoice's vehicles section, by plain loops (fill-to-fill fuel consumption, docs/REPORTING.md). */
export function expectedFleetVehicles(history: History, fleet: string): Record<string, string | number | null>[] {
  const mine = history.transactions
    .filter((t) => t.fleet === fleet && t.outcome === 'approved' && ['purchase', 'completion', 'reverse', 'refund'].includes(t.kind))
    .sort((a, b) => a.at - b.at);
  const vehicles = [...new Set(mine.map((t) => `${t.vehicle ?? ''}|${t.currency}`))].sort();
  return vehicles.map((key) => {
    const [vehicle = '', currency = ''] = key.split('|');
    const own = mine.filter((t) => (t.vehicle ?? '') === vehicle && t.currency === currency);
    const sign = (t: FixtureTransaction): number => (t.kind === 'reverse' || t.kind === 'refund' ? -1 : 1);
    const fuelOf = (t: FixtureTransaction): number =>
      (t.lines ?? []).filter((line) => line.group === 'diesel' || line.group === 'fuel').reduce((sum, line) => sum + line.qty_milli, 0);
    const readings = own.filter((t) => sign(t) > 0 && (t.odometer ?? 0) > 0);
    const odometers = readings.map((t) => t.odometer ?? 0);
    const distance = odometers.slice(1).reduce((sum, value, index) => sum + Math.max(0, value - (odometers[index] ?? 0)), 0);
    const consumption = readings.slice(1).reduce((sum, t) => sum + fuelOf(t), 0);
    const measured = readings.length >= 2 && distance > 0;
    return {
      vehicle,
      currency,
      transactions: own.length,
      pump_minor: own.reduce((sum, t) => sum + sign(t) * (t.pump ?? t.amount), 0),
      invoiced_minor: own.reduce((sum, t) => sum + sign(t) * (t.invoiced ?? t.amount), 0),
      fuel_milli: own.reduce((sum, t) => sum + sign(t) * fuelOf(t), 0),
      readings: readings.length,
      first_odometer: odometers[0] ?? null,
      last_odometer: odometers[odometers.length - 1] ?? null,
      distance_km: distance,
      consumption_milli: measured ? consumption : 0,
      litres_per_100km: measured ? (Math.round((consumption * 10) / distance) / 100).toFixed(2) : null,
    };
  });
}

/** The audit trail: every non-transaction document with an operator, or an operator_action, in time order. */
export function expectedAudit(history: History, operator?: string): { type: string; operator: string; at: number }[] {
  return history.documents
    .map((document) => JSON.parse(document.json) as { type: string; operator?: string; at: number })
    .filter(
      (d) =>
        d.type !== 'transaction' &&
        ((d.operator ?? '') !== '' || d.type === 'operator_action') &&
        (operator === undefined || d.operator === operator),
    )
    .map((d) => ({ type: d.type, operator: d.operator ?? '', at: d.at }))
    .sort((a, b) => a.at - b.at);
}

/** Approved top-ups per program, currency, source and UTC day, sorted like the report. */
export function expectedTopUps(history: History, from_ms: number, until_ms: number): Record<string, string | number>[] {
  const groups = new Map<string, Counts>();
  for (const t of history.transactions) {
    if (!approved(t, 'top_up') || t.at < from_ms || t.at >= until_ms) continue;
    const entry = groupInto(groups, [t.program, t.currency, t.source, utcDay(t.at)].join('\u0000'), ['top_ups', 'amount_minor']);
    entry['top_ups'] = (entry['top_ups'] ?? 0) + 1;
    entry['amount_minor'] = (entry['amount_minor'] ?? 0) + t.amount;
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, c]) => {
      const [program = '', currency = '', source = '', day = ''] = key.split('\u0000');
      return { program, currency, source, day, top_ups: c['top_ups'] ?? 0, amount_minor: c['amount_minor'] ?? 0 };
    });
}
