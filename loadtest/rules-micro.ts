// Node CPU of one plain-card authorization through the region, without gRPC (as fleet-micro.ts):
// cards of a program without rules next to cards of a program with rules (merchant list, velocity,
// hard and soft risk, temporary block, loyalty discount and points), to see what the ruled path
// costs and that the plain path did not get slower. Alone:
//   node --max-semi-space-size=16 dist/loadtest/rules-micro.js redis://127.0.0.1:PORT

import { parseAuthorize } from '../services/authorizer/grpc/validate';
import { toAuthorizeResponse } from '../services/authorizer/grpc/mapping';
import { TaplineClient, purchase } from '../tools/client/tapline-client';
import { CardClient, programConfig } from '../tools/client/card-client';
import { round } from './driver';
import { pump, startMicroNode } from './micro';

const operations = 40_000;
const cards_per_program = 3_200;

async function main(): Promise<void> {
  const redisUrl = process.argv[2];
  if (redisUrl === undefined) throw new Error('usage: rules-micro.js <redis url>');
  const { node, access } = await startMicroNode(redisUrl, 'rules-micro');
  const admin = new TaplineClient(access);
  const cards = new CardClient(access);
  await cards.defineProgram(
    'ruled',
    programConfig({
      rules: {
        allowedMerchants: [],
        blockedMerchants: ['elsewhere'],
        allowedTerminals: [],
        blockedTerminals: [],
        restrictMerchants: false,
        restrictTerminals: false,
        velocity: [{ name: 'minute', windowMs: 10_000n, countMax: 64n, amountMaxMinor: 1_000_000_000n }],
        risk: {
          hardAmountMinor: 1_000_000n,
          softAmountMinor: 100_000n,
          softVelocity: [],
          blockAfterDeclines: 5n,
          declineWindowMs: 60_000n,
          blockMs: 60_000n,
        },
        loyalty: {
          minorPerUnit: 100n,
          pointsPerUnit: 1n,
          groupMultiplierBp: {},
          merchantMultiplierBp: {},
          discountBpByGroup: {},
          pointValueMinor: 1n,
        },
      },
    }),
  );
  for (let t = 0; t < 64; t++) await admin.registerTerminal(`bench-t${t}`, 'micro-m');
  for (const program of ['plain', 'ruled']) {
    for (let s = 0; s < cards_per_program; s += 200) {
      await Promise.all(
        Array.from({ length: 200 }, (_, k) => admin.issueCard(`${program}-card${s + k}`, 1_000_000_000_000, 'EUR', program)),
      );
    }
  }
  admin.close();
  cards.close();
  let txn = 0;
  const run = (program: string): Promise<number> =>
    pump(operations, (i, done) => {
      node.region.money(
        parseAuthorize(purchase(`bench-t${i % 64}`, ++txn, `${program}-card${(i * 7_919) % cards_per_program}`, 1 + (i % 500))),
        (outcome) => {
          if (outcome.ok) toAuthorizeResponse(outcome.value);
          done();
        },
      );
    });
  const results: Record<string, number[]> = { plain_us: [], ruled_us: [] };
  for (let r = 0; r < 3; r++) {
    results['plain_us']!.push(round(await run('plain'), 2));
    results['ruled_us']!.push(round(await run('ruled'), 2));
  }
  await node.shutdown();
  process.stdout.write(JSON.stringify(results) + '\n');
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`rules micro failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
