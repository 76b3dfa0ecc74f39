// Proves offline selling end to end against a real node, real Redis and real gRPC, with simulated
// terminals (tools/offline-terminal): a terminal set up for offline gets a grant with its
// programs' limits and the denylist versions it must hold; it sells offline within the grant,
// uploads signed batches and every entry is merged exactly once (a re-upload answers the same
// results and moves nothing); a sale past the card's balance is applied as debt, which puts the card
// on the denylist past the program's threshold and is recovered by the next top-up (the card then
// leaves the list); a sale the terminal had no right to make (a card listed in the denylist it
// held, past its caps) is the merchant's: not charged; voids give back; gaps in the numbering are
// reported; a tampered, foreign or reused batch is refused and changes nothing.

import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { TaplineClient } from '../../tools/client/tapline-client';
import { CardClient, programConfig } from '../../tools/client/card-client';
import { OfflineClient } from '../../tools/client/offline-client';
import { OfflineTerminalSimulator, generateTerminalKey, type CardMedium } from '../../tools/offline-terminal/simulator';
import { OfflineBatch, OfflineEntryResultKind, OfflineLiability } from '../../gen/tapline/v1/offline';
import { CardStatus } from '../../gen/tapline/v1/types';
import { batchSigningBytes } from '../../actors/offline/signature';
import { accessTo, testCredentials, startInProcessNode, startTestRedis, test_shard_count, testDataDir } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';
import { shardOf } from '../../actors/sharding/shard-key';
import { grantUsageKey, terminalKey } from '../../services/authorizer/store/keys';

const program = 'fest';
const offline_policy = { txnMaxMinor: 2_000n, cardMaxMinor: 5_000n, debtThresholdMinor: 1_000n, cardCounter: false };

async function refusedWith(code: grpc.status, work: Promise<unknown>): Promise<void> {
  await assert.rejects(work, (error: grpc.ServiceError) => {
    assert.equal(error.code, code, `expected ${status[code]}, got ${status[error.code]}: ${error.details}`);
    return true;
  });
}

