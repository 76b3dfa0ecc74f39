// Proves the stored layout of a terminal's grant usage (services/authorizer/store/keys.ts
// offline_usage): each accepted batch's sales packed in one field, read back as what each card was
// charged, whatever the batches and however a card spreads over them; the per-card counters an
// earlier build kept add up with them; a field that is not card and amount pairs is refused, never
// read as zero.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StoredStateError } from '../../actors/state/codec';
import { packUsage, unpackUsage } from '../../services/authorizer/store/committer';
import { announceSeed, assertProperty } from './fast-check-seed';

const card_id = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
const minor = fc.integer({ min: 1, max: 1_000_000_000_000 });

describe('grant usage layout: one field per accepted batch, summed per card', () => {
  before(() => announceSeed('grant usage layout'));

  it('reads back, per card, the sum of what every batch charged it', () => {
    assertProperty(
      fc.property(fc.array(fc.dictionary(card_id, minor, { minKeys: 1, maxKeys: 20 }), { minLength: 1, maxLength: 12 }), (batches) => {
        const fields: Record<string, string> = {};
        const expected = new Map<string, number>();
        batches.forEach((sales, index) => {
          const add = new Map(Object.entries(sales));
          fields[`#${index + 1}`] = packUsage(add);
          for (const [cardId, amount] of add) expected.set(cardId, (expected.get(cardId) ?? 0) + amount);
        });
        assert.deepEqual(unpackUsage(fields), expected);
      }),
      200,
    );
  });

  it("adds the per-card counters an earlier build kept to the batches' fields", () => {
    const usage = unpackUsage({ 'kept-1': '4000', 'kept-2': '250', '#7': 'kept-1 1000 kept-3 5' });
    assert.deepEqual(
      usage,
      new Map([
        ['kept-1', 5_000],
        ['kept-2', 250],
        ['kept-3', 5],
      ]),
    );
  });

  it('refuses a field that is not card and amount pairs, or an amount that is not a count of minor units', () => {
    const malformed: Record<string, string>[] = [
      { '#1': 'kept-1' },
      { '#1': 'kept-1 10 kept-2' },
      { '#1': 'kept-1 -5' },
      { '#1': 'kept-1 1e3' },
      { 'kept-1': 'x' },
      { '#1': '' },
    ];
    for (const fields of malformed) assert.throws(() => unpackUsage(fields), StoredStateError, JSON.stringify(fields));
  });
});
