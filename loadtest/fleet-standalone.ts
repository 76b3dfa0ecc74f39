// A short standalone run of the fleet phase (loadtest/fleet.ts) without the rest of the benchmark:
// a private Redis (appendfsync always), one authorizer node process, a few thousand plain cards
// and the bench fleets, then alternating rounds. Prints one JSON line. For development; `npm run
// bench` runs the same phase in its full run.
//   node dist/loadtest/fleet-standalone.js   (BENCH_MEASURE_S, BENCH_ROUNDS, BENCH_CONCURRENCY)

import { accessToNode, benchCredentials, benchNodeEnv } from '../tools/devenv/secure-node';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startRedis } from '../tools/devenv/redis';
import { startServerProcess } from '../tools/devenv/node-process';
import { projectRoot } from '../services/common/paths';
import { authorizer_node_flags } from '../services/authorizer/runtime-flags';
import { TaplineClient, purchase } from '../tools/client/tapline-client';
import { unaryTargets, type PhaseResult } from './driver';
import { fleetRequests, fleetVsCard, seedFleets } from './fleet';

async function main(): Promise<void> {
  const base = join(projectRoot(), '.bench');
  mkdirSync(base, { recursive: true });
  const runDir = mkdtempSync(join(base, 'fleet-'));
  const redis = await startRedis({ dataDir: join(runDir, 'redis'), appendfsync: 'always' });
  const credentials = await benchCredentials();
  const node = await startServerProcess({
    script: 'dist/services/authorizer/main.js',
    nodeArgs: authorizer_node_flags,
    env: {
      TAPLINE_REDIS_URL: redis.url,
      TAPLINE_GRPC_PORT: '0',
      TAPLINE_INTERNAL_PORT: '0',
      TAPLINE_METRICS_PORT: '-1',
      TAPLINE_LOG_LEVEL: 'warn',
      ...(await benchNodeEnv(credentials, 'fleet-bench')),
    },
  });
  const access = accessToNode(credentials, node);
  try {
    const terminals = 16;
    const cards = 2_000;
    const admin = new TaplineClient(access);
    for (let t = 0; t < terminals; t++) await admin.registerTerminal(`bench-t${t}`, `bench-m${t % 8}`);
    for (let start = 0; start < cards; start += 200) {
      await Promise.all(Array.from({ length: 200 }, (_, k) => admin.issueCard(`bench-c${start + k}`, 1_000_000_000_000, 'EUR', 'bench')));
    }
    admin.close();
    await seedFleets(access, Date.now());
    let txn = 0;
    const plain = (i: number) => purchase(`bench-t${i % terminals}`, ++txn, `bench-c${(i * 7919) % cards}`, 1 + (i % 500));
    const fleet = fleetRequests(terminals, () => ++txn);
    const gateway = await credentials.gateway(Array.from({ length: 8 }, (_, m) => `bench-m${m}`));
    const targets = unaryTargets(node.address, 4, {
      ca: readFileSync(credentials.caFile),
      cert: readFileSync(gateway.cert),
      key: readFileSync(gateway.key),
      servername: 'localhost',
    });
    const phase = async (name: string, run: () => Promise<PhaseResult>): Promise<PhaseResult> => {
      const result = await run();
      process.stderr.write(`[fleet-bench] ${name} ${JSON.stringify(result)}\n`);
      return result;
    };
    const result = await fleetVsCard(
      targets,
      plain,
      fleet,
      {
        concurrency: Number(process.env['BENCH_CONCURRENCY'] ?? 256),
        warmup_s: 2,
        measure_s: Number(process.env['BENCH_MEASURE_S'] ?? 4),
        rounds: Number(process.env['BENCH_ROUNDS'] ?? 3),
      },
      phase,
    );
    for (const target of targets) target.close();
    process.stdout.write(JSON.stringify({ ratios: { fleet_vs_card: result.fleet_vs_card }, ...result }) + '\n');
  } finally {
    await node.terminate().catch(() => undefined);
    await redis.stop();
    rmSync(runDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`fleet bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
