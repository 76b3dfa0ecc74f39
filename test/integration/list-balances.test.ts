// Proves AdminService.ListBalances (services/authorizer/store/balances.ts) on a real node, real
// Redis and real gRPC over a socket. 400 stored-value cards issued through the API land on every
// one of the 64 shards, next to two fleet accounts with three fleet cards (one account owing a
// purchase) and one card whose stored state is damaged. Read in pages of 7 entries, then with the
// default page size, then through a second node on the same Redis: every card and fleet account is
// listed exactly once with its stored balance, program and fleet, the damaged card as unreadable;
// no page holds more entries than asked for and only the last page has no next token. A page token
// this method did not issue, and a page size over 1,000, are INVALID_ARGUMENT and leave Redis
// byte for byte unchanged.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { operatorChannel } from '../../tools/client/access';
import { shardOf } from '../../actors/sharding/shard-key';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { cardKey } from '../../services/authorizer/store/keys';
import { TaplineClient } from '../../tools/client/tapline-client';
import { FleetClient, fleetPurchase } from '../../tools/client/fleet-client';
import type { RedisInstance } from '../../tools/devenv/redis';
import {
  AdminServiceClient,
  type ListBalancesRequest,
  type ListBalancesResponse,
  type StoredCardBalance,
  type StoredFleetAccountBalance,
} from '../../gen/tapline/v1/admin';
import { Outcome } from '../../gen/tapline/v1/types';
import { startInProcessNode, startTestRedis, test_shard_count, waitFor, accessTo } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const card_count = 400;
/** Far more pages than any listing here takes: a token that never ends fails the test instead of hanging it. */
const pages_max = 10_000;

const cardIdOf = (i: number): string => `lb-${i}`;

