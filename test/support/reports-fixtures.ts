// A small, exactly-known history for report tests: cards of two programs (EUR and CHF) are
// issued, then purchases (some declined for insufficient funds or currency), top-ups and
// reversals are simulated card by card the way the authorizer decides them, giving outbox
// documents in its format, the card states it would leave in Redis, and — computed here by plain
// loops, independently of the report SQL — the numbers every report must show. Seeded.

import { createClient } from 'redis';
import type { StoredTransaction } from '../../actors/card/transaction';
import { shardOf } from '../../actors/sharding/placement';
import { cardKey } from '../../services/authorizer/store/keys';
import type { OutboxDocument } from './outbox-fixtures';
import { seededRandom } from './seeded-random';


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
  readonly issued_at_ms: number;
}

export interface History {
  readonly documents: OutboxDocument[];
  readonly transactions: StoredTransaction[];
  readonly issued: { card: string; program: string; currency: string; amount: number; at: number }[];
  readonly cards: CardModel[];
}

export function reportHistory(seed: number, cardCount: number, requestCount: number, shardCount: number): History {
  const random = seededRandom(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const documents: OutboxDocument[] = [];
  const transactions: StoredTransaction[] = [];
  const issued: History['issued'] = [];
  const cards: CardModel[] = [];
  const add = (card: string, document: object): void => {
    documents.push({ shard: shardOf(card, shardCount), json: JSON.stringify(document) });
  };
  for (let index = 0; index < cardCount; index += 1) {
    const program = programs[index % programs.length] ?? programs[0];
    const card = `card-${String(index).padStart(2, '0')}`;
    const at = history_start_ms - 3_600_000 + index * 1_000;
    const amount = 1_000 + pick(5_000);
    cards.push({ card, program: program.id, currency: program.currency, balance_minor: amount, issued_at_ms: at });
    issued.push({ card, program: program.id, currency: program.currency, amount, at });
    add(card, { type: 'card_issued', card, program: program.id, currency: program.currency, status: 'active', amount, operator: 'ops-1', reason: '', at });
  }
  // Lifecycle noise that moves no money: a status change and terminal registrations.
  add('card-01', { type: 'card_status_changed', card: 'card-01', program: 'fleet.west', currency: 'CHF', status: 'active', amount: 0, operator: 'ops-1', reason: 'checked', at: history_start_ms - 60_000 });
  for (let terminal = 0; terminal < 6; terminal += 1) {
    documents.push({ shard: 0, json: JSON.stringify({ type: 'terminal_registered', terminal: `pos-${terminal}`, merchant: `bar-${terminal % 3}`, enabled: true, operator: 'ops-1', at: history_start_ms - 120_000 }) });
  }
  const reversible: StoredTransaction[] = [];
  for (let n = 0; n < requestCount; n += 1) {
    const model = cards[pick(cards.length)] ?? cards[0];
    if (model === undefined) throw new Error('assertion: no cards');
    const terminalIndex = pick(6);
    const at = history_start_ms + n * request_step_ms;
    const roll = random();
    const kind = roll < 0.6 ? 'purchase' : roll < 0.8 ? 'top_up' : 'reverse';
    let requested = 100 + pick(3_000);
    let currency = model.currency;
    let outcome: 'approved' | 'declined' = 'approved';
    let reason = '';
    let amount = requested;
    let reverse: StoredTransaction['reverse'] = '';
    let original = '';
    if (kind === 'purchase') {
      if (random() < 0.05) currency = model.currency === 'EUR' ? 'CHF' : 'EUR';
      if (currency !== model.currency) [outcome, reason, amount] = ['declined', 'currency_mismatch', 0];
      else if (model.balance_minor < requested) [outcome, reason, amount] = ['declined', 'insufficient_funds', 0];
      else model.balance_minor -= requested;
    } else if (kind === 'top_up') {
      model.balance_minor += requested;
    } else {
      const index = reversible.findIndex((candidate) => candidate.card === model.card);
      const target = index < 0 ? undefined : reversible.splice(index, 1)[0];
      if (target === undefined) {
        [reverse, amount, requested, original] = ['nothing_to_reverse', 0, 0, `t:pos-9:${n}`];
      } else {
        [reverse, amount, requested, original] = ['reversed', target.amount, target.amount, target.key];
        model.balance_minor += amount;
      }
    }
    const terminal = `pos-${terminalIndex}`;
    const transaction: StoredTransaction = {
      type: 'transaction', f: `${kind}|${model.card}|${requested}`, id: `rep-${n}`, kind, outcome,
      reason: reason as StoredTransaction['reason'], rule: reason === '' ? '' : 'rule', card: model.card, program: model.program,
      terminal, merchant: `bar-${terminalIndex % 3}`, amount, requested, currency, balance_after: model.balance_minor,
      key: `t:${terminal}:${n}`, original, reverse, source: 'pos', operator: '', at,
    };
    if (kind === 'purchase' && outcome === 'approved') reversible.push(transaction);
    transactions.push(transaction);
    add(model.card, transaction);
  }
  return { documents, transactions, issued, cards };
}

/** Writes each card's final state where the authorizer keeps it. */
export async function writeCardStates(redisUrl: string, cards: readonly CardModel[], shardCount: number): Promise<void> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    await Promise.all(cards.map((model) => client.sendCommand(['HSET', cardKey(shardOf(model.card, shardCount), model.card), 'v', '1', 'd', JSON.stringify({
      cardId: model.card, currency: model.currency, programId: model.program, status: 'active', balanceMinor: model.balance_minor, heldMinor: 0, issuedAtMs: model.issued_at_ms,
    })])));
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

const approved = (t: StoredTransaction, kind: string): boolean => t.outcome === 'approved' && t.kind === kind;

export function expectedFloat(history: History, currency?: string): Record<string, string | number>[] {
  const groups = new Map<string, Counts>();
  const fields = ['issued_minor', 'top_ups_minor', 'spend_minor', 'reversals_minor'];
  for (const issue of history.issued) {
    if (currency !== undefined && issue.currency !== currency) continue;
    const entry = groupInto(groups, `${issue.program}\u0000${issue.currency}`, fields);
    entry['issued_minor'] = (entry['issued_minor'] ?? 0) + issue.amount;
  }
  for (const t of history.transactions) {
    if (t.outcome !== 'approved' || (currency !== undefined && t.currency !== currency)) continue;
    const entry = groupInto(groups, `${t.program}\u0000${t.currency}`, fields);
    const field = t.kind === 'purchase' ? 'spend_minor' : t.kind === 'top_up' ? 'top_ups_minor' : 'reversals_minor';
    entry[field] = (entry[field] ?? 0) + t.amount;
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, c]) => {
    const [program, cur] = key.split('\u0000');
    const value = (name: string): number => c[name] ?? 0;
    return {
      program: program ?? '', currency: cur ?? '', issued_minor: value('issued_minor'), top_ups_minor: value('top_ups_minor'), spend_minor: value('spend_minor'),
      reversals_minor: value('reversals_minor'), outstanding_minor: value('issued_minor') + value('top_ups_minor') - value('spend_minor') + value('reversals_minor'),
    };
  });
}

