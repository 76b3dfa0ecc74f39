// Proves the node's idempotency index (actors/idempotency.ts): begin marks a key pending with its
// fingerprint; complete hands the record to every waiter in order, exactly once, and remembers
// it; abandon hands waiters undefined and forgets the key so it can begin again; beginning a key
// that is already pending is an assertion; and the memory of answered keys is bounded, evicting
// the oldest key first. Each test uses a fresh index and plain records.

import assert from 'node:assert/strict';
import { IdempotencyIndex } from '../../actors/idempotency';
import type { IdempotencyRecord } from '../../actors/card/transaction';
import { decodeIdempotencyRecord, encodeIdempotencyRecord } from '../../actors/state/idempotency';

function record(id: string, fingerprint = 'purchase|card-1|500|EUR|till-1|||'): IdempotencyRecord {
  return {
    f: fingerprint,
    r: {
      id,
      kind: 'purchase',
      outcome: 'approved',
      cardId: 'card-1',
      amountMinor: 500,
      currency: 'EUR',
      balanceAfterMinor: 1_500,
      atMs: 1_700_000_000_000,
    },
  };
}

describe('idempotency index: pending keys', () => {
  it('knows nothing about a key it has not seen', () => {
    const index = new IdempotencyIndex(10);
    assert.equal(index.lookup('t:till-1:1'), undefined);
    assert.equal(index.pendingCount, 0);
  });

  it('begin marks a key pending with its fingerprint and no waiters', () => {
    const index = new IdempotencyIndex(10);
    index.begin('t:till-1:1', 'fp-1');
    assert.deepEqual(index.lookup('t:till-1:1'), { state: 'pending', pending: { fingerprint: 'fp-1', waiters: [] } });
    assert.equal(index.pendingCount, 1);
  });

  it('asserts when a key is begun twice', () => {
    const index = new IdempotencyIndex(10);
    index.begin('t:till-1:1', 'fp-1');
    assert.throws(() => index.begin('t:till-1:1', 'fp-1'), /assertion: key t:till-1:1 already pending/);
    assert.throws(() => index.begin('t:till-1:1', 'fp-other'), /assertion/);
    assert.equal(index.pendingCount, 1);
  });

  it('complete gives every waiter the record once, in the order they waited, and remembers it', () => {
    const index = new IdempotencyIndex(10);
    const answered = record('txn-1');
    index.begin('k:psp-9', 'fp-1');
    const seen: string[] = [];
    const pending = index.lookup('k:psp-9');
    if (pending?.state !== 'pending') throw new Error(`expected pending, saw ${JSON.stringify(pending)}`);
    pending.pending.waiters.push((r) => seen.push(`first:${r?.r.id}`));
    pending.pending.waiters.push((r) => seen.push(`second:${r?.r.id}`));
    index.complete('k:psp-9', answered);
    assert.deepEqual(seen, ['first:txn-1', 'second:txn-1']);
    assert.deepEqual(index.lookup('k:psp-9'), { state: 'done', record: answered });
    assert.equal(index.pendingCount, 0);
    index.complete('k:psp-9', answered);
    assert.equal(seen.length, 2, 'waiters must not be called again');
  });

  it('complete without begin (a record found in Redis) is remembered too', () => {
    const index = new IdempotencyIndex(10);
    index.complete('t:till-1:2', record('txn-2'));
    assert.deepEqual(index.lookup('t:till-1:2'), { state: 'done', record: record('txn-2') });
  });

  it('abandon gives every waiter undefined, forgets the key, and lets it begin again', () => {
    const index = new IdempotencyIndex(10);
    index.begin('t:till-1:3', 'fp-1');
    const seen: (IdempotencyRecord | undefined | 'not called')[] = ['not called', 'not called'];
    const pending = index.lookup('t:till-1:3');
    if (pending?.state !== 'pending') throw new Error(`expected pending, saw ${JSON.stringify(pending)}`);
    pending.pending.waiters.push((r) => {
      seen[0] = r;
    });
    pending.pending.waiters.push((r) => {
      seen[1] = r;
    });
    index.abandon('t:till-1:3');
    assert.deepEqual(seen, [undefined, undefined]);
    assert.equal(index.lookup('t:till-1:3'), undefined);
    assert.equal(index.pendingCount, 0);
    index.begin('t:till-1:3', 'fp-2');
    assert.equal(index.lookup('t:till-1:3')?.state, 'pending');
  });

  it('abandon of an unknown key does nothing', () => {
    const index = new IdempotencyIndex(10);
    index.complete('t:till-1:4', record('txn-4'));
    index.abandon('t:till-1:5');
    index.abandon('t:till-1:4');
    assert.equal(index.lookup('t:till-1:4')?.state, 'done', 'abandon must not forget an answered key');
  });

  it('a pending retry of a remembered key is seen as pending until it settles', () => {
    const index = new IdempotencyIndex(10);
    index.complete('t:till-1:6', record('txn-6'));
    index.begin('t:till-1:6', 'fp-1');
    assert.equal(index.lookup('t:till-1:6')?.state, 'pending');
    index.complete('t:till-1:6', record('txn-6b'));
    assert.deepEqual(index.lookup('t:till-1:6'), { state: 'done', record: record('txn-6b') });
  });
});

