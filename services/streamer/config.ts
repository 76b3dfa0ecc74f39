// Configuration of a streamer process, from environment variables, validated at startup.
// Every bound says why it has its default; relations between bounds are checked together.

import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigError } from './errors';
import { envInt, log_level, parseEnv } from '../common/process';
import { identifier_pattern } from './sql';
import { redis_target_env, redisTargetOf, type RedisTarget } from '../common/redis-target';

const int = envInt;

const schema = z.object({
  // The consumer name in the Redis consumer group. A restarted process with the same name re-reads
  // its own pending entries at once; a process with a new name (a replaced pod) has its entries
  // claimed by a live streamer after TAPLINE_STREAMER_CLAIM_IDLE_MS.
  TAPLINE_NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .default(hostname().slice(0, 64)),
  // Where Redis is; with replicas, entries are streamed only once the replicas have them.
  ...redis_target_env,
  TAPLINE_CLICKHOUSE_URL: z.string().url().default('http://127.0.0.1:8123'),
  // Created by the migrations if missing. Validated as a plain identifier: it is spliced into DDL.
  TAPLINE_CLICKHOUSE_DATABASE: z.string().regex(identifier_pattern).default('tapline'),
  // A ClickHouse cluster (its name in the servers' remote_servers): migrations then run ON CLUSTER
  // with replicated tables and Distributed tables for reads and inserts (cluster-ddl.ts), and each
  // INSERT returns once its rows are on their shards. Unset: one server.
  TAPLINE_CLICKHOUSE_CLUSTER: z.string().regex(identifier_pattern).optional(),
  // On a cluster, replicas of a shard that must have an INSERT before it counts as done (2: a
  // batch is acknowledged in Redis only once two replicas hold it). 0 leaves it to replication.
  TAPLINE_CLICKHOUSE_INSERT_QUORUM: int(0, 16, 0),
  TAPLINE_LOG_LEVEL: log_level,
  // Must equal the authorizer's value: it decides which outbox streams exist.
  TAPLINE_SHARD_COUNT: int(1, 65536, 256),
  // Prometheus /metrics. 0 picks a free port; -1 turns it off (tests).
  TAPLINE_METRICS_PORT: int(-1, 65535, 9465),
  // Rows per ClickHouse INSERT. ClickHouse prefers few large inserts: each makes a part on disk
  // (on 18.16 two files per column of a ~50-column table, and the merchant view's table too) that
  // background merges rewrite later. 20,000 rows of ~250 bytes is ~5 MB.
  TAPLINE_STREAMER_BATCH_ROWS_MAX: int(1, 1_000_000, 20_000),
  // A batch that is not full is sent after this long: reports see a transaction within about two
  // to three seconds (goal: 5 s), and ClickHouse gets one insert per table every two seconds per
  // streamer. Measured under the benchmark's load against 1 s / 5,000 rows: the streamer and
  // ClickHouse together used ~27 instead of ~34 µs of CPU per authorization (three runs each),
  // most of it ClickHouse's merges.
  TAPLINE_STREAMER_BATCH_WAIT_MS: int(1, 600_000, 2_000),
  // Longest XREADGROUP BLOCK. Short enough that SIGTERM is noticed quickly.
  TAPLINE_STREAMER_READ_BLOCK_MS: int(1, 60_000, 1_000),
  // Pause after a read that brought under a tenth of a batch. Each XREADGROUP looks at every
  // shard's stream; under steady load, reading as soon as one entry exists cost Redis and the
  // streamer CPU that the authorization path needs. 250 ms adds at most that to the lag.
  TAPLINE_STREAMER_READ_PAUSE_MS: int(0, 10_000, 250),
  // One INSERT may take this long before it counts as failed (and is retried: duplicates are
  // removed by the deduplicated view). Generous: a merge-heavy ClickHouse can be slow for seconds.
  TAPLINE_STREAMER_INSERT_TIMEOUT_MS: int(100, 600_000, 30_000),
  // Retry pause after a failed insert or ack doubles from the initial value up to the cap; the cap
  // keeps a recovered ClickHouse from waiting long for the backlog to start draining.
  TAPLINE_STREAMER_BACKOFF_INITIAL_MS: int(1, 60_000, 200),
  TAPLINE_STREAMER_BACKOFF_MAX_MS: int(1, 600_000, 10_000),
  // Entries pending this long at another consumer are taken over (XAUTOCLAIM): that consumer is
  // presumed dead. Must exceed a healthy batch cycle (wait + insert), checked below.
  TAPLINE_STREAMER_CLAIM_IDLE_MS: int(1, 86_400_000, 120_000),
  TAPLINE_STREAMER_CLAIM_INTERVAL_MS: int(10, 3_600_000, 10_000),
  // A consumer of the group with nothing pending that has not read for this long is removed from
  // the group (XGROUP DELCONSUMER, checked and done atomically per stream): streamers restarted
  // under new names (pods) would otherwise pile up in XINFO CONSUMERS forever. A live streamer
  // reads at least every READ_BLOCK_MS; must be at least CLAIM_IDLE_MS, checked below.
  TAPLINE_STREAMER_CONSUMER_FORGET_MS: int(1_000, 2_592_000_000, 3_600_000),
  // How often backlog length and age of the oldest entry are sampled (one pipelined round of
  // XLEN + XRANGE per shard).
  TAPLINE_STREAMER_LAG_SAMPLE_MS: int(10, 600_000, 5_000),
  // Non-blocking Redis commands slower than this count as failed and are retried.
  TAPLINE_REDIS_COMMAND_TIMEOUT_MS: int(10, 600_000, 5_000),
  // On SIGTERM: finish and acknowledge the batch in hand within this long, then exit. Unsent
  // entries stay pending in Redis for the next start. Below Kubernetes' 30 s grace period.
  TAPLINE_SHUTDOWN_GRACE_MS: int(0, 600_000, 20_000),
});

