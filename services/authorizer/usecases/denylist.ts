// Denylist deltas and acknowledgements (docs/OFFLINE.md, "Denylist"). A terminal asks for the
// changes since the versions it holds; it gets them a page at a time, or, when it is further
// behind than the shards keep changes, a snapshot of every listed card, a page at a time; then it
// acknowledges what it applied, and its terminal actor records it (with how far behind it was).
// Deltas are read from Redis by whichever node the terminal reaches (no actor is involved).

import { invalidArgument } from '../../../actors/errors';
import {
  continues,
  decodeSnapshotToken,
  delta_page_max,
  encodeSnapshotToken,
  needsSnapshot,
  planDeltaPage,
  type SnapshotPosition,
} from '../../../actors/offline/delta';
import { changesBehind } from '../../../actors/offline/denylist';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import type { DenylistStore } from '../store/denylist';
import { outcomeOf } from './outcome';

export interface DenylistPage {
  readonly snapshot: boolean;
  /** First page of a snapshot: drop every card held before applying it. */
  readonly reset: boolean;
  readonly changes: readonly { readonly card: string; readonly listed: boolean; readonly reason: string }[];
  /** The versions held once this page is applied. */
  readonly to: readonly number[];
  readonly more: boolean;
  readonly nextPageToken: string;
}

/** A snapshot reads a shard's listed cards this many at a time (HSCAN COUNT). */
const snapshot_scan_count = 1_000;

export class DenylistDeltas {
  constructor(
    private readonly store: DenylistStore,
    private readonly region: ShardRegion,
    /** Observes how many changes a terminal lacked when it acknowledged. */
    private readonly observeBehind?: (behind: number) => void,
  ) {}

  /** One page of what a terminal holding `since` lacks. */
  async page(since: readonly number[], pageToken: string, pageSize: number): Promise<DenylistPage> {
    const size = pageSize === 0 ? delta_page_max : Math.min(pageSize, delta_page_max);
    if (pageToken !== '') {
      const position = decodeSnapshotToken(pageToken, this.store.shards);
      if (position === undefined) throw invalidArgument('page_token is not one this service issued', { field: 'page_token' });
      return this.snapshotPage(since, position, size, false);
    }
    const logs = await this.store.logs(since);
    if (needsSnapshot(since, logs)) return this.snapshotPage([], { shard: 0, cursor: '0', startVersion: -1 }, size, true);
    const plan = planDeltaPage(logs, size);
    const fetched = await Promise.all(plan.map(({ shard, count }) => this.store.changesAfter(shard, since[shard] as number, count)));
    const to = [...since];
    const changes: { card: string; listed: boolean; reason: string }[] = [];
    for (let i = 0; i < plan.length; i++) {
      const { shard } = plan[i] as { shard: number };
      const shardChanges = fetched[i] as { version: number; card: string; reason: string }[];
      // The log was trimmed past this terminal between the two reads: start over as a snapshot.
      if (
        !continues(
          since[shard] as number,
          shardChanges.map((change) => change.version),
        )
      )
        return this.snapshotPage([], { shard: 0, cursor: '0', startVersion: -1 }, size, true);
      for (const change of shardChanges) changes.push({ card: change.card, listed: change.reason !== '', reason: change.reason });
      to[shard] = (since[shard] as number) + shardChanges.length;
    }
    const more = logs.some((log, shard) => (to[shard] as number) < (since[shard] as number) + log.after);
    return { snapshot: false, reset: false, changes, to, more, nextPageToken: '' };
  }

  /**
   * One page of the cards listed now, for an operator (shard after shard, as a snapshot), with the
   * shards' versions when it was read.
   */
  async listed(pageToken: string, pageSize: number): Promise<{ page: DenylistPage; versions: readonly number[] }> {
    const size = pageSize === 0 ? delta_page_max : Math.min(pageSize, delta_page_max);
    const position = pageToken === '' ? { shard: 0, cursor: '0', startVersion: -1 } : decodeSnapshotToken(pageToken, this.store.shards);
    if (position === undefined) throw invalidArgument('page_token is not one this service issued', { field: 'page_token' });
    const versions = await this.store.versions();
    return { page: await this.snapshotPage([], position, size, pageToken === ''), versions };
  }

  /**
   * A page of a snapshot: the cards listed now, shard after shard. A shard's version is read before
   * its cards, so changes made while it is read come again in the next delta (applying a change
   * twice changes nothing).
   */
  private async snapshotPage(since: readonly number[], from: SnapshotPosition, size: number, reset: boolean): Promise<DenylistPage> {
    const shards = this.store.shards;
    const to = Array.from({ length: shards }, (_, shard) => (shard < from.shard ? (since[shard] ?? 0) : 0));
    const changes: { card: string; listed: boolean; reason: string }[] = [];
    let position: SnapshotPosition | undefined = from;
    while (position !== undefined && changes.length < size) {
      // A shard not begun that would overfill the page starts the next one (a small hash is read whole).
      if (position.startVersion < 0 && changes.length > 0 && changes.length + (await this.store.listedCount(position.shard)) > size) break;
      const startVersion: number = position.startVersion >= 0 ? position.startVersion : await this.store.version(position.shard);
      const page = await this.store.listedPage(position.shard, position.cursor, Math.min(snapshot_scan_count, size - changes.length));
      for (const { card, reason } of page.cards) changes.push({ card, listed: true, reason });
      if (page.cursor !== '0') position = { shard: position.shard, cursor: page.cursor, startVersion };
      else {
        to[position.shard] = startVersion;
        position = position.shard + 1 < shards ? { shard: position.shard + 1, cursor: '0', startVersion: -1 } : undefined;
      }
    }
    const nextPageToken = position === undefined ? '' : encodeSnapshotToken(position);
    return { snapshot: true, reset, changes, to, more: position !== undefined, nextPageToken };
  }

  /** Records a terminal's acknowledgement, with how many changes it lacked then; answers that number. */
  async acknowledge(terminalId: string, versions: readonly number[], lastEntry: number): Promise<number> {
    if (versions.length !== this.store.shards)
      throw invalidArgument(`shard_versions must hold ${this.store.shards} versions`, { field: 'shard_versions' });
    const behind = changesBehind(versions, await this.store.versions());
    await outcomeOf((reply) => this.region.terminalOffline(terminalId, { kind: 'ack', versions, lastEntry, behind }, reply));
    this.observeBehind?.(behind);
    return behind;
  }
}
