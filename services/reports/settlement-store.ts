// Where settlement state lives: Redis (the system's store of record), not ClickHouse, because
// approving and settling are state transitions that must be atomic and race-safe; ClickHouse has
// no transactions. All keys share the hash tag {settle} (one slot):
//   tl:{settle}:merchant:<merchantId>   string, JSON MerchantSettlementConfig
//   tl:{settle}:campaign:<campaignId>   string, JSON RefundCampaign (breakage-rules.ts); final once its deadline passed
//   tl:{settle}:batch:<batchId>         hash: d (the computed batch, JSON, immutable once approved),
//                                       digest (sha256 of d), state (computed|approved|settled),
//                                       approved_by, approved_at_ms, settled_by, settled_at_ms, reference
// Each transition is one Lua script that reads the state and writes the next in one step, so two
// operators approving at once produce one approval (the second sees "unchanged"), and computing a
// period again after approval changes nothing. With Redis replicas a write is answered only once
// the replicas required have it (an approval must survive the loss of the primary). On Redis
// Cluster every key is in the {settle} slot, so SCAN runs on the primary of that slot. A script
// that changes something also appends the change's audit record to tl:{settle}:outbox (same hash
// tag, same script), which the streamer carries to ClickHouse's audit_log: the record exists
// exactly when the change does.
//
// Four eyes: a batch is approved only by a principal other than the one that computed it (the
// script reads computed_by from the batch itself), and a merchant's payee account changes only
// when a principal other than its proposer approves it (settlement.ts, through putConfig's
// compare-and-set on the configuration as read).

import { settlement_outbox_key } from '../authorizer/store/keys';
import { connectPrimaries, type RedisPrimaries } from '../common/redis-primaries';
import type { RedisTarget } from '../common/redis-target';
import { ReportBackendError } from './errors';
import type { MerchantSettlementConfig } from './settlement-rules';
import type { RefundCampaign } from './breakage-rules';

// KEYS[1] campaign, KEYS[2] audit stream; ARGV JSON, now_ms, audit record. A campaign whose stored
// deadline has passed is final: its breakage is reported from it, so it is never rewritten.
const put_campaign_script = `
local current = redis.call('GET', KEYS[1])
if current and tonumber(cjson.decode(current)['deadline_ms']) <= tonumber(ARGV[2]) then return 'closed' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('XADD', KEYS[2], '*', 'd', ARGV[3])
return 'written'`;

export type BatchState = 'computed' | 'approved' | 'settled';

export interface StoredBatch {
  readonly d: string;
  readonly digest: string;
  readonly state: BatchState;
  readonly approved_by: string;
  readonly approved_at_ms: number;
  readonly settled_by: string;
  readonly settled_at_ms: number;
  readonly reference: string;
}

/** What a transition did: changed the state, found it already done, or was refused (and why). */
export type TransitionResult = 'changed' | 'unchanged' | 'missing' | 'not_approved' | 'digest_mismatch' | 'same_principal';

const merchantKey = (merchant: string): string => `tl:{settle}:merchant:${merchant}`;
const campaignKey = (id: string): string => `tl:{settle}:campaign:${id}`;
const batchKey = (id: string): string => `tl:{settle}:batch:${id}`;

// KEYS[1] batch, KEYS[2] audit stream; ARGV d, digest, audit record. Writes only while the batch
// is absent or still computed.
const compute_script = `
local state = redis.call('HGET', KEYS[1], 'state')
if state and state ~= 'computed' then return 'unchanged' end
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'digest', ARGV[2], 'state', 'computed')
redis.call('XADD', KEYS[2], '*', 'd', ARGV[3])
return 'changed'`;