function listBalances(client: AdminServiceClient, request: ListBalancesRequest): Promise<ListBalancesResponse> {
  return new Promise((resolve, reject) => {
    client.listBalances(request, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

interface Listing {
  readonly pages: ListBalancesResponse[];
  readonly cards: StoredCardBalance[];
  readonly fleetAccounts: StoredFleetAccountBalance[];
}

async function listAll(client: AdminServiceClient, pageSize: number): Promise<Listing> {
  const pages: ListBalancesResponse[] = [];
  let pageToken = '';
  do {
    assert.ok(pages.length < pages_max, `expected the listing to end within ${pages_max} pages`);
    const page = await listBalances(client, { pageToken, pageSize });
    pages.push(page);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return { pages, cards: pages.flatMap((page) => page.cards), fleetAccounts: pages.flatMap((page) => page.fleetAccounts) };
}

/** Each id with how often the listing named it. */
function counted(ids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

describe('AdminService.ListBalances (real node, real Redis, real gRPC)', function () {
  this.timeout(120_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let fleet: FleetClient;
  let admin: AdminServiceClient;
  let inspect: Inspector;
  const expectedCards = new Map<string, Omit<StoredCardBalance, 'cardId'>>();
  const expectedFleets = new Map<string, Omit<StoredFleetAccountBalance, 'fleetId'>>();

  before(async function () {
    redis = await startTestRedis('list-balances');
    node = await startInProcessNode(redis.url);
    const access = await accessTo(node);
    client = new TaplineClient(access);
    fleet = new FleetClient(access);
    // Reconciliation's own principal: the reports service's role (the policy's first for ListBalances).
    admin = new AdminServiceClient(...operatorChannel(access));
    inspect = await connectInspector(redis.url);

    for (let start = 0; start < card_count; start += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, offset) => {
          const i = start + offset;
          const currency = i % 3 === 0 ? 'CHF' : 'EUR';
          const programId = i % 2 === 0 ? 'lb-fest' : 'lb-bar';
          await client.issueCard(cardIdOf(i), 10 * i + 1, currency, programId);
          expectedCards.set(cardIdOf(i), {
            programId,
            balance: { amountMinor: BigInt(10 * i + 1), currency },
            fleetId: '',
            unreadable: false,
          });
        }),
      );
    }
    const shards = new Set([...expectedCards.keys()].map((cardId) => shardOf('card', cardId, test_shard_count)));
    assert.equal(shards.size, test_shard_count, 'the cards lie on every shard');

    await client.registerTerminal('lb-pump', 'lb-station');
    for (const [fleetId, cards] of [
      ['lb-fleet-a', 2],
      ['lb-fleet-b', 1],
    ] as const) {
      await fleet.createAccount({ fleetId, creditLimitMinor: 1_000_000, timeZone: 'Europe/Berlin' });
      for (let n = 1; n <= cards; n++) {
        const issued = await fleet.issueCard({
          fleetId,
          cardNo: String(n),
          limits: undefined,
          productGroups: undefined,
          operatorId: 'ops',
        });
        const cardId = issued.card?.cardId ?? '';
        expectedCards.set(cardId, { programId: '', balance: undefined, fleetId, unreadable: false });
      }
    }
    const bought = await client.authorize(
      fleetPurchase('lb-pump', 1, 'lb-fleet-a~1', [{ code: 'diesel', group: 'fuel', qtyMilli: 8_000, unitMinor: 154, amountMinor: 1_234 }]),
    );
    assert.equal(bought.outcome, Outcome.OUTCOME_APPROVED, 'the fleet purchase is approved');
    expectedFleets.set('lb-fleet-a', { balance: { amountMinor: -1_234n, currency: 'EUR' }, unreadable: false });
    expectedFleets.set('lb-fleet-b', { balance: { amountMinor: 0n, currency: 'EUR' }, unreadable: false });

    // A record damaged outside Tapline: listed, and flagged, never given a guessed balance.
    await inspect.client.hSet(cardKey(shardOf('card', 'lb-damaged', test_shard_count), 'lb-damaged'), { v: '1', d: '{"balanceMinor":' });
    expectedCards.set('lb-damaged', { programId: '', balance: undefined, fleetId: '', unreadable: true });
  });

  after(async function () {
    admin?.close();
    client?.close();
    fleet?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  /** Every card and fleet account exactly once, with what was stored. */
  function assertComplete(listing: Listing, how: string): void {
    const cardCounts = counted(listing.cards.map((card) => card.cardId));
    const repeated = [...cardCounts].filter(([, count]) => count !== 1);
    assert.deepEqual(repeated, [], `${how}: every card listed once`);
    assert.deepEqual([...cardCounts.keys()].sort(), [...expectedCards.keys()].sort(), `${how}: exactly the stored cards`);
    for (const card of listing.cards)
      assert.deepEqual(card, { cardId: card.cardId, ...expectedCards.get(card.cardId) }, `${how}: ${card.cardId}`);
    const fleetCounts = counted(listing.fleetAccounts.map((account) => account.fleetId));
    assert.deepEqual(
      [...fleetCounts].sort(),
      [...expectedFleets.keys()].sort().map((id) => [id, 1]),
      `${how}: every fleet account once`,
    );
    for (const account of listing.fleetAccounts)
      assert.deepEqual(account, { fleetId: account.fleetId, ...expectedFleets.get(account.fleetId) }, `${how}: ${account.fleetId}`);
  }

  function assertPaged(listing: Listing, pageSize: number, how: string): void {
    listing.pages.forEach((page, index) => {
      const entries = page.cards.length + page.fleetAccounts.length;
      assert.ok(entries <= pageSize, `${how}: page ${index} holds ${entries} entries, expected at most ${pageSize}`);
      const last = index === listing.pages.length - 1;
      assert.equal(page.nextPageToken === '', last, `${how}: page ${index} of ${listing.pages.length} ${last ? 'ends' : 'goes on'}`);
    });
  }

  it('pages of 7 entries list every card and fleet account exactly once, with its stored balance', async function () {
    const listing = await listAll(admin, 7);
    assertPaged(listing, 7, 'pages of 7');
    const entries = expectedCards.size + expectedFleets.size;
    assert.ok(listing.pages.length >= Math.ceil(entries / 7), `at least ${Math.ceil(entries / 7)} pages, saw ${listing.pages.length}`);
    assertComplete(listing, 'pages of 7');
  });

  it('page size 0 means 1,000: the same listing in far fewer pages', async function () {
    const listing = await listAll(admin, 0);
    assertPaged(listing, 1_000, 'default page size');
    assert.ok(listing.pages.length < 10, `a handful of pages, saw ${listing.pages.length}`);
    assertComplete(listing, 'default page size');
  });

  it('any node answers: a second node on the same Redis lists the same', async function () {
    const other = await startInProcessNode(redis.url, { TAPLINE_NODE_ID: 'lb-other' });
    const otherAdmin = new AdminServiceClient(...operatorChannel(await accessTo(other)));
    try {
      const listing = await listAll(otherAdmin, 50);
      assertPaged(listing, 50, 'second node');
      assertComplete(listing, 'second node');
    } finally {
      otherAdmin.close();
      await other.shutdown();
    }
    // The first node takes back the shards the second one held: settled before Redis is compared below.
    await waitFor(
      'the first node holds every shard again',
      () => node.coordinator.heldCount === test_shard_count,
      () => `${node.coordinator.heldCount} of ${test_shard_count} shards held`,
    );
  });

  it('a page token it did not issue, or a page size over 1,000, is INVALID_ARGUMENT and changes nothing', async function () {
    const first = await listBalances(admin, { pageToken: '', pageSize: 7 });
    assert.notEqual(first.nextPageToken, '', 'a first page with a token to go on');
    const token = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');
    const before = await inspect.snapshot();
    const refused: [string, ListBalancesRequest][] = [
      ['not base64url', { pageToken: 'not a token!', pageSize: 7 }],
      ['an unknown version', { pageToken: token('v2:card:0'), pageSize: 7 }],
      ['an unknown key family', { pageToken: token('v1:terminal:0'), pageSize: 7 }],
      ['a cursor that is not a number', { pageToken: token('v1:card:abc'), pageSize: 7 }],
      ['a cursor with a leading zero', { pageToken: token('v1:card:012'), pageSize: 7 }],
      ['a cursor past 2^64 - 1', { pageToken: token('v1:card:18446744073709551616'), pageSize: 7 }],
      ['a negative cursor', { pageToken: token('v1:card:-1'), pageSize: 7 }],
      ['an issued token with a character appended', { pageToken: `${first.nextPageToken}A`, pageSize: 7 }],
      ['an issued token with padding', { pageToken: `${first.nextPageToken}=`, pageSize: 7 }],
      ['an oversized token', { pageToken: 'A'.repeat(4_096), pageSize: 7 }],
      ['page size 1,001', { pageToken: '', pageSize: 1_001 }],
      ['page size 2^32 - 1', { pageToken: first.nextPageToken, pageSize: 4_294_967_295 }],
    ];
    for (const [name, request] of refused) {
      await assert.rejects(
        listBalances(admin, request),
        (error: grpc.ServiceError) => {
          assert.equal(error.code, grpc.status.INVALID_ARGUMENT, `${name}: ${error.code} ${error.details}`);
          return true;
        },
        name,
      );
    }
    assert.equal(await inspect.snapshot(), before, 'Redis unchanged');
    const next = await listBalances(admin, { pageToken: first.nextPageToken, pageSize: 7 });
    assert.ok(next.cards.length + next.fleetAccounts.length <= 7, 'the issued token still reads on');
  });
});
