// Shared wholesale (SPOT) price lists: one list of base prices with effective dates (a Platts or
// Argus quotation, a supplier's rack prices) loaded once, read by every fleet account that follows
// it (FleetAccountState.priceList) for the products its own base prices do not price.
//
// Decision: a list is its own record on the shard of its id, written by a compare-and-set on its
// version like a program (actors/program/registry.ts), and every node caches the lists its fleet
// accounts follow, rereading one older than refresh_ms (TAPLINE_PROGRAM_REFRESH_MS). Why: a
// fleet's authorization must not leave the fleet's shard (no cross-shard read per purchase), and
// copying the list into every account would rewrite thousands of accounts per price change. Cost:
// a node may price with a list up to refresh_ms old; prices are loaded before they take effect
// (effective_from), so a list loaded ahead of its effective instant is priced exactly by every
// node, and only a correction loaded for an instant already passed reaches nodes refresh_ms late.
// A fleet account reads its list before deciding (ensure), so a list is never missing, only old.

import { TaplineError, resourceExhausted, shardMoved, unavailable, type Outcome } from '../errors';
import { auditRecord, priceListLoaded } from '../outbox/builders';
import type { Acting } from '../principal';
import type { BasePrice } from '../rules/pricing';
import type { CommitResult, EntityId, Persistence } from '../runtime/persistence';
import { shardOf } from '../sharding/shard-key';
import { price_list_codec, type SharedPriceList } from '../state/fleet';
import { mergePrices } from './rules';

/** What fleet accounts read: synchronous on the decision path, read before an account decides. */
export interface PriceListSource {
  /** The cached entries of a list ([] when it was never loaded or not read yet). */
  get(listId: string): readonly BasePrice[];
  /** Reads the list unless a fresh copy is cached. */
  ensure(listId: string): Promise<void>;
}

export interface PriceListRegistryOptions {
  readonly shard_count: number;
  /** A cached list older than this is reread (a load made on another node shows up then). */
  readonly refresh_ms: number;
  readonly conflict_attempts_max: number;
  readonly clock: () => number;
}

/** Lists cached per node: a deployment follows a handful; the bound only stops a stream of unknown ids. */
export const price_lists_cached_max = 1_000;

interface Cached {
  readonly list: SharedPriceList;
  readonly version: number;
  readonly loadedAtMs: number;
}

export function priceListEntity(listId: string): EntityId {
  return { kind: 'price_list', id: listId };
}

export class PriceListRegistry implements PriceListSource {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly persistence: Persistence,
    private readonly options: PriceListRegistryOptions,
  ) {}

  get(listId: string): readonly BasePrice[] {
    return this.cache.get(listId)?.list.prices ?? [];
  }

  async ensure(listId: string): Promise<void> {
    const cached = this.cache.get(listId);
    if (cached !== undefined && this.options.clock() - cached.loadedAtMs <= this.options.refresh_ms) return;
    await this.read(listId);
  }

  private async read(listId: string): Promise<Cached> {
    const record = await this.persistence.loadEntity(this.shardOf(listId), priceListEntity(listId));
    const list = record.data === undefined ? { prices: [] } : price_list_codec.decode(record.data);
    const cached = { list, version: record.version, loadedAtMs: this.options.clock() };
    this.remember(listId, cached);
    return cached;
  }

  /**
   * Adds entries to a list (an entry for the same product and instant replaces the old one;
   * entries superseded before now are dropped, at most base_prices_max kept, as an account's own
   * list), writes a price_list_loaded document and the audit record of who loaded it (the
   * authenticated operator, with the list before and after), and answers the list as stored.
   */
  load(listId: string, added: readonly BasePrice[], acting: Acting, reply: (outcome: Outcome<SharedPriceList>) => void, attempt = 0): void {
    this.read(listId).then(
      (current) => {
        const nowMs = this.options.clock();
        const list: SharedPriceList = { prices: mergePrices(current.list.prices, added, nowMs) };
        const audit = priceListLoaded({
          list: listId,
          loaded: added.length,
          kept: list.prices.length,
          products: [...new Set(added.map((entry) => entry.product_code))].sort(),
          operator: acting.subject,
          at: nowMs,
        });
        const before = current.version > 0 ? current.list : undefined;
        const record = auditRecord({ actor: acting, changes: [{ entity: `price_list:${listId}`, before, after: list }], at: nowMs });
        const submitted = this.persistence.submit({
          shard: this.shardOf(listId),
          writes: [{ entity: priceListEntity(listId), expectVersion: current.version, data: price_list_codec.encode(list) }],
          outbox: audit,
          extraOutbox: [{ shard: this.shardOf(listId), document: record }],
          settle: (result: CommitResult) => this.settled(result, listId, list, current.version + 1, [added, acting, reply, attempt]),
        });
        if (!submitted) reply({ ok: false, error: resourceExhausted('commit queue full') });
      },
      (error: unknown) =>
        reply({
          ok: false,
          error: error instanceof TaplineError ? error : unavailable('could not read the price list; retry', {}, { cause: error }),
        }),
    );
  }

  private settled(
    result: CommitResult,
    listId: string,
    list: SharedPriceList,
    version: number,
    [added, acting, reply, attempt]: [readonly BasePrice[], Acting, (outcome: Outcome<SharedPriceList>) => void, number],
  ): void {
    if (result.status === 'committed') {
      this.remember(listId, { list, version, loadedAtMs: this.options.clock() });
      reply({ ok: true, value: list });
    } else if (result.status === 'conflict' && attempt + 1 < this.options.conflict_attempts_max) {
      this.load(listId, added, acting, reply, attempt + 1);
    } else if (result.status === 'fenced') {
      reply({ ok: false, error: shardMoved('price list shard moved; retry on its owner', { listId }) });
    } else {
      reply({ ok: false, error: unavailable('price list load did not land; retry', { listId, status: result.status }) });
    }
  }

  private shardOf(listId: string): number {
    return shardOf('price_list', listId, this.options.shard_count);
  }

  private remember(listId: string, cached: Cached): void {
    const known = this.cache.get(listId);
    // A slower read must not replace a newer version already cached.
    if (known !== undefined && known.version > cached.version) return;
    this.cache.delete(listId);
    if (this.cache.size >= price_lists_cached_max) {
      const oldest = this.cache.keys().next();
      if (oldest.done !== true) this.cache.delete(oldest.value);
    }
    this.cache.set(listId, cached);
  }
}
