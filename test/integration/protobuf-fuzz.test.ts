// Protobuf fuzzing of every gRPC method of every door of a node: the terminal door
// (AuthorizationService), the operator door (Admin, Card, FleetAdmin, Approval services), health
// and reflection on both, the internal door's Forward stream and the fan-out calls that travel
// inside it (the method list comes from the compiled proto files, so a new method is fuzzed
// without editing this file). Every call carries credentials the door admits, so the fuzzed bytes
// get past the access check to the decoders and handlers: a gateway certificate of the merchants
// of the suite's terminals, a token of a role the access policy allows for the method, a peer
// node's certificate with a forwarded caller in each Forward call (one in ten fuzzed). For each
// method, `cases_per_method` requests from a fixed seed: a quarter random bytes, a quarter random
// well-formed messages of the request type (ids from the entities that exist, so many reach the
// domain), half valid messages with one to three byte-level mutations. What must hold:
// - no call ends INTERNAL or UNKNOWN, nor does any AuthorizeStream item or forwarded call inside
//   an OK stream;
// - no hang: every call ends well before its deadline, and the node process is still running
//   after every batch (a crash would show as its exit);
// - no approval of an invalid request: an approved purchase or top-up names a well-formed terminal
//   and card that exist, a transaction number >= 1, the card's currency, an amount within
//   (0, 10^12], and approves no more than was asked;
// - the fuzzed bytes reach the code under test: no call is UNAUTHENTICATED, and at least half of
//   each method's cases get past its door's access check (PERMISSION_DENIED is a request naming
//   something outside the credentials' scope, e.g. a mutated terminal id);
// - Redis unchanged on every rejection: a dump of every key (DUMP, so every type and encoding
//   counts; cluster heartbeats and leases left out) before and after each batch in which every
//   call was rejected; a batch with accepted calls has its rejected calls run again as a batch of
//   their own and checked the same way. A refused PIN, manager credential or cashier is the one
//   refusal that writes (its guess is counted, durably, so guessing is bounded): it counts as accepted.
//
// How: a real node process (the dev entry point: the simulated PSP and a PIN secret, so PIN and
// PSP paths are reached) on a private Redis, its doors over mutual TLS and tokens as in
// production; calls go out with identity serializers, in concurrent batches. The seed is printed; replay with TAPLINE_FUZZ_SEED=<seed>.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { createClient } from 'redis';
import type { MessageFns } from '../../gen/tapline/v1/types';
import {
  AuthorizeRequest,
  AuthorizeResponse,
  AuthorizeStreamRequest,
  AuthorizeStreamResponse,
  GetBalanceRequest,
  ReverseRequest,
  TopUpRequest,
  TopUpResponse,
  TopUpSource,
} from '../../gen/tapline/v1/authorization';
import { IssueCardRequest, RegisterTerminalRequest, SetCardStatusRequest, SetTerminalEnabledRequest } from '../../gen/tapline/v1/admin';
import { CreateFleetAccountRequest, IssueFleetCardRequest } from '../../gen/tapline/v1/fleet';
import { ForwardRequest, ForwardResponse, type ForwardedCall } from '../../gen/tapline/internal/v1/cluster';
import { IssueBulkCardRequest, RefundRunCashOutRequest } from '../../gen/tapline/internal/v1/fanout';
import { AuthorizationKind, CardStatus, Outcome } from '../../gen/tapline/v1/types';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { ServerProcess } from '../../tools/devenv/node-process';
import { purchase } from '../../tools/client/tapline-client';
import { forwardedCaller, startNodeProcess, startTestRedis } from '../support/harness';
import { rawDoors, type RawChannel, type RawDoors, type RawOutcome } from '../support/raw-grpc';
import { apiMethods, type ApiMethod } from '../support/api-methods';
import { Rng, mutate, randomMessageBytes, type EntityPool } from '../support/proto-random';

function seedFromEnvironment(): number {
  const text = process.env['TAPLINE_FUZZ_SEED'];
  if (text === undefined || text === '') return 20_240_611;
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) throw new Error(`TAPLINE_FUZZ_SEED must be an integer, got ${JSON.stringify(text)}`);
  return seed;
}

