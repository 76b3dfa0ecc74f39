// Process entry of the streamer. Reads configuration from the environment, applies the
// ClickHouse migrations, streams the outbox, and on SIGTERM / SIGINT sends and acknowledges the
// batch in hand before exiting 0. Prints one JSON line {"event":"streaming","grpcPort":0,...} on
// stdout when streaming, whatever the log level (the streamer serves no gRPC; the field lets the
// shared process helpers wait for it like for the other services).
//
//   --migrate-only     apply the migrations (retrying until ClickHouse answers) and exit 0: the
//                      chart's migration Job, run before streamers start or are upgraded.
//   --skip-migrations  stream without migrating (the chart's streamers, after that Job).
//
// /healthz answers as soon as the process starts, whatever ClickHouse does, so a liveness probe
// never restarts a streamer that is only waiting for ClickHouse; /readyz answers 200 once streaming.

import type { ClusterShape } from './schema/cluster-ddl';
import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../common/logger';
import { loadStreamerConfig, parseStreamerArgs, type StreamerConfig } from './config';
import { configOrExit, exitOnUnexpectedError, onStopSignal } from '../common/process';
import { serveMetrics } from '../common/metrics-http';
import { StreamerMetrics } from './metrics';
import { migrate } from './schema/migrate';
import { Streamer } from './streamer';

async function main(): Promise<void> {
  const { migrate: migration } = parseStreamerArgs(process.argv.slice(2));
  const config: StreamerConfig = configOrExit(loadStreamerConfig);
  const logger = createLogger('tapline-streamer', config.TAPLINE_LOG_LEVEL);
  if (migration === 'only') return migrateOnly(config, logger);
  let stopRequested = false;
  // Filled in as startup proceeds; a signal during startup sees what exists so far.
  const running: { streamer?: Streamer; server?: http.Server } = {};
  const stop = (signal: string): void => {
    stopRequested = true;
    logger.info({ signal }, 'shutting down');
    if (running.streamer === undefined) process.exit(0);
    running.streamer.stop().then(
      ({ unacknowledged }) => {
        if (unacknowledged > 0) logger.warn({ unacknowledged }, 'entries left pending in Redis for the next start');
        running.server?.close();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  onStopSignal(stop);
  // A defect: what was not acknowledged stays pending in Redis for the next start.
  exitOnUnexpectedError(logger, async () => {
    await running.streamer?.stop();
  });

  const metrics = new StreamerMetrics(true);
  const server =
    config.TAPLINE_METRICS_PORT < 0
      ? undefined
      : await serveMetrics({
          registry: metrics.registry,
          host: '0.0.0.0',
          port: config.TAPLINE_METRICS_PORT,
          ready: () => running.streamer !== undefined,
        });
  running.server = server;
  if (migration === 'on-start') await migrateUntilDone(config, logger, () => stopRequested);
  if (stopRequested) return;
  running.streamer = await Streamer.start(config, logger, metrics);
  running.streamer.finished.catch((error: unknown) => {
    logger.fatal({ err: error }, 'streamer stopped on an unexpected error');
    process.exit(1);
  });
  const metricsPort = server ? (server.address() as AddressInfo).port : null;
  process.stdout.write(
    JSON.stringify({ event: 'streaming', grpcPort: 0, metricsPort, consumer: config.TAPLINE_NODE_ID, pid: process.pid }) + '\n',
  );
  if (stopRequested) stop('SIGTERM');
}

/** --migrate-only: exits 0 once the schema is current, 1 when stopped before that (SIGTERM). */
async function migrateOnly(config: StreamerConfig, logger: Logger): Promise<void> {
  onStopSignal((signal) => {
    logger.info({ signal }, 'migration stopped before the schema was current');
    process.exit(1);
  });
  await migrateUntilDone(config, logger, () => false);
  process.stdout.write(JSON.stringify({ event: 'migrated', database: config.TAPLINE_CLICKHOUSE_DATABASE, pid: process.pid }) + '\n');
  process.exit(0);
}

/** The ClickHouse cluster the migrations target, when there is one. */
function clusterShapeOf(config: StreamerConfig): ClusterShape | undefined {
  return config.TAPLINE_CLICKHOUSE_CLUSTER === undefined ? undefined : { cluster: config.TAPLINE_CLICKHOUSE_CLUSTER };
}

/** ClickHouse may start after the streamer: migrations are retried with a capped backoff. */
async function migrateUntilDone(config: StreamerConfig, logger: Logger, stopRequested: () => boolean): Promise<boolean> {
  for (let attempt = 0; !stopRequested(); attempt += 1) {
    try {
      await migrate(config.TAPLINE_CLICKHOUSE_URL, config.TAPLINE_CLICKHOUSE_DATABASE, logger, undefined, clusterShapeOf(config));
      return true;
    } catch (error) {
      const wait_ms = Math.min(
        config.TAPLINE_STREAMER_BACKOFF_MAX_MS,
        config.TAPLINE_STREAMER_BACKOFF_INITIAL_MS * 2 ** Math.min(attempt, 30),
      );
      logger.warn({ err: error, attempt, wait_ms }, 'migrations failed; retrying');
      await new Promise((resolve) => setTimeout(resolve, wait_ms));
    }
  }
  return false;
}

main().catch((error: unknown) => {
  process.stderr.write(`streamer failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
