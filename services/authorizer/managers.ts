// Merchant managers, whose PIN authorizes refunds at the merchant's terminals. A manager is a
// versioned record on the merchant's shard holding only a keyed hash of the PIN (pin.ts, with the
// domain "manager:<merchant>/<manager>" so a manager PIN hash never equals a card PIN hash).
// Refunds are rare: the record is read from Redis on each refund, never cached, so a changed PIN
// takes effect at once everywhere.

import { permissionDenied, resourceExhausted, shardMoved, unavailable, type Outcome, type TaplineError } from '../../actors/errors';
import type { EntityId, Persistence } from '../../actors/runtime/persistence';
import { shardOf } from '../../actors/sharding/placement';
import type { PinHasher } from './pin';

interface ManagerRecord {
  readonly pinHash: string;
  readonly operator: string;
}

export class ManagerDirectory {
  constructor(private readonly persistence: Persistence, private readonly shard_count: number, private readonly hasher: PinHasher) {}

  register(merchantId: string, managerId: string, pin: string, operatorId: string, atMs: number, reply: (outcome: Outcome<{ merchantId: string; managerId: string }>) => void): void {
    const entity = managerEntity(merchantId, managerId);
    const shard = shardOf(merchantId, this.shard_count);
    this.persistence.loadEntity(shard, entity).then((current) => {
      const record: ManagerRecord = { pinHash: this.hasher.hash(domain(merchantId, managerId), pin), operator: operatorId };
      const audit = { type: 'operator_action', action: 'manager_registered', subject: `${merchantId}/${managerId}`, detail: '{}', operator: operatorId, reason: '', at: atMs };
      const submitted = this.persistence.submit({
        shard,
        writes: [{ entity, expectVersion: current.version, data: JSON.stringify(record) }],
        outbox: JSON.stringify(audit),
        settle: (result) => {
          if (result.status === 'committed') reply({ ok: true, value: { merchantId, managerId } });
          // Fenced: the merchant's shard moved; nothing was written and the router retries on its new owner.
          else if (result.status === 'fenced') reply({ ok: false, error: shardMoved('merchant shard moved; retry on its owner', { merchantId }) });
          else reply({ ok: false, error: unavailable('manager registration did not land; retry', { status: result.status }) });
        },
      });
      if (!submitted) reply({ ok: false, error: resourceExhausted('commit queue full') });
    }, (error: unknown) => reply({ ok: false, error: unavailable('could not read the manager', { cause: String(error) }) }));
  }

  /** Undefined when the manager of this merchant exists and the PIN matches; else the error to answer. */
  async verify(merchantId: string, managerId: string, pin: string): Promise<TaplineError | undefined> {
    const record = await this.persistence.loadEntity(shardOf(merchantId, this.shard_count), managerEntity(merchantId, managerId));
    // The same answer for an unknown manager and a wrong PIN: the terminal learns nothing more.
    if (record.data === undefined) return permissionDenied('manager credential refused');
    const stored = JSON.parse(record.data) as ManagerRecord;
    return this.hasher.matches(domain(merchantId, managerId), pin, stored.pinHash) ? undefined : permissionDenied('manager credential refused');
  }
}

function domain(merchantId: string, managerId: string): string {
  return `manager:${merchantId}/${managerId}`;
}

function managerEntity(merchantId: string, managerId: string): EntityId {
  return { kind: 'manager', id: `${merchantId}/${managerId}` };
}
