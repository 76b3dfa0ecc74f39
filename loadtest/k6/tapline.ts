// k6 load test of Tapline (k6 >= 0.57 runs this TypeScript directly). The scenarios, their rates,
// the mix of mixed traffic, the setup and the thresholds come from loadtest/scenarios.json, the
// definition the local Node runner (loadtest/scenario.ts) also reads, so both answer the same
// questions; this file implements the operations for k6.
//
//   k6 run -e MANIFEST=../../.data/dev-credentials/manifest.json loadtest/k6/tapline.ts    # against `npm start`
//   k6 run -e TARGET=... -e ADMIN_TARGET=... -e TLS_CERT=... -e TLS_KEY=... -e TLS_CA=... \
//          -e TOKEN=... -e APPROVER_TOKEN=... -e SCENARIO=all loadtest/k6/tapline.ts            # a cluster
//
// Secure like production: terminal calls go over mutual TLS with a venue gateway's certificate
// (it speaks for the terminals of its merchant, which setup registers), operator calls carry a
// bearer token, and issuances above the four-eyes amount are approved by a second principal's
// token. MANIFEST reads all of it from the manifest `npm start` writes.
//
// Scenarios (SCENARIO: a name, a comma-separated list, or "all"):
//   authorize    unary Authorize, random card, constant arrival rate (open model)
//   hot_card     unary Authorize, one card: contention on one actor and shard
//   stream       AuthorizeStream (the gateway path): one stream per iteration, frames of items, the
//                next frame once the previous one is answered; each item's latency is recorded
//   mixed        purchases, cash top-ups, purchase + reversal, pre-authorization + completion and
//                fleet fuel purchases, by the definition's weights
//   saturation   unary Authorize on a rising arrival rate; no thresholds of its own
// See loadtest/k6/README.md for every environment variable.

import { check } from 'k6';
import exec from 'k6/execution';
import grpc from 'k6/net/grpc';
import { Counter, Rate, Trend } from 'k6/metrics';
import type { Options, Scenario } from 'k6/options';

// k6 provides console; @types/k6 does not declare it.
declare const console: {
  log(...values: unknown[]): void;
  warn(...values: unknown[]): void;
};

// ---------------------------------------------------------------------------------------------
// The shared definition (loadtest/scenarios.json)
// ---------------------------------------------------------------------------------------------

interface ArrivalScenario {
  executor: 'constant-arrival-rate';
  operation: string;
  rate: number;
  duration: string;
  pre_allocated_vus: number;
  max_vus: number;
  gated?: boolean;
}
interface RampingScenario {
  executor: 'ramping-arrival-rate';
  operation: string;
  start_rate: number;
  stages: { duration: string; target: number }[];
  pre_allocated_vus: number;
  max_vus: number;
  gated?: boolean;
}
interface StreamScenario {
  executor: 'constant-vus';
  operation: 'stream';
  vus: number;
  duration: string;
  frames_per_stream: number;
  items_per_frame: number;
  gated?: boolean;
}
type ScenarioDefinition = ArrivalScenario | RampingScenario | StreamScenario;

interface Definition {
  setup: {
    cards: number;
    card_initial_balance_minor: string;
    currency: string;
    purchase_amount_max_minor: number;
    top_up_amount_max_minor: number;
    pre_authorization_amount_minor: number;
    program_id: string;
    merchant_id: string;
    operator_id: string;
    fleets: number;
    fleet_cards_per_fleet: number;
    fleet_credit_limit_minor: string;
    fleet_time_zone: string;
    fleet_product: { code: string; group: string; unit_price_minor: number; quantity_milli_max: number };
  };
  mix: Record<string, number>;
  scenarios: Record<string, ScenarioDefinition>;
  default_scenarios: string[];
  all_scenarios: string[];
  thresholds: { unary_p99_ms: number; stream_item_p99_ms: number; checks_rate_min: number; dropped_iterations_max: number };
}

function env(name: string): string | undefined {
  const value = (__ENV as Record<string, string | undefined>)[name];
  return value === undefined || value === '' ? undefined : value;
}

