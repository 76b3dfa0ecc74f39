// The event relay's state in Redis: its configuration (webhook endpoints, notice contacts, operator
// subscriptions, templates), its cursor, and the deliveries with their history. Every key shares
// the hash tag {events} (one slot), so each multi-key script is valid on Redis Cluster too.
//
//   tl:{events}:relay:lease             string  the relay's lease (services/common/redis-lease.ts)
//   tl:{events}:relay:cursor            string  {"stream_ms":N,"event_id":"..."}: every event up to it is planned
//   tl:{events}:endpoint:<id>           string  JSON WebhookEndpoint (with its secret)
//   tl:{events}:endpoints               set     endpoint ids
//   tl:{events}:contact:<cardId>        string  JSON CardContact (personal data)
//   tl:{events}:operator:<id>           string  JSON OperatorSubscription
//   tl:{events}:operators               set     operator ids with a subscription
//   tl:{events}:template:<program>:<kind>:<language>  string  JSON NoticeTemplate
//   tl:{events}:d:<deliveryId>          hash    one delivery: what, to whom, its state and every attempt
//   tl:{events}:due                     zset    pending delivery id -> when its next attempt is due (ms)
//   tl:{events}:log:<scope>             zset    delivery id -> created (ms), per card / operator / endpoint, newest kept
//
// A delivery is created once (its id is derived from event, channel and recipient, and it is
// created in the same script that moves the cursor past its event) and moves
// pending -> sent | failed; a failed one can be put back to pending by an operator.

import { events_outbox_key } from '../authorizer/store/keys';
import type { RedisLease } from '../common/redis-lease';
import type { RelayCursor } from './events';

export type Channel = 'webhook' | 'email' | 'sms';
export type DeliveryState = 'pending' | 'sent' | 'failed';

export interface NewDelivery {
  readonly id: string;
  readonly channel: Channel;
  readonly target: string;
  readonly scope: string;
  readonly event_id: string;
  readonly event: string;
  /** The notice kind, "" for webhooks. */
  readonly notice: string;
  /** What to send, JSON. */
  readonly payload: string;
}