const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const utcMonth = (ms: number): string => `${new Date(ms).toISOString().slice(0, 7)}-01`;

export function expectedMerchants(history: History, from_ms: number, until_ms: number, granularity: 'day' | 'month', by: 'merchant' | 'terminal'): Record<string, string | number>[] {
  const fields = ['purchases', 'purchases_minor', 'declines', 'reversals', 'reversals_minor', 'top_ups', 'top_ups_minor'];
  const groups = new Map<string, Counts>();
  for (const t of history.transactions) {
    if (t.at < from_ms || t.at >= until_ms) continue;
    const period = granularity === 'day' ? utcDay(t.at) : utcMonth(t.at);
    const keys = by === 'terminal' ? [t.merchant, t.terminal, t.currency, period] : [t.merchant, t.currency, period];
    const entry = groupInto(groups, keys.join('\u0000'), fields);
    const bump = (field: string, by_value: number): void => { entry[field] = (entry[field] ?? 0) + by_value; };
    if (approved(t, 'purchase')) { bump('purchases', 1); bump('purchases_minor', t.amount); }
    if (t.outcome === 'declined') bump('declines', 1);
    if (approved(t, 'reverse') && t.reverse === 'reversed') bump('reversals', 1);
    if (approved(t, 'reverse')) bump('reversals_minor', t.amount);
    if (approved(t, 'top_up')) { bump('top_ups', 1); bump('top_ups_minor', t.amount); }
  }
  const names = by === 'terminal' ? ['merchant', 'terminal', 'currency', 'period'] : ['merchant', 'currency', 'period'];
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, c]) => ({
    ...Object.fromEntries(key.split('\u0000').map((part, index) => [names[index] ?? '', part])),
    ...Object.fromEntries(fields.map((field) => [field, c[field] ?? 0])),
  }));
}

export interface OperationsExpected {
  requests: number;
  approved: number;
  declined: number;
  insufficient_funds: number;
  by_reason: Map<string, number>;
  by_terminal: Map<string, { requests: number; approved: number; declined: number; insufficient_funds: number }>;
  by_hour: Map<string, { requests: number; approved: number; declined: number; insufficient_funds: number }>;
}

export function expectedOperations(history: History, from_ms: number, until_ms: number): OperationsExpected {
  const result: OperationsExpected = { requests: 0, approved: 0, declined: 0, insufficient_funds: 0, by_reason: new Map(), by_terminal: new Map(), by_hour: new Map() };
  const count = (map: OperationsExpected['by_terminal'], key: string, t: StoredTransaction): void => {
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
    count(result.by_terminal, t.terminal, t);
    count(result.by_hour, `${new Date(Math.floor(t.at / 3_600_000) * 3_600_000).toISOString().slice(0, 13)}:00Z`, t);
  }
  return result;
}

export function expectedProgram(history: History, program: string): Record<string, string | number> {
  const issued = history.issued.filter((issue) => issue.program === program);
  const mine = history.transactions.filter((t) => t.program === program);
  const sum = (kind: string): number => mine.filter((t) => approved(t, kind)).reduce((total, t) => total + t.amount, 0);
  const initial_minor = issued.reduce((total, issue) => total + issue.amount, 0);
  const top_ups_minor = sum('top_up');
  const spent_minor = sum('purchase');
  const reversed_minor = sum('reverse');
  return {
    currency: issued[0]?.currency ?? '', cards_issued: issued.length, initial_minor, top_ups_minor, deposited_minor: initial_minor + top_ups_minor,
    spent_minor, reversed_minor, remaining_minor: initial_minor + top_ups_minor - spent_minor + reversed_minor,
  };
}
