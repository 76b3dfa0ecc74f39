// The local runner of loadtest/scenarios.json: the same scenario definition the k6 script
// (loadtest/k6/tapline.ts) reads, run from Node where k6 cannot be installed. It implements the
// same setup (cards, a hot card, one terminal per VU, fleets), the same operations (purchase,
// top-up, purchase + reversal, pre-authorization + completion, fleet purchase, AuthorizeStream
// frames), the same executors (constant and ramping arrival rate with a VU ceiling that drops
// iterations it cannot start, constant VUs) and the same checks and thresholds, so a run here and
// a k6 run answer the same questions. `scale` shortens a run (tests).

import type { ClientAccess } from '../tools/client/access';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ReverseResult, type AuthorizeRequest, type AuthorizeStreamResponse } from '../gen/tapline/v1/authorization';
import { AuthorizationKind, Outcome } from '../gen/tapline/v1/types';
import { FleetClient } from '../tools/client/fleet-client';
import { TaplineClient } from '../tools/client/tapline-client';

const executor = z.discriminatedUnion('executor', [
  z.object({
    executor: z.literal('constant-arrival-rate'),
    operation: z.string(),
    rate: z.number().int().positive(),
    duration: z.string(),
    pre_allocated_vus: z.number().int().positive(),
    max_vus: z.number().int().positive(),
    description: z.string(),
    gated: z.boolean().optional(),
  }),
  z.object({
    executor: z.literal('ramping-arrival-rate'),
    operation: z.string(),
    start_rate: z.number().int().nonnegative(),
    stages: z.array(z.object({ duration: z.string(), target: z.number().int().nonnegative() })).min(1),
    pre_allocated_vus: z.number().int().positive(),
    max_vus: z.number().int().positive(),
    description: z.string(),
    gated: z.boolean().optional(),
  }),
  z.object({
    executor: z.literal('constant-vus'),
    operation: z.literal('stream'),
    vus: z.number().int().positive(),
    duration: z.string(),
    frames_per_stream: z.number().int().positive(),
    items_per_frame: z.number().int().positive(),
    description: z.string(),
    gated: z.boolean().optional(),
  }),
]);

const definition_schema = z.object({
  description: z.string(),
  setup: z.object({
    cards: z.number().int().positive(),
    card_initial_balance_minor: z.string().regex(/^[0-9]+$/),
    currency: z.string().regex(/^[A-Z]{3}$/),
    purchase_amount_max_minor: z.number().int().positive(),
    top_up_amount_max_minor: z.number().int().positive(),
    pre_authorization_amount_minor: z.number().int().positive(),
    program_id: z.string(),
    merchant_id: z.string(),
    operator_id: z.string(),
    fleets: z.number().int().nonnegative(),
    fleet_cards_per_fleet: z.number().int().positive(),
    fleet_credit_limit_minor: z.string().regex(/^[0-9]+$/),
    fleet_time_zone: z.string(),
    fleet_product: z.object({
      code: z.string(),
      group: z.string(),
      unit_price_minor: z.number().int().positive(),
      quantity_milli_max: z.number().int().positive(),
    }),
  }),
  mix: z.record(
    z.enum(['purchase', 'top_up', 'reverse', 'pre_authorization_completion', 'fleet_purchase']),
    z.number().int().nonnegative(),
  ),
  scenarios: z.record(z.string(), executor),
  default_scenarios: z.array(z.string()).min(1),
  all_scenarios: z.array(z.string()).min(1),
  thresholds: z.object({
    unary_p99_ms: z.number().positive(),
    stream_item_p99_ms: z.number().positive(),
    checks_rate_min: z.number().min(0).max(1),
    dropped_iterations_max: z.number().int().nonnegative(),
  }),
});

export type ScenarioDefinition = z.infer<typeof definition_schema>;
export type Scenario = z.infer<typeof executor>;
type Operation = 'purchase' | 'purchase_hot_card' | 'mix' | 'stream' | keyof ScenarioDefinition['mix'];

/** Reads and checks loadtest/scenarios.json (the file the k6 script opens). */
export function loadScenarioDefinition(path = join(__dirname, '..', '..', 'loadtest', 'scenarios.json')): ScenarioDefinition {
  return definition_schema.parse(JSON.parse(readFileSync(path, 'utf8')));
}

/** k6 duration syntax ("90s", "1m", "1m30s", "500ms") in milliseconds. */
export function durationMs(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`not a k6 duration: "${text}"`);
  const unit_ms: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  return parts.reduce((sum, p) => sum + Number(p[1]) * (unit_ms[p[2] ?? 's'] ?? 0), 0);
}

