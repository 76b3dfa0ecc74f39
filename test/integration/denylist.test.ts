// Proves the denylist against a real node and real Redis: a card of a program that sells offline is
// listed in the same commit that freezes it (or takes it past its debt threshold) and removed when
// that ends; a terminal that holds nothing gets a snapshot, paged, then only the changes since the
// versions it holds, paged without a gap; a terminal further behind than the shards keep changes
// (TAPLINE_DENYLIST_LOG_PER_SHARD_MAX, small here) gets a snapshot again; what it holds after
// applying the pages is exactly the cards listed in Redis; a card's listing history keeps its last
// 16 changes; the acknowledgement records how far behind the terminal was; a page token this
// service did not issue is INVALID_ARGUMENT.

import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { TaplineClient } from '../../tools/client/tapline-client';
import { CardClient, programConfig } from '../../tools/client/card-client';
import { OfflineClient } from '../../tools/client/offline-client';
import { generateTerminalKey } from '../../tools/offline-terminal/simulator';
import { CardStatus } from '../../gen/tapline/v1/types';
import { shardOf } from '../../actors/sharding/shard-key';
import { denylistPrefix } from '../../services/authorizer/store/keys';
import { accessTo, startInProcessNode, startTestRedis, test_shard_count } from '../support/harness';
import { createClient } from 'redis';

const program = 'deny-fest';

/** What a terminal holds after applying pages from `since` until no more: its versions, its listed cards, and the pages read. */
async function follow(
  offline: OfflineClient,
  since: bigint[],
  listed: Map<string, string>,
  pageSize: number,
): Promise<{ to: bigint[]; pages: number; snapshot: boolean; changes: number }> {
  let token = '';
  let pages = 0;
  let changes = 0;
  let snapshot = false;
  for (;;) {
    const page = await offline.delta('deny-t', since, token, pageSize);
    pages += 1;
    snapshot ||= page.snapshot;
    if (page.reset) listed.clear();
    for (const change of page.changes) {
      if (change.listed) listed.set(change.cardId, change.reason);
      else listed.delete(change.cardId);
    }
    changes += page.changes.length;
    // A snapshot reads a shard listing few cards (up to 128) whole.
    assert.ok(
      page.changes.length <= (page.snapshot ? pageSize + 128 : pageSize),
      `page of ${page.changes.length} for a size of ${pageSize}`,
    );
    since = page.to;
    token = page.nextPageToken;
    if (!page.more) return { to: since, pages, snapshot, changes };
  }
}

