// Node CPU of one fleet authorization through the region, without gRPC, next to a plain card's
// (the same measurement as loadtest/micro.ts' domain_us_per_authorization): where the fleet path's
// extra cost is. Alone:  node --max-semi-space-size=16 dist/loadtest/fleet-micro.js redis://127.0.0.1:PORT

import { parseAuthorize } from '../services/authorizer/grpc/validate';
import { parseFleetAuthorize } from '../services/authorizer/grpc/fleet-validate';
import { toAuthorizeResponse } from '../services/authorizer/grpc/mapping';
import { purchase } from '../tools/client/tapline-client';
import { round } from './driver';
import { pump, seedMicroCards, startMicroNode } from './micro';
import { fleet_bench_settings, fleetRequests, seedFleets } from './fleet';

const operations = 60_000;

async function main(): Promise<void> {
  const redisUrl = process.argv[2];
  if (redisUrl === undefined) throw new Error('usage: fleet-micro.js <redis url>');
  const { node, access } = await startMicroNode(redisUrl, 'fleet-micro');
  await seedMicroCards(access, 'bench-t', 3_200, 200);
  await seedFleets(access, Date.now());
  let txn = 0;
  const fleet = fleetRequests(64, () => ++txn);
  const run = (parse: (i: number) => ReturnType<typeof parseAuthorize>): Promise<number> =>
    pump(operations, (i, done) => {
      node.region.money(parse(i), (outcome) => {
        if (outcome.ok) toAuthorizeResponse(outcome.value);
        done();
      });
    });
  const results: Record<string, number[]> = { plain_us: [], fleet_us: [] };
  for (let r = 0; r < 3; r++) {
    results['plain_us']!.push(
      round(await run((i) => parseAuthorize(purchase(`bench-t${i % 64}`, ++txn, `micro-card${(i * 7_919) % 3_200}`, 1 + (i % 500)))), 2),
    );
    results['fleet_us']!.push(round(await run((i) => parseFleetAuthorize(fleet(i))), 2));
  }
  await node.shutdown();
  process.stdout.write(JSON.stringify({ fleets: fleet_bench_settings.fleets, ...results }) + '\n');
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`fleet micro failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
