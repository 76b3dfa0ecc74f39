// Proves the idempotency record's codec (actors/state/idempotency.ts) keeps what a retry, a later
// reversal / refund / void / completion and a receipt read of a money decision, in a fraction of
// the bytes of its transaction document, and that records written before it still decode:
// - answers of every shape (approved, declined with reason and rule, a reversal's outcome, a hold,
//   program figures, a fleet purchase, a basket) read back exactly as the decision answered them;
//   a seeded property does the same for generated answers and fingerprints (shaped like a
//   request's, whose head the record stores short, or any string);
// - a plain purchase's record is under a third of its document's bytes;
// - a layout-1 record (the full transaction document every record was before) reads back through
//   decodeRecord / decodeFleetRecord with the same answer, origin and basket;
// - not JSON, a layout this build does not know, wrong types and unknown fields are
//   StoredStateErrors, never a crash or a guess.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeRecord, type IdempotencyRecord, type TxnResult } from '../../actors/card/transaction';
import { decodeFleetRecord, type FleetTxnResult } from '../../actors/fleet/transaction';
import { transactionDocument } from '../../actors/outbox/builders';
import { StoredStateError } from '../../actors/state/codec';
import { decodeIdempotencyRecord, encodeIdempotencyRecord } from '../../actors/state/idempotency';
import { announceSeed, assertProperty } from './fast-check-seed';

const at = 1_764_800_000_000;
const origin = { terminalId: 'pos-7', merchantId: 'm-bar' };
const lines = [{ code: 'BEER', group: 'drinks', qty_milli: 2_000, unit: 450, amount: 900 }];

function result(changes: Partial<TxnResult> = {}): TxnResult {
  return {
    id: '4-1001',
    kind: 'purchase',
    outcome: 'approved',
    cardId: 'c-plain',
    amountMinor: 900,
    currency: 'EUR',
    balanceAfterMinor: 4_100,
    atMs: at,
    ...changes,
  };
}

function record(r: TxnResult, extra: Partial<IdempotencyRecord> = {}): IdempotencyRecord {
  return { f: `purchase|${r.cardId}|900|EUR|pos-7|pos|`, r, origin, ...extra };
}

const fleet_result: FleetTxnResult = {
  ...result({ cardId: 'f1~3', kind: 'purchase' }),
  fleet: {
    fleetId: 'f1',
    pumpMinor: 1_000,
    invoicedMinor: 900,
    discountMinor: 100,
    pointsEarned: 0,
    pointsRedeemed: 0,
    flags: ['risk:soft_amount'],
    accountBalanceAfterMinor: -900,
    driverId: 'd-1',
    vehicleId: 'v-9',
    cycle: 2,
  },
};

const shapes: Record<string, IdempotencyRecord> = {
  'an approved purchase': record(result()),
  'a purchase with a basket': record(result(), { lines }),
  'a declined purchase': record(result({ outcome: 'declined', reason: 'insufficient_funds', rule: 'balance', amountMinor: 0 })),
  'a reversal': record(result({ kind: 'reverse', reverse: 'already_reversed', amountMinor: 0 })),
  'a pre-authorization': record(
    result({ kind: 'pre_authorization', holdMinor: 900, holdExpiresAtMs: at + 86_400_000, ledgerAfterMinor: 5_000 }),
  ),
  'a purchase under program rules': record(
    result({ program: { discountMinor: 50, pointsEarned: 9, pointsRedeemed: 0, flags: [] }, spentMinor: 900 }),
  ),
  'a fleet purchase': record(fleet_result),
  'a tombstone': { f: '*', r: result({ kind: 'reverse', outcome: 'declined', reason: 'original_not_refundable' }), origin },
};

