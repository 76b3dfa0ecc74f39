// Where holders' refund claims and their payout runs live: Redis, in the settlement slot ({settle}),
// beside the settlement batches, so a transition and its audit record (tl:{settle}:outbox) are one
// Lua script, as settlement's are:
//   tl:{settle}:refund:window:<program>   string, JSON RefundWindow: when the program's holders may claim
//   tl:{settle}:refund:claim:<card>       hash: d (JSON ClaimDetails: holder name, IBAN, BIC, ...),
//                                         state (submitted|in_payout|paid|rejected), n (the claim's
//                                         number on this card), run, paid_minor, transaction, reason,
//                                         updated_at_ms
//   tl:{settle}:refund:claims:<program>   set of the card ids with a claim (the program's listing)
//   tl:{settle}:refund:run:<run>          hash: program, state (proposed|approved|paid), cards (JSON ids),
//                                         proposed_by, proposed_at_ms, approved_by, approved_at_ms
//   tl:{settle}:refund:runs:<program>     set of the program's run ids
//   tl:{settle}:refund:run-seq:<program>  counter numbering the program's runs
// A claim key, a run key and the program's sets are all in the {settle} slot; scripts that walk a
// set name the claim keys they derive (one slot, so Redis Cluster runs them on that slot's primary).

import { settlement_outbox_key } from '../../authorizer/store/keys';
import { connectPrimaries, type RedisPrimaries } from '../../common/redis-primaries';
import type { RedisTarget } from '../../common/redis-target';
import { ReportBackendError } from '../errors';

export type ClaimState = 'submitted' | 'in_payout' | 'paid' | 'rejected';
export type RunState = 'proposed' | 'approved' | 'paid';

/** What the holder claimed: written by the holder, replaced while the claim is only submitted. */
export interface ClaimDetails {
  readonly card: string;
  readonly program: string;
  readonly currency: string;
  readonly holder_name: string;
  /** Normalised and checked (iban.ts); never logged, masked in every answer but the payout file. */
  readonly iban: string;
  /** '' when the holder gave none (SEPA needs none inside the EEA). */
  readonly bic: string;
  readonly submitted_at_ms: number;
  readonly submitted_by: string;
}

export interface StoredClaim extends ClaimDetails {
  readonly state: ClaimState;
  readonly n: number;
  readonly run: string;
  readonly paid_minor: number;
  readonly transaction: string;
  readonly reason: string;
  readonly updated_at_ms: number;
}

export interface RefundWindow {
  readonly program: string;
  readonly opens_ms: number;
  /** 0: open-ended. */
  readonly closes_ms: number;
}

export interface StoredRun {
  readonly id: string;
  readonly program: string;
  readonly state: RunState;
  readonly cards: readonly string[];
  readonly proposed_by: string;
  readonly proposed_at_ms: number;
  readonly approved_by: string;
  readonly approved_at_ms: number;
}

const prefix = 'tl:{settle}:refund:';
const windowKey = (program: string): string => `${prefix}window:${program}`;
const claimKey = (card: string): string => `${prefix}claim:${card}`;
const claimsKey = (program: string): string => `${prefix}claims:${program}`;
const runKey = (run: string): string => `${prefix}run:${run}`;
const runsKey = (program: string): string => `${prefix}runs:${program}`;
const runSeqKey = (program: string): string => `${prefix}run-seq:${program}`;

// KEYS[1] window, KEYS[2] audit stream; ARGV JSON, audit.
const put_window_script = `
redis.call('SET', KEYS[1], ARGV[1])
redis.call('XADD', KEYS[2], '*', 'd', ARGV[2])
return 'changed'`;

// KEYS[1] claim, KEYS[2] program's claims, KEYS[3] audit stream; ARGV d, now_ms, audit, card.
// A submitted claim gets the new bank details; a claim in payout or paid is not touched; none or a
// rejected one starts a new claim (its number n counts up, so its cash-out key is new).
const submit_script = `
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'in_payout' or state == 'paid' then return state end
if state == 'submitted' then
  redis.call('HSET', KEYS[1], 'd', ARGV[1], 'updated_at_ms', ARGV[2])
  redis.call('XADD', KEYS[3], '*', 'd', ARGV[3])
  return 'replaced'
end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'state', 'submitted', 'run', '', 'paid_minor', '0', 'transaction', '', 'reason', '', 'updated_at_ms', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('XADD', KEYS[3], '*', 'd', ARGV[3])
return 'submitted'`;

// KEYS[1] program's claims, KEYS[2] run, KEYS[3] program's runs, KEYS[4] audit stream;
// ARGV run id, program, proposer, now_ms, claims_max, audit, claim key prefix.
// Every submitted claim of the program goes into the run, in card order.
const propose_script = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 'exists' end
local cards = redis.call('SMEMBERS', KEYS[1])
table.sort(cards)
local chosen = {}
for _, card in ipairs(cards) do
  if redis.call('HGET', ARGV[7] .. card, 'state') == 'submitted' then table.insert(chosen, card) end
