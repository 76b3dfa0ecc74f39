// Which virtual shard an entity lives on. A fixed number of shards (TAPLINE_SHARD_COUNT); the
// shard of an entity is a stable hash of its shard key, the same on every node and every version.
// Cards are keyed by card id (fleet cards will be keyed by their fleet account, so a card and its
// account share a shard and commit together).

/** FNV-1a, 32 bit, over UTF-16 code units: fast, stable, well spread for short ids. */
export function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function shardOf(shardKey: string, shardCount: number): number {
  return hash32(shardKey) % shardCount;
}