// KEYS[1] batch, KEYS[2] audit stream; ARGV operator, now_ms, expected digest ('' = any), audit record.
const approve_script = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'missing' end
if state ~= 'computed' then return 'unchanged' end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'digest') ~= ARGV[3] then return 'digest_mismatch' end
if cjson.decode(redis.call('HGET', KEYS[1], 'd'))['computed_by'] == ARGV[1] then return 'same_principal' end
redis.call('HSET', KEYS[1], 'state', 'approved', 'approved_by', ARGV[1], 'approved_at_ms', ARGV[2])
redis.call('XADD', KEYS[2], '*', 'd', ARGV[4])
return 'changed'`;

// KEYS[1] batch, KEYS[2] audit stream; ARGV operator, now_ms, bank reference, audit record.
const settle_script = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'missing' end
if state == 'settled' then return 'unchanged' end
if state ~= 'approved' then return 'not_approved' end
redis.call('HSET', KEYS[1], 'state', 'settled', 'settled_by', ARGV[1], 'settled_at_ms', ARGV[2], 'reference', ARGV[3])
redis.call('XADD', KEYS[2], '*', 'd', ARGV[4])
return 'changed'`;

// KEYS[1] merchant configuration, KEYS[2] audit stream; ARGV the configuration as read ('' when
// absent), the new one, audit record. Compare-and-set: a configuration changed since it was read
// is not overwritten ('conflict': read again).
const put_config_script = `
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 'conflict' end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], '*', 'd', ARGV[3])
return 'changed'`;

export interface SettlementStore {
  /** Writes the configuration if it is still `expected` (its JSON as read, '' when absent), with its audit record. */
  putConfig(config: MerchantSettlementConfig, expected: string, audit: string): Promise<'changed' | 'conflict'>;
  config(merchant: string): Promise<MerchantSettlementConfig | undefined>;
  /** The configuration exactly as stored (the compare-and-set value), or '' when absent. */
  configText(merchant: string): Promise<string>;
  /** Writes a computed batch unless it was approved or settled ('unchanged'). */
  compute(id: string, d: string, digest: string, audit: string): Promise<TransitionResult>;
  /** Approves a computed batch; 'same_principal' when `operator` computed it. */
  approve(id: string, operator: string, now_ms: number, digest: string, audit: string): Promise<TransitionResult>;
  settle(id: string, operator: string, now_ms: number, reference: string, audit: string): Promise<TransitionResult>;
  batch(id: string): Promise<StoredBatch | undefined>;
  /** Every merchant with a settlement configuration, sorted, at most `merchants_max` (+1 to detect more). */
  merchants(merchants_max: number): Promise<string[]>;
  /** Ids of the batches whose key starts with `<merchant>.` (callers filter the exact merchant), at most `ids_max`. */
  batchIds(merchant: string, ids_max: number): Promise<string[]>;
  /** Stores a refund campaign, with its audit record, unless its deadline has passed ('closed': then nothing is written). */
  putCampaign(campaign: RefundCampaign, now_ms: number, audit: string): Promise<'written' | 'closed'>;
  campaign(id: string): Promise<RefundCampaign | undefined>;
  close(): Promise<void>;
}

/** Bound on one settlement command: these are rare operator actions, never on a hot path. */
const settlement_command_timeout_ms = 10_000;

export class RedisSettlementStore implements SettlementStore {
  private constructor(private readonly primaries: RedisPrimaries) {}

  static async connect(target: RedisTarget): Promise<RedisSettlementStore> {
    try {
      return new RedisSettlementStore(
        await connectPrimaries(target, {
          command_timeout_ms: settlement_command_timeout_ms,
          reconnect_backoff_max_ms: 2_000,
          onError: () => undefined,
        }),
      );
    } catch (error) {
      throw new ReportBackendError('redis', error, { phase: 'connect' });
    }
  }

  async putConfig(config: MerchantSettlementConfig, expected: string, audit: string): Promise<'changed' | 'conflict'> {
    const keys = [merchantKey(config.merchant), settlement_outbox_key];
    return (await this.write(['EVAL', put_config_script, '2', ...keys, expected, JSON.stringify(config), audit])) as 'changed' | 'conflict';
  }

  async config(merchant: string): Promise<MerchantSettlementConfig | undefined> {
    const text = await this.configText(merchant);
    return text === '' ? undefined : (JSON.parse(text) as MerchantSettlementConfig);
  }

