// Merchant managers, whose PIN authorizes refunds at the merchant's terminals. A manager is a
// versioned record on the merchant's shard holding only a keyed hash of the PIN (pin.ts, with the
// domain "manager:<merchant>/<manager>" so a manager PIN hash never equals a card PIN hash).
// Refunds are rare: the record is read from Redis on each refund, never cached, so a changed PIN
// takes effect at once everywhere.
//
// Guessing: after attempts_max refused credentials in a row for one merchant/manager, that
// manager is refused for lock_ms whatever PIN is given, with the same answer as a wrong PIN (the
// terminal learns nothing) and one warning in the log. Unknown managers count too, so probing
// names costs the same. The count is kept in Redis (AttemptCounter: store/attempts.ts), shared by
// every node and kept across restarts, and each attempt is counted before the PIN is compared, so
// guesses sent at once, to any number of nodes, compare at most attempts_max PINs per lock. A
// counted guess is the one thing a refused credential writes (like a wrong PIN at a till).

import type { Acting } from '../../../actors/principal';
import { permissionDenied, resourceExhausted, shardMoved, unavailable, type Outcome, type TaplineError } from '../../../actors/errors';
import type { EntityId, Persistence } from '../../../actors/runtime/persistence';
import { auditRecord, managerRegistered } from '../../../actors/outbox/builders';
import { shardOf } from '../../../actors/sharding/shard-key';
import { decodeManagerRecord, encodeManagerRecord, type ManagerRecord } from '../../../actors/state/manager';
import type { PinHasher } from './pin';
import type { AttemptTaken } from '../store/attempts';
import type { Logger } from 'pino';

/**
 * Attempts at one subject's credential, shared by every node. `take` counts one attempt unless the
 * subject is locked: "allowed", "last" (allowed, and it locks the subject if it fails) or "locked"
 * (refused without comparing). `clear` starts the count again after a right credential.
 */
export interface AttemptCounter {
  take(shard: number, subject: string, nowMs: number, attemptId?: string): Promise<AttemptTaken>;
  clear(shard: number, subject: string): Promise<void>;
}

export class ManagerDirectory {
  constructor(
    private readonly persistence: Persistence,
    private readonly shard_count: number,
    private readonly hasher: PinHasher,
    private readonly attempts: AttemptCounter,
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
    const subject = `${merchantId}/${managerId}`;
    const shard = shardOf('merchant', merchantId, this.shard_count);
    // The same answer for an unknown manager, a wrong PIN and a locked manager: the terminal learns nothing more.
    const refused = permissionDenied('manager credential refused');
    const attempt = await this.attempts.take(shard, subject, this.clock());
    if (attempt === 'locked') return refused;
    const record = await this.persistence.loadEntity(shard, managerEntity(merchantId, managerId));
    const stored = record.data === undefined ? undefined : decodeManagerRecord(record.data);
    if (stored !== undefined && this.hasher.matches(domain(merchantId, managerId), pin, stored.pinHash)) {
      await this.attempts.clear(shard, subject).catch((error: unknown) => {
        // The refund goes on; the count only starts again later (it expires, or the next right PIN clears it).
        this.logger.warn({ err: error, merchantId, managerId }, 'could not clear the manager PIN attempts');
      });
      return undefined;
    }
    if (attempt === 'last') this.logger.warn({ merchantId, managerId }, 'manager locked after repeated refused credentials');
    return refused;
  }
}

function domain(merchantId: string, managerId: string): string {
  return `manager:${merchantId}/${managerId}`;
}

function managerEntity(merchantId: string, managerId: string): EntityId {
  return { kind: 'manager', id: `${merchantId}/${managerId}` };
}