/** Shortens a run for tests: every duration becomes `duration_ms` in total, rates are multiplied. */
export interface Scale {
  readonly duration_ms: number;
  readonly rate_factor: number;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly iterations: number;
  readonly dropped_iterations: number;
  readonly checks_passed: number;
  readonly checks_failed: number;
  readonly authorize_calls: number;
  readonly authorize_p99_ms: number;
  readonly stream_items: number;
  readonly stream_item_p99_ms: number;
  readonly failed_checks: readonly string[];
}

export interface ThresholdResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface RunReport {
  readonly seed: number;
  readonly scenarios: readonly ScenarioResult[];
  readonly thresholds: readonly ThresholdResult[];
  readonly passed: boolean;
}

/** mulberry32: small, seeded, good enough to pick cards and amounts reproducibly. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function p99(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] as number;
}

/** What every scenario of a run shares: clients, ids, randomness. */
interface RunContext {
  readonly definition: ScenarioDefinition;
  readonly client: TaplineClient;
  readonly random: () => number;
  readonly runId: string;
  readonly hotCard: string;
  readonly fleetCards: string[];
  readonly odometers: Map<string, number>;
}

/** One VU: its own terminal and transaction numbers, as in the k6 script. */
interface Vu {
  readonly terminal: string;
  txn: number;
}

class Checks {
  passed = 0;
  failed = 0;
  readonly failures: string[] = [];
  readonly authorize_ms: number[] = [];
  readonly stream_item_ms: number[] = [];

  check(name: string, ok: boolean): void {
    if (ok) this.passed += 1;
    else {
      this.failed += 1;
      if (this.failures.length < 5) this.failures.push(name);
    }
  }
}

function cardId(context: RunContext): string {
  return `${context.runId}-card-${Math.floor(context.random() * context.definition.setup.cards)}`;
}

function money(context: RunContext, amount_minor: number): { amountMinor: bigint; currency: string } {
  return { amountMinor: BigInt(amount_minor), currency: context.definition.setup.currency };
}

function request(context: RunContext, vu: Vu, card: string, amount_minor: number, kind: AuthorizationKind): AuthorizeRequest {
  vu.txn += 1;
  return {
    terminalId: vu.terminal,
    terminalTxnNumber: BigInt(vu.txn),
    cardId: card,
    amount: money(context, amount_minor),
    kind,
    lineItems: [],
    pin: '',
    prompts: undefined,
    offline: undefined,
    original: undefined,
  };
}

async function timedAuthorize(context: RunContext, checks: Checks, message: AuthorizeRequest): Promise<Outcome | undefined> {
  const started = performance.now();
  try {
    const reply = await context.client.authorize(message, 5_000);
    checks.authorize_ms.push(performance.now() - started);
    checks.check('status is OK', true);
    checks.check(
      'outcome is APPROVED or DECLINED',
      reply.outcome === Outcome.OUTCOME_APPROVED || reply.outcome === Outcome.OUTCOME_DECLINED,
    );
    checks.check('not a replay', !reply.replayed);
    return reply.outcome;
  } catch {
    checks.authorize_ms.push(performance.now() - started);
    checks.check('status is OK', false);
    return undefined;
  }
}