const fuzz_seed = seedFromEnvironment();
const cases_per_method = Number(process.env['TAPLINE_FUZZ_CASES'] ?? 500);
/** Calls in flight at once: enough to keep the node busy, few enough to keep every call far from its deadline. */
const batch_cases = 100;
/** A call that has not ended after this long counts as a hang. */
const case_deadline_ms = 10_000;
const forward_path = '/tapline.internal.v1.ClusterService/Forward';
const authorize_path = '/tapline.v1.AuthorizationService/Authorize';
const stream_path = '/tapline.v1.AuthorizationService/AuthorizeStream';
const top_up_path = '/tapline.v1.AuthorizationService/TopUp';
const amount_max_minor = 1_000_000_000_000n;
const id_pattern = /^[A-Za-z0-9._-]{1,64}$/;
const fleet_card_pattern = /^[A-Za-z0-9._-]{1,64}~[A-Za-z0-9._-]{1,64}$/;

/** Refusals that count a guess (a wrong PIN in SetPin or VerifyPin, manager credential or cashier): they write that count. */
const counted_guess =
  /^(the (current )?PIN is wrong|manager credential refused|cashier (unknown at this terminal|denied at this terminal|code wrong)|cashier locked after repeated wrong codes.*)$/;

/**
 * How a door refuses a caller (or a request outside its scope) before any decoder or handler: most
 * of a method's cases must get past it, or the fuzzed bytes would never reach the code under test.
 */
const door_refusals = new Set([grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED]);
/** At least this share of each method's cases must get past its door. */
const past_door_share_min = 0.5;

/** Status codes that say the server failed, not the request: never an answer to any bytes. */
const server_failures = new Set([grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DATA_LOSS]);

const pool: EntityPool = {
  cards: ['card-1', 'card-2', 'card-3', 'card-blocked'],
  terminals: ['pos-1', 'pos-2', 'pos-off'],
  merchants: ['m-1', 'm-2'],
  programs: ['test', 'default'],
  fleets: ['fleet-1'],
  currency: 'EUR',
};

/** What one case did: whether it was refused (nothing may have changed) and what was wrong. */
interface CaseOutcome {
  readonly rejected: boolean;
  readonly problems: string[];
}

type FuzzCase = () => Promise<CaseOutcome>;

function hex(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString('hex');
  return text.length > 160 ? `${text.slice(0, 160)}...(${bytes.length} bytes)` : text;
}

/**
 * Every key but the cluster's heartbeats and leases, each with the SHA-1 of its DUMP (value and
 * encoding), computed inside Redis in one call so a snapshot costs one round trip.
 */
const dump_digests_script = `
local keys = redis.call('KEYS', '*')
local out = {}
for _, key in ipairs(keys) do
  if string.sub(key, 1, 11) ~= 'tl:cluster:' and string.sub(key, 1, 13) ~= 'tl:{cluster}:' and string.sub(key, -6) ~= ':lease' then
    local dump = redis.call('DUMP', key)
    out[#out + 1] = key
    out[#out + 1] = dump and redis.sha1hex(dump) or 'gone'
  end
end
return out`;

async function dumpRedis(client: ReturnType<typeof createClient>): Promise<Map<string, string>> {
  const flat = await client.sendCommand<string[]>(['EVAL', dump_digests_script, '0']);
  const digests = new Map<string, string>();
  for (let index = 0; index + 1 < flat.length; index += 2) digests.set(String(flat[index]), String(flat[index + 1]));
  return digests;
}

function differences(before: Map<string, string>, after: Map<string, string>): string[] {
  const changed: string[] = [];
  for (const [key, value] of after) if (before.get(key) !== value) changed.push(before.has(key) ? `changed ${key}` : `added ${key}`);
  for (const key of before.keys()) if (!after.has(key)) changed.push(`removed ${key}`);
  return changed;
}

// ---- the oracle: an approval must be of a valid request ------------------------------------

interface Existing {
  cardExists(cardId: string): Promise<boolean>;
  terminalExists(terminalId: string): Promise<boolean>;
}

