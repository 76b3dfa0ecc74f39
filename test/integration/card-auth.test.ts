// Proves anti-cloning end to end on two real nodes, real Redis and real gRPC, with an NFC card the
// test emulates (its key diversified from the program's master key, its own counter): a genuine
// card pays; its cryptogram, replayed from another terminal on another node as a clone would, is
// declined CARD_AUTH_FAILED and flags the card, and the genuine card keeps paying; forged
// cryptograms (a wrong MAC, one made for another amount or another card) are declined and flagged,
// a missing one is declined without a flag; one cryptogram presented at two terminals at once is
// approved once; the counter is stored in the card's record and read back after the
// card's actor was passivated and through a cancelled issuance and a new issue; a
// re-personalized card moves to a new key, under which old cryptograms no longer verify; and
// malformed cryptograms or unknown keys change nothing.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { AuthorizationKind, DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import type { AuthorizeRequest } from '../../gen/tapline/v1/authorization';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, programConfig } from '../../tools/client/card-client';
import { cardCryptogram } from '../../services/authorizer/usecases/card-auth';
import { shardOf } from '../../actors/sharding/shard-key';
import { cardKey } from '../../services/authorizer/store/keys';
import { accessTo, startInProcessNode, startTestRedis, test_shard_count, waitFor } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const key_1 = '00112233445566778899aabbccddeeff';
const key_2 = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';

const fast_cluster = {
  TAPLINE_CLUSTER_TICK_MS: '50',
  TAPLINE_MEMBER_TTL_MS: '500',
  TAPLINE_SHARD_LEASE_MS: '500',
  TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '400',
  TAPLINE_TERMINAL_CACHE_MS: '200',
  TAPLINE_ROUTE_WAIT_MAX_MS: '5000',
};

/** An NFC card as personalized: its id, its program's master key (it holds only the diversified key), its counter. */
class NfcCard {
  private counter = 0;
  constructor(
    readonly cardId: string,
    private master: string,
  ) {}

  /** What the card computes when a terminal asks it to authorize a payment. */
  tap(amountMinor: number, currency = 'EUR'): { counter: number; mac: Buffer } {
    this.counter += 1;
    const mac = cardCryptogram(Buffer.from(this.master, 'hex'), { cardId: this.cardId, counter: this.counter, amountMinor, currency });
    return { counter: this.counter, mac };
  }

  /** Re-personalized with another master key's diversified key (its counter goes on). */
  rekey(master: string): void {
    this.master = master;
  }
}

