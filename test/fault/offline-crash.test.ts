// Proves that an offline batch is merged exactly once across a crash, with real processes and
// SIGKILL: a terminal uploads a large signed batch; the node is killed (kill -9) while the batch's
// entries are reaching their cards (some are committed, others not); a new node starts on the same
// Redis and the terminal uploads the same batch again. Afterwards every entry has exactly one
// record and one outbox document, every card's balance is its initial balance less its sales
// counted once, the upload answers a result for every entry, and a further upload answers the
// same results (replayed) and changes nothing.

import assert from 'node:assert/strict';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { ServerProcess } from '../../tools/devenv/node-process';
import { TaplineClient } from '../../tools/client/tapline-client';
import { CardClient, programConfig } from '../../tools/client/card-client';
import { OfflineClient } from '../../tools/client/offline-client';
import { OfflineTerminalSimulator, generateTerminalKey } from '../../tools/offline-terminal/simulator';
import { OfflineLiability, type UploadOfflineBatchResponse } from '../../gen/tapline/v1/offline';
import { accessTo, startNodeProcess, startTestRedis, waitFor } from '../support/harness';
import { connectInspector } from '../support/redis-inspect';
import { createClient } from 'redis';

const card_count = 250;
const initial_balance_minor = 1_000;
const program = 'crash-fest';

describe('offline merge across a kill -9 of the node', function () {
  this.timeout(180_000);
  let redis: RedisInstance | undefined;
  const processes: ServerProcess[] = [];

  after(async function () {
    for (const child of processes.splice(0)) await child.kill9();
    await redis?.stop();
  });

  it('completes a half-merged batch on re-upload, applying nothing twice', async function () {
    redis = await startTestRedis('offline-crash');
    const redisUrl = redis.url;
    // One card at a time: the merge takes long enough to be caught half-way.
    const env = { TAPLINE_OFFLINE_MERGE_CARDS_IN_FLIGHT: '1' };
    const first = await startNodeProcess(redisUrl, env);
    processes.push(first);
    // Over the doors with the test credentials: the terminal's own certificate on the terminal
    // door (mutual TLS), a token on the operator door.
    const firstAccess = await accessTo(first);
    const client = new TaplineClient(firstAccess);
    const cards = new CardClient(firstAccess);
    const offline = new OfflineClient(firstAccess);
    await cards.defineProgram(
      program,
      programConfig({ offline: { txnMaxMinor: 1_000n, cardMaxMinor: 2_000n, debtThresholdMinor: 10_000n, cardCounter: false } }),
    );
    await client.registerTerminal('crash-t', 'crash-bar');
    const key = generateTerminalKey();
    await offline.setTerminalOffline({
      terminalId: 'crash-t',
      publicKey: key.spki,
      programIds: [program],
      totalMaxMinor: 1_000_000,
      currency: 'EUR',
      countMax: 1_000,
      offlineMaxMs: 3_600_000,
    });
    const ids = Array.from({ length: card_count }, (_, i) => `crash-${i}`);
    await Promise.all(ids.map((id) => client.issueCard(id, initial_balance_minor, 'EUR', program)));
    const sim = new OfflineTerminalSimulator('crash-t', offline, key, { clock: () => 0 });
    await sim.sync();
    // Two sales per card (the second past its balance: debt), 500 entries in one batch.
    const sold = new Map<string, number>();
    for (const id of ids)
      for (const amount of [600, 700]) {
        assert.ok('entry' in sim.sell({ cardId: id, programId: program }, amount, 'EUR'));
        sold.set(id, (sold.get(id) ?? 0) + amount);
      }
    assert.equal(sim.closeBatches(), 1);
    const batch = sim.pending[0];
    if (batch === undefined) throw new Error('no batch');

    const raw = createClient({ url: redisUrl });
    // A failed assertion leaves this client open when the after hook stops Redis: its socket
    // closing then must not surface as an uncaught error in that hook.
    raw.on('error', () => undefined);
    await raw.connect();
    let seen = 0;
    const merged = async (): Promise<number> => {
      seen = (await raw.keys('tl:*:key:o:crash-t:*')).length;
      return seen;
    };
    const upload = offline.upload('crash-t', batch.bytes, batch.signature).then(
      () => 'answered',
      () => 'failed',
    );
    await waitFor(
      'part of the batch merged',
      async () => (await merged()) >= 20,
      () => `${seen} entries merged`,
      30_000,
      5,
    );
    await first.kill9();
    processes.splice(processes.indexOf(first), 1);
    const atKill = await merged();
    assert.ok(atKill < 2 * card_count, `killed half-way: ${atKill} of ${2 * card_count} entries merged`);
    assert.equal(await upload, 'failed', 'the interrupted upload was not answered');

    const second = await startNodeProcess(redisUrl, env);
    processes.push(second);
    const secondAccess = await accessTo(second);
    const again = new OfflineClient(secondAccess);
    let answer: UploadOfflineBatchResponse | undefined;
    await waitFor(
      're-upload after the restart',
      async () => {
        try {
          answer = await again.upload('crash-t', batch.bytes, batch.signature, 60_000);
          return true;
        } catch {
          return false;
        }
      },
      () => 'the re-upload kept failing',
      60_000,
      200,
    );
    assert.equal(answer?.results.length, 2 * card_count, 'a result for every entry');
    assert.ok(
      answer?.results.every((r) => r.liability === OfflineLiability.OFFLINE_LIABILITY_ISSUER),
      'every sale charged to its card',
    );
    assert.equal(await merged(), 2 * card_count, 'one record per entry');
    const inspect = await connectInspector(redisUrl);
    const documents = (await inspect.outbox()).filter((d) => d['terminal'] === 'crash-t' && d['kind'] === 'offline_purchase');
    const perKey = new Map<string, number>();
    for (const d of documents) perKey.set(String(d['key']), (perKey.get(String(d['key'])) ?? 0) + 1);
    assert.equal(perKey.size, 2 * card_count);
    assert.ok(
      [...perKey.values()].every((n) => n === 1),
      'one outbox document per entry',
    );
    const client2 = new TaplineClient(secondAccess);
    for (const id of ids) {
      const balance = await client2.balance(id);
      assert.equal(balance.balance?.amountMinor, BigInt(initial_balance_minor - (sold.get(id) ?? 0)), `balance of ${id}`);
    }
    const replay = await again.upload('crash-t', batch.bytes, batch.signature);
    assert.equal(replay.replayed, true);
    assert.deepEqual(replay.results, answer?.results);
    await inspect.close();
    await raw.close();
    client.close();
    cards.close();
    offline.close();
    again.close();
    client2.close();
  });
});
