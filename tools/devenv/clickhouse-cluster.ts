// A local ClickHouse cluster for development and tests: ZooKeeper and ClickHouse servers that
// replicate each other's tables, in `shards` shards of `replicas` replicas, all on 127.0.0.1 with
// data under a directory the caller owns. Tapline's migrations target it with
// TAPLINE_CLICKHOUSE_CLUSTER (services/streamer/schema/cluster-ddl.ts).

import * as path from 'node:path';
import { startClickHouse, type ClickHouseInstance } from './clickhouse';
import { pickFreePorts } from './supervise';
import { startZooKeeper, type ZooKeeperInstance } from './zookeeper';

export interface ClickHouseClusterSet {
  /** The cluster's name in every server's remote_servers (TAPLINE_CLICKHOUSE_CLUSTER). */
  readonly name: string;
  /** The servers, shard by shard: [shard 0 replica 0, shard 0 replica 1, ...]. */
  readonly servers: readonly ClickHouseInstance[];
  readonly zookeeper: ZooKeeperInstance;
  stop(): Promise<void>;
}

export async function startClickHouseCluster(options: {
  readonly dataDir: string;
  readonly shards?: number;
  readonly replicas?: number;
  readonly name?: string;
}): Promise<ClickHouseClusterSet> {
  const name = options.name ?? 'tapline';
  const shards = options.shards ?? 1;
  const replicas = options.replicas ?? 2;
  const zookeeper = await startZooKeeper({ dataDir: path.join(options.dataDir, 'zookeeper') });
  const servers: ClickHouseInstance[] = [];
  try {
    const count = shards * replicas;
    // Every server's configuration names every other's native port: all ports are chosen first.
    const ports = await pickFreePorts(3 * count);
    const tcp = (index: number): number => ports[3 * index] as number;
    const layout = Array.from({ length: shards }, (_, shard) =>
      Array.from({ length: replicas }, (_, replica) => tcp(shard * replicas + replica)),
    );
    // One at a time: each server opens its ZooKeeper session and system tables before the next starts.
    for (let index = 0; index < count; index++) {
      const shard = Math.floor(index / replicas);
      servers.push(
        await startClickHouse({
          dataDir: path.join(options.dataDir, `clickhouse-${index}`),
          tcpPort: tcp(index),
          httpPort: ports[3 * index + 1],
          replication: {
            interserverPort: ports[3 * index + 2] as number,
            zookeeper,
            cluster: { name, shards: layout },
            shard: String(shard + 1).padStart(2, '0'),
            replica: `r${index % replicas}`,
          },
        }),
      );
    }
  } catch (error) {
    await Promise.all(servers.map((server) => server.stop()));
    await zookeeper.stop();
    throw error;
  }
  return {
    name,
    servers,
    zookeeper,
    stop: async () => {
      await Promise.all(servers.map((server) => server.stop()));
      await zookeeper.stop();
    },
  };
}