end
if #chosen == 0 then return 'empty' end
if #chosen > tonumber(ARGV[5]) then return 'too_many' end
for _, card in ipairs(chosen) do
  redis.call('HSET', ARGV[7] .. card, 'state', 'in_payout', 'run', ARGV[1], 'updated_at_ms', ARGV[4])
end
redis.call('HSET', KEYS[2], 'program', ARGV[2], 'state', 'proposed', 'cards', cjson.encode(chosen), 'proposed_by', ARGV[3], 'proposed_at_ms', ARGV[4], 'approved_by', '', 'approved_at_ms', '0')
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('XADD', KEYS[4], '*', 'd', ARGV[6])
return 'changed'`;

// KEYS[1] run, KEYS[2] audit stream; ARGV approver, now_ms, audit.
const approve_script = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'missing' end
if state ~= 'proposed' then return 'unchanged' end
if redis.call('HGET', KEYS[1], 'proposed_by') == ARGV[1] then return 'same_principal' end
redis.call('HSET', KEYS[1], 'state', 'approved', 'approved_by', ARGV[1], 'approved_at_ms', ARGV[2])
redis.call('XADD', KEYS[2], '*', 'd', ARGV[3])
return 'changed'`;

// KEYS[1] claim, KEYS[2] run, KEYS[3] audit stream; ARGV run id, state (paid|rejected), paid_minor,
// transaction, reason, now_ms, audit, claim key prefix. Only a claim in payout in this approved run
// changes; the run is paid once none of its claims is still in payout.
const settle_claim_script = `
if redis.call('HGET', KEYS[2], 'state') ~= 'approved' then return 'not_approved' end
if redis.call('HGET', KEYS[1], 'state') ~= 'in_payout' or redis.call('HGET', KEYS[1], 'run') ~= ARGV[1] then return 'unchanged' end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'paid_minor', ARGV[3], 'transaction', ARGV[4], 'reason', ARGV[5], 'updated_at_ms', ARGV[6])
redis.call('XADD', KEYS[3], '*', 'd', ARGV[7])
for _, card in ipairs(cjson.decode(redis.call('HGET', KEYS[2], 'cards'))) do
  local key = ARGV[8] .. card
  if redis.call('HGET', key, 'state') == 'in_payout' and redis.call('HGET', key, 'run') == ARGV[1] then return 'changed' end
end
redis.call('HSET', KEYS[2], 'state', 'paid')
return 'changed'`;

export type SubmitResult = 'submitted' | 'replaced' | 'in_payout' | 'paid';
export type ProposeResult = 'changed' | 'exists' | 'empty' | 'too_many';
export type ApproveResult = 'changed' | 'unchanged' | 'missing' | 'same_principal';
export type SettleClaimResult = 'changed' | 'unchanged' | 'not_approved';

export interface RefundClaimStore {
  putWindow(window: RefundWindow, audit: string): Promise<void>;
  window(program: string): Promise<RefundWindow | undefined>;
  submit(details: ClaimDetails, now_ms: number, audit: string): Promise<SubmitResult>;
  claim(card: string): Promise<StoredClaim | undefined>;
  /** The program's claims, by card id, at most `claims_max` (+1 to detect more). */
  claims(program: string, claims_max: number): Promise<StoredClaim[]>;
  /** A new run id for the program ("<program>.refund.<n>"). */
  nextRunId(program: string): Promise<string>;
  propose(run: string, program: string, proposer: string, now_ms: number, claims_max: number, audit: string): Promise<ProposeResult>;
  approve(run: string, approver: string, now_ms: number, audit: string): Promise<ApproveResult>;
  settleClaim(
    run: string,
    card: string,
    outcome: { state: 'paid' | 'rejected'; paid_minor: number; transaction: string; reason: string },
    now_ms: number,
    audit: string,
  ): Promise<SettleClaimResult>;
  run(id: string): Promise<StoredRun | undefined>;
  runs(program: string): Promise<string[]>;
  close(): Promise<void>;
}

const command_timeout_ms = 10_000;

function mapOf(fields: string[] | Record<string, string>): Record<string, string> {
  return Array.isArray(fields)
    ? Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i] ?? '', fields[2 * i + 1] ?? '']))
    : fields;
}

export class RedisRefundClaimStore implements RefundClaimStore {
  private constructor(private readonly primaries: RedisPrimaries) {}

  static async connect(target: RedisTarget): Promise<RedisRefundClaimStore> {
    try {
      return new RedisRefundClaimStore(
        await connectPrimaries(target, { command_timeout_ms, reconnect_backoff_max_ms: 2_000, onError: () => undefined }),
      );
    } catch (error) {
      throw new ReportBackendError('redis', error, { phase: 'connect' });
    }
  }