describe('idempotency index: bounded memory', () => {
  it('keeps at most recent_max answered keys, evicting the oldest', () => {
    const index = new IdempotencyIndex(3);
    for (const n of [1, 2, 3, 4]) index.complete(`t:till-1:${n}`, record(`txn-${n}`));
    assert.equal(index.lookup('t:till-1:1'), undefined, 'the oldest key must be evicted');
    for (const n of [2, 3, 4]) assert.equal(index.lookup(`t:till-1:${n}`)?.state, 'done', `key ${n}`);
  });

  it('remembering a key again updates its record without evicting another key', () => {
    const index = new IdempotencyIndex(3);
    for (const n of [1, 2, 3]) index.remember(`t:till-1:${n}`, record(`txn-${n}`));
    index.remember('t:till-1:1', record('txn-1-again'));
    assert.deepEqual(index.lookup('t:till-1:1'), { state: 'done', record: record('txn-1-again') });
    for (const n of [2, 3]) assert.equal(index.lookup(`t:till-1:${n}`)?.state, 'done', `key ${n}`);
  });

  it('stays bounded over many keys', () => {
    const index = new IdempotencyIndex(100);
    for (let n = 0; n < 10_000; n++) index.complete(`t:till-1:${n}`, record(`txn-${n}`));
    let remembered = 0;
    for (let n = 0; n < 10_000; n++) if (index.lookup(`t:till-1:${n}`) !== undefined) remembered += 1;
    assert.equal(remembered, 100);
    assert.equal(index.lookup('t:till-1:9999')?.state, 'done');
    assert.equal(index.lookup('t:till-1:9899'), undefined);
  });

  it('with recent_max 0 remembers nothing but still answers waiters', () => {
    const index = new IdempotencyIndex(0);
    index.begin('t:till-1:1', 'fp-1');
    let got: IdempotencyRecord | undefined;
    const pending = index.lookup('t:till-1:1');
    if (pending?.state !== 'pending') throw new Error(`expected pending, saw ${JSON.stringify(pending)}`);
    pending.pending.waiters.push((r) => {
      got = r;
    });
    index.complete('t:till-1:1', record('txn-1'));
    assert.deepEqual(got, record('txn-1'));
    assert.equal(index.lookup('t:till-1:1'), undefined);
  });
});

describe('idempotency index: answers kept as committed', () => {
  it('keeps a compact record as its stored string and answers the same record from it', () => {
    const index = new IdempotencyIndex(10);
    const answered: IdempotencyRecord = { ...record('txn-7'), origin: { terminalId: 'till-1', merchantId: 'bar-1' } };
    const encoded = encodeIdempotencyRecord(answered);
    index.begin('t:till-1:7', answered.f);
    index.complete('t:till-1:7', answered, encoded);
    const known = index.lookup('t:till-1:7');
    if (known?.state !== 'done') throw new Error(`expected done, saw ${JSON.stringify(known)}`);
    assert.deepEqual(known.record, decodeIdempotencyRecord(encoded));
    assert.equal(known.record.r.id, 'txn-7');
    assert.equal(known.record.r.balanceAfterMinor, 1_500);
    assert.equal(known.record.f, answered.f);
    // Remembered from Redis (a retry after recovery): the same.
    index.remember('t:till-1:8', answered, encoded);
    assert.deepEqual(index.lookup('t:till-1:8'), { state: 'done', record: decodeIdempotencyRecord(encoded) });
  });

  it('keeps the record itself when the stored value is an older layout (a whole document)', () => {
    const index = new IdempotencyIndex(10);
    const answered = record('txn-9');
    index.remember('t:till-1:9', answered, JSON.stringify({ id: 'txn-9' }));
    assert.deepEqual(index.lookup('t:till-1:9'), { state: 'done', record: answered });
  });

  it('evicts encoded answers like any other, oldest first', () => {
    const index = new IdempotencyIndex(2);
    for (const id of ['a', 'b', 'c']) {
      const answered = record(id);
      index.remember(`t:till-1:${id}`, answered, encodeIdempotencyRecord(answered));
    }
    assert.equal(index.lookup('t:till-1:a'), undefined);
    assert.equal(index.lookup('t:till-1:b')?.state, 'done');
    assert.equal(index.lookup('t:till-1:c')?.state, 'done');
  });
});
