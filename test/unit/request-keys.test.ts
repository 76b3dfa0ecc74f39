// Proves the separation of request-key namespaces (actors/request-keys.ts): no key a client may
// choose (any text the gRPC boundary accepts as a client key) ever equals a system key (a PSP
// top-up, a tab settlement, a refund run's cash-out, an operator's credit, a fleet payment), whatever the texts on
// both sides; client keys in a system namespace are refused before they become keys; and the
// stored forms are the documented ones (records already in Redis keep being found).

import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  clientKey,
  fleetPaymentKey,
  isClientKeyAllowed,
  manualCreditKey,
  pspTopUpKey,
  refundRunKey,
  system_key_namespaces,
  tabSettlementKey,
  terminalTxnKey,
} from '../../actors/request-keys';
import { announceSeed, assertProperty } from './fast-check-seed';

/** What the boundary accepts as a client key's text: 1-128 of [A-Za-z0-9._:-]. */
const key_text = fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/);
const namespace_first = fc.tuple(fc.constantFrom(...system_key_namespaces), fc.stringMatching(/^[A-Za-z0-9._:-]{0,100}$/));

describe('request keys: client and system namespaces', () => {
  before(() => announceSeed('request keys'));

  it('keeps the stored forms', () => {
    assert.equal(terminalTxnKey('till-1', 42n), 't:till-1:42');
    assert.equal(clientKey('return-7'), 'k:return-7');
    assert.equal(pspTopUpKey('ref-1'), 'k:psp:ref-1');
    assert.equal(tabSettlementKey('inv-1'), 'k:tab:inv-1');
    assert.equal(refundRunKey('run-1', 'card-1'), 'k:refund-run:run-1:card-1');
    assert.equal(manualCreditKey('goodwill-1'), 'k:credit:goodwill-1');
    assert.equal(fleetPaymentKey('acme', 'bank-77'), 'k:fleet-payment:acme:bank-77');
  });

  it('refuses a client key that starts with a system namespace and ":", and only those', () => {
    for (const namespace of system_key_namespaces) {
      assert.equal(isClientKeyAllowed(`${namespace}:x`), false, namespace);
      assert.throws(() => clientKey(`${namespace}:x`), /system namespace/);
      assert.equal(isClientKeyAllowed(namespace), true, `${namespace} alone is no system key`);
      assert.equal(isClientKeyAllowed(`x${namespace}:x`), true);
    }
  });

  it('no allowed client key equals any system key', () => {
    assertProperty(
      fc.property(key_text, key_text, key_text, (client, a, b) => {
        fc.pre(isClientKeyAllowed(client));
        const key = clientKey(client);
        for (const system of [pspTopUpKey(a), tabSettlementKey(a), refundRunKey(a, b), manualCreditKey(a), fleetPaymentKey(a, b)])
          assert.notEqual(key, system, `client key ${client} took ${system}`);
      }),
      2_000,
    );
  });

  it('every text that would collide with a system key is refused', () => {
    assertProperty(
      fc.property(namespace_first, ([namespace, rest]) => {
        assert.equal(isClientKeyAllowed(`${namespace}:${rest}`), false);
      }),
      1_000,
    );
  });
});
