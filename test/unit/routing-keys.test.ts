// Proves the cluster routing table (services/authorizer/cluster/routing-keys.ts): every unary
// method of the public and admin services declares how its routing key is found (a method added
// without an entry fails here, instead of silently running on whichever node received it), the
// keys are the card or terminal ids of the requests, and a method without an entry routes nowhere.

import assert from 'node:assert/strict';
import { AdminServiceService } from '../../gen/tapline/v1/admin';
import { AuthorizationServiceService } from '../../gen/tapline/v1/authorization';
import { CardServiceService } from '../../gen/tapline/v1/cards';
import { FleetAdminServiceService } from '../../gen/tapline/v1/fleet';
import { routing_keys, routingKeyOf } from '../../services/authorizer/cluster/routing-keys';
import { CardFanoutServiceService } from '../../gen/tapline/internal/v1/fanout';
import { purchase } from '../../tools/client/tapline-client';

describe('cluster routing keys', () => {
  it('every unary public, admin and internal fan-out method has a routing key entry', () => {
    const services = [
      AuthorizationServiceService,
      AdminServiceService,
      CardServiceService,
      FleetAdminServiceService,
      CardFanoutServiceService,
    ];
    for (const service of services) {
      for (const [name, method] of Object.entries(service)) {
        if (method.requestStream || method.responseStream) continue;
        assert.ok(routing_keys.has(method.path), `${name} (${method.path}) declares its routing key`);
      }
    }
  });

  it('money and card methods route by card id, terminal administration by terminal id', () => {
    assert.equal(routingKeyOf(AuthorizationServiceService.authorize.path, purchase('till-1', 1, 'card-9', 100)), 'card-9');
    assert.equal(routingKeyOf(AuthorizationServiceService.getBalance.path, { cardId: 'card-3' }), 'card-3');
    assert.equal(routingKeyOf(AdminServiceService.issueCard.path, { cardId: 'card-4' }), 'card-4');
    assert.equal(routingKeyOf(AdminServiceService.registerTerminal.path, { terminalId: 'till-2', merchantId: 'm' }), 'till-2');
    assert.equal(routingKeyOf(AdminServiceService.setTerminalEnabled.path, { terminalId: 'till-3', enabled: false }), 'till-3');
  });

  it('fleet cards route by their fleet account, so card and account share an owner', () => {
    assert.equal(routingKeyOf(AuthorizationServiceService.authorize.path, purchase('pump-1', 1, 'acme~0042', 100)), 'acme');
    assert.equal(routingKeyOf(FleetAdminServiceService.getFleetCard.path, { cardId: 'acme~0042' }), 'acme');
    assert.equal(routingKeyOf(FleetAdminServiceService.getFleetAccount.path, { fleetId: 'acme' }), 'acme');
    assert.equal(routingKeyOf(CardServiceService.defineProgram.path, { programId: 'fest-26' }), 'fest-26');
  });

  it('ListBalances reads stored states from Redis: it has an entry without a key (runs where it arrives)', () => {
    assert.ok(routing_keys.has(AdminServiceService.listBalances.path));
    assert.equal(routingKeyOf(AdminServiceService.listBalances.path, { pageToken: '', pageSize: 7 }), '');
  });

  it('a method without an entry, or a missing key, routes nowhere (runs where it arrives)', () => {
    assert.equal(routingKeyOf('/tapline.v1.AuthorizationService/Unknown', { cardId: 'x' }), '');
    assert.equal(routingKeyOf(AuthorizationServiceService.getBalance.path, {}), '');
  });

  it('a PSP callback routes by the card its payload names; an unreadable payload routes nowhere', () => {
    const path = CardServiceService.handlePspCallback.path;
    assert.equal(routingKeyOf(path, { payload: JSON.stringify({ reference: 'r', card: 'card-7' }), signature: 'x' }), 'card-7');
    assert.equal(routingKeyOf(path, { payload: JSON.stringify({ card: 'acme~0001' }), signature: 'x' }), 'acme');
    const oversized = JSON.stringify({ card: 'card-7', padding: 'x'.repeat(5_000) });
    for (const payload of ['not json', '[]', 'null', '{"card":42}', '{}', oversized])
      assert.equal(routingKeyOf(path, { payload, signature: 'x' }), '', payload);
  });

  it('fan-out calls of bulk issuance and the refund run route by each card', () => {
    assert.equal(routingKeyOf(CardFanoutServiceService.issueBulkCard.path, { cardId: 'bulk-1', issuanceId: 'iss-1' }), 'bulk-1');
    assert.equal(
      routingKeyOf(CardFanoutServiceService.refundRunCashOut.path, { cardId: 'acme~0002', runId: 'r', operatorId: 'ops' }),
      'acme',
    );
  });
});