  async putWindow(window: RefundWindow, audit: string): Promise<void> {
    await this.write(['EVAL', put_window_script, '2', windowKey(window.program), settlement_outbox_key, JSON.stringify(window), audit]);
  }

  async window(program: string): Promise<RefundWindow | undefined> {
    const text = (await this.command(['GET', windowKey(program)])) as string | null;
    return text === null ? undefined : (JSON.parse(text) as RefundWindow);
  }

  async submit(details: ClaimDetails, now_ms: number, audit: string): Promise<SubmitResult> {
    const keys = [claimKey(details.card), claimsKey(details.program), settlement_outbox_key];
    return (await this.write([
      'EVAL',
      submit_script,
      '3',
      ...keys,
      JSON.stringify(details),
      String(now_ms),
      audit,
      details.card,
    ])) as SubmitResult;
  }

  async claim(card: string): Promise<StoredClaim | undefined> {
    const map = mapOf((await this.command(['HGETALL', claimKey(card)])) as string[] | Record<string, string>);
    if (map['d'] === undefined || map['state'] === undefined) return undefined;
    return {
      ...(JSON.parse(map['d']) as ClaimDetails),
      state: map['state'] as ClaimState,
      n: Number(map['n'] ?? 0),
      run: map['run'] ?? '',
      paid_minor: Number(map['paid_minor'] ?? 0),
      transaction: map['transaction'] ?? '',
      reason: map['reason'] ?? '',
      updated_at_ms: Number(map['updated_at_ms'] ?? 0),
    };
  }

  async claims(program: string, claims_max: number): Promise<StoredClaim[]> {
    const cards = ((await this.command(['SMEMBERS', claimsKey(program)])) as string[]).sort().slice(0, claims_max + 1);
    const claims: StoredClaim[] = [];
    for (const card of cards) {
      const claim = await this.claim(card);
      if (claim !== undefined) claims.push(claim);
    }
    return claims;
  }

  async nextRunId(program: string): Promise<string> {
    return `${program}.refund.${String(await this.write(['INCR', runSeqKey(program)]))}`;
  }

  async propose(run: string, program: string, proposer: string, now_ms: number, claims_max: number, audit: string): Promise<ProposeResult> {
    const keys = [claimsKey(program), runKey(run), runsKey(program), settlement_outbox_key];
    const args = [run, program, proposer, String(now_ms), String(claims_max), audit, claimKey('')];
    return (await this.write(['EVAL', propose_script, '4', ...keys, ...args])) as ProposeResult;
  }

  async approve(run: string, approver: string, now_ms: number, audit: string): Promise<ApproveResult> {
    return (await this.write([
      'EVAL',
      approve_script,
      '2',
      runKey(run),
      settlement_outbox_key,
      approver,
      String(now_ms),
      audit,
    ])) as ApproveResult;
  }

  async settleClaim(
    run: string,
    card: string,
    outcome: { state: 'paid' | 'rejected'; paid_minor: number; transaction: string; reason: string },
    now_ms: number,
    audit: string,
  ): Promise<SettleClaimResult> {
    const keys = [claimKey(card), runKey(run), settlement_outbox_key];
    const args = [run, outcome.state, String(outcome.paid_minor), outcome.transaction, outcome.reason, String(now_ms), audit, claimKey('')];
    return (await this.write(['EVAL', settle_claim_script, '3', ...keys, ...args])) as SettleClaimResult;
  }

  async run(id: string): Promise<StoredRun | undefined> {
    const map = mapOf((await this.command(['HGETALL', runKey(id)])) as string[] | Record<string, string>);
    if (map['state'] === undefined) return undefined;
    return {
      id,
      program: map['program'] ?? '',
      state: map['state'] as RunState,
      cards: JSON.parse(map['cards'] ?? '[]') as string[],
      proposed_by: map['proposed_by'] ?? '',
      proposed_at_ms: Number(map['proposed_at_ms'] ?? 0),
      approved_by: map['approved_by'] ?? '',
      approved_at_ms: Number(map['approved_at_ms'] ?? 0),
    };
  }

  async runs(program: string): Promise<string[]> {
    return ((await this.command(['SMEMBERS', runsKey(program)])) as string[]).sort();
  }

  async close(): Promise<void> {
    await this.primaries.close();
  }

  private async command(args: string[]): Promise<unknown> {
    try {
      return await this.primaries.send(windowKey(''), args);
    } catch (error) {
      throw new ReportBackendError('redis', error, { command: args[0] });
    }
  }

  private async write(args: string[]): Promise<unknown> {
    try {
      return await this.primaries.sendReplicated(windowKey(''), args);
    } catch (error) {
      throw new ReportBackendError('redis', error, { command: args[0] });
    }
  }
}