describe('anti-cloning: cards that authenticate (two nodes, real Redis and gRPC)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let a: AuthorizerNode;
  let b: AuthorizerNode;
  let viaA: TaplineClient;
  let viaB: TaplineClient;
  let cards: CardClient;
  let inspect: Inspector;
  let txn = 0;
  let seq = 0;

  const withCryptogram = (request: AuthorizeRequest, cryptogram: { counter: number; mac: Buffer } | undefined): AuthorizeRequest =>
    cryptogram === undefined ? request : { ...request, cardCryptogram: cryptogram };
  const pay = (via: TaplineClient, terminal: string, card: string, amount: number, cryptogram?: { counter: number; mac: Buffer }) =>
    via.authorize(withCryptogram(purchase(terminal, ++txn, card, amount), cryptogram));
  const balanceOf = async (cardId: string): Promise<bigint> => (await viaA.balance(cardId)).balance?.amountMinor ?? -1n;

  const issueNfc = async (balance: number): Promise<NfcCard> => {
    const cardId = `nfc-${++seq}`;
    await cards.issue({
      cardId,
      params: {
        initialBalance: { amountMinor: BigInt(balance), currency: 'EUR' },
        programId: 'nfc-fest',
        deposit: undefined,
        expiresAtUnixMs: 0n,
      },
      holder: undefined,
      pin: '',
      operatorId: 'ops',
    });
    return new NfcCard(cardId, key_1);
  };

  before(async function () {
    redis = await startTestRedis('card-auth');
    // Idle actors are passivated after a second, so a test can see a card reloaded from Redis.
    const env = {
      ...fast_cluster,
      TAPLINE_CARD_AUTH_KEYS: `fest-1:${key_1},fest-2:${key_2}`,
      TAPLINE_PASSIVATE_AFTER_MS: '1000',
      TAPLINE_PASSIVATION_SWEEP_MS: '100',
    };
    a = await startInProcessNode(redis.url, { ...env, TAPLINE_NODE_ID: 'A' });
    b = await startInProcessNode(redis.url, { ...env, TAPLINE_NODE_ID: 'B' });
    await waitFor(
      'two members hold their shards',
      () => a.coordinator.heldCount + b.coordinator.heldCount === test_shard_count && b.coordinator.heldCount > 0,
      () => `A holds ${a.coordinator.heldCount}, B holds ${b.coordinator.heldCount}`,
      10_000,
    );
    viaA = new TaplineClient(await accessTo(a));
    viaB = new TaplineClient(await accessTo(b));
    cards = new CardClient(await accessTo(a));
    inspect = await connectInspector(redis.url);
    await viaA.registerTerminal('bar-1', 'bar');
    await viaA.registerTerminal('bar-2', 'bar');
    await cards.defineProgram('nfc-fest', { ...programConfig(), cardAuthKeyId: 'fest-1' });
  });

  after(async function () {
    viaA.close();
    viaB.close();
    cards.close();
    await inspect.close();
    await a.shutdown();
    await b.shutdown();
    await redis.stop();
  });

  it("a cloned card's cryptogram replayed from another terminal is declined and flags the card; the genuine card pays on", async () => {
    const card = await issueNfc(10_000);
    const issued = await cards.getCard(card.cardId);
    assert.deepEqual(
      [issued.card?.auth?.keyId, issued.card?.auth?.counter, issued.card?.auth?.flags],
      ['fest-1', 0, 0],
      'issued under the program key',
    );
    const captured = card.tap(2_500);
    assert.equal((await pay(viaA, 'bar-1', card.cardId, 2_500, captured)).outcome, Outcome.OUTCOME_APPROVED);
    // The clone carries what was skimmed at bar-1 and pays at bar-2, through the other node.
    const replay = await pay(viaB, 'bar-2', card.cardId, 2_500, captured);
    assert.equal(replay.outcome, Outcome.OUTCOME_DECLINED);
    assert.equal(replay.declineReason, DeclineReason.DECLINE_REASON_CARD_AUTH_FAILED);
    assert.equal(replay.declineRule, 'card_auth:replayed');
    assert.equal(await balanceOf(card.cardId), 7_500n, 'the replay moved nothing');
    const flagged = (await cards.getCard(card.cardId)).card?.auth;
    assert.deepEqual([flagged?.flags, flagged?.lastFlagReason, flagged?.lastFlagTerminalId], [1, 'replayed', 'bar-2']);
    assert.equal((await pay(viaB, 'bar-2', card.cardId, 1_000, card.tap(1_000))).outcome, Outcome.OUTCOME_APPROVED, 'the genuine card');
    assert.equal(await balanceOf(card.cardId), 6_500n);
  });

  it('a forged, misdirected or missing cryptogram is declined; forged ones flag the card, a missing one does not', async () => {
    const card = await issueNfc(10_000);
    const other = await issueNfc(10_000);
    const decline = async (cryptogram: { counter: number; mac: Buffer } | undefined, amount = 300): Promise<string> => {
      const answer = await pay(viaA, 'bar-1', card.cardId, amount, cryptogram);
      assert.equal(answer.outcome, Outcome.OUTCOME_DECLINED);
      assert.equal(answer.declineReason, DeclineReason.DECLINE_REASON_CARD_AUTH_FAILED);
      return answer.declineRule;
    };
    assert.equal(await decline({ counter: 50, mac: Buffer.alloc(8, 0x5a) }), 'card_auth:cryptogram', 'a made-up MAC');
    assert.equal(await decline(card.tap(100)), 'card_auth:cryptogram', 'a cryptogram for 1.00 presented for 3.00');
    assert.equal(await decline(other.tap(300)), 'card_auth:cryptogram', "another card's cryptogram");
    assert.equal((await cards.getCard(card.cardId)).card?.auth?.flags, 3);
    assert.equal(await decline(undefined), 'card_auth:missing', 'a clone that cannot compute a cryptogram');
    assert.equal((await cards.getCard(card.cardId)).card?.auth?.flags, 3, 'a missing cryptogram is not counted');
    assert.equal(await balanceOf(card.cardId), 10_000n);
    assert.equal((await pay(viaA, 'bar-1', card.cardId, 300, card.tap(300))).outcome, Outcome.OUTCOME_APPROVED);
  });

  it('one cryptogram presented at two terminals at once is approved once', async () => {
    for (let round = 0; round < 5; round++) {
      const card = await issueNfc(1_000);
      const cryptogram = card.tap(400);
      const answers = await Promise.all([
        pay(viaA, 'bar-1', card.cardId, 400, cryptogram),
        pay(viaB, 'bar-2', card.cardId, 400, cryptogram),
      ]);
      assert.equal(answers.filter((x) => x.outcome === Outcome.OUTCOME_APPROVED).length, 1, `round ${round}`);
      assert.equal(await balanceOf(card.cardId), 600n);
    }
  });

  it('the counter is stored with the card (its current layout) and holds after the actor was passivated', async () => {
    const card = await issueNfc(5_000);
    const kept = card.tap(100);
    assert.equal((await pay(viaA, 'bar-1', card.cardId, 100, kept)).outcome, Outcome.OUTCOME_APPROVED);
    const record = await inspect.client.hGet(cardKey(shardOf('card', card.cardId, test_shard_count), card.cardId), 'd');
    assert.match(String(record), /^\{"v":4,/);
    assert.equal((JSON.parse(String(record)) as { auth: { counter: number } }).auth.counter, 1);
    await waitFor(
      'the card actors are passivated (idle for a second)',
      () => a.region.cards.size + b.region.cards.size === 0,
      () => `${a.region.cards.size + b.region.cards.size} card actors active`,
      15_000,
    );
    assert.equal((await pay(viaB, 'bar-2', card.cardId, 100, kept)).declineRule, 'card_auth:replayed', 'reloaded from Redis');
  });

  it("a card whose issuance was cancelled and issued again keeps its chip's counter: old cryptograms stay worthless", async () => {
    const card = await issueNfc(0);
    // The cryptogram is good, the purchase is declined for funds: the card moved no money, so its
    // issuance can be cancelled, and the counter it consumed stays consumed.
    const skimmed = card.tap(2_000);
    assert.equal((await pay(viaA, 'bar-1', card.cardId, 2_000, skimmed)).declineRule, 'balance');
    await cards.cancelIssuance(card.cardId);
    await cards.issue({
      cardId: card.cardId,
      params: { initialBalance: { amountMinor: 5_000n, currency: 'EUR' }, programId: 'nfc-fest', deposit: undefined, expiresAtUnixMs: 0n },
      holder: undefined,
      pin: '',
      operatorId: 'ops',
    });
    assert.equal((await cards.getCard(card.cardId)).card?.auth?.counter, 1, 'issued again with the counter its chip reached');
    assert.equal((await pay(viaB, 'bar-2', card.cardId, 2_000, skimmed)).declineRule, 'card_auth:replayed');
    assert.equal((await pay(viaB, 'bar-2', card.cardId, 2_000, card.tap(2_000))).outcome, Outcome.OUTCOME_APPROVED);
  });

  it('a re-personalized card moves to a new key; an unknown key and malformed cryptograms change nothing', async () => {
    const card = await issueNfc(5_000);
    assert.equal((await pay(viaA, 'bar-1', card.cardId, 100, card.tap(100))).outcome, Outcome.OUTCOME_APPROVED);
    const stale = card.tap(100);
    card.rekey(key_2);
    await cards.setCardAuth(card.cardId, 'fest-2', 1);
    assert.equal((await pay(viaA, 'bar-1', card.cardId, 100, stale)).declineRule, 'card_auth:cryptogram', 'the old key no longer verifies');
    assert.equal((await pay(viaA, 'bar-1', card.cardId, 100, card.tap(100))).outcome, Outcome.OUTCOME_APPROVED);
    const before = await inspect.snapshot();
    const refused = async (call: Promise<unknown>, code: grpc.status, what: string): Promise<void> =>
      assert.rejects(call, (e: grpc.ServiceError) => e.code === code, what);
    await refused(cards.setCardAuth(card.cardId, 'fest-9', 0), grpc.status.FAILED_PRECONDITION, 'a key no node holds');
    await refused(cards.setCardAuth(card.cardId, 'fest-2', 0), grpc.status.FAILED_PRECONDITION, 'a counter going back');
    await refused(
      cards.defineProgram('nfc-unknown', { ...programConfig(), cardAuthKeyId: 'fest-9' }),
      grpc.status.FAILED_PRECONDITION,
      'a program naming a key no node holds',
    );
    await refused(pay(viaA, 'bar-1', card.cardId, 100, { counter: 9, mac: Buffer.alloc(7) }), grpc.status.INVALID_ARGUMENT, 'a 7-byte MAC');
    const completion: AuthorizeRequest = {
      ...purchase('bar-1', ++txn, card.cardId, 100),
      kind: AuthorizationKind.AUTHORIZATION_KIND_COMPLETION,
      original: { ref: { $case: 'terminalTxn', value: { terminalId: 'bar-1', txnNumber: 1n } } },
      cardCryptogram: card.tap(100),
    };
    await refused(viaA.authorize(completion), grpc.status.INVALID_ARGUMENT, 'a cryptogram on a completion');
    assert.equal(await inspect.snapshot(), before, 'nothing was written');
  });
});
