// Where requests held for four eyes live: Redis, under one hash tag ({approvals}, one slot), so each
// transition is one script that checks the state and writes the next one together with its audit
// record (the tl:{approvals}:outbox stream the streamer carries to ClickHouse):
//   hold      a new record, pending, with its expiry; listed in the pending index
//   decide    pending -> approved | rejected, only by a principal other than the requester and
//             only before the expiry; two approvers at once produce one decision
//   result    the outcome of carrying an approved request out
// Records are kept after their decision (for GetApproval) until twice the approval TTL.

import type { RedisStore } from './redis-store';
import { approvalKey, approvals_outbox_key, approvals_pending_key } from './keys';

export type ApprovalState = 'pending' | 'approved' | 'rejected';

export interface StoredApproval {
  readonly id: string;
  readonly method: string;
  /** The held request, encoded as its method's request message. */
  readonly request: Buffer;
  /** JSON of the requester (services/common/auth caller form). */
  readonly requester: string;
  readonly requested_by: string;
  readonly requester_role: string;
  readonly reason: string;
  readonly summary: string;
  readonly state: ApprovalState;
  readonly decided_by: string;
  readonly requested_at_ms: number;
  readonly decided_at_ms: number;
  readonly expires_at_ms: number;
  readonly result_code: number;
  readonly result_message: string;
  readonly response: Buffer;
}

export type DecideResult = 'decided' | 'missing' | 'not_pending' | 'expired' | 'same_principal';

// KEYS: record, pending index, outbox. ARGV: id, method, request (base64), requester, requested_by,
// requester_role, reason, summary, requested_at_ms, expires_at_ms, keep_ms, audit document.
const hold_script = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
redis.call('HSET', KEYS[1], 'method', ARGV[2], 'request', ARGV[3], 'requester', ARGV[4], 'requested_by', ARGV[5],
  'requester_role', ARGV[6], 'reason', ARGV[7], 'summary', ARGV[8], 'state', 'pending', 'requested_at_ms', ARGV[9],
  'expires_at_ms', ARGV[10])
redis.call('PEXPIRE', KEYS[1], ARGV[11])
redis.call('ZADD', KEYS[2], ARGV[9], ARGV[1])
redis.call('XADD', KEYS[3], '*', 'd', ARGV[12])
return 'held'`;

// KEYS: record, pending index, outbox. ARGV: id, state (approved|rejected), decided_by, now_ms, audit document.
const decide_script = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'missing' end
if state ~= 'pending' then return 'not_pending' end
if tonumber(redis.call('HGET', KEYS[1], 'expires_at_ms')) <= tonumber(ARGV[4]) then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'expired'
end
if redis.call('HGET', KEYS[1], 'requested_by') == ARGV[3] then return 'same_principal' end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'decided_by', ARGV[3], 'decided_at_ms', ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('XADD', KEYS[3], '*', 'd', ARGV[5])
return 'decided'`;

// KEYS: record. ARGV: result code, message, response (base64).
const result_script = `
if redis.call('HGET', KEYS[1], 'state') ~= 'approved' then return 0 end
redis.call('HSET', KEYS[1], 'result_code', ARGV[1], 'result_message', ARGV[2], 'response', ARGV[3])
return 1`;

export interface HeldRequest {
  readonly id: string;
  readonly method: string;
  readonly request: Buffer;
  readonly requester: string;
  readonly requested_by: string;
  readonly requester_role: string;
  readonly reason: string;
  readonly summary: string;
  readonly requested_at_ms: number;
  readonly expires_at_ms: number;
}

/** The store port the approvals use case works with. */
export interface ApprovalStore {
  hold(held: HeldRequest, keep_ms: number, audit: string): Promise<boolean>;
  decide(id: string, state: 'approved' | 'rejected', decidedBy: string, now_ms: number, audit: string): Promise<DecideResult>;
  recordResult(id: string, code: number, message: string, response: Buffer): Promise<void>;
  load(id: string): Promise<StoredApproval | undefined>;
  pendingIds(count: number): Promise<string[]>;
}

export class RedisApprovalStore implements ApprovalStore {
  constructor(private readonly store: RedisStore) {}

  async hold(held: HeldRequest, keep_ms: number, audit: string): Promise<boolean> {
    const answer = await this.store.evalScript<string>(
      hold_script,
      [approvalKey(held.id), approvals_pending_key, approvals_outbox_key],
      [
        held.id,
        held.method,
        held.request.toString('base64'),
        held.requester,
        held.requested_by,
        held.requester_role,
        held.reason,
        held.summary,
        String(held.requested_at_ms),
        String(held.expires_at_ms),
        String(keep_ms),
        audit,
      ],
    );
    return answer === 'held';
  }

  decide(id: string, state: 'approved' | 'rejected', decidedBy: string, now_ms: number, audit: string): Promise<DecideResult> {
    return this.store.evalScript<DecideResult>(
      decide_script,
      [approvalKey(id), approvals_pending_key, approvals_outbox_key],
      [id, state, decidedBy, String(now_ms), audit],
    );
  }

  async recordResult(id: string, code: number, message: string, response: Buffer): Promise<void> {
    await this.store.evalScript<number>(result_script, [approvalKey(id)], [String(code), message, response.toString('base64')]);
  }

  async load(id: string): Promise<StoredApproval | undefined> {
    const fields = await this.store.hashAll(approvalKey(id));
    if (fields['state'] === undefined) return undefined;
    const text = (name: string): string => fields[name] ?? '';
    const number = (name: string): number => Number(fields[name] ?? 0);
    return {
      id,
      method: text('method'),
      request: Buffer.from(text('request'), 'base64'),
      requester: text('requester'),
      requested_by: text('requested_by'),
      requester_role: text('requester_role'),
      reason: text('reason'),
      summary: text('summary'),
      state: text('state') as ApprovalState,
      decided_by: text('decided_by'),
      requested_at_ms: number('requested_at_ms'),
      decided_at_ms: number('decided_at_ms'),
      expires_at_ms: number('expires_at_ms'),
      result_code: number('result_code'),
      result_message: text('result_message'),
      response: Buffer.from(text('response'), 'base64'),
    };
  }

  pendingIds(count: number): Promise<string[]> {
    return this.store.sortedFirst(approvals_pending_key, count);
  }
}
