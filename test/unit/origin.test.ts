// Proves the pure rule of who may act on a transaction after the fact (actors/origin.ts): a
// terminal speaks for the transactions made at it, a gateway for those of its merchants; a key
// known only by its text is owned by the request's own terminal when the requester speaks for it;
// a requester the boundary did not set is the request's terminal; keys that name no terminal are
// nobody's. A property checks the rule against its plain-language statement on random ids.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ownsKey, requesterOf, speaksFor, type Requester } from '../../actors/origin';
import { terminalOfKey, terminalTxnKey } from '../../actors/request-keys';
import { announceSeed, assertProperty } from './fast-check-seed';

const terminal = (terminalId: string): Requester => ({ kind: 'terminal', terminalId });
const gateway = (...merchantIds: string[]): Requester => ({ kind: 'gateway', merchantIds: new Set(merchantIds) });

describe('origin: who may act on a transaction', () => {
  before(() => announceSeed('origin'));

  it('a terminal speaks for its own transactions only; a gateway for its merchants', () => {
    const atA1 = { terminalId: 'a1', merchantId: 'shop-a' };
    assert.equal(speaksFor(terminal('a1'), atA1), true);
    assert.equal(speaksFor(terminal('a2'), atA1), false, 'another till of the same merchant');
    assert.equal(speaksFor(gateway('shop-a'), atA1), true);
    assert.equal(speaksFor(gateway('shop-b'), atA1), false);
    assert.equal(speaksFor(gateway(), atA1), false);
    assert.equal(speaksFor(terminal(''), { terminalId: '', merchantId: '' }), false, 'a transaction made at no terminal is nobody’s');
    assert.equal(speaksFor(gateway(''), { terminalId: 'x', merchantId: '' }), false);
  });

  it("owns only its own terminal's keys", () => {
    const request = { terminalId: 'a1' };
    assert.equal(ownsKey(terminal('a1'), request, 't:a1:42', 'shop-a'), true);
    assert.equal(ownsKey(terminal('a1'), request, 't:a2:42', 'shop-a'), false);
    assert.equal(ownsKey(terminal('a1'), request, 'k:psp:ref-1', 'shop-a'), false);
    assert.equal(ownsKey(gateway('shop-a'), request, 't:a1:42', 'shop-a'), true, "a gateway speaking for the request's terminal");
    assert.equal(ownsKey(gateway('shop-b'), request, 't:a1:42', 'shop-a'), false);
    assert.equal(ownsKey(terminal('a2'), request, 't:a1:42', 'shop-a'), false, 'an authenticated terminal other than the request’s');
  });

  it('without a requester set by the boundary, the request’s terminal asks', () => {
    assert.deepEqual(requesterOf({ terminalId: 'a1' }), terminal('a1'));
    assert.deepEqual(requesterOf({ terminalId: 'a1', requester: gateway('shop-a') }), gateway('shop-a'));
  });

  it('reads the terminal of a terminal key, and none of any other key', () => {
    assert.equal(terminalOfKey(terminalTxnKey('pos.7-x', 99n)), 'pos.7-x');
    for (const key of ['k:psp:ref', 't::1', 't:', 'x:a1:1', '']) assert.equal(terminalOfKey(key), undefined, key);
  });

  it('property: a terminal owns a terminal key exactly when the key names it and it sent the request', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
    assertProperty(
      fc.property(id, id, id, fc.bigInt({ min: 1n, max: (1n << 63n) - 1n }), (asker, sender, named, n) => {
        const owns = ownsKey(terminal(asker), { terminalId: sender }, terminalTxnKey(named, n), 'm');
        assert.equal(owns, asker === sender && sender === named);
      }),
      2_000,
    );
  });
});
