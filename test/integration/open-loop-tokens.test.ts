// Proves open-loop tokens end to end: two real node processes, real Redis, the real streamer and
// ClickHouse. A visitor's bank card, registered by PAN (kept only as a keyed hash) or by PAR as a
// token of a closed-loop card, pays from that card at a bar; the same bank card registered in a
// EUR and a CHF program pays each purchase from the card of its currency, beside plain cards, on
// one terminal; a retry is answered once; one bank card pays from one card per program
// (ALREADY_EXISTS, and the card refused keeps nothing of it); AuthorizeStream items may present
// bank cards too; an unknown bank card is NOT_FOUND and
// a malformed one INVALID_ARGUMENT without the number in the message; a removed bank card pays no
// more; a card a bank card pays from cannot be cancelled back into stock until the bank card is off. Then it scans everything Tapline kept and said: every Redis key and value, every
// ClickHouse table, both nodes' logs (at debug level) and every error message the clients got:
// the PAN is in none of them, in any of the forms a log could show it.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import { queryClickHouse, startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import { outboxBacklog } from '../../tools/devenv/outbox';
import { startServerProcess, type ServerProcess } from '../../tools/devenv/node-process';
import { authorizer_node_flags } from '../../services/authorizer/runtime-flags';
import { Outcome } from '../../gen/tapline/v1/types';
import type { AuthorizeRequest, AuthorizeStreamResponse } from '../../gen/tapline/v1/authorization';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, bankCardOf, programConfig } from '../../tools/client/card-client';
import { createLogger } from '../../services/common/logger';
import { loadStreamerConfig } from '../../services/streamer/config';
import { migrate } from '../../services/streamer/schema/migrate';
import { Streamer } from '../../services/streamer/streamer';
import { TokenHasher } from '../../services/authorizer/usecases/card-tokens';
import { accessTo, nodeEnv, startTestRedis, test_shard_count, testDataDir, waitFor } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';
import { streamerEnv } from '../support/outbox-fixtures';

const database = 'open_loop';
const token_secret = 'open-loop-token-secret-0123456789abcdef';
/** A visitor's Visa card and the PAR of another visitor's card (test numbers). */
const pan = '4111111111111111';
const other_pan = '5555555555554444';
const par = 'V0010013816180398153213464128';

const fast_cluster = {
  TAPLINE_CLUSTER_TICK_MS: '50',
  TAPLINE_MEMBER_TTL_MS: '500',
  TAPLINE_SHARD_LEASE_MS: '500',
  TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '400',
  TAPLINE_TERMINAL_CACHE_MS: '200',
  TAPLINE_ROUTE_WAIT_MAX_MS: '5000',
};