describe('offline selling: grants, signed uploads merged exactly once, debt, denylist, liability (real Redis, real gRPC)', function () {
  this.timeout(120_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let offline: OfflineClient;
  let inspect: Inspector;
  // Every sale is made right after its grant: the simulated terminals' monotonic clock stands still.
  const clock = (): number => 0;

  /** A registered terminal set up for offline, with its simulator. */
  const terminal = async (id: string, options: { rogue?: boolean; countMax?: number; totalMaxMinor?: number } = {}) => {
    await client.registerTerminal(id, 'bar-co');
    const key = generateTerminalKey();
    await offline.setTerminalOffline({
      terminalId: id,
      publicKey: key.spki,
      programIds: [program],
      totalMaxMinor: options.totalMaxMinor ?? 100_000,
      currency: 'EUR',
      countMax: options.countMax ?? 100,
      offlineMaxMs: 3_600_000,
    });
    return { sim: new OfflineTerminalSimulator(id, offline, key, { clock, rogue: options.rogue ?? false }), key };
  };
  const medium = (cardId: string): CardMedium => ({ cardId, programId: program });
  const balance = async (cardId: string): Promise<bigint | undefined> => (await client.balance(cardId)).balance?.amountMinor;

  before(async function () {
    redis = await startTestRedis('offline');
    const keyFile = join(testDataDir('offline-counter-key'), 'counter.pem');
    writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }));
    node = await startInProcessNode(redis.url, { TAPLINE_OFFLINE_COUNTER_KEY_FILE: keyFile });
    const access = await accessTo(node);
    client = new TaplineClient(access);
    cards = new CardClient(access);
    offline = new OfflineClient(access);
    inspect = await connectInspector(redis.url);
    await cards.defineProgram(program, programConfig({ offline: offline_policy }));
  });

  after(async function () {
    client?.close();
    cards?.close();
    offline?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('grants the programs offline limits and the denylist versions to hold', async () => {
    const { sim } = await terminal('till-g');
    await sim.sync();
    const grant = sim.grant;
    assert.equal(grant?.grantNumber, 1n);
    assert.equal(grant?.denylistRequired.length, test_shard_count);
    assert.deepEqual(
      grant?.programs.map((p) => [p.programId, p.txnMax?.amountMinor, p.cardMax?.amountMinor, p.cardCounter]),
      [[program, 2_000n, 5_000n, false]],
    );
    assert.equal(grant?.validUntilUnixMs, (grant?.issuedAtUnixMs ?? 0n) + 3_600_000n);
    const state = await offline.terminalOffline('till-g');
    assert.deepEqual([state.version, state.grantNumber, state.denylistAckedBehind], [1n, 1n, 0n]);
  });

  it("reports each terminal's denylist age while its grant is valid (tapline_offline_denylist_age_seconds)", async () => {
    const { sim } = await terminal('till-age');
    await terminal('till-unsynced');
    await sim.sync();
    const exposition = await node.metrics.registry.metrics();
    const line = exposition.split('\n').find((l) => l.startsWith('tapline_offline_denylist_age_seconds{terminal="till-age"}'));
    assert.ok(line !== undefined, 'the synced terminal is reported');
    const seconds = Number(line.split(' ')[1]);
    assert.ok(seconds >= 0 && seconds < 60, `acknowledged just now: ${seconds} s`);
    assert.ok(!exposition.includes('terminal="till-unsynced"'), 'a terminal without a grant may not sell offline: not reported');
  });

  it('merges every uploaded entry exactly once: debt, listing past the threshold, same results on re-upload, recovery on top-up', async () => {
    await client.issueCard('debt-1', 1_000, 'EUR', program);
    const { sim } = await terminal('till-d');
    await sim.sync();
    for (const amount of [900, 900, 900]) assert.ok('entry' in sim.sell(medium('debt-1'), amount, 'EUR'));
    sim.closeBatches();
    const [batch] = [...sim.pending];
    if (batch === undefined) throw new Error('no batch closed');
    const [first] = await sim.upload();
    assert.deepEqual(
      first?.results.map((r) => [r.kind, r.liability, r.amount?.amountMinor, r.balanceAfter?.amountMinor, r.debtAfter?.amountMinor]),
      [
        [OfflineEntryResultKind.OFFLINE_ENTRY_RESULT_KIND_SALE, OfflineLiability.OFFLINE_LIABILITY_ISSUER, 900n, 100n, 0n],
        [OfflineEntryResultKind.OFFLINE_ENTRY_RESULT_KIND_SALE, OfflineLiability.OFFLINE_LIABILITY_ISSUER, 900n, -800n, 800n],
        [OfflineEntryResultKind.OFFLINE_ENTRY_RESULT_KIND_SALE, OfflineLiability.OFFLINE_LIABILITY_ISSUER, 900n, -1_700n, 1_700n],
      ],
    );
    assert.equal(await balance('debt-1'), -1_700n);
    const before = await inspect.snapshot();
    const again = await sim.uploadBatch(batch);
    assert.equal(again.replayed, true);
    assert.deepEqual(again.results, first?.results, 'a re-upload answers the very same results');
    assert.equal(await inspect.snapshot(), before, 'a re-upload changes nothing in Redis');
    // Past the threshold (1,000): on the denylist, for debt.
    const { sim: other } = await terminal('till-d2');
    await other.sync();
    assert.equal(other.listed.get('debt-1'), 'debt');
    assert.deepEqual(other.sell(medium('debt-1'), 100, 'EUR'), { refused: 'denylisted' });
    // The next top-up pays the debt back first, and the card leaves the list.
    const topUp = await client.topUp('debt-1', 2_000, { terminalId: 'till-d2', txn: 1 });
    assert.equal(topUp.balanceAfter?.amountMinor, 300n);
    const recovered = (await inspect.outbox()).find((d) => d['id'] === topUp.transactionId);
    assert.deepEqual([recovered?.['debt_delta'], recovered?.['debt_after']], [-1_700, 0]);
    await other.refreshDenylist();
    assert.equal(other.listed.has('debt-1'), false, 'off the list once the debt is paid');
  });

  it('times each phase of an upload (tapline_offline_upload_phase_seconds): a replay is accepted only', async () => {
    const phaseCounts = async (): Promise<Record<string, number>> => {
      const exposition = await node.metrics.registry.metrics();
      const counts: Record<string, number> = {};
      for (const phase of ['accept', 'merge', 'complete']) {
        const line = exposition.split('\n').find((l) => l.startsWith(`tapline_offline_upload_phase_seconds_count{phase="${phase}"}`));
        counts[phase] = line === undefined ? 0 : Number(line.split(' ')[1]);
      }
      return counts;
    };
    await client.issueCard('phases-1', 5_000, 'EUR', program);
    const { sim } = await terminal('till-phases');
    await sim.sync();
    for (const amount of [100, 200]) assert.ok('entry' in sim.sell(medium('phases-1'), amount, 'EUR'));
    sim.closeBatches();
    const [batch] = [...sim.pending];
    if (batch === undefined) throw new Error('no batch closed');
    const before = await phaseCounts();
    await sim.upload();
    const merged = await phaseCounts();
    assert.deepEqual(
      [merged['accept']! - before['accept']!, merged['merge']! - before['merge']!, merged['complete']! - before['complete']!],
      [1, 1, 1],
      'a first upload goes through the three phases',
    );
    assert.equal((await sim.uploadBatch(batch)).replayed, true);
    const replayed = await phaseCounts();
    assert.deepEqual(
      [replayed['accept']! - merged['accept']!, replayed['merge']! - merged['merge']!, replayed['complete']! - merged['complete']!],
      [1, 0, 0],
      'a re-upload is answered from its record at acceptance',
    );
  });

  it("merges a full batch whose entries return to the same cards in entry order: each card's running balance exact, replayed unchanged", async () => {
    const ids = Array.from({ length: 5 }, (_, c) => `many-${c}`);
    await Promise.all(ids.map((id) => client.issueCard(id, 10_000, 'EUR', program)));
    const { sim } = await terminal('till-many', { countMax: 1_000, totalMaxMinor: 1_000_000 });
    await sim.sync();
    // 500 entries, the cards taken in turn: every card has 100 entries spread over the whole batch.
    const expected: [bigint, bigint][] = [];
    const left = new Map(ids.map((id) => [id, 10_000]));
    for (let n = 0; n < 500; n++) {
      const id = ids[n % ids.length] as string;
      const amount = 10 + (n % 37);
      assert.ok('entry' in sim.sell(medium(id), amount, 'EUR'));
      left.set(id, (left.get(id) as number) - amount);
      expected.push([BigInt(amount), BigInt(left.get(id) as number)]);
    }
    assert.equal(sim.closeBatches(), 1, 'one batch of 500 entries');
    const batch = sim.pending[0];
    if (batch === undefined) throw new Error('no batch closed');
    const [merged] = await sim.upload();
    assert.deepEqual(
      merged?.results.map((r) => [r.amount?.amountMinor, r.balanceAfter?.amountMinor]),
      expected,
      "each entry's balance after is its card's balance after its earlier entries, in entry order",
    );
    assert.ok(
      merged?.results.every((r) => r.liability === OfflineLiability.OFFLINE_LIABILITY_ISSUER),
      'every sale is within the grant: charged to its card',
    );
    for (const id of ids) assert.equal(await balance(id), BigInt(left.get(id) as number), `${id}: its 100 sales counted once`);
    const before = await inspect.snapshot();
    const again = await sim.uploadBatch(batch);
    assert.equal(again.replayed, true);
    assert.deepEqual(again.results, merged?.results, 'a re-upload answers the very same results');
    assert.equal(await inspect.snapshot(), before, 'a re-upload changes nothing in Redis');
  });

  it('makes the merchant carry what the terminal had no right to sell: a listed card, past its caps; voids give back', async () => {
    await client.issueCard('blocked-1', 5_000, 'EUR', program);
    await client.issueCard('capped-1', 50_000, 'EUR', program);
    await client.setCardStatus('blocked-1', CardStatus.CARD_STATUS_BLOCKED);
    const { sim } = await terminal('till-r', { rogue: true });
    await sim.sync();
    assert.equal(sim.listed.get('blocked-1'), 'blocked');
    const listed = sim.sell(medium('blocked-1'), 500, 'EUR');
    const overTxn = sim.sell(medium('capped-1'), 2_500, 'EUR');
    const sales = [1_800, 1_800, 1_800].map((amount) => sim.sell(medium('capped-1'), amount, 'EUR'));
    const voided = sim.voidSale((sales[0] as { entry: number }).entry);
    sim.closeBatches();
    const [answer] = await sim.upload();
    const byEntry = new Map(answer?.results.map((r) => [Number(r.entryNumber), r]));
    const result = (sold: unknown) => byEntry.get((sold as { entry: number }).entry);
    assert.deepEqual(
      [result(listed)?.liability, result(listed)?.liabilityReason],
      [OfflineLiability.OFFLINE_LIABILITY_MERCHANT, 'denylisted'],
    );
    assert.deepEqual(
      [result(overTxn)?.liability, result(overTxn)?.liabilityReason],
      [OfflineLiability.OFFLINE_LIABILITY_MERCHANT, 'txn_cap'],
    );
    assert.deepEqual(
      sales.map((sale) => [result(sale)?.liability, result(sale)?.liabilityReason]),
      [
        [OfflineLiability.OFFLINE_LIABILITY_ISSUER, ''],
        [OfflineLiability.OFFLINE_LIABILITY_ISSUER, ''],
        [OfflineLiability.OFFLINE_LIABILITY_MERCHANT, 'card_cap'],
      ],
      'the card cap (5,000 per grant) counts what the issuer carries',
    );
    assert.equal(byEntry.get(voided)?.kind, OfflineEntryResultKind.OFFLINE_ENTRY_RESULT_KIND_VOIDED);
    assert.equal(await balance('blocked-1'), 5_000n, 'a listed card is not charged');
    assert.equal(await balance('capped-1'), 50_000n - 1_800n, 'only the issuer-liable sale not voided is charged');
    const documents = (await inspect.outbox()).filter((d) => d['terminal'] === 'till-r' && d['kind'] === 'offline_purchase');
    assert.deepEqual(documents.map((d) => d['liability']).sort(), ['issuer', 'issuer', 'merchant', 'merchant', 'merchant']);
  });

  it('reports gaps in the entry numbering until the missing batch arrives', async () => {
    await client.issueCard('gap-1', 10_000, 'EUR', program);
    const { sim } = await terminal('till-n', { totalMaxMinor: 10_000 });
    await sim.sync();
    sim.sell(medium('gap-1'), 100, 'EUR');
    sim.sell(medium('gap-1'), 100, 'EUR');
    sim.closeBatches();
    sim.sell(medium('gap-1'), 100, 'EUR');
    sim.closeBatches();
    const [second] = await sim.upload([2]);
    assert.deepEqual(second?.missingEntries, [1n, 2n]);
    const [first] = await sim.upload([1]);
    assert.deepEqual(first?.missingEntries, []);
    assert.equal(await balance('gap-1'), 9_700n);
  });

  it('refuses a tampered, foreign-terminal or reused batch, and changes nothing; a gateway of the merchant relays it', async () => {
    await client.issueCard('tamper-1', 10_000, 'EUR', program);
    const { sim, key } = await terminal('till-t');
    const { sim: foreign } = await terminal('till-f');
    await sim.sync();
    await foreign.sync();
    sim.sell(medium('tamper-1'), 700, 'EUR');
    sim.closeBatches();
    const batch = sim.pending[0];
    if (batch === undefined) throw new Error('no batch');
    const before = await inspect.snapshot();
    const tampered = Buffer.from(batch.bytes);
    const decoded = OfflineBatch.decode(tampered);
    const amount = decoded.entries[0]?.amount;
    if (amount !== undefined) amount.amountMinor = 70n;
    await refusedWith(status.PERMISSION_DENIED, offline.upload('till-t', OfflineBatch.encode(decoded).finish(), batch.signature));
    // Signed by another terminal's key: it does not verify with till-t's.
    foreign.sell(medium('tamper-1'), 700, 'EUR');
    foreign.closeBatches();
    const theirs = foreign.pending[0];
    if (theirs === undefined) throw new Error('no foreign batch');
    await refusedWith(status.PERMISSION_DENIED, offline.upload('till-t', theirs.bytes, theirs.signature));
    const relabelled = OfflineBatch.encode({ ...OfflineBatch.decode(theirs.bytes), terminalId: 'till-t' }).finish();
    await refusedWith(status.PERMISSION_DENIED, offline.upload('till-t', relabelled, theirs.signature));
    // Who uploads is the client certificate: till-f's certificate cannot upload till-t's batch,
    // whether the request names till-t (the door refuses) or till-f (the batch is another's).
    const asForeign = new OfflineClient(
      await accessTo(node, { overrides: { terminal: await (await testCredentials()).terminal('till-f') } }),
    );
    await refusedWith(status.PERMISSION_DENIED, asForeign.upload('till-t', batch.bytes, batch.signature));
    await refusedWith(status.PERMISSION_DENIED, asForeign.upload('till-f', batch.bytes, batch.signature));
    // A gateway relays only its merchants' terminals, and a relayed batch is still checked against
    // the terminal's own key.
    const stranger = offline.viaGateway(['other-co']);
    await refusedWith(status.PERMISSION_DENIED, stranger.upload('till-t', batch.bytes, batch.signature));
    const relay = offline.viaGateway(['bar-co']);
    await refusedWith(status.PERMISSION_DENIED, relay.upload('till-t', OfflineBatch.encode(decoded).finish(), batch.signature));
    assert.equal(await inspect.snapshot(), before, 'nothing changed');
    // The real batch merges, relayed by the gateway; another batch under its number is refused,
    // the same bytes answered again to the terminal itself.
    const relayed = await relay.upload('till-t', batch.bytes, batch.signature);
    assert.equal(relayed.replayed, false);
    assert.equal(relayed.results[0]?.liability, OfflineLiability.OFFLINE_LIABILITY_ISSUER);
    for (const other of [asForeign, stranger, relay]) other.close();
    // Replayed: other bytes under the merged batch's number (signed by the terminal itself) are
    // refused, the same bytes answered again; neither changes anything.
    const merged = await inspect.snapshot();
    const reused = OfflineBatch.encode(decoded).finish();
    await refusedWith(status.ALREADY_EXISTS, offline.upload('till-t', reused, sign(null, batchSigningBytes(reused), key.privateKey)));
    assert.equal((await offline.upload('till-t', batch.bytes, batch.signature)).replayed, true);
    assert.equal(await inspect.snapshot(), merged, 'a reused number and a replay changed nothing');
    assert.equal(await balance('tamper-1'), 9_300n);
  });

  it("caps a card across terminals by its medium's signed counter; a listed card gets no new base", async () => {
    await cards.defineProgram(
      'fest-counter',
      programConfig({ offline: { txnMaxMinor: 2_000n, cardMaxMinor: 3_000n, debtThresholdMinor: 1_000n, cardCounter: true } }),
    );
    await client.issueCard('cnt-1', 500, 'EUR', 'fest-counter');
    const setUp = async (id: string, rogue = false) => {
      await client.registerTerminal(id, 'bar-co');
      const key = generateTerminalKey();
      await offline.setTerminalOffline({
        terminalId: id,
        publicKey: key.spki,
        programIds: ['fest-counter'],
        totalMaxMinor: 100_000,
        currency: 'EUR',
        countMax: 100,
        offlineMaxMs: 3_600_000,
      });
      const sim = new OfflineTerminalSimulator(id, offline, key, { clock, rogue });
      await sim.sync();
      return sim;
    };
    const [a, b, rogue] = [await setUp('cnt-a'), await setUp('cnt-b'), await setUp('cnt-r', true)];
    const wristband: CardMedium = { cardId: 'cnt-1', programId: 'fest-counter' };
    assert.deepEqual(a.sell(wristband, 1_000, 'EUR'), { refused: 'card_counter' }, 'no signed base on the medium yet');
    await a.refreshCounter(wristband);
    assert.ok('entry' in a.sell(wristband, 2_000, 'EUR'));
    assert.ok('entry' in b.sell(wristband, 1_000, 'EUR'), 'another terminal sells on what the medium says');
    assert.deepEqual(b.sell(wristband, 500, 'EUR'), { refused: 'card_counter' }, 'the medium carries 3,000 unmerged: its maximum');
    assert.ok('entry' in rogue.sell(wristband, 400, 'EUR'), 'a terminal ignoring the counter sells anyway');
    const forged: CardMedium = {
      cardId: 'cnt-1',
      programId: 'fest-counter',
      counter: { baseMergedMinor: 0, baseIssuedAtMs: 0, baseSignature: Buffer.alloc(64, 1), spentMinor: 0 },
    };
    assert.ok('entry' in rogue.sell(forged, 100, 'EUR'));
    for (const sim of [a, b, rogue]) sim.closeBatches();
    const answers = [...(await a.upload()), ...(await b.upload()), ...(await rogue.upload())];
    assert.deepEqual(
      answers.flatMap((answer) => answer.results.map((r) => [r.liability, r.liabilityReason])),
      [
        [OfflineLiability.OFFLINE_LIABILITY_ISSUER, ''],
        [OfflineLiability.OFFLINE_LIABILITY_ISSUER, ''],
        [OfflineLiability.OFFLINE_LIABILITY_MERCHANT, 'card_counter'],
        [OfflineLiability.OFFLINE_LIABILITY_MERCHANT, 'card_counter'],
      ],
    );
    assert.equal(await balance('cnt-1'), -2_500n, 'owes 2,500: past the threshold, listed');
    await refusedWith(status.FAILED_PRECONDITION, offline.refreshCounter('cnt-a', 'cnt-1'));
    await client.topUp('cnt-1', 3_000, { terminalId: 'cnt-a', txn: 1 });
    await a.refreshCounter(wristband);
    assert.deepEqual(
      [wristband.counter?.baseMergedMinor, wristband.counter?.spentMinor],
      [3_000, 400],
      'the new base is what was charged; the medium keeps what it counted beyond (the sale the merchant carries)',
    );
  });
  // Last: it restarts the node.
  it("keeps a grant's per-card usage beside the terminal: the card cap holds after a restart, and a layout-3 terminal's cards move there", async () => {
    const usageKey = (terminalId: string): string => grantUsageKey(shardOf('terminal', terminalId, test_shard_count), terminalId);
    const storedTerminal = async (terminalId: string): Promise<string> =>
      String(await inspect.client.hGet(terminalKey(shardOf('terminal', terminalId, test_shard_count), terminalId), 'd'));
    // The same ports again: the clients and the terminals' simulators reconnect to the new node.
    const restart = async (): Promise<void> => {
      const ports = {
        TAPLINE_GRPC_PORT: node.grpcPort,
        TAPLINE_OPERATOR_PORT: node.operatorPort,
        TAPLINE_INTERNAL_PORT: node.internalPort,
      };
      await node.shutdown();
      node = await startInProcessNode(redis.url, Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])));
    };
    const reasons = (answer: { results: { liabilityReason: string }[] } | undefined): string[] =>
      (answer?.results ?? []).map((r) => r.liabilityReason);
    await client.issueCard('kept-1', 50_000, 'EUR', program);
    await client.issueCard('legacy-1', 50_000, 'EUR', program);
    const kept = await terminal('till-kept', { rogue: true });
    const legacy = await terminal('till-legacy', { rogue: true });
    await kept.sim.sync();
    await legacy.sim.sync();
    kept.sim.sell(medium('kept-1'), 2_000, 'EUR');
    kept.sim.sell(medium('kept-1'), 2_000, 'EUR');
    kept.sim.closeBatches();
    assert.deepEqual(reasons((await kept.sim.upload())[0]), ['', '']);
    assert.deepEqual(
      await inspect.client.hGetAll(usageKey('till-kept')),
      { '#1': 'kept-1 4000' },
      "the batch's cards in one field, beside the terminal",
    );
    assert.ok(!(await storedTerminal('till-kept')).includes('kept-1'), 'no card in the stored terminal');

    // A terminal written by the previous layout: its cards in its state, nothing beside it.
    const stored = JSON.parse((await storedTerminal('till-legacy')).replace(/^\{"v":4,/, '{')) as { offline: { usage: object } };
    stored.offline.usage = { count: 2, totalMinor: 4_000, cards: { 'legacy-1': 4_000 } };
    await inspect.client.hSet(
      terminalKey(shardOf('terminal', 'till-legacy', test_shard_count), 'till-legacy'),
      'd',
      `{"v":3,${JSON.stringify(stored).slice(1)}`,
    );

    // A counter as a build before one field per batch kept it: it adds up with the batches' fields.
    await client.issueCard('kept-2', 50_000, 'EUR', program);
    await inspect.client.hSet(usageKey('till-kept'), 'kept-2', '4500');

    await restart();
    kept.sim.sell(medium('kept-1'), 1_000, 'EUR');
    kept.sim.sell(medium('kept-2'), 1_000, 'EUR');
    kept.sim.sell(medium('kept-1'), 1_000, 'EUR');
    kept.sim.closeBatches();
    legacy.sim.sell(medium('legacy-1'), 1_500, 'EUR');
    legacy.sim.sell(medium('legacy-1'), 500, 'EUR');
    legacy.sim.closeBatches();
    assert.deepEqual(
      reasons((await kept.sim.upload())[0]),
      ['', 'card_cap', 'card_cap'],
      'the grant already charged 4,000 of kept-1 and 4,500 of kept-2 (of 5,000 each) before the restart',
    );
    assert.deepEqual(reasons((await legacy.sim.upload())[0]), ['card_cap', ''], 'the cards a layout-3 terminal held still count');
    assert.deepEqual(await inspect.client.hGetAll(usageKey('till-kept')), { '#1': 'kept-1 4000', 'kept-2': '4500', '#2': 'kept-1 1000' });
    assert.deepEqual(
      await inspect.client.hGetAll(usageKey('till-legacy')),
      { '#1': 'legacy-1 4500' },
      'moved beside the terminal with the new sale',
    );
    const migrated = await storedTerminal('till-legacy');
    assert.ok(migrated.startsWith('{"v":4,') && !migrated.includes('legacy-1'), 'written back without its cards');
    assert.equal(await balance('kept-1'), 50_000n - 5_000n);

    // The next grant counts from zero.
    await kept.sim.sync();
    assert.deepEqual(await inspect.client.hGetAll(usageKey('till-kept')), {});
  });
});
