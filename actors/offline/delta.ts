// How a denylist delta is planned, pure: whether a terminal's versions can be brought up to date
// from the shards' logs or need a snapshot, and which shards give how many changes to one page.
// Every listing change increments its shard's version by one and is logged under it, so the changes
// of a shard after version v are exactly versions v+1, v+2, ...: a page that does not continue a
// shard's versions without a gap (its log was trimmed meanwhile) is redone as a snapshot.

/** What a shard's log says, as read for one request (services/authorizer/store/denylist.ts). */
export interface ShardLogFacts {
  readonly current: number;
  /** The oldest version still logged (0: nothing logged). */
  readonly oldest: number;
  /** Changes logged after the terminal's version. */
  readonly after: number;
}

/** Changes per delta page, at most (and by default): ~300 KB on the wire. */
export const delta_page_max = 10_000;

/**
 * True when the terminal's versions cannot be brought up to date by changes alone: it holds
 * nothing (or a vector of another length), a version the shard never had (another deployment's),
 * or one older than the shard's oldest logged change.
 */
export function needsSnapshot(since: readonly number[], logs: readonly ShardLogFacts[]): boolean {
  if (since.length !== logs.length) return true;
  for (let shard = 0; shard < logs.length; shard++) {
    const held = since[shard] as number;
    const log = logs[shard] as ShardLogFacts;
    if (held > log.current) return true;
    if (held < log.current && (log.oldest === 0 || held < log.oldest - 1)) return true;
  }
  return false;
}

/** How many changes each shard gives to this page, in shard order, until the page is full. */
export function planDeltaPage(logs: readonly ShardLogFacts[], pageSize: number): { readonly shard: number; readonly count: number }[] {
  const plan: { shard: number; count: number }[] = [];
  let room = pageSize;
  for (let shard = 0; shard < logs.length && room > 0; shard++) {
    const after = (logs[shard] as ShardLogFacts).after;
    if (after === 0) continue;
    const count = Math.min(after, room);
    plan.push({ shard, count });
    room -= count;
  }
  return plan;
}

/** True when `versions` continue `since` without a gap (v+1, v+2, ...). */
export function continues(since: number, versions: readonly number[]): boolean {
  for (let i = 0; i < versions.length; i++) if (versions[i] !== since + i + 1) return false;
  return true;
}

/**
 * A snapshot's position between pages: the shard being read, its HSCAN cursor, and its version
 * when its reading began (-1: not begun, read it first).
 */
export interface SnapshotPosition {
  readonly shard: number;
  readonly cursor: string;
  readonly startVersion: number;
}

export function encodeSnapshotToken(position: SnapshotPosition): string {
  return `s:${position.shard}:${position.cursor}:${position.startVersion < 0 ? 'x' : position.startVersion}`;
}

/** The position a page token names, or undefined when it is no token this service issued. */
export function decodeSnapshotToken(token: string, shardCount: number): SnapshotPosition | undefined {
  const match = /^s:([0-9]{1,6}):([0-9]{1,20}):(x|[0-9]{1,16})$/.exec(token);
  if (match === null) return undefined;
  const shard = Number(match[1]);
  const startVersion = match[3] === 'x' ? -1 : Number(match[3]);
  if (shard >= shardCount || !Number.isSafeInteger(startVersion)) return undefined;
  if (startVersion < 0 && match[2] !== '0') return undefined;
  return { shard, cursor: match[2] as string, startVersion };
}