export type StreamerConfig = z.infer<typeof schema> & { readonly redis: RedisTarget };

export function loadStreamerConfig(env: Record<string, string | undefined> = process.env): StreamerConfig {
  const config = parseEnv(schema, env);
  if (config.TAPLINE_STREAMER_BACKOFF_INITIAL_MS > config.TAPLINE_STREAMER_BACKOFF_MAX_MS) {
    throw new ConfigError('invalid configuration: TAPLINE_STREAMER_BACKOFF_INITIAL_MS exceeds TAPLINE_STREAMER_BACKOFF_MAX_MS');
  }
  // A live streamer's entries must not be claimed in the middle of a healthy cycle.
  const cycle_ms = config.TAPLINE_STREAMER_BATCH_WAIT_MS + config.TAPLINE_STREAMER_INSERT_TIMEOUT_MS;
  if (config.TAPLINE_STREAMER_CLAIM_IDLE_MS <= cycle_ms) {
    throw new ConfigError(`invalid configuration: TAPLINE_STREAMER_CLAIM_IDLE_MS must exceed batch wait + insert timeout (${cycle_ms} ms)`);
  }
  // A consumer is forgotten only after it would have lost its entries to a claim anyway.
  if (config.TAPLINE_STREAMER_CONSUMER_FORGET_MS < config.TAPLINE_STREAMER_CLAIM_IDLE_MS) {
    throw new ConfigError('invalid configuration: TAPLINE_STREAMER_CONSUMER_FORGET_MS must be at least TAPLINE_STREAMER_CLAIM_IDLE_MS');
  }
  const problems: string[] = [];
  const redis = redisTargetOf(config, config.TAPLINE_REDIS_COMMAND_TIMEOUT_MS, problems);
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return { ...config, redis };
}

/** Command-line flags; anything else is refused so a typo cannot silently change what runs. */
export function parseStreamerArgs(args: readonly string[]): { readonly migrate: 'only' | 'skip' | 'on-start' } {
  let migrate: 'only' | 'skip' | 'on-start' = 'on-start';
  for (const arg of args) {
    if (arg === '--migrate-only') migrate = 'only';
    else if (arg === '--skip-migrations') migrate = 'skip';
    else throw new ConfigError(`unknown argument ${JSON.stringify(arg)} (expected --migrate-only or --skip-migrations)`);
  }
  return { migrate };
}