async function purchaseApprovalProblems(request: AuthorizeRequest, reply: AuthorizeResponse, existing: Existing): Promise<string[]> {
  if (reply.outcome !== Outcome.OUTCOME_APPROVED) return [];
  const problems: string[] = [];
  const fleet = fleet_card_pattern.test(request.cardId);
  if (!id_pattern.test(request.terminalId) || !(await existing.terminalExists(request.terminalId)))
    problems.push(`approved on terminal ${JSON.stringify(request.terminalId)} that is not a registered terminal`);
  if (!(fleet || id_pattern.test(request.cardId)) || !(await existing.cardExists(request.cardId)))
    problems.push(`approved on card ${JSON.stringify(request.cardId)} that does not exist`);
  if (request.terminalTxnNumber < 1n) problems.push('approved with transaction number 0');
  const asked = request.amount?.amountMinor ?? 0n;
  if (!fleet && (request.amount?.currency !== 'EUR' || asked < 1n || asked > amount_max_minor))
    problems.push(`approved an amount of ${asked} ${request.amount?.currency ?? '(none)'}`);
  const approved = reply.approvedAmount?.amountMinor ?? 0n;
  if (!fleet && approved > asked) problems.push(`approved ${approved}, more than the ${asked} asked`);
  if (request.kind === AuthorizationKind.AUTHORIZATION_KIND_UNSPECIFIED) problems.push('approved a request of no kind');
  return problems;
}

async function topUpApprovalProblems(request: TopUpRequest, reply: TopUpResponse, existing: Existing): Promise<string[]> {
  if (reply.outcome !== Outcome.OUTCOME_APPROVED) return [];
  const problems: string[] = [];
  const byTerminal = request.terminalId !== '';
  if (byTerminal === (request.idempotencyKey !== ''))
    problems.push('approved a top-up without exactly one of terminal key and idempotency key');
  if (byTerminal && (request.terminalTxnNumber < 1n || !(await existing.terminalExists(request.terminalId))))
    problems.push(`approved a top-up on terminal ${JSON.stringify(request.terminalId)} #${request.terminalTxnNumber}`);
  if (!(await existing.cardExists(request.cardId)))
    problems.push(`approved a top-up of card ${JSON.stringify(request.cardId)} that does not exist`);
  const amount = request.amount?.amountMinor ?? 0n;
  if (request.amount?.currency !== 'EUR' || amount < 1n || amount > amount_max_minor)
    problems.push(`approved a top-up of ${amount} ${request.amount?.currency ?? '(none)'}`);
  if (request.source === TopUpSource.TOP_UP_SOURCE_UNSPECIFIED) problems.push('approved a top-up of no source');
  return problems;
}

/** The approval problems of one OK answer of a method (only money methods approve anything). */
async function approvalProblems(path: string, request: Uint8Array, response: Uint8Array, existing: Existing): Promise<string[]> {
  if (path === authorize_path)
    return purchaseApprovalProblems(AuthorizeRequest.decode(request), AuthorizeResponse.decode(response), existing);
  if (path === top_up_path) return topUpApprovalProblems(TopUpRequest.decode(request), TopUpResponse.decode(response), existing);
  return [];
}

// ---- valid requests to mutate -------------------------------------------------------------

let txn_counter = 1_000;
const valid_forwarded_caller = forwardedCaller('fuzz-operator');

function encode<T>(type: MessageFns<T>, message: T): Buffer {
  return Buffer.from(type.encode(message).finish());
}

/** A valid request of the method when the suite knows one, else undefined (a random well-formed one is used). */
function validRequest(path: string, rng: Rng): Buffer | undefined {
  const card = rng.pick(pool.cards.slice(0, 3));
  const terminal = rng.pick(['pos-1', 'pos-2']);
  switch (path) {
    case authorize_path:
      return encode(AuthorizeRequest, purchase(terminal, ++txn_counter, card, 1 + rng.below(500)));
    case top_up_path:
      return encode(TopUpRequest, {
        terminalId: terminal,
        terminalTxnNumber: BigInt(++txn_counter),
        idempotencyKey: '',
        cardId: card,
        amount: { amountMinor: BigInt(1 + rng.below(500)), currency: 'EUR' },
        source: TopUpSource.TOP_UP_SOURCE_CASH,
        operatorId: '',
      });
    case '/tapline.v1.AuthorizationService/GetBalance':
      return encode(GetBalanceRequest, { cardId: card });
    case '/tapline.v1.AuthorizationService/Reverse':
      return encode(ReverseRequest, {
        terminalId: terminal,
        terminalTxnNumber: BigInt(++txn_counter),
        cardId: card,
        original: { ref: { $case: 'terminalTxn', value: { terminalId: terminal, txnNumber: BigInt(txn_counter - 1 - rng.below(50)) } } },
      });
    case stream_path:
      return encode(AuthorizeStreamRequest, {
        items: Array.from({ length: 1 + rng.below(3) }, (_, index) => ({
          correlationId: `c-${index}`,
          request: purchase(terminal, ++txn_counter, card, 1 + rng.below(500)),
        })),
      });
    case '/tapline.internal.v1.CardFanoutService/IssueBulkCard':
      return encode(IssueBulkCardRequest, {
        cardId: `bulk-${rng.below(1_000)}`,
        issuanceId: 'issuance-1',
        programId: 'test',
        currency: 'EUR',
        initialBalanceMinor: BigInt(rng.below(1_000)),
        depositMinor: 0n,
        expiresAtUnixMs: 0n,
        issuedAtUnixMs: BigInt(Date.now()),
        operatorId: 'ops',
        cardAuthKeyId: '',
      });
    case '/tapline.internal.v1.CardFanoutService/RefundRunCashOut':
      return encode(RefundRunCashOutRequest, { cardId: card, runId: `run-${rng.below(10)}`, operatorId: 'ops' });
    default:
      return undefined;
  }
}

