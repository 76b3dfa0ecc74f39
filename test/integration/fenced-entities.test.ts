// Proves that every entity kind answers a commit fenced by Redis the same way: "shard moved",
// the failure the cluster router retries on the shard's new owner with the same request. A node
// whose coordinator is paused still believes it holds a shard while another holder has taken it
// (its epoch incremented in Redis); each kind's write (card, terminal, fleet account, fleet card
// purchase) must then be refused as "shard moved" and leave Redis unchanged. Real Redis, a real
// in-process node, the region's own entry points.

import assert from 'node:assert/strict';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { isShardMoved, type Outcome } from '../../actors/errors';
import { fleetCardId, shardOf } from '../../actors/sharding/shard-key';
import { fleetFingerprint, type FleetMoneyRequest } from '../../actors/fleet/transaction';
import { fingerprintOf, type MoneyRequest } from '../../actors/card/transaction';
import { startInProcessNode, startTestRedis, test_shard_count, test_acting } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const outcomeOf = <T>(start: (reply: (outcome: Outcome<T>) => void) => void): Promise<Outcome<T>> =>
  new Promise((resolve) => start(resolve));

function assertMoved(outcome: Outcome<unknown>, what: string): void {
  assert.ok(!outcome.ok, `${what}: expected a refusal, got ${JSON.stringify(outcome)}`);
  assert.ok(isShardMoved(outcome.error), `${what}: expected "shard moved", got ${outcome.error.code}: ${outcome.error.message}`);
}

describe('a fenced commit answers "shard moved" for every entity kind (real Redis)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let inspect: Inspector;

  before(async function () {
    redis = await startTestRedis('fenced-entities');
    node = await startInProcessNode(redis.url, { TAPLINE_PIN_SECRET: 'fenced-entities-pin-secret' });
    inspect = await connectInspector(redis.url);
  });

  after(async function () {
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  /** Another holder takes the shard behind the node's back: the node's epoch is now stale. */
  async function takeBehindTheNodesBack(shard: number): Promise<void> {
    node.coordinator.stop();
    const epoch = await inspect.client.incr(`tl:{s${shard}}:epoch`);
    await inspect.client.set(`tl:{s${shard}}:lease`, `X|${epoch}`, { PX: 60_000 });
  }

  it('card, terminal, fleet account and fleet purchase: each refused as shard moved, nothing written', async () => {
    const { region } = node;
    const nowMs = Date.now();
    // Everything on one shard (found by id), created while the node still holds it.
    const shard = shardOf('fleet', 'fenced-fleet', test_shard_count);
    const sameShard = (kind: 'card' | 'terminal', prefix: string): string => {
      for (let i = 0; ; i++) if (shardOf(kind, `${prefix}-${i}`, test_shard_count) === shard) return `${prefix}-${i}`;
    };
    const cardId = sameShard('card', 'fenced-card');
    const terminalId = sameShard('terminal', 'fenced-till');
    const fleetId = 'fenced-fleet';
    const fleetCard = fleetCardId(fleetId, '1');

    assert.ok(
      (
        await outcomeOf((reply) =>
          region.changeTerminal(terminalId, { type: 'register', terminalId, merchantId: 'm-1', location: '' }, test_acting, reply),
        )
      ).ok,
    );
    assert.ok(
      (
        await outcomeOf((reply) =>
          region.issueCard({ cardId, currency: 'EUR', initialBalanceMinor: 1_000, programId: 'p', nowMs }, test_acting, reply),
        )
      ).ok,
    );
    const created = await outcomeOf((reply) =>
      region.tellFleet(fleetId, {
        type: 'account',
        command: { type: 'create', currency: 'EUR', creditLimitMinor: 100_000, timeZone: 'UTC', nowMs },
        operatorId: 'ops',
        reply,
        attempt: 0,
      }),
    );
    assert.ok(created.ok, JSON.stringify(created));
    const issued = await outcomeOf((reply) =>
      region.tellFleet(fleetId, {
        type: 'card',
        cardId: fleetCard,
        command: { type: 'issue', allowedGroups: undefined, limits: {}, nowMs },
        operatorId: 'ops',
        reply,
        attempt: 0,
      }),
    );
    assert.ok(issued.ok, JSON.stringify(issued));

    await takeBehindTheNodesBack(shard);
    const before = await inspect.snapshot();
    try {
      const base = { terminalId, currency: 'EUR', source: '', operatorId: '', originalKey: '' };
      const purchase: Omit<MoneyRequest, 'fingerprint'> = { ...base, kind: 'purchase', key: `t:${terminalId}:1`, cardId, amountMinor: 100 };
      assertMoved(await outcomeOf((reply) => region.money({ ...purchase, fingerprint: fingerprintOf(purchase) }, reply)), 'card purchase');
      assertMoved(
        await outcomeOf((reply) => region.changeTerminal(terminalId, { type: 'set_enabled', enabled: false }, test_acting, reply)),
        'terminal change',
      );
      assertMoved(
        await outcomeOf((reply) =>
          region.tellFleet(fleetId, {
            type: 'account',
            command: { type: 'set_limits', creditLimitMinor: 50_000, limits: {} },
            operatorId: 'ops',
            reply,
            attempt: 0,
          }),
        ),
        'fleet account change',
      );
      const fleetPurchase: Omit<FleetMoneyRequest, 'fingerprint'> = {
        ...base,
        kind: 'purchase',
        key: `t:${terminalId}:2`,
        cardId: fleetCard,
        amountMinor: 500,
        fleet: { fleetId, lines: [], prompts: { odometer_km: 0, driver_id: '', vehicle_id: '' } },
      };
      assertMoved(
        await outcomeOf((reply) => region.money({ ...fleetPurchase, fingerprint: fleetFingerprint(fleetPurchase) }, reply)),
        'fleet card purchase',
      );
      assert.equal(await inspect.snapshot(), before, 'a fenced writer wrote nothing');
    } finally {
      node.coordinator.resume();
    }
  });
});
