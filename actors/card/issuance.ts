// Bulk issuance records: one versioned record per issuance id (a box of pre-encoded wristbands),
// on the shard of the issuance id, written once through the group commit (expected version 0,
// so a second writer finds a conflict) with an operator_action document for the audit trail.
// The cards themselves carry the issuance id in their profile and their card_issued documents.

import type { Acting } from '../principal';
import { createHash } from 'node:crypto';
import { alreadyExists, resourceExhausted, shardMoved, unavailable, type Outcome } from '../errors';
import { auditRecord, cardsBulkIssued } from '../outbox/builders';
import type { Persistence } from '../runtime/persistence';
import { shardOf } from '../sharding/shard-key';
import { decodeIssuanceRecord, encodeIssuanceRecord } from '../state/issuance';

export interface IssuanceRecord {
  readonly issuance: string;
  readonly program: string;
  readonly currency: string;
  readonly initialBalanceMinor: number;
  readonly depositMinor: number;
  readonly expiresAtMs: number;
  readonly count: number;
  /** SHA-256 of the card ids in request order: the same issuance id with other cards is refused. */
  readonly cardsDigest: string;
  readonly operator: string;
  readonly at: number;
}

export function cardsDigest(cardIds: readonly string[]): string {
  return createHash('sha256').update(cardIds.join('\n')).digest('hex');
}

/** Same issuance, whoever sent it when. */
export function sameIssuance(a: IssuanceRecord, b: IssuanceRecord): boolean {
  return (
    a.program === b.program &&
    a.currency === b.currency &&
    a.initialBalanceMinor === b.initialBalanceMinor &&
    a.depositMinor === b.depositMinor &&
    a.expiresAtMs === b.expiresAtMs &&
    a.count === b.count &&
    a.cardsDigest === b.cardsDigest
  );
}

export class IssuanceRecords {
  constructor(
    private readonly persistence: Persistence,
    private readonly shard_count: number,
  ) {}

  async load(issuanceId: string): Promise<IssuanceRecord | undefined> {
    const record = await this.persistence.loadEntity(shardOf('issuance', issuanceId, this.shard_count), {
      kind: 'issuance',
      id: issuanceId,
    });
    return record.data === undefined ? undefined : decodeIssuanceRecord(record.data);
  }

  /** Writes the record if absent; an existing different record is ALREADY_EXISTS. */
  write(record: IssuanceRecord, acting: Acting, reply: (outcome: Outcome<IssuanceRecord>) => void): void {
    const audit = cardsBulkIssued({
      issuance: record.issuance,
      program: record.program,
      count: record.count,
      currency: record.currency,
      operator: record.operator,
      at: record.at,
    });
    const shard = shardOf('issuance', record.issuance, this.shard_count);
    const change = { entity: `issuance:${record.issuance}`, before: undefined, after: record };
    const submitted = this.persistence.submit({
      shard,
      writes: [{ entity: { kind: 'issuance', id: record.issuance }, expectVersion: 0, data: encodeIssuanceRecord(record) }],
      outbox: audit,
      extraOutbox: [{ shard, document: auditRecord({ actor: acting, changes: [change], at: record.at }) }],
      settle: (result) => {
        if (result.status === 'committed') {
          reply({ ok: true, value: record });
          return;
        }
        if (result.status === 'fenced') {
          // The issuance's shard moved: the router re-runs the call on its new owner, which
          // re-issues nothing (each card is idempotent by id) and writes the record.
          reply({ ok: false, error: shardMoved('issuance shard moved; retry on its owner', { issuance: record.issuance }) });
          return;
        }
        if (result.status !== 'conflict') {
          reply({ ok: false, error: unavailable('issuance record did not land; retry with the same issuance id') });
          return;
        }
        // Written by an earlier attempt (or a concurrent one): the same issuance is fine.
        this.load(record.issuance).then(
          (existing) => {
            if (existing !== undefined && sameIssuance(existing, record)) reply({ ok: true, value: existing });
            else
              reply({
                ok: false,
                error: alreadyExists('issuance id already used for other cards or parameters', { issuance: record.issuance }),
              });
          },
          (error: unknown) => reply({ ok: false, error: unavailable('could not read the issuance record', {}, { cause: error }) }),
        );
      },
    });
    if (!submitted) reply({ ok: false, error: resourceExhausted('commit queue full') });
  }
}