const operations: Record<Exclude<Operation, 'mix' | 'stream'>, (context: RunContext, vu: Vu, checks: Checks) => Promise<void>> = {
  purchase: async (context, vu, checks) => {
    const amount = 1 + Math.floor(context.random() * context.definition.setup.purchase_amount_max_minor);
    await timedAuthorize(context, checks, request(context, vu, cardId(context), amount, AuthorizationKind.AUTHORIZATION_KIND_PURCHASE));
  },
  purchase_hot_card: async (context, vu, checks) => {
    const amount = 1 + Math.floor(context.random() * context.definition.setup.purchase_amount_max_minor);
    await timedAuthorize(context, checks, request(context, vu, context.hotCard, amount, AuthorizationKind.AUTHORIZATION_KIND_PURCHASE));
  },
  top_up: async (context, vu, checks) => {
    vu.txn += 1;
    const amount = 1 + Math.floor(context.random() * context.definition.setup.top_up_amount_max_minor);
    try {
      const reply = await context.client.topUp(
        cardId(context),
        amount,
        { terminalId: vu.terminal, txn: vu.txn },
        context.definition.setup.currency,
      );
      checks.check('top-up approved', reply.outcome === Outcome.OUTCOME_APPROVED);
    } catch {
      checks.check('top-up approved', false);
    }
  },
  reverse: async (context, vu, checks) => {
    const card = cardId(context);
    const amount = 1 + Math.floor(context.random() * context.definition.setup.purchase_amount_max_minor);
    const original = request(context, vu, card, amount, AuthorizationKind.AUTHORIZATION_KIND_PURCHASE);
    if ((await timedAuthorize(context, checks, original)) !== Outcome.OUTCOME_APPROVED) return;
    vu.txn += 1;
    try {
      const reply = await context.client.reverse(vu.terminal, vu.txn, card, {
        terminalId: vu.terminal,
        txn: Number(original.terminalTxnNumber),
      });
      checks.check('reversal REVERSED', reply.result === ReverseResult.REVERSE_RESULT_REVERSED);
    } catch {
      checks.check('reversal REVERSED', false);
    }
  },
  pre_authorization_completion: async (context, vu, checks) => {
    const card = cardId(context);
    const hold = context.definition.setup.pre_authorization_amount_minor;
    const pre = request(context, vu, card, hold, AuthorizationKind.AUTHORIZATION_KIND_PRE_AUTHORIZATION);
    if ((await timedAuthorize(context, checks, pre)) !== Outcome.OUTCOME_APPROVED) return;
    const completion = request(context, vu, card, 1 + Math.floor(context.random() * hold), AuthorizationKind.AUTHORIZATION_KIND_COMPLETION);
    completion.original = { ref: { $case: 'terminalTxn', value: { terminalId: vu.terminal, txnNumber: pre.terminalTxnNumber } } };
    checks.check('completion approved', (await timedAuthorize(context, checks, completion)) === Outcome.OUTCOME_APPROVED);
  },
  fleet_purchase: async (context, vu, checks) => {
    const { fleet_product } = context.definition.setup;
    const card = context.fleetCards[Math.floor(context.random() * context.fleetCards.length)];
    if (card === undefined) return checks.check('fleets are set up', false);
    const quantity = 1_000 + Math.floor(context.random() * (fleet_product.quantity_milli_max - 1_000));
    const amount = Math.floor((quantity * fleet_product.unit_price_minor) / 1_000);
    const odometer = (context.odometers.get(card) ?? 10_000) + 1 + Math.floor(context.random() * 500);
    context.odometers.set(card, odometer);
    const message = request(context, vu, card, amount, AuthorizationKind.AUTHORIZATION_KIND_PURCHASE);
    message.lineItems = [
      {
        productCode: fleet_product.code,
        productGroup: fleet_product.group,
        quantityMilli: BigInt(quantity),
        unitPriceMinor: BigInt(fleet_product.unit_price_minor),
        amountMinor: BigInt(amount),
      },
    ];
    message.prompts = { odometerKm: BigInt(odometer), driverId: '', vehicleId: '' };
    checks.check('fleet purchase approved', (await timedAuthorize(context, checks, message)) === Outcome.OUTCOME_APPROVED);
  },
};

function mixPicker(definition: ScenarioDefinition, random: () => number): () => keyof ScenarioDefinition['mix'] {
  const entries = Object.entries(definition.mix) as [keyof ScenarioDefinition['mix'], number][];
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  return () => {
    let pick = random() * total;
    for (const [operation, weight] of entries) {
      pick -= weight;
      if (pick < 0) return operation;
    }
    return entries[entries.length - 1]?.[0] ?? 'purchase';
  };
}

/**
 * One AuthorizeStream per iteration, as a gateway holds it: a frame of items is written, and the
 * next one once every item of the previous frame is answered (results arrive in completion order,
 * matched by correlation id), so each VU keeps one frame outstanding.
 */
async function streamIteration(context: RunContext, vu: Vu, checks: Checks, frames: number, items_per_frame: number): Promise<void> {
  // A venue gateway of the scenario's merchant holds the stream (its terminals are the VUs').
  const gateway = await context.client.gateway([context.definition.setup.merchant_id]);
  const call = gateway.authorizeStream({ deadline: Date.now() + 60_000 });
  const sent = new Map<string, number>();
  let written = 0;
  let answered = 0;
  const writeFrame = (): void => {
    const now = performance.now();
    const items = Array.from({ length: items_per_frame }, () => {
      const id = `${vu.terminal}:${vu.txn + 1}`;
      sent.set(id, now);
      const amount = 1 + Math.floor(context.random() * context.definition.setup.purchase_amount_max_minor);
      return { correlationId: id, request: request(context, vu, cardId(context), amount, AuthorizationKind.AUTHORIZATION_KIND_PURCHASE) };
    });
    written += 1;
    call.write({ items });
  };
  const ended = new Promise<void>((resolve) => {
    call.on('data', (frame: AuthorizeStreamResponse) => {
      const now = performance.now();
      for (const result of frame.results) {
        const at = sent.get(result.correlationId);
        checks.check('stream item matched', at !== undefined);
        checks.check('stream item OK', result.statusCode === 0);
        if (at !== undefined) checks.stream_item_ms.push(now - at);
        answered += 1;
      }
      if (answered < written * items_per_frame) return;
      if (written < frames) writeFrame();
      else call.end();
    });
    call.on('error', () => {
      checks.check('stream ends OK', false);
      resolve();
    });
    call.on('end', () => resolve());
  });
  writeFrame();
  await ended;
  checks.check('every stream item answered', answered === frames * items_per_frame);
}

