// Node and Redis CPU of one uploaded offline entry merged, without gRPC, next to one authorization
// through the region (the same measurement as loadtest/micro.ts' domain_us_per_authorization):
// where the merge's cost per entry goes. The uploads go to the terminal door's use case as the
// service hands them over (the signed batch parsed, merged, its answer mapped to the wire), 16
// terminals at once, each uploading its batches of 500 one after the other (loadtest/offline.ts).
// Alone:  node --max-semi-space-size=16 dist/loadtest/offline-micro.js redis://127.0.0.1:PORT

import { PerformanceObserver } from 'node:perf_hooks';
import { parseAuthorize } from '../services/authorizer/grpc/validate';
import { toAuthorizeResponse } from '../services/authorizer/grpc/mapping';
import { parseUpload } from '../services/authorizer/grpc/offline-validate';
import { toUploadResponse } from '../services/authorizer/grpc/offline-service';
import { purchase } from '../tools/client/tapline-client';
import { round } from './driver';
import { pump, redisCpuSeconds, seedMicroCards, startMicroNode } from './micro';
import { offline_settings, seedOffline } from './offline';

const authorizations = 50_000;
/** Batches each terminal uploads in the measured run (16 terminals, 500 entries each: 64,000 entries). */
const batches_per_terminal = 8;
/** Batches each terminal uploads before (16,000 entries: every card of the round in memory). */
const warmup_batches_per_terminal = 2;

interface Cost {
  readonly node_us: number;
  readonly gc_us: number;
  readonly redis_us: number;
}

/** Node CPU (this process), its collector's pauses and Redis CPU per operation of `run`, which performs `count` of them. */
async function measure(redisUrl: string, count: number, run: () => Promise<void>): Promise<Cost> {
  const redisBefore = await redisCpuSeconds(redisUrl);
  let gcMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  });
  observer.observe({ entryTypes: ['gc'] });
  const cpu = process.cpuUsage();
  await run();
  const used = process.cpuUsage(cpu);
  await new Promise((resolve) => setImmediate(resolve));
  observer.disconnect();
  const redisSeconds = (await redisCpuSeconds(redisUrl)) - redisBefore;
  return { node_us: (used.user + used.system) / count, gc_us: (gcMs * 1e3) / count, redis_us: (redisSeconds * 1e6) / count };
}

async function main(): Promise<void> {
  const redisUrl = process.argv[2];
  if (redisUrl === undefined) throw new Error('usage: offline-micro.js <redis url>');
  const { node, access } = await startMicroNode(redisUrl, 'offline-micro');
  await seedMicroCards(access, 'micro-t', 5_000, 250);
  const { terminals, offline } = await seedOffline(access);
  offline.close();

  const authorization = await measure(redisUrl, authorizations, () =>
    pump(authorizations, (i, done) => {
      const request = parseAuthorize(purchase(`micro-t${i % 64}`, i + 1, `micro-card${(i * 7_919) % 5_000}`, 1 + (i % 500)));
      node.region.money(request, (outcome) => {
        if (outcome.ok) toAuthorizeResponse(outcome.value);
        done();
      });
    }).then(() => undefined),
  );

  // Every terminal sells and closes its batches first (its own CPU is not the node's): a warm-up
  // round that brings every card into memory (as the benchmark's later rounds find them), then the
  // measured one.
  const sell = (batches: number): number => {
    const perTerminal = batches * offline_settings.batch_entries;
    for (const [t, sim] of terminals.entries()) {
      for (let n = 0; n < perTerminal; n++) {
        const card = `bench-o${(batches * 7_919 + t * 613 + n * 31) % offline_settings.cards}`;
        sim.sell({ cardId: card, programId: offline_settings.program }, 1 + (n % 500), 'EUR');
      }
      sim.closeBatches();
    }
    return terminals.length * perTerminal;
  };
  const uploadAll = async (sold: number): Promise<void> => {
    let answered = 0;
    await Promise.all(
      terminals.map(async (sim) => {
        for (const batch of [...sim.pending]) {
          const upload = parseUpload({
            terminalId: sim.terminalId,
            batch: Buffer.from(batch.bytes),
            signature: Buffer.from(batch.signature),
          });
          const answer = await node.offline.uploads.upload({ kind: 'terminal', terminalId: sim.terminalId }, upload);
          answered += toUploadResponse(answer).results.length;
          sim.pending.splice(sim.pending.indexOf(batch), 1);
        }
      }),
    );
    if (answered !== sold) throw new Error(`offline micro: ${answered} of ${sold} entries answered`);
  };
  await uploadAll(sell(warmup_batches_per_terminal));
  const sold = sell(batches_per_terminal);
  const merge = await measure(redisUrl, sold, () => uploadAll(sold));
  await node.shutdown();
  process.stdout.write(
    JSON.stringify({
      domain_us_per_authorization: round(authorization.node_us, 2),
      gc_us_per_authorization: round(authorization.gc_us, 2),
      redis_us_per_authorization: round(authorization.redis_us, 2),
      domain_us_per_offline_entry: round(merge.node_us, 2),
      gc_us_per_offline_entry: round(merge.gc_us, 2),
      redis_us_per_offline_entry: round(merge.redis_us, 2),
    }) + '\n',
  );
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`offline micro failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
