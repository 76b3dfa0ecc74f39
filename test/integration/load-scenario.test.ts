// Proves the load scenarios SREs run with k6 (loadtest/scenarios.json) against a real node and
// Redis, through the local Node runner of the same definition (loadtest/scenario.ts), shortened
// to a few seconds at a tenth of the rate: setup works (cards, hot card, terminals, fleets); every
// operation of every scenario meets its checks (purchases, cash top-ups, purchase + reversal,
// pre-authorization + completion, fleet fuel purchases, AuthorizeStream frames); the thresholds the
// k6 script declares are evaluated on the results; and the ramp to saturation runs and counts
// iterations it had to drop. Latency thresholds are reported, not asserted: this machine's two
// cores are shared with the other tests.

import assert from 'node:assert/strict';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { loadScenarioDefinition, runScenarios, durationMs, type ScenarioDefinition } from '../../loadtest/scenario';
import { startInProcessNode, startTestRedis, accessTo } from '../support/harness';

const seed = Number(process.env['TAPLINE_TEST_SEED'] ?? Date.now() % 1_000_000);

/** The definition with setup sized for a test: fewer cards and fleets, same operations and mix. */
function small(definition: ScenarioDefinition): ScenarioDefinition {
  return { ...definition, setup: { ...definition.setup, cards: 50, fleets: 2, fleet_cards_per_fleet: 5 } };
}

describe('load scenarios (loadtest/scenarios.json) through the Node runner, real node and Redis', function () {
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let definition: ScenarioDefinition;

  before(async function () {
    console.log(`    seed ${seed} (replay with TAPLINE_TEST_SEED=${seed})`);
    definition = small(loadScenarioDefinition());
    redis = await startTestRedis('load-scenario');
    // The scenario loads cards with 100,000,000.00 (no request may decline for funds): far above
    // the four-eyes bound, which is not what this suite measures, so the bound is raised.
    node = await startInProcessNode(redis.url, { TAPLINE_FOUR_EYES_AMOUNT_MINOR: '1000000000000' });
  });

  after(async function () {
    await node?.shutdown();
    await redis?.stop();
  });

  it('the definition names every scenario the k6 script runs, with valid durations and a mix', function () {
    for (const name of [...definition.default_scenarios, ...definition.all_scenarios, 'saturation'])
      assert.ok(definition.scenarios[name], `scenario ${name} is defined`);
    for (const scenario of Object.values(definition.scenarios))
      if (scenario.executor === 'ramping-arrival-rate') for (const stage of scenario.stages) assert.ok(durationMs(stage.duration) > 0);
      else assert.ok(durationMs(scenario.duration) > 0);
    assert.ok(
      Object.values(definition.mix).every((weight) => weight > 0),
      'every mixed operation has a weight',
    );
  });

  it('authorize, hot card, stream and mixed traffic meet every check; thresholds are evaluated', async function () {
    this.timeout(120_000);
    const report = await runScenarios(await accessTo(node), definition, definition.all_scenarios, {
      seed,
      scale: { duration_ms: 2_000, rate_factor: 0.1 },
    });
    for (const result of report.scenarios) process.stdout.write(`      ${JSON.stringify(result)}\n`);
    for (const threshold of report.thresholds)
      process.stdout.write(`      threshold ${threshold.name}: ${threshold.ok ? 'ok' : 'FAILED'} (${threshold.detail})\n`);
    for (const result of report.scenarios) {
      assert.ok(result.iterations > 0, `${result.scenario} ran iterations`);
      assert.equal(result.checks_failed, 0, `${result.scenario}: failed checks ${result.failed_checks.join(', ')}`);
    }
    const stream = report.scenarios.find((r) => r.scenario === 'stream');
    assert.ok((stream?.stream_items ?? 0) > 0, 'stream items were answered and timed');
    const mixed = report.scenarios.find((r) => r.scenario === 'mixed');
    assert.ok((mixed?.checks_passed ?? 0) > (mixed?.iterations ?? 0), 'mixed operations check more than one call each');
    const names = report.thresholds.map((t) => t.name);
    for (const expected of [
      'checks rate>0.999',
      'authorize: dropped_iterations<=0',
      'authorize: Authorize p(99)<50',
      'stream: stream item p(99)<100',
    ])
      assert.ok(names.includes(expected), `threshold ${expected} is evaluated; evaluated: ${names.join(', ')}`);
    assert.ok(report.thresholds.find((t) => t.name === 'checks rate>0.999')?.ok, 'the checks threshold passes');
  });

  it('the ramp to saturation runs, and drops the iterations no VU is free for', async function () {
    this.timeout(60_000);
    const saturation = definition.scenarios['saturation'];
    assert.ok(saturation !== undefined && saturation.executor === 'ramping-arrival-rate');
    // Two VUs against a ramp to hundreds per second: the ceiling is reached and counted.
    const narrow: ScenarioDefinition = {
      ...definition,
      scenarios: { saturation: { ...saturation, pre_allocated_vus: 2, max_vus: 2 } },
    };
    const report = await runScenarios(await accessTo(node), narrow, ['saturation'], {
      seed: seed + 1,
      scale: { duration_ms: 2_000, rate_factor: 0.1 },
      runId: `sat-${seed}`,
    });
    const result = report.scenarios[0];
    process.stdout.write(`      ${JSON.stringify(result)}\n`);
    assert.ok(result !== undefined && result.iterations > 0);
    assert.ok(result.dropped_iterations > 0, 'past two VUs, iterations are dropped and counted, not queued');
    assert.equal(result.checks_failed, 0);
    assert.ok(!report.thresholds.some((t) => t.name.startsWith('saturation:')), 'the ramp has no pass/fail thresholds of its own');
  });
});