  async configText(merchant: string): Promise<string> {
    return ((await this.command(['GET', merchantKey(merchant)])) as string | null) ?? '';
  }

  async compute(id: string, d: string, digest: string, audit: string): Promise<TransitionResult> {
    return (await this.write(['EVAL', compute_script, '2', batchKey(id), settlement_outbox_key, d, digest, audit])) as TransitionResult;
  }

  async approve(id: string, operator: string, now_ms: number, digest: string, audit: string): Promise<TransitionResult> {
    const args = [operator, String(now_ms), digest, audit];
    return (await this.write(['EVAL', approve_script, '2', batchKey(id), settlement_outbox_key, ...args])) as TransitionResult;
  }

  async settle(id: string, operator: string, now_ms: number, reference: string, audit: string): Promise<TransitionResult> {
    const args = [operator, String(now_ms), reference, audit];
    return (await this.write(['EVAL', settle_script, '2', batchKey(id), settlement_outbox_key, ...args])) as TransitionResult;
  }

  async batch(id: string): Promise<StoredBatch | undefined> {
    const fields = (await this.command(['HGETALL', batchKey(id)])) as string[] | Record<string, string>;
    const map: Record<string, string> = Array.isArray(fields)
      ? Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i] ?? '', fields[2 * i + 1] ?? '']))
      : fields;
    if (map['state'] === undefined || map['d'] === undefined) return undefined;
    return {
      d: map['d'],
      digest: map['digest'] ?? '',
      state: map['state'] as BatchState,
      approved_by: map['approved_by'] ?? '',
      approved_at_ms: Number(map['approved_at_ms'] ?? 0),
      settled_by: map['settled_by'] ?? '',
      settled_at_ms: Number(map['settled_at_ms'] ?? 0),
      reference: map['reference'] ?? '',
    };
  }

  async merchants(merchants_max: number): Promise<string[]> {
    const prefix = merchantKey('');
    const merchants: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = (await this.command(['SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '1000'])) as [string, string[]];
      cursor = next;
      for (const key of keys) merchants.push(key.slice(prefix.length));
      if (merchants.length > merchants_max) break;
    } while (cursor !== '0');
    return merchants.sort();
  }

  async batchIds(merchant: string, ids_max: number): Promise<string[]> {
    // The id alphabet has no glob character (* ? [ ] \), so the merchant id is a literal prefix.
    const prefix = batchKey(`${merchant}.`);
    const ids: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = (await this.command(['SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '1000'])) as [string, string[]];
      cursor = next;
      for (const key of keys) ids.push(key.slice(batchKey('').length));
      if (ids.length > ids_max) break;
    } while (cursor !== '0');
    return ids.sort();
  }

  async putCampaign(campaign: RefundCampaign, now_ms: number, audit: string): Promise<'written' | 'closed'> {
    const keys = [campaignKey(campaign.id), settlement_outbox_key];
    return (await this.write(['EVAL', put_campaign_script, '2', ...keys, JSON.stringify(campaign), String(now_ms), audit])) as
      'written' | 'closed';
  }

  async campaign(id: string): Promise<RefundCampaign | undefined> {
    const text = (await this.command(['GET', campaignKey(id)])) as string | null;
    return text === null ? undefined : (JSON.parse(text) as RefundCampaign);
  }

  async close(): Promise<void> {
    await this.primaries.close();
  }

  /** Every key is in the {settle} slot: this key routes SCAN there too. */
  private async command(args: string[]): Promise<unknown> {
    try {
      return await this.primaries.send(merchantKey(''), args);
    } catch (error) {
      throw new ReportBackendError('redis', error, { command: args[0] });
    }
  }

  private async write(args: string[]): Promise<unknown> {
    try {
      return await this.primaries.sendReplicated(merchantKey(''), args);
    } catch (error) {
      throw new ReportBackendError('redis', error, { command: args[0] });
    }
  }
}