function envNumber(name: string, fallback: number): number {
  const raw = env(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

function envBool(name: string, fallback: boolean): boolean {
  const raw = env(name);
  if (raw === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}

// open() resolves relative to this script; in a k6-operator TestRun the file sits beside it.
const definition = JSON.parse(open(env('SCENARIOS_FILE') ?? '../scenarios.json')) as Definition;
const setup_definition = definition.setup;
const card_count = envNumber('CARDS', setup_definition.cards);
/** Multiplies every rate (e.g. 0.1 for a smoke run, 5 for a big cluster). */
const rate_factor = envNumber('RATE_FACTOR', 1);
/** Replaces every scenario's duration (not the ramp's stages). */
const duration_override = env('DURATION');
const p99_ms = envNumber('P99_MS', definition.thresholds.unary_p99_ms);
const stream_p99_ms = envNumber('STREAM_P99_MS', definition.thresholds.stream_item_p99_ms);

const choice = env('SCENARIO') ?? definition.default_scenarios.join(',');
const selected = choice === 'all' ? definition.all_scenarios : choice.split(',').map((name) => name.trim());
for (const name of selected) if (definition.scenarios[name] === undefined) throw new Error(`SCENARIO: no scenario "${name}"`);

/** The manifest `npm start` writes (tools/devenv/credentials.ts): paths relative to the repository root. */
interface Manifest {
  ca: string;
  endpoints: { terminal: string; operator: string; internal: string; reports: string };
  gateways: { merchant_id: string; cert: string; key: string }[];
  operators: { role: string; scope: string[]; subject: string; token: string }[];
}

// open() resolves relative to this script: MANIFEST too, and ROOT (the repository root, which the
// manifest's paths are relative to) is two folders up.
const manifest_file = env('MANIFEST');
const manifest = manifest_file === undefined ? undefined : (JSON.parse(open(manifest_file)) as Manifest);
const root = env('ROOT') ?? '../..';
const fromRoot = (path: string): string => open(`${root}/${path}`);
/** The gateway whose certificate the terminal calls present: the scenario merchant's, else the first. */
const gateway = manifest?.gateways.find((g) => g.merchant_id === setup_definition.merchant_id) ?? manifest?.gateways[0];
/** The merchant of the run's terminals: the gateway's, so its certificate speaks for them. */
const merchant_id = env('MERCHANT') ?? gateway?.merchant_id ?? setup_definition.merchant_id;
const tokenOf = (role: string): string | undefined => manifest?.operators.find((operator) => operator.role === role)?.token;
/** The operator that sets up (issuer_admin) and the second principal that approves held issuances. */
const admin_token = env('TOKEN') ?? tokenOf('issuer_admin');
const approver_token = env('APPROVER_TOKEN') ?? tokenOf('approver');

const target = env('TARGET') ?? manifest?.endpoints.terminal ?? '127.0.0.1:50051';
const admin_target = env('ADMIN_TARGET') ?? manifest?.endpoints.operator ?? '127.0.0.1:50053';
const use_reflection = envBool('REFLECTION', false);
const request_timeout = env('REQUEST_TIMEOUT') ?? '5s';

const tls_cert = env('TLS_CERT') === undefined ? (gateway === undefined ? undefined : fromRoot(gateway.cert)) : open(env('TLS_CERT') ?? '');
const tls_key = env('TLS_KEY') === undefined ? (gateway === undefined ? undefined : fromRoot(gateway.key)) : open(env('TLS_KEY') ?? '');
const tls_ca = env('TLS_CA') === undefined ? (manifest === undefined ? undefined : fromRoot(manifest.ca)) : open(env('TLS_CA') ?? '');
const plaintext = envBool('PLAINTEXT', false);
if (!plaintext && (tls_cert === undefined || tls_key === undefined || tls_ca === undefined))
  throw new Error('set MANIFEST, or TLS_CERT, TLS_KEY and TLS_CA (a gateway certificate); PLAINTEXT=true only for a development node');
const connect_params: grpc.ConnectParams = {
  plaintext,
  reflect: use_reflection,
  timeout: env('CONNECT_TIMEOUT') ?? '10s',
};
if (tls_cert !== undefined && tls_key !== undefined && tls_ca !== undefined)
  connect_params.tls = { cert: tls_cert, key: tls_key, cacerts: tls_ca };
const bearer = (token: string | undefined): object => (token === undefined ? {} : { authorization: `Bearer ${token}` });

const client = new grpc.Client();
const admin_client = new grpc.Client();
if (!use_reflection) {
  const files = ['tapline/v1/authorization.proto', 'tapline/v1/admin.proto', 'tapline/v1/fleet.proto', 'tapline/v1/approvals.proto'];
  client.load(['../../proto'], ...files);
  admin_client.load(['../../proto'], ...files);
}

const rpc = {
  authorize: 'tapline.v1.AuthorizationService/Authorize',
  authorize_stream: 'tapline.v1.AuthorizationService/AuthorizeStream',
  top_up: 'tapline.v1.AuthorizationService/TopUp',
  reverse: 'tapline.v1.AuthorizationService/Reverse',
  issue_card: 'tapline.v1.AdminService/IssueCard',
  register_terminal: 'tapline.v1.AdminService/RegisterTerminal',
  set_terminal_enabled: 'tapline.v1.AdminService/SetTerminalEnabled',
  approve: 'tapline.v1.ApprovalService/Approve',
  create_fleet: 'tapline.v1.FleetAdminService/CreateFleetAccount',
  set_fleet_policy: 'tapline.v1.FleetAdminService/SetFleetPolicy',
  issue_fleet_card: 'tapline.v1.FleetAdminService/IssueFleetCard',
};

// ---------------------------------------------------------------------------------------------
// Options: scenarios and thresholds, from the definition
// ---------------------------------------------------------------------------------------------

function k6Scenario(s: ScenarioDefinition): Scenario {
  const rate = (value: number): number => Math.max(1, Math.round(value * rate_factor));
  if (s.executor === 'constant-vus')
    return { executor: 'constant-vus', exec: 'streamIteration', vus: s.vus, duration: duration_override ?? s.duration };
  if (s.executor === 'ramping-arrival-rate')
    return {
      executor: 'ramping-arrival-rate',
      exec: 'arrivalIteration',
      startRate: rate(s.start_rate),
      timeUnit: '1s',
      stages: s.stages.map((stage) => ({ duration: stage.duration, target: rate(stage.target) })),
      preAllocatedVUs: s.pre_allocated_vus,
      maxVUs: s.max_vus,
    };
  return {
    executor: 'constant-arrival-rate',
    exec: 'arrivalIteration',
    rate: rate(s.rate),
    timeUnit: '1s',
    duration: duration_override ?? s.duration,
    preAllocatedVUs: s.pre_allocated_vus,
    maxVUs: s.max_vus,
  };
}

const scenarios: Record<string, Scenario> = {};
const thresholds: Record<string, string[]> = { checks: [`rate>${definition.thresholds.checks_rate_min}`] };
for (const name of selected) {
  const s = definition.scenarios[name] as ScenarioDefinition;
  scenarios[name] = k6Scenario(s);
  if (s.gated === false) continue;
  if (s.executor === 'constant-vus') {
    thresholds[`authorize_stream_item_duration{scenario:${name}}`] = [`p(99)<${stream_p99_ms}`];
  } else {
    thresholds[`grpc_req_duration{rpc:Authorize,scenario:${name}}`] = [`p(99)<${p99_ms}`];
    thresholds[`dropped_iterations{scenario:${name}}`] = [`count<=${definition.thresholds.dropped_iterations_max}`];
  }
}

/** One terminal per VU id k6 can hand out: the largest VU count of the selected scenarios, summed. */
const terminal_count = selected.reduce((sum, name) => {
  const s = definition.scenarios[name] as ScenarioDefinition;
  return sum + (s.executor === 'constant-vus' ? s.vus : s.max_vus);
}, 0);

export const options: Options = {
  scenarios,
  thresholds,
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(99)', 'p(99.9)', 'max'],
  setupTimeout: env('SETUP_TIMEOUT') ?? '10m',
  teardownTimeout: env('TEARDOWN_TIMEOUT') ?? '5m',
};

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

const approved = new Rate('authorize_approved');
const declines = new Counter('authorize_declines');
const grpc_errors = new Counter('authorize_grpc_errors');
const stream_item_duration = new Trend('authorize_stream_item_duration', true);

// ---------------------------------------------------------------------------------------------
// Setup and teardown
// ---------------------------------------------------------------------------------------------

interface SetupData {
  runId: string;
  cardPrefix: string;
  cardCount: number;
  hotCardId: string;
  terminalPrefix: string;
  terminalCount: number;
  fleetCards: string[];
}

function money(amount_minor: string | number): { amount_minor: string; currency: string } {
  return { amount_minor: String(amount_minor), currency: setup_definition.currency };
}

function adminCall(method: string, message: object, token = admin_token): grpc.Response {
  const response = admin_client.invoke(method, message, { timeout: request_timeout, metadata: bearer(token) });
  if (response.status !== grpc.StatusOK) exec.test.abort(`${method} failed: status ${response.status}: ${JSON.stringify(response.error)}`);
  return response;
}

/** Issues a card; a balance above the four-eyes amount is held until the approver's token approves it. */
function issueCard(message: object): void {
  const pending = (adminCall(rpc.issue_card, message).message as { pendingApprovalId?: string } | null)?.pendingApprovalId ?? '';
  if (pending === '') return;
  if (approver_token === undefined) exec.test.abort('an issuance is held for four eyes: set APPROVER_TOKEN (or MANIFEST)');
  adminCall(rpc.approve, { approval_id: pending }, approver_token);
}

export function setup(): SetupData {
  const run_id = env('RUN_ID') ?? `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
  const data: SetupData = {
    runId: run_id,
    cardPrefix: env('CARD_PREFIX') ?? `k6-${run_id}-card-`,
    cardCount: card_count,
    hotCardId: '',
    terminalPrefix: `k6-${run_id}-term-`,
    terminalCount: terminal_count,
    fleetCards: [],
  };
  data.hotCardId = `${data.cardPrefix}hot`;
  const operator_id = setup_definition.operator_id;
  admin_client.connect(admin_target, connect_params);
  for (const card_id of [...Array.from({ length: card_count }, (_, i) => `${data.cardPrefix}${i}`), data.hotCardId])
    issueCard({
      card_id,
      initial_balance: money(setup_definition.card_initial_balance_minor),
      program_id: setup_definition.program_id,
      operator_id,
    });
  for (let vu = 1; vu <= terminal_count; vu++)
    adminCall(rpc.register_terminal, {
      terminal_id: `${data.terminalPrefix}${vu}`,
      merchant_id,
      location: 'k6 load test',
      operator_id,
    });
  const needs_fleets =
    selected.some((name) => definition.scenarios[name]?.operation === 'mix') && (definition.mix['fleet_purchase'] ?? 0) > 0;
  for (let f = 0; needs_fleets && f < setup_definition.fleets; f++) {
    const fleet_id = `k6-${run_id}-fleet-${f}`;
    adminCall(rpc.create_fleet, {
      fleet_id,
      credit_limit: money(setup_definition.fleet_credit_limit_minor),
      time_zone: setup_definition.fleet_time_zone,
      operator_id,
    });
    adminCall(rpc.set_fleet_policy, {
      fleet_id,
      product_groups: { allowed: [setup_definition.fleet_product.group] },
      prompts: { require_odometer: true },
      operator_id,
    });
    for (let c = 0; c < setup_definition.fleet_cards_per_fleet; c++) {
      adminCall(rpc.issue_fleet_card, { fleet_id, card_no: String(c), operator_id });
      data.fleetCards.push(`${fleet_id}~${c}`);
    }
  }
  admin_client.close();
  console.log(
    `run ${run_id}: scenarios ${selected.join(', ')}; ${card_count} cards + hot card, ${terminal_count} terminals, ${data.fleetCards.length} fleet cards; target ${target}`,
  );
  return data;
}

export function teardown(data: SetupData): void {
  if (!envBool('DISABLE_TERMINALS', true)) return;
  admin_client.connect(admin_target, connect_params);
  let failed = 0;
  for (let vu = 1; vu <= data.terminalCount; vu++) {
    const response = admin_client.invoke(
      rpc.set_terminal_enabled,
      { terminal_id: `${data.terminalPrefix}${vu}`, enabled: false, operator_id: setup_definition.operator_id },
      { timeout: request_timeout, metadata: bearer(admin_token) },
    );
    if (response.status !== grpc.StatusOK) failed++;
  }
  admin_client.close();
  if (failed > 0) console.warn(`teardown: ${failed} of ${data.terminalCount} terminals could not be disabled`);
}

// ---------------------------------------------------------------------------------------------
// Operations (the same as loadtest/scenario.ts)
// ---------------------------------------------------------------------------------------------

interface AuthorizeReply {
  outcome?: string;
  declineReason?: string;
  replayed?: boolean;
}

/** Per VU: its terminal's next transaction number (one terminal per VU: every key is new). */
let connected = false;
let txn = 0;
let errors_logged = 0;
const odometers: Record<string, number> = {};

function terminal(data: SetupData): string {
  const vu = exec.vu.idInTest;
  if (vu > data.terminalCount) exec.test.abort(`VU ${vu} has no terminal (only ${data.terminalCount} registered)`);
  return `${data.terminalPrefix}${vu}`;
}

function randomCard(data: SetupData): string {
  return `${data.cardPrefix}${Math.floor(Math.random() * data.cardCount)}`;
}

function amount(max_minor: number): number {
  return 1 + Math.floor(Math.random() * max_minor);
}

function authorize(data: SetupData, message: Record<string, unknown>): AuthorizeReply | undefined {
  txn += 1;
  const response = client.invoke(
    rpc.authorize,
    { terminal_id: terminal(data), terminal_txn_number: String(txn), ...message },
    { timeout: request_timeout, tags: { rpc: 'Authorize' } },
  );
  const reply = response.message as AuthorizeReply | null;
  check(response, {
    'status is OK': (r) => r.status === grpc.StatusOK,
    'outcome is APPROVED or DECLINED': () => reply?.outcome === 'OUTCOME_APPROVED' || reply?.outcome === 'OUTCOME_DECLINED',
    'not a replay': () => reply?.replayed !== true,
  });
  if (response.status !== grpc.StatusOK) {
    grpc_errors.add(1, { code: String(response.status) });
    if (errors_logged++ < 3) console.warn(`Authorize: status ${response.status}: ${JSON.stringify(response.error)}`);
    return undefined;
  }
  approved.add(reply?.outcome === 'OUTCOME_APPROVED');
  if (reply?.outcome === 'OUTCOME_DECLINED') declines.add(1, { reason: reply.declineReason ?? 'DECLINE_REASON_UNSPECIFIED' });
  return reply ?? undefined;
}

const purchase = (card_id: string): Record<string, unknown> => ({
  card_id,
  amount: money(amount(setup_definition.purchase_amount_max_minor)),
  kind: 'AUTHORIZATION_KIND_PURCHASE',
});

const operations: Record<string, (data: SetupData) => void> = {
  purchase: (data) => void authorize(data, purchase(randomCard(data))),
  purchase_hot_card: (data) => void authorize(data, purchase(data.hotCardId)),
  top_up: (data) => {
    txn += 1;
    const response = client.invoke(
      rpc.top_up,
      {
        terminal_id: terminal(data),
        terminal_txn_number: String(txn),
        card_id: randomCard(data),
        amount: money(amount(setup_definition.top_up_amount_max_minor)),
        source: 'TOP_UP_SOURCE_CASH',
      },
      { timeout: request_timeout, tags: { rpc: 'TopUp' } },
    );
    check(response, {
      'top-up approved': (r) => r.status === grpc.StatusOK && (r.message as AuthorizeReply).outcome === 'OUTCOME_APPROVED',
    });
  },
  reverse: (data) => {
    const card_id = randomCard(data);
    const original = authorize(data, purchase(card_id));
    if (original?.outcome !== 'OUTCOME_APPROVED') return;
    const original_txn = txn;
    txn += 1;
    const response = client.invoke(
      rpc.reverse,
      {
        terminal_id: terminal(data),
        terminal_txn_number: String(txn),
        card_id,
        original: { terminal_txn: { terminal_id: terminal(data), txn_number: String(original_txn) } },
      },
      { timeout: request_timeout, tags: { rpc: 'Reverse' } },
    );
    check(response, {
      'reversal REVERSED': (r) => r.status === grpc.StatusOK && (r.message as { result?: string }).result === 'REVERSE_RESULT_REVERSED',
    });
  },
  pre_authorization_completion: (data) => {
    const card_id = randomCard(data);
    const hold = setup_definition.pre_authorization_amount_minor;
    const pre = authorize(data, { card_id, amount: money(hold), kind: 'AUTHORIZATION_KIND_PRE_AUTHORIZATION' });
    if (pre?.outcome !== 'OUTCOME_APPROVED') return;
    const pre_txn = txn;
    const completion = authorize(data, {
      card_id,
      amount: money(amount(hold)),
      kind: 'AUTHORIZATION_KIND_COMPLETION',
      original: { terminal_txn: { terminal_id: terminal(data), txn_number: String(pre_txn) } },
    });
    check(completion, { 'completion approved': (c) => c?.outcome === 'OUTCOME_APPROVED' });
  },
  fleet_purchase: (data) => {
    const card_id = data.fleetCards[Math.floor(Math.random() * data.fleetCards.length)];
    if (card_id === undefined) return void check(null, { 'fleets are set up': () => false });
    const product = setup_definition.fleet_product;
    const quantity = 1_000 + Math.floor(Math.random() * (product.quantity_milli_max - 1_000));
    const total = Math.floor((quantity * product.unit_price_minor) / 1_000);
    const odometer = (odometers[card_id] ?? 10_000) + amount(500);
    odometers[card_id] = odometer;
    const reply = authorize(data, {
      card_id,
      amount: money(total),
      kind: 'AUTHORIZATION_KIND_PURCHASE',
      line_items: [
        {
          product_code: product.code,
          product_group: product.group,
          quantity_milli: String(quantity),
          unit_price_minor: String(product.unit_price_minor),
          amount_minor: String(total),
        },
      ],
      prompts: { odometer_km: String(odometer) },
    });
    check(reply, { 'fleet purchase approved': (r) => r?.outcome === 'OUTCOME_APPROVED' });
  },
};

function pickMixed(): string {
  const entries = Object.entries(definition.mix);
  let pick = Math.random() * entries.reduce((sum, [, weight]) => sum + weight, 0);
  for (const [operation, weight] of entries) {
    pick -= weight;
    if (pick < 0) return operation;
  }
  return 'purchase';
}

function connect(): void {
  if (connected) return;
  client.connect(target, connect_params);
  connected = true;
}

/** Arrival-rate scenarios (authorize, hot_card, mixed, saturation): one operation per iteration. */
export function arrivalIteration(data: SetupData): void {
  connect();
  const s = definition.scenarios[exec.scenario.name] as ArrivalScenario | RampingScenario;
  const operation = s.operation === 'mix' ? pickMixed() : s.operation;
  const run = operations[operation];
  if (run === undefined) exec.test.abort(`unknown operation ${operation}`);
  else run(data);
}

/** The stream scenario: one AuthorizeStream, one frame outstanding at a time. */
export function streamIteration(data: SetupData): void {
  connect();
  const s = definition.scenarios[exec.scenario.name] as StreamScenario;
  const stream = new grpc.Stream(client, rpc.authorize_stream, { tags: { rpc: 'AuthorizeStream' } });
  const sent: Record<string, number> = {};
  let written = 0;
  let answered = 0;
  const writeFrame = (): void => {
    const now = Date.now();
    const items = [];
    for (let i = 0; i < s.items_per_frame; i++) {
      txn += 1;
      const correlation_id = `${exec.vu.idInTest}:${txn}`;
      sent[correlation_id] = now;
      items.push({
        correlation_id,
        request: { terminal_id: terminal(data), terminal_txn_number: String(txn), ...purchase(randomCard(data)) },
      });
    }
    written += 1;
    stream.write({ items });
  };
  stream.on('data', (frame) => {
    const now = Date.now();
    for (const result of (frame as { results?: { correlationId?: string; statusCode?: number }[] }).results ?? []) {
      const at = sent[result.correlationId ?? ''];
      check(result, { 'stream item matched': () => at !== undefined, 'stream item OK': (r) => (r.statusCode ?? 0) === 0 });
      if (at !== undefined) stream_item_duration.add(now - at);
      answered += 1;
    }
    if (answered < written * s.items_per_frame) return;
    if (written < s.frames_per_stream) writeFrame();
    else stream.end();
  });
  stream.on('error', (error) => {
    check(error, { 'stream ends OK': () => false });
  });
  stream.on('end', () => {
    check(answered, { 'every stream item answered': (n) => n === s.frames_per_stream * s.items_per_frame });
  });
  writeFrame();
}

export default function (data: SetupData): void {
  arrivalIteration(data);
}
