// The index of bank card tokens: one versioned record per token on the token's own shard
// (tl:{s of the token}:token:<token>), naming the card it pays from in each program. Written only
// by the owner of the token's shard, through the group commit with a compare-and-set on the
// record's version (fenced by the shard's epoch); read straight from Redis by any node that routes
// a purchase presenting the bank card. tokens.ts says in which order the index and the card's own
// list are written, so that an index entry always names a card that lists the token.

import { alreadyExists, failedPrecondition, resourceExhausted, shardMoved, unavailable, type TaplineError } from '../errors';
import type { EntityId, Persistence } from '../runtime/persistence';
import { shardOf } from '../sharding/shard-key';
import { decodeTokenRecord, encodeTokenRecord } from '../state/card';
import { decideIndexToken, type TokenEntry, type TokenRecord } from './tokens';

/** Tries of one index change that keeps meeting a concurrent change of the same token. */
const index_change_attempts_max = 5;

export class TokenIndex {
  constructor(
    private readonly persistence: Pick<Persistence, 'loadEntity' | 'submit'>,
    private readonly shard_count: number,
  ) {}

  private place(token: string): { shard: number; entity: EntityId } {
    return { shard: shardOf('token', token, this.shard_count), entity: { kind: 'token', id: token } };
  }

  /** The token's record as Redis has it now (any node may read it). */
  async load(token: string): Promise<TokenRecord | undefined> {
    const { shard, entity } = this.place(token);
    const record = await this.persistence.loadEntity(shard, entity);
    return record.data === undefined ? undefined : decodeTokenRecord(record.data);
  }

  /** Indexes the token to the entry's card for its program (`link`), or removes that entry; on the token shard's owner. */
  async change(token: string, entry: TokenEntry, link: boolean): Promise<TokenRecord | undefined> {
    const { shard, entity } = this.place(token);
    for (let attempt = 1; ; attempt++) {
      const stored = await this.persistence.loadEntity(shard, entity, { afterPendingWrites: true });
      const record = stored.data === undefined ? undefined : decodeTokenRecord(stored.data);
      const decision = decideIndexToken(record, entry, link);
      if (decision.kind === 'rejected')
        throw decision.code === 'already_exists' ? alreadyExists(decision.message) : failedPrecondition(decision.message);
      if (decision.kind === 'unchanged') return record;
      const written = await this.write(shard, entity, stored.version, decision.record);
      if (written === undefined) return decision.record;
      if (attempt >= index_change_attempts_max) throw written;
    }
  }

  /** Undefined when written; the conflict to retry on otherwise (other failures throw). */
  private write(shard: number, entity: EntityId, version: number, record: TokenRecord): Promise<TaplineError | undefined> {
    return new Promise((resolve, reject) => {
      const submitted = this.persistence.submit({
        shard,
        writes: [{ entity, expectVersion: version, data: encodeTokenRecord(record) }],
        settle: (result) => {
          if (result.status === 'committed') resolve(undefined);
          else if (result.status === 'conflict') resolve(unavailable('the bank card was changed concurrently; retry'));
          else if (result.status === 'fenced') reject(shardMoved('token shard moved; retry on its owner', { shard }));
          else
            reject(
              unavailable('the token index change did not land; retry', {}, result.status === 'failed' ? { cause: result.error } : {}),
            );
        },
      });
      if (!submitted) reject(resourceExhausted('commit queue full'));
    });
  }
}
