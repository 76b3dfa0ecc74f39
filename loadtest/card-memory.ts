// Memory per active card actor: heap growth over `cards` activated cards, divided by `cards`.
//
// How: run as its own process with --expose-gc (the benchmark does `node --expose-gc
// dist/loadtest/card-memory.js 100000`). It builds the node's real actor path (ActorRuntime,
// ShardRegion, EntityPool, CardBehavior, IdempotencyIndex) over an in-memory persistence that
// serves stored card records (no Redis, so no client buffers are counted), forces two full GCs,
// reads heapUsed, activates every card with a balance message to its actor (each loads its state and
// stays active: passivation is far away), forces two full GCs again and reads heapUsed. The ids
// and stored records exist before the first reading, so only what activation keeps is counted:
// the actor, its mailbox, its behaviour and parsed state, and the region's bookkeeping.
// Prints one JSON line: {"cards":..,"heap_growth_bytes":..,"bytes_per_active_card":..}.

import { IdempotencyIndex } from '../actors/idempotency';
import { ActorRuntime } from '../actors/runtime/actor-runtime';
import type { CommitEntry, EntityId, Persistence, StoredRecord } from '../actors/runtime/persistence';
import { ProgramRegistry } from '../actors/program/registry';
import { ShardOwnership } from '../actors/sharding/shard-ownership';
import { ShardRegion } from '../actors/sharding/shard-region';

const shard_count = 256;

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run with --expose-gc');
  collect();
  collect();
}

class StoredCards implements Persistence {
  constructor(private readonly records: Map<string, string>) {}
  readonly crossShardCommits = true;
  submit(_entry: CommitEntry): boolean {
    return false;
  }
  loadEntity(_shard: number, entity: EntityId): Promise<StoredRecord> {
    const data = this.records.get(entity.id);
    return Promise.resolve({ version: data === undefined ? 0 : 1, data });
  }
  loadIdempotencyRecord(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }
  loadReversalClaim(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }
  loadDenylistHistory(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }
  loadGrantUsage(): Promise<Map<string, number>> {
    return Promise.resolve(new Map<string, number>());
  }
}

export async function measureCardMemory(
  cards: number,
): Promise<{ cards: number; heap_growth_bytes: number; bytes_per_active_card: number }> {
  const ids = Array.from({ length: cards }, (_, i) => `card-${String(i).padStart(8, '0')}`);
  const records = new Map(
    ids.map((id) => [
      id,
      JSON.stringify({
        cardId: id,
        currency: 'EUR',
        programId: 'festival-2026',
        status: 'active',
        balanceMinor: 5_000,
        heldMinor: 0,
        issuedAtMs: 1_790_000_000_000,
      }),
    ]),
  );
  const ownership = new ShardOwnership(shard_count);
  for (let shard = 0; shard < shard_count; shard++) ownership.hold(shard, '1');
  const persistence = new StoredCards(records);
  const runtime = new ActorRuntime();
  const clock = (): number => Date.now();
  const region = new ShardRegion(
    runtime,
    ownership,
    {
      mailbox_max: 10_000,
      drain_batch_max: 512,
      active_entities_max: cards + 1,
      passivate_after_ms: 3_600_000,
    },
    {
      card: {
        persistence,
        idempotency: new IdempotencyIndex(50_000),
        clock,
        nextTransactionId: () => 'x',
        conflict_attempts_max: 5,
        key_waiters_max: 1_024,
        programs: new ProgramRegistry(persistence, {
          shard_count,
          refresh_ms: 3_600_000,
          conflict_attempts_max: 5,
          clock,
          onRefreshError: () => undefined,
        }),
      },
      terminal: {
        persistence,
        clock,
        conflict_attempts_max: 5,
        nextTransactionId: () => 'memory',
        offline: { shardCount: shard_count, counterSigned: () => false, resume_within_ms: 3_600_000 },
      },
    },
    clock,
  );
  gc();
  const before = process.memoryUsage().heapUsed;
  // Activate in slices so the pending replies themselves stay small.
  for (let at = 0; at < cards; at += 5_000) {
    await Promise.all(
      ids.slice(at, at + 5_000).map(
        (id) =>
          new Promise<void>((resolve, reject) => {
            // Told to the card's actor itself: an inquiry through the region reads the record of
            // an inactive card without activating it.
            const refused = region.cards.tell(id, {
              type: 'balance',
              reply: (outcome) => (outcome.ok ? resolve() : reject(outcome.error)),
            });
            if (refused !== undefined) reject(refused);
          }),
      ),
    );
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  if (region.cards.size !== cards) throw new Error(`expected ${cards} active cards, found ${region.cards.size}`);
  region.stopAll();
  runtime.shutdown();
  const growth = after - before;
  return { cards, heap_growth_bytes: growth, bytes_per_active_card: Math.round(growth / cards) };
}

if (require.main === module) {
  const cards = Number(process.argv[2] ?? 100_000);
  measureCardMemory(cards).then(
    (result) => {
      process.stdout.write(JSON.stringify(result) + '\n');
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`card-memory failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
