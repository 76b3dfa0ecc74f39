// Proves the streamer's fast path for transaction documents (services/streamer/transaction-fast-
// path.ts) never disagrees with the contract's zod schema (actors/outbox/schemas.ts): on random documents
// (valid ones, and ones with fields of wrong types, out of range, too long, null, missing, or
// unknown), whenever the fast path answers, zod accepts the document and parses it to exactly the
// same value. It also proves the fast path does take the common documents (otherwise it would be
// dead weight), and that the row built from it leaves out only columns whose default is the value.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fastTransaction } from '../../services/streamer/transaction-fast-path';
import { parseTransaction } from '../../actors/outbox/schemas';
import { rowOf } from '../../services/streamer/rows';
import { announceSeed, assertProperty } from './fast-check-seed';

const base = {
  type: 'transaction',
  f: 'purchase|c1|250|EUR|t1||',
  id: '1-7',
  kind: 'purchase',
  outcome: 'approved',
  reason: '',
  rule: '',
  card: 'c1',
  program: 'p1',
  terminal: 't1',
  merchant: 'm1',
  amount: 250,
  requested: 250,
  currency: 'EUR',
  balance_after: 750,
  key: 't:t1:7',
  original: '',
  reverse: '',
  source: '',
  operator: '',
  at: 1_769_000_000_000,
};

const fields = [
  'type',
  'f',
  'id',
  'kind',
  'outcome',
  'reason',
  'rule',
  'card',
  'program',
  'terminal',
  'merchant',
  'amount',
  'requested',
  'currency',
  'balance_after',
  'key',
  'original',
  'reverse',
  'source',
  'operator',
  'at',
  'balance_delta',
  'held_delta',
  'deposit_delta',
  'payout',
  'hold',
  'lines',
  'odometer',
  'driver',
  'vehicle',
  'fleet',
  'pump',
  'invoiced',
  'discount',
  'points_earned',
  'points_redeemed',
  'flags',
  'offline_at',
  'account_balance_after',
  'hold_amount',
  'hold_expires_at',
  'ledger_after',
  'spent_after',
  'unknown_field',
] as const;

/** Values that are right for some fields and wrong for others, boundaries included. */
const value = fc.oneof(
  fc.constantFrom<unknown>(
    undefined,
    null,
    true,
    0,
    -0,
    1,
    -1,
    1.5,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 1,
    -Number.MAX_SAFE_INTEGER,
    4_294_967_295_000,
    4_294_967_295_001,
    '',
    'x',
    'purchase',
    'refund',
    'declined',
    'approved',
    'transaction',
    'nope',
    'a'.repeat(4096),
    'a'.repeat(4097),
    'é€\n"\\',
    [],
    ['risk:soft'],
    [1],
    ['a'.repeat(4097)],
    Array.from({ length: 65 }, () => 'f'),
    [{ code: 'diesel', amount: 1 }],
    {},
    'a'.repeat(256),
    'a'.repeat(257),
  ),
  fc.integer(),
  fc.string({ maxLength: 8 }),
);

const document = fc.tuple(fc.dictionary(fc.constantFrom(...fields), value, { maxKeys: 6 }), fc.boolean()).map(([changes, keepBase]) => {
  const out: Record<string, unknown> = keepBase ? { ...base } : {};
  for (const [key, changed] of Object.entries(changes)) {
    if (changed === undefined) delete out[key];
    else out[key] = changed;
  }
  return out;
});

describe('streamer fast path for transaction documents', () => {
  before(() => announceSeed('streamer fast path'));

  it('whenever it answers, zod accepts the same document and parses it to the same value', () => {
    let answered = 0;
    assertProperty(
      fc.property(document, (doc) => {
        const fast = fastTransaction(doc);
        if (fast === undefined) return;
        answered += 1;
        const schema = parseTransaction(doc);
        assert.notEqual(schema, undefined, `zod refuses what the fast path took: ${JSON.stringify(doc).slice(0, 300)}`);
        assert.deepStrictEqual(fast, schema);
      }),
      3_000,
    );
    assert.ok(answered > 100, `the fast path answered only ${answered} of 3000 documents`);
  });

  it('takes every plain document the authorizer writes, of every kind and outcome, with the contract defaults', () => {
    for (const kind of ['purchase', 'top_up', 'reverse', 'refund', 'completion', 'hold_expiry', 'tab_settlement']) {
      for (const outcome of ['approved', 'declined']) {
        const doc = {
          ...base,
          kind,
          outcome,
          ...(outcome === 'declined' ? { reason: 'insufficient_funds', rule: 'balance', amount: 0 } : {}),
        };
        const fast = fastTransaction(doc);
        assert.notEqual(fast, undefined, `${kind}/${outcome} must take the fast path`);
        assert.deepStrictEqual(fast, parseTransaction(doc));
      }
    }
    const withExtras = { ...base, balance_delta: -250, spent_after: 900, points_earned: 3, flags: ['risk:soft_amount'], hold: 'h1' };
    assert.deepStrictEqual(fastTransaction(withExtras), parseTransaction(withExtras));
    assert.equal(fastTransaction({ ...base, lines: [{ code: 'beer', amount: 250 }] }), undefined, 'a basket goes through zod');
  });

  it('builds a row that leaves out only columns whose DEFAULT is their zero value', () => {
    const values = rowOf({ shard: 3, streamId: '9-1', document: JSON.stringify(base) }).values;
    assert.deepEqual(Object.keys(values).sort(), [
      'amount',
      'at',
      'at_ms',
      'balance_after',
      'balance_delta',
      'card',
      'currency',
      'fingerprint',
      'id',
      'idempotency_key',
      'invoiced',
      'kind',
      'merchant',
      'outcome',
      'program',
      'pump',
      'requested',
      'shard',
      'stream_id',
      'terminal',
    ]);
    assert.equal(values['balance_delta'], -250, 'balance_delta is always sent: its DEFAULT is an expression');
    assert.equal(values['pump'], 250);
    const full = rowOf({
      shard: 3,
      streamId: '9-2',
      document: JSON.stringify({ ...base, reason: 'r', source: 'pos', flags: ['x'], odometer: 5, hold_amount: 9 }),
    }).values;
    assert.deepEqual([full['reason'], full['source'], full['flags'], full['odometer'], full['hold_amount']], ['r', 'pos', ['x'], 5, 9]);
  });
});
