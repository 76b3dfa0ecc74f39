// k6 load test of Tapline's unary Authorize RPC (k6 >= 0.57 runs this TypeScript directly).
//
// What it proves: at a fixed arrival rate (open model: requests keep coming whether or not the
// server keeps up, as terminals do), Authorize answers OK with APPROVED or DECLINED for more than
// 99.9% of requests, with a p99 latency under 50 ms. Every request carries a fresh idempotency key
// (terminal id + terminal_txn_number), so each one is real work, never a stored replay.
//
//   k6 run -e TARGET=127.0.0.1:50051 loadtest/k6/authorize.ts
//
// setup() issues CARDS cards and registers one terminal per possible VU through AdminService,
// all named after a per-run id, so runs never collide with each other or with real data.
// Scenarios (env SCENARIO):
//   authorize (default)  constant-arrival-rate of Authorize, random card, 1..500 minor units
//   hot                  hot_card: the same arrival model, every request on ONE card (contention
//                        on a single card's actor/shard: the worst case for one card's latency)
//   all                  both at once
// See loadtest/k6/README.md for every environment variable.

import { check } from 'k6';
import exec from 'k6/execution';
import grpc from 'k6/net/grpc';
import { Counter, Rate } from 'k6/metrics';
import type { Options, Scenario } from 'k6/options';

// k6 provides console, but @types/k6 does not declare it (and this file is not type-checked
// against DOM or Node typings).
declare const console: {
  log(...values: unknown[]): void;
  warn(...values: unknown[]): void;
  error(...values: unknown[]): void;
};

// ---------------------------------------------------------------------------------------------
// Configuration (all from -e NAME=value / environment variables)
// ---------------------------------------------------------------------------------------------

function env(name: string): string | undefined {
  const value = (__ENV as Record<string, string | undefined>)[name];
  return value === undefined || value === '' ? undefined : value;
}

function envString(name: string, fallback: string): string {
  return env(name) ?? fallback;
}

function envInt(name: string, fallback: number): number {
  const raw = env(name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) <= 0 || !Number.isSafeInteger(Number(raw))) {
    throw new Error(`${name} must be a positive integer, got "${raw}"`);
  }
  return Number(raw);
}

