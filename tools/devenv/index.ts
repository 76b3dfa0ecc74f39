// The dev/test environment process manager: throwaway Redis and ClickHouse servers that run
// as supervised child processes on 127.0.0.1, with their data in a directory the caller owns.
// Tests import from here; the dev CLI (main.ts) is a thin wrapper over the same functions.

export { type RedisInstance, type StartRedisOptions, redis_ready_timeout_ms, redis_stop_grace_ms, startRedis } from './redis';
export {
  type ClickHouseInstance,
  type StartClickHouseOptions,
  clickhouse_query_timeout_ms,
  clickhouse_ready_timeout_ms,
  clickhouse_stop_grace_ms,
  queryClickHouse,
  startClickHouse,
} from './clickhouse';
export { type ExitStatus, kill_wait_timeout_ms, pickFreePort, pickFreePorts } from './supervise';