describe('idempotency record codec (compact layout, older documents still read)', () => {
  before(() => announceSeed('idempotency record codec'));

  for (const [name, written] of Object.entries(shapes))
    it(`reads back ${name} exactly as it was answered`, () => {
      const stored = encodeIdempotencyRecord(written);
      assert.deepEqual(decodeRecord(stored), written);
      assert.deepEqual(decodeFleetRecord(stored), written);
    });

  it('reads back generated answers exactly (seeded)', () => {
    const money = fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
    const text = fc.string({ maxLength: 40 });
    const answer = fc.record(
      {
        id: text,
        kind: fc.constantFrom('purchase', 'top_up', 'reverse', 'refund', 'completion', 'void' as const),
        outcome: fc.constantFrom('approved', 'declined' as const),
        cardId: text,
        amountMinor: money,
        currency: text,
        balanceAfterMinor: money,
        atMs: fc.nat(),
        reason: fc.constantFrom('insufficient_funds', 'card_blocked'),
        rule: text,
        holdMinor: money,
        spentMinor: money,
      },
      { requiredKeys: ['id', 'kind', 'outcome', 'cardId', 'amountMinor', 'currency', 'balanceAfterMinor', 'atMs'] },
    );
    // Fingerprints shaped like a request's (their head is stored short) and any other string.
    const requested = fc.oneof(fc.integer(), fc.constantFrom('0250', '-0', '1e3', ''));
    assertProperty(
      fc.property(answer, text, text, text, fc.boolean(), requested, (r, rest, terminalId, merchantId, shaped, amount) => {
        const f = shaped ? `${r.kind}|${r.cardId}|${amount}|${r.currency}|${terminalId}|${rest}` : rest;
        // fast-check builds objects without a prototype: a plain copy compares as a decoded one.
        const written = { f, r: { ...r } as TxnResult, origin: { terminalId, merchantId } };
        assert.deepEqual(decodeIdempotencyRecord(encodeIdempotencyRecord(written)), written);
      }),
      300,
    );
  });

  it("keeps a plain purchase's record under a third of its document's bytes", () => {
    const written = shapes['an approved purchase'] as IdempotencyRecord;
    const request = { key: 't:pos-7:1001', terminalId: 'pos-7', amountMinor: 900, originalKey: '', source: 'pos', operatorId: '' };
    const document = transactionDocument(request, { merchantId: 'm-bar', programId: 'festival-2026' }, written.r, written.f);
    const compact = encodeIdempotencyRecord(written);
    assert.ok(compact.length * 3 < document.length, `record ${compact.length} bytes, document ${document.length}`);
  });

  it('reads a record written as the full transaction document (layout 1) as the same answer', () => {
    const request = {
      key: 't:pos-7:1001',
      terminalId: 'pos-7',
      amountMinor: 900,
      originalKey: '',
      source: 'pos',
      operatorId: '',
      lines,
    };
    const written = record(result(), { lines });
    const document = transactionDocument(request, { merchantId: 'm-bar', programId: 'festival-2026' }, written.r, written.f);
    assert.equal(document[0], '{');
    assert.deepEqual(decodeRecord(document), written);
    const declined = record(result({ outcome: 'declined', reason: 'insufficient_funds', rule: 'balance', amountMinor: 0 }));
    const declinedDocument = transactionDocument(
      { ...request, lines: undefined },
      { merchantId: 'm-bar', programId: 'p' },
      declined.r,
      declined.f,
    );
    assert.deepEqual(decodeRecord(declinedDocument), declined);
  });

  it('refuses what is not a record it knows, as a StoredStateError', () => {
    const good = JSON.parse(encodeIdempotencyRecord(shapes['an approved purchase'] as IdempotencyRecord)) as unknown[];
    const refused = {
      'not JSON': '[2,"f"',
      'a newer layout': JSON.stringify([3, ...good.slice(1)]),
      'a money amount as text': JSON.stringify(good.map((value, i) => (i === 8 ? '900' : value))),
      'an unknown kind': JSON.stringify(good.map((value, i) => (i === 5 ? 99 : value))),
      'a kind by name': JSON.stringify(good.map((value, i) => (i === 5 ? 'purchase' : value))),
      'an outcome by name': JSON.stringify(good.map((value, i) => (i === 6 ? 'approved' : value))),
      'a missing field': JSON.stringify(good.slice(0, 11)),
      'an unknown optional field': JSON.stringify([...good, { cashback: 5 }]),
      'a fractional amount': JSON.stringify(good.map((value, i) => (i === 10 ? 0.5 : value))),
    };
    for (const [name, value] of Object.entries(refused))
      assert.throws(
        () => decodeRecord(value),
        (error: unknown) => error instanceof StoredStateError && error.stored === 'idempotency record',
        name,
      );
  });
});
