// Node CPU of one fleet authorization through the region, without gRPC, next to a plain card's
// (the same measurement as loadtest/micro.ts' domain_us_per_authorization): where the fleet path's
// extra cost is. Alone:  node --max-semi-space-size=16 dist/loadtest/fleet-micro.js redis://127.0.0.1:PORT

import { accessToNode, benchCredentials, benchNodeEnv } from '../tools/devenv/secure-node';
import pino from 'pino';
import { loadConfig } from '../services/authorizer/config';
import { AuthorizerNode } from '../services/authorizer/node';
import { parseAuthorize } from '../services/authorizer/grpc/validate';
import { parseFleetAuthorize } from '../services/authorizer/grpc/fleet-validate';
import { toAuthorizeResponse } from '../services/authorizer/grpc/mapping';
import { TaplineClient, purchase } from '../tools/client/tapline-client';
import { round } from './driver';
import { pump } from './micro';
import { fleet_bench_settings, fleetRequests, seedFleets } from './fleet';

const silent = pino({ level: 'silent' });
const operations = 60_000;

async function main(): Promise<void> {
  const redisUrl = process.argv[2];
  if (redisUrl === undefined) throw new Error('usage: fleet-micro.js <redis url>');
  const credentials = await benchCredentials();
  const node = await AuthorizerNode.start(
    loadConfig({
      TAPLINE_REDIS_URL: redisUrl,
      TAPLINE_GRPC_PORT: '0',
      TAPLINE_INTERNAL_PORT: '0',
      TAPLINE_METRICS_PORT: '-1',
      TAPLINE_LOG_LEVEL: 'silent',
      ...(await benchNodeEnv(credentials, 'fleet-micro')),
    }),
    silent,
  );
  const access = accessToNode(credentials, node);
  const admin = new TaplineClient(access);
  for (let t = 0; t < 64; t++) await admin.registerTerminal(`bench-t${t}`, 'micro-m');
  for (let s = 0; s < 3_200; s += 200)
    await Promise.all(Array.from({ length: 200 }, (_, k) => admin.issueCard(`micro-card${s + k}`, 1_000_000_000_000, 'EUR', 'micro')));
  admin.close();
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