/** The request bytes of case `index` of a method: random bytes, a random well-formed message, or a mutated valid one. */
function requestBytes(method: ApiMethod, index: number, rng: Rng): Buffer {
  if (index % 4 === 0) return rng.bytes(rng.below(48));
  const wellFormed = randomMessageBytes(method.input, rng, pool);
  if (index % 4 === 1) return wellFormed;
  let bytes = validRequest(method.path, rng) ?? wellFormed;
  for (let mutations = 1 + rng.below(3); mutations > 0; mutations--) bytes = mutate(bytes, rng);
  return bytes;
}

/** A Forward frame carrying calls of routed methods (inner requests fuzzed like any other), or fuzzed bytes. */
function forwardFrame(methods: readonly ApiMethod[], index: number, rng: Rng, only?: ApiMethod): Buffer {
  if (only === undefined && index % 4 === 0) return rng.bytes(rng.below(48));
  const calls: ForwardedCall[] = Array.from({ length: only === undefined ? 1 + rng.below(3) : 1 }, (_, n) => {
    const inner = only ?? rng.pick(methods);
    const known = inner.reach === 'forwarded' || inner.kind === 'unary';
    return {
      callId: BigInt(n + 1),
      method: known && rng.chance(0.95) ? inner.path : rng.pick(['', '/x/y', stream_path, '/tapline.v1.AuthorizationService/authorize']),
      request: requestBytes(inner, only === undefined ? index : index + 1, rng),
      timeoutMs: rng.chance(0.8) ? 5_000 : rng.pick([0, 1, 0xffff_ffff]),
      // The caller the entry node authenticated; one in ten fuzzed (a frame's caller is peer input too).
      caller: rng.chance(0.9) ? valid_forwarded_caller : rng.bytes(rng.below(48)),
    };
  });
  const frame = encode(ForwardRequest, { calls });
  return only === undefined && index % 4 === 3 ? mutate(frame, rng) : frame;
}

/**
 * Methods that only read (their names say so, and health and reflection): Redis must be unchanged
 * after any of their answers, so their batches need no second run of the rejections.
 */
function isRead(method: ApiMethod): boolean {
  const name = method.path.slice(method.path.lastIndexOf('/') + 1);
  return /^(Get|List)/.test(name) || method.service.startsWith('grpc.');
}

// ---- running cases ------------------------------------------------------------------------

type Door = 'terminal' | 'operator' | 'internal';

/** Health and reflection: served beside the API on every public door. */
function isStandard(method: ApiMethod): boolean {
  return method.service.startsWith('grpc.');
}

/** The door that serves an API method. */
function doorOf(method: ApiMethod): Door {
  if (method.service.startsWith('tapline.internal.')) return 'internal';
  return method.service === 'tapline.v1.AuthorizationService' ? 'terminal' : 'operator';
}

/**
 * The problems of a status. DEADLINE_EXCEEDED is a hang, unless the call carried a deadline of
 * its own shorter than a second (a forwarded call's timeout_ms), which it is right to answer so.
 */
function statusProblems(where: string, code: grpc.status, details: string, own_deadline_ms = 0): string[] {
  if (server_failures.has(code)) return [`${where}: ${grpc.status[code]} "${details}"`];
  if (code === grpc.status.DEADLINE_EXCEEDED && own_deadline_ms > 0 && own_deadline_ms < 1_000) return [];
  if (code === grpc.status.DEADLINE_EXCEEDED || code === grpc.status.CANCELLED)
    return [`${where}: ${grpc.status[code]} (a hang or a dropped call) "${details}"`];
  return [];
}