function envBool(name: string, fallback: boolean): boolean {
  const raw = env(name);
  if (raw === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}

/** host:port of the AuthorizationService. */
const target = envString('TARGET', '127.0.0.1:50051');
/** host:port of the AdminService (deployments may serve it on an internal listener only). */
const admin_target = envString('ADMIN_TARGET', target);
/** Use gRPC server reflection instead of the .proto files in the repository. */
const use_reflection = envBool('REFLECTION', false);

const scenario_choice = envString('SCENARIO', 'authorize');
if (!['authorize', 'hot', 'all'].includes(scenario_choice)) {
  throw new Error(`SCENARIO must be authorize, hot or all, got "${scenario_choice}"`);
}
const run_authorize = scenario_choice === 'authorize' || scenario_choice === 'all';
const run_hot_card = scenario_choice === 'hot' || scenario_choice === 'all';

/** Authorizations per second (per scenario). */
const rate = envInt('RATE', 200);
const hot_rate = envInt('HOT_RATE', rate);
const duration = envString('DURATION', '1m');
/** VUs started up front: enough for RATE at ~100 ms per request, so none are added mid-run. */
const pre_allocated_vus = envInt('VUS', Math.max(10, Math.ceil(rate / 10)));
/** VU ceiling if the server slows down; past it k6 reports dropped_iterations instead. */
const max_vus = envInt('MAX_VUS', pre_allocated_vus * 4);
const hot_pre_allocated_vus = envInt('HOT_VUS', Math.max(10, Math.ceil(hot_rate / 10)));
const hot_max_vus = envInt('HOT_MAX_VUS', hot_pre_allocated_vus * 4);

const card_count = envInt('CARDS', 1000);
/**
 * Initial balance of every card, in minor units: 10^10 (100 million EUR) so a card is never
 * declined for funds during a run (at most 500 per authorization), and well inside the
 * contract's |amount| <= 10^15. A string because int64 travels as a JSON string.
 */
const initial_balance = envString('INITIAL_BALANCE', '10000000000');
const currency = envString('CURRENCY', 'EUR');
const program_id = envString('PROGRAM_ID', 'k6-load');
const merchant_id = envString('MERCHANT_ID', 'k6-merchant');
const operator_id = envString('OPERATOR_ID', 'k6-loadtest');
/** Largest amount per authorization, in minor units (amounts are uniform in 1..MAX_AMOUNT). */
const max_amount = envInt('MAX_AMOUNT', 500);
/** Per-request deadline. Far above the p99 target: a timeout should mean "stuck", not "slow". */
const request_timeout = envString('REQUEST_TIMEOUT', '5s');
const p99_ms = envInt('P99_MS', 50);
/** Disable the run's terminals in teardown so nothing can authorize on them afterwards. */
const disable_terminals_after = envBool('DISABLE_TERMINALS', true);

// mTLS, matching the chart's tls.enabled: all three PEM files, or none (plaintext).
const tls_cert_file = env('TLS_CERT');
const tls_key_file = env('TLS_KEY');
const tls_ca_file = env('TLS_CA');
const tls_files = [tls_cert_file, tls_key_file, tls_ca_file].filter((f) => f !== undefined);
if (tls_files.length !== 0 && tls_files.length !== 3) {
  throw new Error('set all of TLS_CERT, TLS_KEY and TLS_CA (mutual TLS), or none (plaintext)');
}
// open() only works in the init context, so the PEM files are read here.
const connect_params: grpc.ConnectParams = {
  plaintext: tls_files.length === 0,
  reflect: use_reflection,
  timeout: envString('CONNECT_TIMEOUT', '10s'),
};
if (tls_cert_file !== undefined && tls_key_file !== undefined && tls_ca_file !== undefined) {
  connect_params.tls = {
    cert: open(tls_cert_file),
    key: open(tls_key_file),
    cacerts: open(tls_ca_file),
  };
}

/** terminal_txn_number offset per scenario, so a VU reused by another scenario never repeats a key. */
const txn_number_base: Record<string, number> = { authorize: 0, hot_card: 1_000_000_000_000 };

// ---------------------------------------------------------------------------------------------
// gRPC clients and schema
// ---------------------------------------------------------------------------------------------

const authorize_method = 'tapline.v1.AuthorizationService/Authorize';
const issue_card_method = 'tapline.v1.AdminService/IssueCard';
const register_terminal_method = 'tapline.v1.AdminService/RegisterTerminal';
const set_terminal_enabled_method = 'tapline.v1.AdminService/SetTerminalEnabled';

const client = new grpc.Client();
const admin_client = new grpc.Client();
if (!use_reflection) {
  // Paths are relative to this script: the repository's proto/ directory.
  client.load(['../../proto'], 'tapline/v1/authorization.proto', 'tapline/v1/admin.proto');
  admin_client.load(['../../proto'], 'tapline/v1/authorization.proto', 'tapline/v1/admin.proto');
}

// ---------------------------------------------------------------------------------------------
// Options: scenarios and thresholds
// ---------------------------------------------------------------------------------------------

const scenarios: Record<string, Scenario> = {};
if (run_authorize) {
  scenarios['authorize'] = {
    executor: 'constant-arrival-rate',
    exec: 'authorizeRandomCard',
    rate,
    timeUnit: '1s',
    duration,
    preAllocatedVUs: pre_allocated_vus,
    maxVUs: max_vus,
  };
}
if (run_hot_card) {
  scenarios['hot_card'] = {
    executor: 'constant-arrival-rate',
    exec: 'authorizeHotCard',
    rate: hot_rate,
    timeUnit: '1s',
    duration,
    preAllocatedVUs: hot_pre_allocated_vus,
    maxVUs: hot_max_vus,
  };
}

/** Every VU id k6 can hand out is at most the sum of the scenarios' maxVUs: one terminal each. */
const terminal_count = (run_authorize ? max_vus : 0) + (run_hot_card ? hot_max_vus : 0);

export const options: Options = {
  scenarios,
  // Only Authorize calls carry the tag rpc=Authorize, so setup's IssueCard/RegisterTerminal calls
  // do not count toward the latency threshold.
  thresholds: {
    'grpc_req_duration{rpc:Authorize}': [`p(99)<${p99_ms}`],
    checks: ['rate>0.999'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'p(99.9)'],
  // Issuing CARDS cards and one terminal per VU is sequential; give large CARDS room.
  setupTimeout: envString('SETUP_TIMEOUT', '10m'),
  teardownTimeout: envString('TEARDOWN_TIMEOUT', '5m'),
};

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/** Share of OK authorizations that were approved (declines are valid answers, not errors). */
const approved = new Rate('authorize_approved');
/** Declines, tagged with the decline reason (expect e.g. velocity declines on the hot card). */
const declines = new Counter('authorize_declines');
/** Non-OK gRPC answers, tagged with the status code. */
const grpc_errors = new Counter('authorize_grpc_errors');

// ---------------------------------------------------------------------------------------------
// Messages (k6 returns protobuf JSON: lowerCamelCase fields, enum names, int64 as strings)
// ---------------------------------------------------------------------------------------------

interface IssueCardReply {
  cardId?: string;
  alreadyExisted?: boolean;
}

interface AuthorizeReply {
  outcome?: string;
  declineReason?: string;
  declineRule?: string;
  transactionId?: string;
  replayed?: boolean;
}

interface SetupData {
  runId: string;
  cardPrefix: string;
  cardCount: number;
  hotCardId: string;
  terminalPrefix: string;
  terminalCount: number;
}

function describeError(response: grpc.Response): string {
  return `status ${response.status}: ${JSON.stringify(response.error)}`;
}

function money(amountMinor: string | number): { amount_minor: string; currency: string } {
  return { amount_minor: String(amountMinor), currency };
}

// ---------------------------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------------------------

export function setup(): SetupData {
  const run_id = envString('RUN_ID', `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`);
  // Cards may be reused across runs (CARD_PREFIX; IssueCard is idempotent for identical fields);
  // terminals never are: their transaction numbers restart at 1 every run.
  const data: SetupData = {
    runId: run_id,
    cardPrefix: envString('CARD_PREFIX', `k6-${run_id}-card-`),
    cardCount: card_count,
    hotCardId: '',
    terminalPrefix: `k6-${run_id}-term-`,
    terminalCount: terminal_count,
  };
  data.hotCardId = `${data.cardPrefix}hot`;

  admin_client.connect(admin_target, connect_params);
  const issue = (card_id: string): void => {
    const response = admin_client.invoke(
      issue_card_method,
      { card_id, initial_balance: money(initial_balance), program_id, operator_id },
      { timeout: request_timeout },
    );
    if (response.status !== grpc.StatusOK) {
      exec.test.abort(`IssueCard ${card_id} failed: ${describeError(response)}`);
    }
    const reply = response.message as IssueCardReply | null;
    if (reply?.cardId !== card_id) exec.test.abort(`IssueCard ${card_id} answered for ${String(reply?.cardId)}`);
  };
  if (run_authorize) {
    for (let i = 0; i < data.cardCount; i++) issue(`${data.cardPrefix}${i}`);
  }
  if (run_hot_card) issue(data.hotCardId);

  for (let vu = 1; vu <= data.terminalCount; vu++) {
    const terminal_id = `${data.terminalPrefix}${vu}`;
    const response = admin_client.invoke(
      register_terminal_method,
      { terminal_id, merchant_id, location: 'k6 load test', operator_id },
      { timeout: request_timeout },
    );
    if (response.status !== grpc.StatusOK) {
      exec.test.abort(`RegisterTerminal ${terminal_id} failed: ${describeError(response)}`);
    }
  }
  admin_client.close();

  console.log(
    `run ${run_id}: ${run_authorize ? data.cardCount : 0} cards${run_hot_card ? ' + hot card' : ''} ` +
      `(${data.cardPrefix}*), ${data.terminalCount} terminals (${data.terminalPrefix}*), target ${target}`,
  );
  return data;
}

export function teardown(data: SetupData): void {
  if (!disable_terminals_after) return;
  admin_client.connect(admin_target, connect_params);
  let failed = 0;
  for (let vu = 1; vu <= data.terminalCount; vu++) {
    const response = admin_client.invoke(
      set_terminal_enabled_method,
      { terminal_id: `${data.terminalPrefix}${vu}`, enabled: false, operator_id },
      { timeout: request_timeout },
    );
    if (response.status !== grpc.StatusOK) failed++;
  }
  admin_client.close();
  if (failed > 0) console.warn(`teardown: ${failed} of ${data.terminalCount} terminals could not be disabled`);
}

// ---------------------------------------------------------------------------------------------
// Iterations
// ---------------------------------------------------------------------------------------------

/** Per VU: whether the client is connected yet, and how many errors were logged. */
let connected = false;
let errors_logged = 0;

function authorizeOnce(data: SetupData, card_id: string): void {
  if (!connected) {
    client.connect(target, connect_params);
    connected = true;
  }
  const vu = exec.vu.idInTest;
  if (vu > data.terminalCount) {
    exec.test.abort(`VU ${vu} has no terminal (only ${data.terminalCount} registered)`);
  }
  // One terminal per VU and a VU runs one iteration at a time, so (terminal, txn number) is unique:
  // every request is a first-time authorization, never an idempotent replay.
  const terminal_txn_number = (txn_number_base[exec.scenario.name] ?? 0) + exec.vu.iterationInScenario + 1;
  const amount = 1 + Math.floor(Math.random() * max_amount);

  const response = client.invoke(
    authorize_method,
    {
      terminal_id: `${data.terminalPrefix}${vu}`,
      terminal_txn_number: String(terminal_txn_number),
      card_id,
      amount: money(amount),
      kind: 'AUTHORIZATION_KIND_PURCHASE',
    },
    { timeout: request_timeout, tags: { rpc: 'Authorize' } },
  );

  const reply = response.message as AuthorizeReply | null;
  check(
    response,
    {
      'status is OK': (r) => r.status === grpc.StatusOK,
      'outcome is APPROVED or DECLINED': () => reply?.outcome === 'OUTCOME_APPROVED' || reply?.outcome === 'OUTCOME_DECLINED',
      'not a replay': () => reply?.replayed !== true,
    },
    { rpc: 'Authorize' },
  );

  if (response.status !== grpc.StatusOK) {
    grpc_errors.add(1, { code: String(response.status) });
    if (errors_logged < 3) {
      errors_logged++;
      console.warn(`Authorize ${card_id} via ${data.terminalPrefix}${vu}#${terminal_txn_number}: ${describeError(response)}`);
    }
    return;
  }
  approved.add(reply?.outcome === 'OUTCOME_APPROVED');
  if (reply?.outcome === 'OUTCOME_DECLINED') {
    declines.add(1, { reason: reply.declineReason ?? 'DECLINE_REASON_UNSPECIFIED' });
  }
}

/** Scenario authorize: a uniformly random card among the CARDS issued in setup. */
export function authorizeRandomCard(data: SetupData): void {
  authorizeOnce(data, `${data.cardPrefix}${Math.floor(Math.random() * data.cardCount)}`);
}

/** Scenario hot_card: every request on the same card. */
export function authorizeHotCard(data: SetupData): void {
  authorizeOnce(data, data.hotCardId);
}

/** `k6 run` without scenarios would call this; the options above always name exec functions. */
export default function (data: SetupData): void {
  authorizeRandomCard(data);
}