describe('denylist: per-shard versions, deltas, snapshots, acknowledgements (real Redis, real gRPC)', function () {
  this.timeout(120_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let offline: OfflineClient;
  let raw: ReturnType<typeof createClient>;

  /** The cards Redis lists now, across every shard. */
  const listedInRedis = async (): Promise<Map<string, string>> => {
    const listed = new Map<string, string>();
    for (let shard = 0; shard < test_shard_count; shard++) {
      const hash = await raw.hGetAll(`${denylistPrefix(shard)}cards`);
      for (const [card, value] of Object.entries(hash)) listed.set(card, value.slice(value.indexOf(' ') + 1));
    }
    return listed;
  };
  const setStatus = (cardIds: readonly string[], cardStatus: CardStatus) =>
    Promise.all(cardIds.map((id) => client.setCardStatus(id, cardStatus)));

  before(async function () {
    redis = await startTestRedis('denylist');
    node = await startInProcessNode(redis.url, { TAPLINE_DENYLIST_LOG_PER_SHARD_MAX: '16' });
    const access = await accessTo(node);
    client = new TaplineClient(access);
    offline = new OfflineClient(access);
    raw = createClient({ url: redis.url });
    await raw.connect();
    const cards = new CardClient(access);
    await cards.defineProgram(
      program,
      programConfig({ offline: { txnMaxMinor: 1_000n, cardMaxMinor: 2_000n, debtThresholdMinor: 0n, cardCounter: false } }),
    );
    cards.close();
    await client.registerTerminal('deny-t', 'bar-co');
    await offline.setTerminalOffline({
      terminalId: 'deny-t',
      publicKey: generateTerminalKey().spki,
      programIds: [program],
      totalMaxMinor: 10_000,
      currency: 'EUR',
      countMax: 10,
      offlineMaxMs: 60_000,
    });
    await Promise.all(Array.from({ length: 300 }, (_, i) => client.issueCard(`d-${i}`, 1_000, 'EUR', program)));
    await client.issueCard('other-program', 1_000, 'EUR', 'never-offline');
  });

  after(async function () {
    client?.close();
    offline?.close();
    await raw?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('serves a snapshot to a terminal holding nothing, then exactly the changes since, without gaps', async () => {
    await setStatus(
      Array.from({ length: 200 }, (_, i) => `d-${i}`),
      CardStatus.CARD_STATUS_FROZEN,
    );
    await client.setCardStatus('other-program', CardStatus.CARD_STATUS_FROZEN);
    const held = new Map<string, string>();
    const first = await follow(offline, [], held, 50);
    assert.equal(first.snapshot, true);
    assert.ok(first.pages >= 4, `200 cards in pages of 50: ${first.pages} pages`);
    assert.deepEqual(held, await listedInRedis(), 'the snapshot is what Redis lists');
    assert.equal(held.size, 200, 'cards of a program that sells nothing offline are never listed');
    await setStatus(['d-0', 'd-1', 'd-2', 'd-3', 'd-4'], CardStatus.CARD_STATUS_ACTIVE);
    await setStatus(['d-250', 'd-251', 'd-252', 'd-253', 'd-254'], CardStatus.CARD_STATUS_FROZEN);
    const delta = await follow(offline, first.to, held, 3);
    assert.deepEqual([delta.snapshot, delta.changes, delta.pages], [false, 10, 4]);
    assert.deepEqual(held, await listedInRedis());
    assert.equal(held.has('d-0'), false);
    assert.equal(held.get('d-250'), 'frozen');
    const ack = await offline.ack('deny-t', delta.to, 0);
    assert.equal(ack.behind, 0n);
    const terminal = await offline.terminalOffline('deny-t');
    assert.equal(
      terminal.denylistAckedVersion,
      delta.to.reduce((sum, v) => sum + v, 0n),
    );
    const stale = await offline.ack('deny-t', first.to, 0);
    assert.equal(stale.behind, 10n, 'an acknowledgement of older versions says how far behind they are');
  });

  it('serves a snapshot again to a terminal further behind than the shards keep changes', async () => {
    const held = new Map<string, string>();
    const { to } = await follow(offline, [], held, 10_000);
    // One shard's cards change past the 16 changes it keeps.
    const shard = shardOf('card', 'd-0', test_shard_count);
    const sameShard = Array.from({ length: 300 }, (_, i) => `d-${i}`).filter((id) => shardOf('card', id, test_shard_count) === shard);
    for (let round = 0; round < 3; round++) {
      await setStatus(sameShard, CardStatus.CARD_STATUS_FROZEN);
      await setStatus(sameShard, CardStatus.CARD_STATUS_ACTIVE);
    }
    assert.ok(sameShard.length * 6 > 16, `${sameShard.length * 6} changes on shard ${shard}`);
    const behind = await follow(offline, to, held, 10_000);
    assert.equal(behind.snapshot, true);
    assert.deepEqual(held, await listedInRedis());
    assert.equal(await raw.zCard(`${denylistPrefix(shard)}log`), 16, 'the log keeps its last 16 changes');
    for (let round = 0; round < 10; round++) {
      await client.setCardStatus('d-299', CardStatus.CARD_STATUS_FROZEN);
      await client.setCardStatus('d-299', CardStatus.CARD_STATUS_ACTIVE);
    }
    const history = (await raw.hGet(`${denylistPrefix(shardOf('card', 'd-299', test_shard_count))}hist`, 'd-299')) ?? '';
    const transitions = history.split(',');
    assert.equal(transitions.length, 16, `a card's history keeps its last 16 changes: ${history}`);
    assert.match(transitions[15] ?? '', /^[0-9]+:$/, 'the last change took it off the list');
  });

  it('refuses a page token it did not issue', async () => {
    await assert.rejects(offline.delta('deny-t', [], 'not-a-token'), (error: grpc.ServiceError) => {
      assert.equal(error.code, status.INVALID_ARGUMENT);
      return true;
    });
  });
});
