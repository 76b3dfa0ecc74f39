// Proves Tapline's ClickHouse schema and streamer on a replicated ClickHouse 18.16 cluster (one
// shard of two replicas coordinated by ZooKeeper, as tools/devenv/clickhouse-cluster.ts starts
// them): migrations run ON CLUSTER from one server create every table, view and column on both and
// record themselves once for the cluster (a run from the other server applies nothing); the
// streamer inserts through the Distributed tables with a quorum of both replicas, and the report
// totals read on the *other* replica are exact; the same rows inserted again change nothing (block
// deduplication and the *_dedup views); both replicas hold the same rows. Seeded documents (the
// seed is printed); every wait polls an observable condition.

import assert from 'node:assert/strict';
import { queryClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import { startClickHouseCluster, type ClickHouseClusterSet } from '../../tools/devenv/clickhouse-cluster';
import type { RedisInstance } from '../../tools/devenv/redis';
import { createLogger } from '../../services/common/logger';
import { loadStreamerConfig } from '../../services/streamer/config';
import { ClickHouseSink } from '../../services/streamer/clickhouse-sink';
import { rowsOf } from '../../services/streamer/rows';
import { migrate } from '../../services/streamer/schema/migrate';
import { migrations } from '../../services/streamer/schema/migrations';
import { stringLiteral } from '../../services/streamer/sql';
import { Streamer } from '../../services/streamer/streamer';
import { startTestRedis, testDataDir, waitFor } from '../support/harness';
import {
  appendToOutbox,
  emptyTotals,
  expectedReportTotals,
  outboxDocuments,
  outboxLength,
  reportTotals,
  streamerEnv,
} from '../support/outbox-fixtures';

const shard_count = 64;
const seed = Number(process.env['TAPLINE_TEST_SEED'] ?? Date.now() % 1_000_000);
const database = 'tapline_cluster';
const shape = { cluster: 'tapline' };

describe('ClickHouse cluster: replicated tables, ON CLUSTER migrations, Distributed inserts and reads (real 18.16 + ZooKeeper)', function () {
  this.timeout(180_000);
  let cluster: ClickHouseClusterSet;
  let redis: RedisInstance;
  let first: ClickHouseInstance;
  let second: ClickHouseInstance;

  before(async function () {
    console.log(`    seed ${seed} (replay with TAPLINE_TEST_SEED=${seed})`);
    [cluster, redis] = await Promise.all([
      startClickHouseCluster({ dataDir: testDataDir('clickhouse-cluster'), shards: 1, replicas: 2 }),
      startTestRedis('clickhouse-cluster-redis'),
    ]);
    [first, second] = cluster.servers as [ClickHouseInstance, ClickHouseInstance];
  });

  after(async function () {
    await Promise.all([cluster?.stop(), redis?.stop()]);
  });

  it('migrates the whole cluster from one server, once', async function () {
    const applied = await migrate(first.url, database, undefined, migrations, shape);
    assert.deepEqual(
      applied.applied,
      migrations.map((m) => m.version),
    );
    const again = await migrate(second.url, database, undefined, migrations, shape);
    assert.deepEqual(again.applied, [], 'the other server sees every migration recorded');
    const tablesOf = async (server: ClickHouseInstance): Promise<string> =>
      queryClickHouse(server.url, `SELECT name, engine FROM system.tables WHERE database = ${stringLiteral(database)} ORDER BY name`);
    const tables = await tablesOf(first);
    assert.equal(await tablesOf(second), tables, 'both replicas have the same tables, views and engines');
    for (const expected of [
      'transactions\tDistributed',
      'transactions_local\tReplicatedReplacingMergeTree',
      'transactions_dedup\tView',
      'transactions_by_merchant_mv\tMaterializedView',
      'tapline_schema_migrations\tReplicatedReplacingMergeTree',
    ])
      assert.ok(tables.includes(expected), `${expected} in\n${tables}`);
    const columns = await queryClickHouse(
      second.url,
      `SELECT count() FROM system.columns WHERE database = ${stringLiteral(database)} AND table = 'transactions' AND name IN ('spent_after', 'line_count')`,
    );
    assert.equal(columns.trim(), '2', 'the Distributed table carries the columns added by later migrations');
  });

  it('streams through the Distributed tables; totals read on the other replica are exact, also after the same rows are inserted again', async function () {
    const totals = emptyTotals();
    const documents = outboxDocuments(seed, 'cluster', 400, shard_count, totals);
    await appendToOutbox(redis.url, documents);
    const logger = createLogger('streamer-cluster-test', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn');
    const config = loadStreamerConfig(
      streamerEnv(redis.url, first.url, database, { TAPLINE_CLICKHOUSE_CLUSTER: shape.cluster, TAPLINE_CLICKHOUSE_INSERT_QUORUM: '2' }),
    );
    const streamer = await Streamer.start(config, logger);
    try {
      await waitFor(
        'outbox drained into the cluster',
        async () => (await outboxLength(redis.url, shard_count)) === 0,
        () => 'outbox not empty',
        60_000,
      );
    } finally {
      await streamer.stop();
    }
    assert.deepEqual(
      await reportTotals(second.url, database),
      expectedReportTotals(totals),
      'totals read on the replica that took no insert',
    );
    // Another batch, inserted twice (once through each server), as a streamer that crashed after
    // its INSERT and before its acknowledgement sends it again.
    const again = outboxDocuments(seed + 1, 'cluster-again', 200, shard_count, totals);
    const rows = again.flatMap((document, index) => rowsOf({ shard: document.shard, streamId: `1-${index}`, document: document.json }));
    for (const server of [first, second]) {
      const sink = new ClickHouseSink({ url: server.url, database, insert_timeout_ms: 30_000, cluster: { insert_quorum: 2 } });
      try {
        await sink.insert(rows);
      } finally {
        await sink.close();
      }
    }
    assert.deepEqual(await reportTotals(first.url, database), expectedReportTotals(totals), 'a batch inserted twice counts once');
    const local = async (server: ClickHouseInstance): Promise<string> =>
      queryClickHouse(server.url, `SELECT count(), sum(amount) FROM ${database}.transactions_local FINAL`);
    assert.equal(await local(first), await local(second), 'both replicas hold the same transactions');
  });
});