export interface DeliveryAttempt {
  readonly at_ms: number;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Delivery extends NewDelivery {
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly created_at_ms: number;
  readonly next_at_ms: number;
  readonly sent_at_ms: number;
  readonly provider_ref: string;
  readonly last_error: string;
  readonly tries: readonly DeliveryAttempt[];
}

export const keys = {
  lease: 'tl:{events}:relay:lease',
  cursor: 'tl:{events}:relay:cursor',
  endpoint: (id: string) => `tl:{events}:endpoint:${id}`,
  endpoints: 'tl:{events}:endpoints',
  contact: (card: string) => `tl:{events}:contact:${card}`,
  operator: (id: string) => `tl:{events}:operator:${id}`,
  operators: 'tl:{events}:operators',
  template: (program: string, kind: string, language: string) => `tl:{events}:template:${program}:${kind}:${language}`,
  delivery: (id: string) => `tl:{events}:d:${id}`,
  due: 'tl:{events}:due',
  log: (scope: string) => `tl:{events}:log:${scope}`,
} as const;

// After the lease prologue: KEYS[2] cursor, KEYS[3] due, then per delivery its hash and log key,
// then per erasure a card's contact key; ARGV[2] cursor JSON, ARGV[3] now, ARGV[4] log entries
// kept, ARGV[5] count, then per delivery its fields as a JSON object of strings, then the erasure
// count and per erasure the time of the cancelled issuance. Creates only deliveries that do not
// exist yet; erases a contact only when its consent was recorded at or before that time (a contact
// recorded for the card's next holder stays).
const enqueue_body = `
local created = 0
local count = tonumber(ARGV[5])
local erasures = tonumber(ARGV[6 + count])
for j = 1, erasures do
  local ckey = KEYS[3 + 2 * count + j]
  local text = redis.call('GET', ckey)
  if text then
    local consent_at = tonumber(cjson.decode(text)['consent_at_ms']) or 0
    if consent_at <= tonumber(ARGV[6 + count + j]) then redis.call('DEL', ckey) end
  end
end
for i = 1, count do
  local dkey = KEYS[2 + 2 * i]
  local logkey = KEYS[3 + 2 * i]
  local fields = cjson.decode(ARGV[5 + i])
  if redis.call('EXISTS', dkey) == 0 then
    local flat = {}
    for name, value in pairs(fields) do
      flat[#flat + 1] = name
      flat[#flat + 1] = value
    end
    redis.call('HSET', dkey, unpack(flat))
    redis.call('ZADD', KEYS[3], ARGV[3], fields['id'])
    redis.call('ZADD', logkey, ARGV[3], fields['id'])
    redis.call('ZREMRANGEBYRANK', logkey, 0, -(tonumber(ARGV[4]) + 1))
    created = created + 1
  end
end
redis.call('SET', KEYS[2], ARGV[2])
return created`;

// KEYS[1] due; ARGV now, count, in-flight ms. Takes due deliveries and hides them for the in-flight
// time, after which a worker that died holding them loses them to another.
const claim_script = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[3]), id) end
return ids`;

// KEYS[1] delivery, KEYS[2] due; ARGV id, outcome (sent|retry|failed), now, next_at, error,
// provider_ref, retention_ms, attempt JSON. Records one attempt of a pending delivery.
const complete_script = `
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'pending' then return state or 'missing' end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local tries = redis.call('HGET', KEYS[1], 'tries') or '[]'
if tries == '[]' then tries = '[' .. ARGV[8] .. ']' else tries = string.sub(tries, 1, -2) .. ',' .. ARGV[8] .. ']' end
redis.call('HSET', KEYS[1], 'tries', tries, 'last_error', ARGV[5])
if ARGV[2] == 'retry' then
  redis.call('HSET', KEYS[1], 'next_at_ms', ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
  return 'retry'
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'provider_ref', ARGV[6], 'next_at_ms', '0')
if ARGV[2] == 'sent' then redis.call('HSET', KEYS[1], 'sent_at_ms', ARGV[3]) end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return ARGV[2]`;

// KEYS[1] delivery, KEYS[2] due; ARGV id, now. A failed delivery goes back to pending, due now.
// KEYS[1] delivery, KEYS[2] due set, KEYS[3] audit stream; ARGV id, now, audit record.
const retry_script = `
local state = redis.call('HGET', KEYS[1], 'state')
if state == false then return 'missing' end
if state ~= 'failed' then return state end
redis.call('PERSIST', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'pending', 'next_at_ms', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('XADD', KEYS[3], '*', 'd', ARGV[3])
return 'pending'`;

// Operators' configuration changes (endpoints, contacts, subscriptions, templates) and their audit
// records, one script each, so a record exists exactly when its change does.
// KEYS[1] record, KEYS[2] audit stream, KEYS[3] index set ('' member: none); ARGV JSON, audit, member.
const put_record_script = `
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[3] ~= '' then redis.call('SADD', KEYS[3], ARGV[3]) end
redis.call('XADD', KEYS[2], '*', 'd', ARGV[2])
return 1`;

// KEYS[1] record, KEYS[2] audit stream, KEYS[3] index set; ARGV audit, member. Audited only when
// something was removed.
const remove_record_script = `
if ARGV[2] ~= '' then redis.call('SREM', KEYS[3], ARGV[2]) end
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'd', ARGV[1])
return 1`;

/** What the store needs of a Redis connection (node-redis' sendCommand). */
export interface Commands {
  sendCommand(args: string[]): Promise<unknown>;
}

function fieldsOf(reply: unknown): Record<string, string> {
  if (Array.isArray(reply)) {
    const map: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) map[String(reply[i])] = String(reply[i + 1]);
    return map;
  }
  return (reply ?? {}) as Record<string, string>;
}

function deliveryOf(map: Record<string, string>): Delivery | undefined {
  if (map['id'] === undefined) return undefined;
  return {
    id: map['id'],
    channel: map['channel'] as Channel,
    target: map['target'] ?? '',
    scope: map['scope'] ?? '',
    event_id: map['event_id'] ?? '',
    event: map['event'] ?? '',
    notice: map['notice'] ?? '',
    payload: map['payload'] ?? '',
    state: map['state'] as DeliveryState,
    attempts: Number(map['attempts'] ?? 0),
    created_at_ms: Number(map['created_at_ms'] ?? 0),
    next_at_ms: Number(map['next_at_ms'] ?? 0),
    sent_at_ms: Number(map['sent_at_ms'] ?? 0),
    provider_ref: map['provider_ref'] ?? '',
    last_error: map['last_error'] ?? '',
    tries: JSON.parse(map['tries'] ?? '[]') as DeliveryAttempt[],
  };
}

export type EnqueueResult = { readonly status: 'done'; readonly created: number } | { readonly status: 'fenced' };

/**
 * A card's notice contact to erase because the card's issuance was cancelled at `at_ms`: the
 * consent was its holder's, and the card may next be issued to someone else.
 */
export interface ContactErasure {
  readonly card: string;
  readonly at_ms: number;
}

export class EventsStore {
  constructor(private readonly redis: Commands) {}

  async cursor(): Promise<RelayCursor | undefined> {
    const text = (await this.redis.sendCommand(['GET', keys.cursor])) as string | null;
    return text === null ? undefined : (JSON.parse(text) as RelayCursor);
  }

  /**
   * Creates the deliveries planned for a page of events and moves the cursor past the page, in one
   * script, only while `lease` is held: a crash before it re-plans the same page (creating the
   * same ids), a crash after it never plans the page again.
   */
  async enqueue(
    lease: RedisLease,
    cursor: RelayCursor,
    deliveries: readonly NewDelivery[],
    now_ms: number,
    log_entries_max: number,
    erasures: readonly ContactErasure[] = [],
  ): Promise<EnqueueResult> {
    const deliveryKeys = deliveries.flatMap((delivery) => [keys.delivery(delivery.id), keys.log(delivery.scope)]);
    const fields = deliveries.map((delivery) =>
      JSON.stringify({
        ...delivery,
        state: 'pending',
        attempts: '0',
        created_at_ms: String(now_ms),
        next_at_ms: String(now_ms),
        tries: '[]',
      }),
    );
    const reply = await lease.fencedEval(
      enqueue_body,
      [keys.cursor, keys.due, ...deliveryKeys, ...erasures.map((erasure) => keys.contact(erasure.card))],
      [
        JSON.stringify(cursor),
        String(now_ms),
        String(log_entries_max),
        String(deliveries.length),
        ...fields,
        String(erasures.length),
        ...erasures.map((erasure) => String(erasure.at_ms)),
      ],
    );
    return reply === 'fenced' ? { status: 'fenced' } : { status: 'done', created: Number(reply) };
  }

  /** Ids of deliveries due now, hidden from other workers for `in_flight_ms`. */
  async claimDue(now_ms: number, count: number, in_flight_ms: number): Promise<string[]> {
    return (await this.redis.sendCommand([
      'EVAL',
      claim_script,
      '1',
      keys.due,
      String(now_ms),
      String(count),
      String(in_flight_ms),
    ])) as string[];
  }

  async delivery(id: string): Promise<Delivery | undefined> {
    return deliveryOf(fieldsOf(await this.redis.sendCommand(['HGETALL', keys.delivery(id)])));
  }

  /** Records one attempt: sent, failed for good, or to be retried at `next_at_ms`. */
  async complete(
    id: string,
    outcome: 'sent' | 'retry' | 'failed',
    attempt: DeliveryAttempt,
    next_at_ms: number,
    provider_ref: string,
    retention_ms: number,
  ): Promise<string> {
    return (await this.redis.sendCommand([
      'EVAL',
      complete_script,
      '2',
      keys.delivery(id),
      keys.due,
      id,
      outcome,
      String(attempt.at_ms),
      String(next_at_ms),
      attempt.ok ? '' : attempt.detail,
      provider_ref,
      String(retention_ms),
      JSON.stringify(attempt),
    ])) as string;
  }

  /** Puts a failed delivery back to pending (an operator's retry), with its audit record. */
  async retry(id: string, now_ms: number, audit: string): Promise<string> {
    const args = [keys.delivery(id), keys.due, events_outbox_key, id, String(now_ms), audit];
    return (await this.redis.sendCommand(['EVAL', retry_script, '3', ...args])) as string;
  }

  /** The newest deliveries of a scope (a card, an operator, an endpoint), newest first. */
  async history(scope: string, count: number): Promise<Delivery[]> {
    const ids = (await this.redis.sendCommand(['ZRANGE', keys.log(scope), '0', String(count - 1), 'REV'])) as string[];
    const found = await Promise.all(ids.map((id) => this.delivery(id)));
    return found.filter((delivery): delivery is Delivery => delivery !== undefined);
  }

  /** Drops a due entry whose delivery record is gone (expired or removed), so it is not claimed again. */
  async forget(id: string): Promise<void> {
    await this.redis.sendCommand(['ZREM', keys.due, id]);
  }

  async pendingCount(): Promise<number> {
    return Number(await this.redis.sendCommand(['ZCARD', keys.due]));
  }

  // ---- configuration records (JSON strings) -------------------------------------------------

  async getJson<T>(key: string): Promise<T | undefined> {
    const text = (await this.redis.sendCommand(['GET', key])) as string | null;
    return text === null ? undefined : (JSON.parse(text) as T);
  }

  /** Writes a configuration record (and its index membership) with the audit record of the change. */
  async putJson(key: string, value: unknown, audit: string, set?: { readonly key: string; readonly member: string }): Promise<void> {
    const args = [key, events_outbox_key, set?.key ?? key, JSON.stringify(value), audit, set?.member ?? ''];
    await this.redis.sendCommand(['EVAL', put_record_script, '3', ...args]);
  }

  /** Removes a configuration record (and its index membership); the audit record is written when one was removed. */
  async remove(key: string, audit: string, set?: { readonly key: string; readonly member: string }): Promise<boolean> {
    const args = [key, events_outbox_key, set?.key ?? key, audit, set?.member ?? ''];
    return Number(await this.redis.sendCommand(['EVAL', remove_record_script, '3', ...args])) === 1;
  }

  async members(set: string, members_max: number): Promise<string[]> {
    const members = (await this.redis.sendCommand(['SMEMBERS', set])) as string[];
    return members.sort().slice(0, members_max);
  }

  async getMany<T>(keysToRead: readonly string[]): Promise<(T | undefined)[]> {
    if (keysToRead.length === 0) return [];
    const texts = (await this.redis.sendCommand(['MGET', ...keysToRead])) as (string | null)[];
    return texts.map((text) => (text === null ? undefined : (JSON.parse(text) as T)));
  }
}
