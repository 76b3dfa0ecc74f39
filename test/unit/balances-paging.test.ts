// Proves how a ListBalances page is cut from Redis SCAN batches (services/authorizer/store/balances.ts)
// in the cases a real Redis cannot be made to produce on demand: SCAN returning more keys than its
// COUNT (whole hash buckets). A scripted store answers each SCAN call and checks the cursor, pattern
// and COUNT it was asked for. It shows that a batch overflowing a page that already has entries is
// left, unconsumed, to the next page; that an empty page reads the same cursor again one bucket at
// a time and takes that step even if it overflows (the listing always moves on); that the walk goes
// from cards to fleet cards to fleet accounts and ends; that a page stops after its SCAN call budget
// with a token to go on; and that page tokens round-trip and nothing else decodes. The listing
// against a real Redis is in test/integration/list-balances.test.ts.

import assert from 'node:assert/strict';
import {
  balances_scan_calls_per_page_max,
  decodeBalancesPageToken,
  encodeBalancesPageToken,
  first_balances_position,
  StoredBalances,
  type BalancesPosition,
} from '../../services/authorizer/store/balances';

interface ScanCall {
  readonly cursor: string;
  readonly match: string;
  readonly count: number;
  readonly answer: [string, string[]];
}

const card = (id: string): string => `tl:{s1}:card:${id}`;
const state = (balanceMinor: number): string => JSON.stringify({ balanceMinor, currency: 'EUR', programId: 'p' });

/** A store that answers the SCAN calls it is told to expect, in order, and any HGET of a card key. */
function scripted(calls: ScanCall[]) {
  const expected = [...calls];
  return {
    remaining: expected,
    store: {
      scanPage(cursor: string, match: string, count: number): Promise<[string, string[]]> {
        const next = expected.shift();
        assert.ok(next !== undefined, `unexpected SCAN ${cursor} ${match} ${count}`);
        assert.deepEqual([cursor, match, count], [next.cursor, next.match, next.count], 'SCAN arguments');
        return Promise.resolve(next.answer);
      },
      hashFieldOfMany(keys: readonly string[]): Promise<(string | null)[]> {
        return Promise.resolve(keys.map((_, index) => state(index + 1)));
      },
    },
  };
}

const cards_match = 'tl:{s*}:card:*';
const fleet_cards_match = 'tl:{s*}:fcard:*';
const fleets_match = 'tl:{s*}:fleet:*';

describe('list balances: cutting pages from SCAN batches', () => {
  it('leaves a batch that overflows a page with entries to the next page, from the same cursor', async () => {
    const script = scripted([
      { cursor: '0', match: cards_match, count: 3, answer: ['11', [card('a'), card('b')]] },
      { cursor: '11', match: cards_match, count: 1, answer: ['12', [card('c'), card('d')]] },
    ]);
    const page = await new StoredBalances(script.store).page(first_balances_position, 3);
    assert.deepEqual(
      page.cards.map((c) => c.cardId),
      ['a', 'b'],
    );
    assert.deepEqual(page.next, { family: 'card', cursor: '11' });
    assert.equal(script.remaining.length, 0);
  });

  it('reads the same cursor one bucket at a time when a batch overflows an empty page', async () => {
    const script = scripted([
      { cursor: '5', match: cards_match, count: 2, answer: ['9', [card('a'), card('b'), card('c')]] },
      { cursor: '5', match: cards_match, count: 1, answer: ['7', [card('a')]] },
      { cursor: '7', match: cards_match, count: 1, answer: ['9', [card('b')]] },
    ]);
    const page = await new StoredBalances(script.store).page({ family: 'card', cursor: '5' }, 2);
    assert.deepEqual(
      page.cards.map((c) => c.cardId),
      ['a', 'b'],
    );
    assert.deepEqual(page.next, { family: 'card', cursor: '9' });
  });

  it('takes a single step that overflows an empty page whole, so the listing moves on', async () => {
    const script = scripted([
      { cursor: '5', match: cards_match, count: 1, answer: ['9', [card('a'), card('b')]] },
      { cursor: '5', match: cards_match, count: 1, answer: ['9', [card('a'), card('b')]] },
    ]);
    const page = await new StoredBalances(script.store).page({ family: 'card', cursor: '5' }, 1);
    assert.deepEqual(
      page.cards.map((c) => c.cardId),
      ['a', 'b'],
    );
    assert.deepEqual(page.next, { family: 'card', cursor: '9' });
  });

  it('walks cards, then fleet cards, then fleet accounts, and ends', async () => {
    const script = scripted([
      { cursor: '0', match: cards_match, count: 10, answer: ['0', [card('a'), 'tl:{s1}:card-like:x']] },
      { cursor: '0', match: fleet_cards_match, count: 9, answer: ['0', []] },
      { cursor: '0', match: fleets_match, count: 9, answer: ['0', ['tl:{s2}:fleet:acme']] },
    ]);
    const page = await new StoredBalances(script.store).page(first_balances_position, 10);
    assert.deepEqual(
      page.cards.map((c) => c.cardId),
      ['a'],
    );
    assert.deepEqual(
      page.fleetAccounts.map((f) => [f.fleetId, f.balance?.amountMinor]),
      [['acme', 1]],
    );
    assert.equal(page.next, undefined, 'the last page');
  });

  it('stops after its SCAN call budget, with a position to go on', async () => {
    const calls = Array.from({ length: balances_scan_calls_per_page_max }, (_, i) => ({
      cursor: String(i),
      match: cards_match,
      count: 5,
      answer: [String(i + 1), []] as [string, string[]],
    }));
    const script = scripted(calls);
    const page = await new StoredBalances(script.store).page(first_balances_position, 5);
    assert.deepEqual([page.cards, page.fleetAccounts], [[], []]);
    assert.deepEqual(page.next, { family: 'card', cursor: String(balances_scan_calls_per_page_max) });
  });
});

describe('list balances: page tokens', () => {
  it('round-trip every position', () => {
    const positions: BalancesPosition[] = [
      first_balances_position,
      { family: 'fcard', cursor: '123' },
      { family: 'fleet', cursor: '18446744073709551615' },
      // Redis Cluster: "<primary's lowest slot>:<SCAN cursor>".
      { family: 'card', cursor: '5461:42' },
      { family: 'fcard', cursor: '0:0' },
    ];
    for (const position of positions) assert.deepEqual(decodeBalancesPageToken(encodeBalancesPageToken(position)), position);
    assert.deepEqual(decodeBalancesPageToken(''), first_balances_position);
  });

  it('refuse anything else as INVALID_ARGUMENT', () => {
    const token = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');
    for (const bad of [
      'x',
      token('v1:card:'),
      token('v1:card:1 '),
      token('v1:fleet:18446744073709551616'),
      `${token('v1:card:5')}=`,
      token('v1:card:123456:1'),
      token('v1:card:01:1'),
      token('v1:card::1'),
      token('v1:card:5:18446744073709551616'),
    ]) {
      assert.throws(
        () => decodeBalancesPageToken(bad),
        (error: { code?: string }) => error.code === 'invalid_argument',
        bad,
      );
    }
  });
});