describe(`protobuf fuzzing of every gRPC method (seed ${fuzz_seed}, ${cases_per_method} cases per method; real node process, real Redis)`, function () {
  this.timeout(600_000);
  let redis: RedisInstance;
  let node: ServerProcess;
  let doors: RawDoors;
  let inspect: ReturnType<typeof createClient>;
  let existing: Existing;
  /** Per door target, the calls the door's access check let through (answered by a decoder or a handler). */
  const passedDoor = new Map<string, number>();
  /** Calls the door did not recognise the suite's credentials on: there must be none. */
  const unauthenticated: string[] = [];

  before(async function () {
    console.log(`      fuzz seed: ${fuzz_seed} (replay with TAPLINE_FUZZ_SEED=${fuzz_seed})`);
    redis = await startTestRedis('protobuf-fuzz');
    node = await startNodeProcess(redis.url, {
      TAPLINE_LOG_LEVEL: 'error',
      TAPLINE_PIN_SECRET: 'fuzz-pin-secret-0123456789',
      TAPLINE_PSP_SECRET: 'fuzz-psp-secret-0123456789',
      TAPLINE_GRPC_MESSAGE_MAX_BYTES: String(256 * 1024),
    });
    // A gateway of both merchants: a request naming any of the suite's terminals is within its scope.
    doors = await rawDoors(node, { identity: { gateway: pool.merchants } });
    inspect = createClient({ url: redis.url });
    await inspect.connect();
    existing = {
      cardExists: async (cardId) => (await inspect.keys(`tl:{s*}:*card:${cardId.replace(/[*?[\]\\]/g, '\\$&')}`)).length > 0,
      terminalExists: async (terminalId) => (await inspect.keys(`tl:{s*}:term:${terminalId.replace(/[*?[\]\\]/g, '\\$&')}`)).length > 0,
    };
    await setUpEntities();
  });

  after(async function () {
    doors?.close();
    await inspect?.close();
    await node?.terminate();
    await redis?.stop();
  });

  async function setUp<T>(path: string, type: MessageFns<T>, request: T): Promise<void> {
    const service = path.slice(1, path.lastIndexOf('/'));
    const outcome = await doors.forService(service).unary(path, encode(type, request));
    assert.equal(outcome.code, grpc.status.OK, `set-up ${path}: ${grpc.status[outcome.code]} ${outcome.details}`);
  }

  async function setUpEntities(): Promise<void> {
    for (const [terminalId, merchantId] of [
      ['pos-1', 'm-1'],
      ['pos-2', 'm-2'],
      ['pos-off', 'm-1'],
    ] as const)
      await setUp('/tapline.v1.AdminService/RegisterTerminal', RegisterTerminalRequest, {
        terminalId,
        merchantId,
        location: 'fuzz',
        operatorId: 'ops',
        serialNumber: '',
      });
    await setUp('/tapline.v1.AdminService/SetTerminalEnabled', SetTerminalEnabledRequest, {
      terminalId: 'pos-off',
      enabled: false,
      operatorId: 'ops',
    });
    for (const cardId of pool.cards)
      await setUp('/tapline.v1.AdminService/IssueCard', IssueCardRequest, {
        cardId,
        initialBalance: { amountMinor: 100_000n, currency: 'EUR' },
        programId: 'test',
        operatorId: 'ops',
      });
    await setUp('/tapline.v1.AdminService/SetCardStatus', SetCardStatusRequest, {
      cardId: 'card-blocked',
      status: CardStatus.CARD_STATUS_BLOCKED,
      reason: 'fuzz',
      operatorId: 'ops',
    });
    await setUp('/tapline.v1.FleetAdminService/CreateFleetAccount', CreateFleetAccountRequest, {
      fleetId: 'fleet-1',
      creditLimit: { amountMinor: 100_000n, currency: 'EUR' },
      timeZone: 'Europe/Berlin',
      operatorId: 'ops',
    });
    await setUp('/tapline.v1.FleetAdminService/IssueFleetCard', IssueFleetCardRequest, {
      fleetId: 'fleet-1',
      cardNo: '1',
      limits: undefined,
      productGroups: undefined,
      operatorId: 'ops',
    });
  }

  /** The problems of one answer to bytes sent to `method` (status, items, forwarded calls, approvals). */
  async function judge(method: ApiMethod, where: string, request: Buffer, outcome: RawOutcome): Promise<CaseOutcome> {
    const problems = statusProblems(where, outcome.code, outcome.details);
    let accepted = outcome.code === grpc.status.OK || counted_guess.test(outcome.details);
    if (outcome.code === grpc.status.OK && method.kind === 'unary' && outcome.messages[0] !== undefined)
      problems.push(...(await approvalProblems(method.path, request, outcome.messages[0], existing)).map((p) => `${where}: ${p}`));
    if (method.path === stream_path) {
      accepted = false;
      const items = outcome.code === grpc.status.OK ? AuthorizeStreamRequest.decode(request).items : [];
      for (const result of outcome.messages.flatMap((message) => AuthorizeStreamResponse.decode(message).results)) {
        problems.push(...statusProblems(`${where} item ${JSON.stringify(result.correlationId)}`, result.statusCode, result.statusMessage));
        if (result.statusCode !== 0) continue;
        accepted = true;
        const asked = items.filter((item) => item.correlationId === result.correlationId && item.request !== undefined);
        const verdicts = await Promise.all(
          asked.map((item) =>
            purchaseApprovalProblems(item.request as AuthorizeRequest, result.reply ?? AuthorizeResponse.fromPartial({}), existing),
          ),
        );
        if (verdicts.length > 0 && verdicts.every((verdict) => verdict.length > 0))
          problems.push(...(verdicts[0] as string[]).map((p) => `${where}: ${p}`));
      }
    }
    if (method.path === forward_path || method.reach === 'forwarded') {
      accepted = false;
      const calls = outcome.code === grpc.status.OK ? ForwardRequest.decode(request).calls : [];
      for (const result of outcome.messages.flatMap((message) => ForwardResponse.decode(message).results)) {
        const call = calls.find((candidate) => candidate.callId === result.callId);
        problems.push(
          ...statusProblems(
            `${where} call ${result.callId} (${call?.method ?? '?'}, timeout_ms ${call?.timeoutMs ?? '?'})`,
            result.statusCode,
            result.statusMessage,
            call?.timeoutMs,
          ),
        );
        if (counted_guess.test(result.statusMessage)) accepted = true;
        if (result.statusCode !== 0 || result.notOwner) continue;
        accepted = true;
        if (call !== undefined)
          problems.push(...(await approvalProblems(call.method, call.request, result.response, existing)).map((p) => `${where}: ${p}`));
      }
    }
    return { rejected: !accepted, problems };
  }

  function channelOf(method: ApiMethod, door: Door): RawChannel {
    if (method.reach === 'forwarded' || method.path === forward_path) return doors.internal;
    return door === 'operator' && isStandard(method) ? doors.operator : doors.forService(method.service);
  }

  /** The case `index` of a method: the bytes it sends and how it is judged. */
  function caseOf(method: ApiMethod, door: Door, methods: readonly ApiMethod[], index: number, rng: Rng): FuzzCase {
    const forwarded = method.reach === 'forwarded';
    const bytes =
      method.path === forward_path
        ? forwardFrame(methods, index, rng)
        : forwarded
          ? forwardFrame(methods, index, rng, method)
          : requestBytes(method, index, rng);
    const target = `${method.path}${isStandard(method) ? ` (${door} door)` : ''}`;
    const where = `${target} case ${index} [${hex(bytes)}]`;
    const channel = channelOf(method, door);
    return async () => {
      let outcome: RawOutcome;
      if (forwarded || method.kind === 'bidi_streaming')
        outcome = await channel.bidi(forwarded ? forward_path : method.path, [bytes], case_deadline_ms);
      else if (method.kind === 'server_streaming') outcome = await channel.serverStream(method.path, bytes, 1, case_deadline_ms);
      else if (method.kind === 'client_streaming') outcome = await channel.bidi(method.path, [bytes], case_deadline_ms);
      else outcome = await channel.unary(method.path, bytes, case_deadline_ms);
      const past = !door_refusals.has(outcome.code);
      passedDoor.set(target, (passedDoor.get(target) ?? 0) + (past ? 1 : 0));
      if (outcome.code === grpc.status.UNAUTHENTICATED) unauthenticated.push(`${where}: ${outcome.details}`);
      return judge(method, where, bytes, outcome);
    };
  }

  async function nodeAlive(phase: string): Promise<void> {
    const exited = await Promise.race([node.exited.then((code) => `exited with ${String(code)}`), Promise.resolve(undefined)]);
    assert.equal(exited, undefined, `${phase}: the node process crashed`);
  }

  /**
   * Runs one batch; returns the problems, and checks Redis against `before` if every case was
   * rejected, or whatever the answers were for a method that only reads.
   */
  async function runBatch(
    label: string,
    cases: readonly FuzzCase[],
    reads = false,
  ): Promise<{ problems: string[]; rejected: FuzzCase[]; accepted: number }> {
    const before = await dumpRedis(inspect);
    const outcomes = await Promise.all(cases.map((run) => run()));
    await nodeAlive(label);
    const problems = outcomes.flatMap((outcome) => outcome.problems);
    const rejected = cases.filter((_, index) => (outcomes[index] as CaseOutcome).rejected);
    if (reads || rejected.length === cases.length) {
      const changed = differences(before, await dumpRedis(inspect));
      if (changed.length > 0)
        problems.push(`${label}: a batch of ${reads ? 'reads' : 'rejections'} changed Redis: ${changed.slice(0, 10).join(', ')}`);
    }
    return { problems, rejected, accepted: cases.length - rejected.length };
  }

  /** Waits until Redis holds still (what accepted calls set off, e.g. an auto-reload, has landed). */
  async function redisQuiet(label: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    let previous = await dumpRedis(inspect);
    for (;;) {
      const current = await dumpRedis(inspect);
      if (differences(previous, current).length === 0) return;
      if (Date.now() > deadline)
        throw new Error(`${label}: Redis kept changing for 5 s after a batch: ${differences(previous, current).slice(0, 5).join(', ')}`);
      previous = current;
    }
  }

  it('no method answers INTERNAL or UNKNOWN, crashes, hangs, approves an invalid request, or changes Redis when it refuses', async function () {
    const methods = apiMethods();
    const rng = new Rng(fuzz_seed);
    const started = Date.now();
    const problems: string[] = [];
    let calls = 0;
    let accepted = 0;
    // Health and reflection are served on the terminal and the operator door: fuzzed on both.
    const targets = methods.flatMap((method) =>
      (isStandard(method) ? (['terminal', 'operator'] as const) : [doorOf(method)]).map((door) => ({ method, door })),
    );
    for (const { method, door } of targets) {
      const cases = Array.from({ length: cases_per_method }, (_, index) => caseOf(method, door, methods, index, rng));
      for (let from = 0; from < cases.length; from += batch_cases) {
        const label = `${method.path}${isStandard(method) ? ` (${door} door)` : ''} cases ${from}-${Math.min(cases.length, from + batch_cases) - 1}`;
        const reads = isRead(method);
        const batch = await runBatch(label, cases.slice(from, from + batch_cases), reads);
        calls += batch.rejected.length + batch.accepted;
        accepted += batch.accepted;
        problems.push(...batch.problems);
        if (!reads && batch.accepted > 0 && batch.rejected.length > 0) {
          // The rejections of a batch with accepted calls, again on their own (a rejection is deterministic).
          await redisQuiet(label);
          const again = await runBatch(`${label} (rejections again)`, batch.rejected);
          problems.push(...again.problems);
          calls += again.rejected.length + again.accepted;
        }
        if (!reads && batch.accepted > 0) await redisQuiet(label);
      }
      if (process.env['TAPLINE_FUZZ_VERBOSE'])
        console.log(`      ${method.path}: ${calls} calls so far, ${accepted} accepted, ${Date.now() - started} ms`);
    }
    console.log(
      `      ${methods.length} methods on ${targets.length} door targets, ${calls} calls (${accepted} accepted) in ${Date.now() - started} ms, seed ${fuzz_seed}`,
    );
    assert.deepEqual(problems.slice(0, 30), [], `${problems.length} problem(s) with seed ${fuzz_seed}`);
    assert.deepEqual(unauthenticated.slice(0, 10), [], "every door takes the suite's credentials");
    const stopped = [...passedDoor].filter(([, past]) => past < cases_per_method * past_door_share_min);
    assert.deepEqual(
      stopped.map(([target, past]) => `${target}: ${past} of ${cases_per_method} past the door`),
      [],
      `at least ${past_door_share_min * 100}% of each method's cases reach its decoder and handler`,
    );
  });
});