describe('open-loop tokens: bank cards paying from closed-loop cards (two node processes, Redis, streamer, ClickHouse)', function () {
  this.timeout(180_000);
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  const nodes: ServerProcess[] = [];
  let streamer: Streamer | undefined;
  let viaA: TaplineClient;
  let viaB: TaplineClient;
  let cardsA: CardClient;
  let cardsB: CardClient;
  let inspect: Inspector;
  /** Every line both nodes wrote, stdout and stderr. */
  const logs: string[] = [];
  /** Every error message a client was answered. */
  const answered: string[] = [];
  let txn = 0;

  const byBankCard = (bankCard: { pan: string } | { par: string }, amount: number, currency: string, programId = ''): AuthorizeRequest => ({
    ...purchase('bar-1', ++txn, '', amount, currency),
    bankCard: { card: bankCardOf(bankCard), programId },
  });
  const balanceOf = async (cardId: string): Promise<bigint> => (await viaA.balance(cardId)).balance?.amountMinor ?? -1n;
  const refusedWith = (code: grpc.status) => (error: grpc.ServiceError) => {
    answered.push(error.details, error.message);
    return error.code === code;
  };
  const issue = (cardId: string, programId: string, currency: string, balance: number) =>
    cardsA.issue({
      cardId,
      params: { initialBalance: { amountMinor: BigInt(balance), currency }, programId, deposit: undefined, expiresAtUnixMs: 0n },
      holder: undefined,
      pin: '',
      operatorId: 'ops',
    });

  before(async function () {
    [redis, clickhouse] = await Promise.all([startTestRedis('open-loop'), startClickHouse({ dataDir: testDataDir('open-loop-ch') })]);
    await migrate(clickhouse.url, database);
    for (const id of ['A', 'B']) {
      nodes.push(
        await startServerProcess({
          script: 'dist/tools/devenv/node-main.js',
          nodeArgs: authorizer_node_flags,
          env: await nodeEnv(redis.url, {
            ...fast_cluster,
            TAPLINE_NODE_ID: id,
            TAPLINE_LOG_LEVEL: 'debug',
            TAPLINE_TOKEN_SECRET: token_secret,
          }),
          onLine: (line) => logs.push(line),
          onStderr: (text) => logs.push(text),
        }),
      );
    }
    const [a, b] = nodes as [ServerProcess, ServerProcess];
    viaA = new TaplineClient(await accessTo(a));
    viaB = new TaplineClient(await accessTo(b));
    cardsA = new CardClient(await accessTo(a));
    cardsB = new CardClient(await accessTo(b));
    inspect = await connectInspector(redis.url);
    await waitFor(
      'both nodes serve every shard between them',
      async () => (await inspect.client.keys('tl:{s*}:lease')).length === test_shard_count,
      () => 'leases not all taken yet',
      20_000,
    );
    await viaA.registerTerminal('bar-1', 'bar');
    for (const program of ['fest-eur', 'fest-chf', 'fest-eur-2']) await cardsA.defineProgram(program, programConfig());
  });

  after(async function () {
    await streamer?.stop();
    for (const c of [viaA, viaB, cardsA, cardsB]) c?.close();
    await inspect?.close();
    for (const node of nodes) await node.terminate();
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  it('a bank card registered in a EUR and a CHF program pays each purchase from the card of its currency, beside plain cards', async () => {
    await issue('eur-1', 'fest-eur', 'EUR', 10_000);
    await issue('chf-1', 'fest-chf', 'CHF', 5_000);
    await issue('eur-2', 'fest-eur-2', 'EUR', 3_000);
    await issue('plain-1', 'fest-eur', 'EUR', 1_000);
    const registered = await cardsA.registerCardToken('eur-1', { pan });
    assert.deepEqual([registered.programId, registered.bankCards], ['fest-eur', 1]);
    await cardsB.registerCardToken('chf-1', { pan });
    await cardsA.registerCardToken('eur-2', { par });
    assert.equal((await cardsA.getCard('eur-1')).card?.bankCards, 1);

    const eur = await viaA.authorize(byBankCard({ pan }, 1_500, 'EUR'));
    assert.equal(eur.outcome, Outcome.OUTCOME_APPROVED);
    const chf = await viaB.authorize(byBankCard({ pan }, 700, 'CHF'));
    assert.equal(chf.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal((await viaA.authorize(byBankCard({ par }, 400, 'EUR'))).outcome, Outcome.OUTCOME_APPROVED);
    assert.equal((await viaB.authorize(purchase('bar-1', ++txn, 'plain-1', 250))).outcome, Outcome.OUTCOME_APPROVED);
    // Two EUR programs: naming one picks its card.
    await cardsA.registerCardToken('eur-2', { pan });
    await assert.rejects(viaA.authorize(byBankCard({ pan }, 100, 'EUR')), refusedWith(grpc.status.FAILED_PRECONDITION));
    assert.equal((await viaA.authorize(byBankCard({ pan }, 100, 'EUR', 'fest-eur-2'))).outcome, Outcome.OUTCOME_APPROVED);
    assert.deepEqual(
      await Promise.all(['eur-1', 'chf-1', 'eur-2', 'plain-1'].map(balanceOf)),
      [8_500n, 4_300n, 2_500n, 750n],
      'each purchase paid from the card of its currency or program',
    );
    // A retry (the same terminal transaction) is answered, not paid again, on either node.
    const request = byBankCard({ par }, 300, 'EUR');
    const first = await viaA.authorize(request);
    const retry = await viaB.authorize(request);
    assert.deepEqual([retry.transactionId, retry.replayed], [first.transactionId, true]);
    assert.equal(await balanceOf('eur-2'), 2_200n);
  });

  it('AuthorizeStream items presenting bank cards are answered like unary calls, each with its correlation id', async () => {
    const before = await Promise.all(['eur-1', 'chf-1'].map(balanceOf));
    const call = (await viaB.terminal('bar-1')).authorizeStream();
    const results: AuthorizeStreamResponse['results'] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (frame: AuthorizeStreamResponse) => results.push(...frame.results));
      call.on('end', () => resolve());
      call.on('error', reject);
    });
    call.write({
      items: [
        { correlationId: 'eur', request: byBankCard({ pan }, 200, 'EUR', 'fest-eur') },
        { correlationId: 'chf', request: byBankCard({ pan }, 300, 'CHF') },
        { correlationId: 'unknown', request: byBankCard({ pan: other_pan }, 100, 'EUR') },
      ],
    });
    call.end();
    await done;
    const status = (id: string) => results.find((r) => r.correlationId === id);
    assert.deepEqual([status('eur')?.statusCode, status('chf')?.statusCode, status('unknown')?.statusCode], [0, 0, grpc.status.NOT_FOUND]);
    answered.push(...results.map((r) => r.statusMessage));
    assert.deepEqual(await Promise.all(['eur-1', 'chf-1'].map(balanceOf)), [(before[0] ?? 0n) - 200n, (before[1] ?? 0n) - 300n]);
  });

  it('one card per program, unknown and malformed bank cards refused, a removed bank card pays no more', async () => {
    await issue('eur-3', 'fest-eur', 'EUR', 1_000);
    await assert.rejects(cardsB.registerCardToken('eur-3', { pan }), refusedWith(grpc.status.ALREADY_EXISTS));
    assert.equal((await cardsA.getCard('eur-3')).card?.bankCards, 0, 'the refused card keeps nothing of the bank card');
    await assert.rejects(viaA.authorize(byBankCard({ pan: other_pan }, 100, 'EUR')), refusedWith(grpc.status.NOT_FOUND));
    await assert.rejects(viaA.authorize(byBankCard({ pan: '4111111111111112' }, 100, 'EUR')), refusedWith(grpc.status.INVALID_ARGUMENT));
    await assert.rejects(cardsA.registerCardToken('eur-3', { pan: '4111 1111 1111 1111' }), refusedWith(grpc.status.INVALID_ARGUMENT));
    await assert.rejects(
      viaA.authorize({ ...byBankCard({ pan }, 100, 'EUR'), cardId: 'eur-1' }),
      refusedWith(grpc.status.INVALID_ARGUMENT),
      'a card id and a bank card at once',
    );
    await cardsB.removeCardToken('eur-1', { pan });
    assert.equal((await cardsA.getCard('eur-1')).card?.bankCards, 0);
    await assert.rejects(viaA.authorize(byBankCard({ pan }, 100, 'EUR', 'fest-eur')), refusedWith(grpc.status.NOT_FOUND));
    assert.equal((await viaA.authorize(byBankCard({ pan }, 100, 'CHF'))).outcome, Outcome.OUTCOME_APPROVED, 'its CHF card still pays');
    // A card a bank card pays from is not put back into stock: its next holder would pay for the visitor.
    await issue('eur-4', 'fest-eur-2', 'EUR', 0);
    await cardsA.registerCardToken('eur-4', { par: 'V0010013816180398153213464129' });
    await assert.rejects(cardsA.cancelIssuance('eur-4'), refusedWith(grpc.status.FAILED_PRECONDITION));
    await cardsA.removeCardToken('eur-4', { par: 'V0010013816180398153213464129' });
    assert.equal((await cardsA.cancelIssuance('eur-4')).alreadyUnissued, false, 'cancelled once its bank card is off');
    // Now the program's card is free for another card.
    await cardsA.registerCardToken('eur-3', { pan });
    assert.equal((await viaB.authorize(byBankCard({ pan }, 100, 'EUR', 'fest-eur'))).outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(await balanceOf('eur-3'), 900n);
  });

  it('the PAN is nowhere: not in Redis, not in ClickHouse, not in the logs, not in an error message; its keyed hash is the token', async () => {
    const forms = [pan, pan.replace(/(\d{4})/g, '$1 ').trim(), `${pan.slice(0, 6)}${pan.slice(-4)}`, Buffer.from(pan).toString('base64')];
    const token = new TokenHasher(token_secret).tokenOfPan(pan);
    const redisDump = await inspect.snapshot();
    assert.ok(redisDump.includes(token), 'the bank card is known by its keyed hash');
    // The streamer moves every document into ClickHouse; then every table is read whole.
    streamer = await Streamer.start(
      loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database)),
      createLogger('open-loop-streamer', 'warn'),
    );
    await waitFor(
      'outbox drained into ClickHouse',
      async () => (await outboxBacklog(redis.url, test_shard_count)) === 0,
      () => 'outbox not empty',
      60_000,
      100,
    );
    const tables = (await queryClickHouse(clickhouse.url, `SELECT name FROM system.tables WHERE database = '${database}' FORMAT TSV`))
      .trim()
      .split('\n');
    assert.ok(tables.includes('transactions') && tables.includes('lifecycle_events'), tables.join(','));
    let clickhouseDump = '';
    for (const table of tables) clickhouseDump += await queryClickHouse(clickhouse.url, `SELECT * FROM ${database}.${table} FORMAT TSV`);
    assert.match(clickhouseDump, /card_token_linked/, 'the registrations reached ClickHouse');
    assert.ok(logs.length > 0, 'the nodes logged');
    for (const form of forms) {
      assert.ok(!redisDump.includes(form), `Redis holds ${form}`);
      assert.ok(!clickhouseDump.includes(form), `ClickHouse holds ${form}`);
      assert.ok(!logs.some((line) => line.includes(form)), `a log line holds ${form}`);
      assert.ok(!answered.some((text) => text.includes(form)), `an error message holds ${form}`);
    }
  });
});