function rateAt(scenario: Scenario, elapsed_ms: number, scale: Scale | undefined): number {
  const factor = scale?.rate_factor ?? 1;
  if (scenario.executor === 'constant-arrival-rate') return scenario.rate * factor;
  if (scenario.executor !== 'ramping-arrival-rate') return 0;
  const total = scenario.stages.reduce((sum, s) => sum + durationMs(s.duration), 0);
  const stretch = scale === undefined ? 1 : scale.duration_ms / total;
  let from = scenario.start_rate;
  let start = 0;
  for (const stage of scenario.stages) {
    const length = durationMs(stage.duration) * stretch;
    if (elapsed_ms < start + length) return (from + ((stage.target - from) * (elapsed_ms - start)) / length) * factor;
    from = stage.target;
    start += length;
  }
  return from * factor;
}

function scenarioDurationMs(scenario: Scenario, scale: Scale | undefined): number {
  if (scale !== undefined) return scale.duration_ms;
  if (scenario.executor === 'ramping-arrival-rate') return scenario.stages.reduce((sum, s) => sum + durationMs(s.duration), 0);
  return durationMs(scenario.duration);
}

async function runOne(context: RunContext, name: string, scenario: Scenario, vus: Vu[], scale: Scale | undefined): Promise<ScenarioResult> {
  const checks = new Checks();
  const pickMix = mixPicker(context.definition, context.random);
  const duration_ms = scenarioDurationMs(scenario, scale);
  let iterations = 0;
  let dropped = 0;
  const iterate = (vu: Vu): Promise<void> => {
    iterations += 1;
    if (scenario.executor === 'constant-vus')
      return streamIteration(context, vu, checks, scenario.frames_per_stream, scenario.items_per_frame);
    const operation = scenario.operation === 'mix' ? pickMix() : (scenario.operation as keyof typeof operations);
    const run = operations[operation];
    if (run === undefined) throw new Error(`scenario ${name}: unknown operation ${operation}`);
    return run(context, vu, checks);
  };
  const started = performance.now();
  if (scenario.executor === 'constant-vus') {
    await Promise.all(
      vus.slice(0, scenario.vus).map(async (vu) => {
        while (performance.now() - started < duration_ms) await iterate(vu);
      }),
    );
  } else {
    // Open model: iterations are due on schedule; one that finds no free VU is dropped, as k6 does.
    const free = [...vus];
    const running = new Set<Promise<void>>();
    let due = 0;
    let last = started;
    while (performance.now() - started < duration_ms) {
      const now = performance.now();
      due += (rateAt(scenario, now - started, scale) * (now - last)) / 1000;
      last = now;
      while (due >= 1) {
        due -= 1;
        const vu = free.pop();
        if (vu === undefined) {
          dropped += 1;
          continue;
        }
        const work: Promise<void> = iterate(vu).finally(() => {
          free.push(vu);
          running.delete(work);
        });
        running.add(work);
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await Promise.all(running);
  }
  return {
    scenario: name,
    iterations,
    dropped_iterations: dropped,
    checks_passed: checks.passed,
    checks_failed: checks.failed,
    authorize_calls: checks.authorize_ms.length,
    authorize_p99_ms: Math.round(p99(checks.authorize_ms) * 1000) / 1000,
    stream_items: checks.stream_item_ms.length,
    stream_item_p99_ms: Math.round(p99(checks.stream_item_ms) * 1000) / 1000,
    failed_checks: checks.failures,
  };
}

function vuCount(scenario: Scenario): number {
  return scenario.executor === 'constant-vus' ? scenario.vus : scenario.max_vus;
}

/** Cards, the hot card, fleets with their cards, one terminal per VU; all named after the run. */
async function setUp(context: RunContext, terminals: string[]): Promise<void> {
  const { setup } = context.definition;
  const admin = context.client;
  for (let i = 0; i < setup.cards; i++)
    await admin.issueCard(`${context.runId}-card-${i}`, Number(setup.card_initial_balance_minor), setup.currency, setup.program_id);
  await admin.issueCard(context.hotCard, Number(setup.card_initial_balance_minor), setup.currency, setup.program_id);
  for (const terminal of terminals) await admin.registerTerminal(terminal, setup.merchant_id);
  const fleets = new FleetClient(context.client.access);
  try {
    for (let f = 0; f < setup.fleets; f++) {
      const fleetId = `${context.runId}-fleet-${f}`;
      await fleets.createAccount({
        fleetId,
        creditLimitMinor: Number(setup.fleet_credit_limit_minor),
        timeZone: setup.fleet_time_zone,
        currency: setup.currency,
      });
      await fleets.setPolicy({
        fleetId,
        productGroups: { allowed: [setup.fleet_product.group] },
        operatorId: setup.operator_id,
        program: undefined,
        prompts: { requireOdometer: true, requireDriver: false, requireVehicle: false, odometerJumpMaxKm: 0n },
      });
      for (let c = 0; c < setup.fleet_cards_per_fleet; c++) {
        await fleets.issueCard({ fleetId, cardNo: String(c), limits: undefined, productGroups: undefined, operatorId: setup.operator_id });
        context.fleetCards.push(`${fleetId}~${c}`);
      }
    }
  } finally {
    fleets.close();
  }
}

/**
 * Runs the named scenarios one after the other against `address`, then evaluates the thresholds
 * of the definition exactly as the k6 script declares them.
 */
export async function runScenarios(
  access: ClientAccess,
  definition: ScenarioDefinition,
  names: readonly string[],
  options: { seed: number; scale?: Scale; runId?: string },
): Promise<RunReport> {
  const random = seededRandom(options.seed);
  const runId = options.runId ?? `node-${options.seed.toString(36)}`;
  const client = new TaplineClient(access, { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  const context: RunContext = { definition, client, random, runId, hotCard: `${runId}-card-hot`, fleetCards: [], odometers: new Map() };
  try {
    const selected = names.map((name) => {
      const scenario = definition.scenarios[name];
      if (scenario === undefined) throw new Error(`no scenario "${name}" in the definition`);
      return [name, scenario] as const;
    });
    const vusNeeded = Math.max(...selected.map(([, s]) => vuCount(s)));
    const vus: Vu[] = Array.from({ length: vusNeeded }, (_, i) => ({ terminal: `${runId}-term-${i + 1}`, txn: 0 }));
    await setUp(
      context,
      vus.map((vu) => vu.terminal),
    );
    const results: ScenarioResult[] = [];
    for (const [name, scenario] of selected) results.push(await runOne(context, name, scenario, vus, options.scale));
    const thresholds = evaluate(definition, selected, results);
    return { seed: options.seed, scenarios: results, thresholds, passed: thresholds.every((t) => t.ok) };
  } finally {
    client.close();
  }
}

/** The thresholds of loadtest/k6/tapline.ts, over this run's results. */
function evaluate(
  definition: ScenarioDefinition,
  selected: readonly (readonly [string, Scenario])[],
  results: ScenarioResult[],
): ThresholdResult[] {
  const t = definition.thresholds;
  const out: ThresholdResult[] = [];
  const passed = results.reduce((sum, r) => sum + r.checks_passed, 0);
  const failed = results.reduce((sum, r) => sum + r.checks_failed, 0);
  const rate = passed + failed === 0 ? 0 : passed / (passed + failed);
  out.push({ name: `checks rate>${t.checks_rate_min}`, ok: rate > t.checks_rate_min, detail: `${passed} passed, ${failed} failed` });
  for (const [name, scenario] of selected) {
    if (scenario.gated === false) continue;
    const result = results.find((r) => r.scenario === name);
    if (result === undefined) continue;
    if (scenario.executor === 'constant-vus') {
      out.push({
        name: `${name}: stream item p(99)<${t.stream_item_p99_ms}`,
        ok: result.stream_item_p99_ms < t.stream_item_p99_ms,
        detail: `${result.stream_item_p99_ms} ms over ${result.stream_items} items`,
      });
      continue;
    }
    out.push({
      name: `${name}: Authorize p(99)<${t.unary_p99_ms}`,
      ok: result.authorize_p99_ms < t.unary_p99_ms,
      detail: `${result.authorize_p99_ms} ms over ${result.authorize_calls} calls`,
    });
    out.push({
      name: `${name}: dropped_iterations<=${t.dropped_iterations_max}`,
      ok: result.dropped_iterations <= t.dropped_iterations_max,
      detail: `${result.dropped_iterations} of ${result.iterations + result.dropped_iterations}`,
    });
  }
  return out;
}
