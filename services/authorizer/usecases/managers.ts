// Merchant managers, whose PIN authorizes refunds at the merchant's terminals. A manager is a
// versioned record on the merchant's shard holding only a keyed hash of the PIN (pin.ts, with the
// domain "manager:<merchant>/<manager>" so a manager PIN hash never equals a card PIN hash).
// Refunds are rare: the record is read from Redis on each refund, never cached, so a changed PIN
// takes effect at once everywhere.
//
// Guessing: after attempts_max refused credentials in a row for one merchant/manager, that
// manager is refused for lock_ms whatever PIN is given, with the same answer as a wrong PIN (the
// terminal learns nothing) and one warning in the log. Unknown managers count too, so probing
// names costs the same. The count lives in this node's memory: a refused credential writes
// nothing (invariant 7), and in a cluster each node holds its own count (a guesser spread over N
// nodes gets N x attempts_max per lock period: still no way through a 4-digit PIN space).

import type { Acting } from '../../../actors/principal';
import { permissionDenied, resourceExhausted, shardMoved, unavailable, type Outcome, type TaplineError } from '../../../actors/errors';
import type { EntityId, Persistence } from '../../../actors/runtime/persistence';
import { auditRecord, managerRegistered } from '../../../actors/outbox/builders';
import { shardOf } from '../../../actors/sharding/shard-key';
import { decodeManagerRecord, encodeManagerRecord, type ManagerRecord } from '../../../actors/state/manager';
import type { PinHasher } from './pin';
import type { Logger } from 'pino';

export interface ManagerLockout {
  /** Refused credentials in a row before the manager is locked. */
  readonly attempts_max: number;
  /** How long a locked manager is refused. */
  readonly lock_ms: number;
  /** Managers tracked at once (default 100,000); beyond it entries are dropped, unlocked ones first. */
  readonly tracked_max?: number;
}

const tracked_managers_max = 100_000;
/** Entries looked at for one that is not locked before the oldest is dropped anyway. */
const eviction_scan_max = 32;

interface Attempts {
  failures: number;
  lockedUntilMs: number;
}

export class ManagerDirectory {
  private readonly attempts = new Map<string, Attempts>();

  constructor(
    private readonly persistence: Persistence,
    private readonly shard_count: number,
    private readonly hasher: PinHasher,
    private readonly lockout: ManagerLockout,
    private readonly clock: () => number,
    private readonly logger: Logger,
  ) {}

  register(
    merchantId: string,
    managerId: string,
    pin: string,
    acting: Acting,
    atMs: number,
    reply: (outcome: Outcome<{ merchantId: string; managerId: string }>) => void,
  ): void {
    const entity = managerEntity(merchantId, managerId);
    const shard = shardOf('merchant', merchantId, this.shard_count);
    this.persistence.loadEntity(shard, entity).then(
      (current) => {
        const record: ManagerRecord = { pinHash: this.hasher.hash(domain(merchantId, managerId), pin), operator: acting.subject };
        const audit = managerRegistered({ merchant: merchantId, manager: managerId, operator: acting.subject, at: atMs });
        // Registering an existing manager again replaces its PIN: the audit record says so (never the hash).
        const before = current.data === undefined ? undefined : decodeManagerRecord(current.data);
        const change = { entity: `manager:${merchantId}/${managerId}`, before, after: record };
        const submitted = this.persistence.submit({
          shard,
          writes: [{ entity, expectVersion: current.version, data: encodeManagerRecord(record) }],
          outbox: audit,
          extraOutbox: [{ shard, document: auditRecord({ actor: acting, changes: [change], at: atMs }) }],
          settle: (result) => {
            if (result.status === 'committed') reply({ ok: true, value: { merchantId, managerId } });
            // Fenced: the merchant's shard moved; nothing was written and the router retries on its new owner.
            else if (result.status === 'fenced')
              reply({ ok: false, error: shardMoved('merchant shard moved; retry on its owner', { merchantId }) });
            else reply({ ok: false, error: unavailable('manager registration did not land; retry', { status: result.status }) });
          },
        });
        if (!submitted) reply({ ok: false, error: resourceExhausted('commit queue full') });
      },
      (error: unknown) => reply({ ok: false, error: unavailable('could not read the manager', {}, { cause: error }) }),
    );
  }

  /** Undefined when the manager of this merchant exists and the PIN matches; else the error to answer. */
  async verify(merchantId: string, managerId: string, pin: string): Promise<TaplineError | undefined> {
    const key = `${merchantId}/${managerId}`;
    // The same answer for an unknown manager, a wrong PIN and a locked manager: the terminal learns nothing more.
    const refused = permissionDenied('manager credential refused');
    const known = this.attempts.get(key);
    if (known !== undefined && known.lockedUntilMs > this.clock()) return refused;
    const record = await this.persistence.loadEntity(
      shardOf('merchant', merchantId, this.shard_count),
      managerEntity(merchantId, managerId),
    );
    const stored = record.data === undefined ? undefined : decodeManagerRecord(record.data);
    if (stored !== undefined && this.hasher.matches(domain(merchantId, managerId), pin, stored.pinHash)) {
      this.attempts.delete(key);
      return undefined;
    }
    this.countFailure(key, merchantId, managerId);
    return refused;
  }

  private countFailure(key: string, merchantId: string, managerId: string): void {
    let attempts = this.attempts.get(key);
    if (attempts === undefined) {
      if (this.attempts.size >= (this.lockout.tracked_max ?? tracked_managers_max)) this.evictOne();
      attempts = { failures: 0, lockedUntilMs: 0 };
      this.attempts.set(key, attempts);
    }
    attempts.failures += 1;
    if (attempts.failures >= this.lockout.attempts_max) {
      attempts.failures = 0;
      attempts.lockedUntilMs = this.clock() + this.lockout.lock_ms;
      this.logger.warn({ merchantId, managerId, lock_ms: this.lockout.lock_ms }, 'manager locked after repeated refused credentials');
    }
  }

  /**
   * Makes room: the oldest entry that is not locked among the first few, else the oldest. Flooding
   * the table to free a locked manager would take 100,000 locks (half a million refused refunds)
   * within one lock period, per 5 more guesses.
   */
  private evictOne(): void {
    const now = this.clock();
    let scanned = 0;
    let oldest: string | undefined;
    for (const [key, attempts] of this.attempts) {
      oldest ??= key;
      if (attempts.lockedUntilMs <= now) {
        this.attempts.delete(key);
        return;
      }
      if (++scanned >= eviction_scan_max) break;
    }
    if (oldest !== undefined) this.attempts.delete(oldest);
  }
}

function domain(merchantId: string, managerId: string): string {
  return `manager:${merchantId}/${managerId}`;
}

function managerEntity(merchantId: string, managerId: string): EntityId {
  return { kind: 'manager', id: `${merchantId}/${managerId}` };
}
