// The connection to Redis' primaries, whatever the deployment shape (redis-target.ts): every
// Tapline client of Redis (the authorizer's store and membership, the streamer, reports) sends its
// commands here and never opens a server connection itself.
//
// - single: one connection to TAPLINE_REDIS_URL, reopened with a capped backoff when it drops.
// - sentinel: one connection to the server the Sentinels name as primary (a majority of those that
//   answer), checked with ROLE. It is dropped when it fails, times out or answers READONLY /
//   MASTERDOWN / LOADING / NOREPLICAS (a failover happened or is under way), and the primary is
//   asked again. Reads on a primary that was demoted meanwhile may see its old data until the next
//   write on the connection is refused; nothing is acknowledged on such a read alone, because every
//   answer that moves money is a write checked by version and epoch on the real primary.
// - cluster: node-redis' cluster client, which keeps the slot map and follows MOVED redirects.
//
// A write that must survive the loss of the primary goes through sendReplicated(): the write and a
// WAIT are written together on *one* connection, so WAIT counts the replicas that have that write.
// They are never split across a reconnection or a failover (node-redis' own Sentinel client retries
// a command on the new primary by itself: a WAIT retried there would answer at once, for a write
// it never saw). A write that runs but is not replicated in time throws ReplicationShort: its
// outcome is unknown (it may survive, or be lost with the primary), and the caller answers as for
// any Redis failure (UNAVAILABLE; a retry with the same idempotency key is safe).
// sendReplicatedMany() sends several writes and one WAIT per primary after them: WAIT counts the
// replicas that have every earlier write of its connection, so one covers them all. A Redis
// Cluster batch of per-shard scripts then costs each primary one replication round trip, not one
// per script (a WAIT blocks its connection, so a WAIT per script would serialize them).
// Outside a cluster's own routing, writes (and their WAIT) are written to the socket at once, not
// at node-redis' next event-loop turn (redis-write-now.ts); reads keep node-redis' coalescing.

import { createClient, createCluster } from 'redis';
import { redisReplyCode } from './redis-errors';
import { writtenNow } from './redis-write-now';
import type { HostPort, RedisMode, RedisTarget } from './redis-target';

export type RedisArg = string | Buffer;

export interface ConnectOptions {
  /** Bound on one command (a blocking read adds its own block time), after which its outcome is unknown. */
  readonly command_timeout_ms: number;
  /** Longest pause between attempts to reach a primary while none answers. */
  readonly reconnect_backoff_max_ms: number;
  /** Told of every connection error (counted and logged by the caller). */
  readonly onError: (error: Error) => void;
}

/** A command got no answer in time; its outcome is unknown. */
export class RedisCommandTimeout extends Error {
  constructor(readonly command: string) {
    super(`redis ${command} timed out`);
    this.name = 'RedisCommandTimeout';
  }
}

/** A write ran on the primary but fewer replicas than required acknowledged it in time. */
export class ReplicationShort extends Error {
  constructor(
    readonly acknowledged: number,
    readonly required: number,
  ) {
    super(`write acknowledged by ${acknowledged} of the ${required} replicas required`);
    this.name = 'ReplicationShort';
  }
}

/** No primary could be reached (Sentinels unreachable or naming none, connection refused). */
export class NoPrimary extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NoPrimary';
  }
}

/** One write of sendReplicatedMany(): the key whose slot's primary runs it, and the command. */
export interface ReplicatedWrite {
  readonly key: string;
  readonly args: readonly RedisArg[];
}

/** One primary of the deployment, for commands that walk its keys (SCAN). */
export interface PrimaryNode {
  /** Stays the same while this primary serves the same slots: its lowest slot in a cluster, "0" otherwise. */
  readonly id: string;
  send<T>(args: readonly RedisArg[]): Promise<T>;
}

export interface RedisPrimaries {
  readonly mode: RedisMode;
  /** True in cluster mode: one script or transaction may touch the keys of one slot only. */
  readonly sharded: boolean;
  /** Replicas each sendReplicated() write waits for. */
  readonly wait_replicas: number;
  /** True while commands can be sent. */
  readonly ready: boolean;
  /** One command on the primary that holds `key`; `extra_ms` lengthens its bound (blocking reads). */
  send<T>(key: string, args: readonly RedisArg[], extra_ms?: number): Promise<T>;
  /** A write acknowledged only once `wait_replicas` replicas have it (and everything before it). */
  sendReplicated<T>(key: string, args: readonly RedisArg[]): Promise<T>;
  /**
   * Writes, each acknowledged like sendReplicated(), with one WAIT per primary after all of its
   * writes (in order on its connection). Per write its reply or its failure, in the given order.
   */
  sendReplicatedMany<T>(writes: readonly ReplicatedWrite[]): Promise<PromiseSettledResult<T>[]>;
  /** MULTI / EXEC of commands on the keys of one slot (the slot of `key`). */
  transaction(key: string, commands: readonly (readonly string[])[]): Promise<unknown[]>;
  /** Every primary now (one outside a cluster), ordered by id. */
  primaries(): Promise<PrimaryNode[]>;
  close(): Promise<void>;
}

/** The part of a node-redis client this module uses. */
interface NodeClient {
  sendCommand(args: RedisArg[]): Promise<unknown>;
  multi(): { addCommand(args: string[]): unknown; exec(): Promise<unknown> };
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): void;
  on(event: string, listener: (...args: never[]) => void): unknown;
  readonly isReady: boolean;
  readonly isOpen: boolean;
}

/**
 * Reply codes after which a connection no longer leads to a primary that can take writes: it is
 * dropped and the primary found again. NOREPLICAS is a primary cut off from its replicas (an old
 * primary back from a partition before Sentinel demotes it): the Sentinels name the new one.
 */
const not_primary_codes = new Set(['READONLY', 'MASTERDOWN', 'LOADING', 'NOREPLICAS']);

/** Attempts to reach a primary at least this far apart while they fail (callers fail fast in between). */
const rediscover_interval_min_ms = 50;

export async function connectPrimaries(target: RedisTarget, options: ConnectOptions): Promise<RedisPrimaries> {
  const primaries = target.mode === 'cluster' ? new ClusterPrimaries(target, options) : new OnePrimary(target, options);
  await primaries.open();
  return primaries;
}

/**
 * Every command is bounded here (`bounded`, TAPLINE_REDIS_COMMAND_TIMEOUT_MS), so the client
 * library's own per-command time-out is turned off: it arms an AbortSignal timer per command that
 * fires (and builds an exception) seconds after the command was answered, a measurable share of
 * the node's CPU per authorization for a bound that is already kept.
 */
const library_command_options = { timeout: 0 } as const;

/** Races a promise against the command bound; a late answer is dropped. */
async function bounded<T>(work: Promise<T>, ms: number, command: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new RedisCommandTimeout(command));
    }, ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function credentials(url: string): { username?: string; password?: string } {
  const parsed = new URL(url);
  return {
    ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
  };
}

/** Sends a write and WAIT together on one client; the write's reply once enough replicas have it. */
async function writeAndWait<T>(client: NodeClient, args: readonly RedisArg[], target: RedisTarget, timeout_ms: number): Promise<T> {
  const [outcome] = await writesAndWait<T>(client, [args], target, timeout_ms);
  if (outcome?.status !== 'fulfilled') throw outcome?.reason;
  return outcome.value;
}

/**
 * Sends writes, then one WAIT, on one client. Per write: its reply once enough replicas have it,
 * or its own failure, or the WAIT's (ReplicationShort, a time-out) when the write ran.
 */
async function writesAndWait<T>(
  client: NodeClient,
  writes: readonly (readonly RedisArg[])[],
  target: RedisTarget,
  timeout_ms: number,
): Promise<PromiseSettledResult<T>[]> {
  const replies = writes.map((args) => bounded(writtenNow(client, [...args]) as Promise<T>, timeout_ms, String(args[0])));
  const wait = writtenNow(client, ['WAIT', String(target.wait_replicas), String(target.wait_timeout_ms)]);
  // The WAIT's outcome matters only for writes that succeeded; it must never be left unhandled.
  wait.catch(() => undefined);
  const settled = await Promise.allSettled(replies);
  if (settled.every((outcome) => outcome.status === 'rejected')) return settled;
  let failure: unknown;
  try {
    const acknowledged = Number(await bounded(wait, timeout_ms + target.wait_timeout_ms, 'WAIT'));
    if (acknowledged >= target.wait_replicas) return settled;
    failure = new ReplicationShort(acknowledged, target.wait_replicas);
  } catch (error) {
    failure = error;
  }
  return settled.map((outcome) => (outcome.status === 'fulfilled' ? { status: 'rejected', reason: failure } : outcome));
}

/**
 * Single server or Sentinel: one connection to the one primary. Outside a cluster every key is on
 * it, so `key` arguments only document intent.
 */
class OnePrimary implements RedisPrimaries {
  readonly mode: RedisMode;
  readonly sharded = false;
  readonly wait_replicas: number;
  private link: NodeClient | undefined;
  private linking: Promise<NodeClient> | undefined;
  private failures = 0;
  private lastFailureAt = 0;
  private lastFailure: Error | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly target: RedisTarget,
    private readonly options: ConnectOptions,
  ) {
    this.mode = target.mode;
    this.wait_replicas = target.wait_replicas;
  }

  async open(): Promise<void> {
    await this.connection();
  }

  get ready(): boolean {
    return this.link?.isReady === true;
  }

  send<T>(_key: string, args: readonly RedisArg[], extra_ms = 0): Promise<T> {
    return this.withLink((link) => this.watch(link, () => link.sendCommand([...args]) as Promise<T>, String(args[0]), extra_ms));
  }

  sendReplicated<T>(key: string, args: readonly RedisArg[]): Promise<T> {
    if (this.target.wait_replicas === 0) return this.write<T>(args);
    return this.withLink((link) =>
      this.watch(link, () => writeAndWait<T>(link, args, this.target, this.options.command_timeout_ms), String(args[0]), 0),
    );
  }

  async sendReplicatedMany<T>(writes: readonly ReplicatedWrite[]): Promise<PromiseSettledResult<T>[]> {
    if (this.target.wait_replicas === 0) return Promise.allSettled(writes.map((write) => this.write<T>(write.args)));
    try {
      return await this.withLink(async (link) => {
        const settled = await writesAndWait<T>(
          link,
          writes.map((write) => write.args),
          this.target,
          this.options.command_timeout_ms,
        );
        for (const outcome of settled) if (outcome.status === 'rejected') this.afterFailure(link, outcome.reason);
        return settled;
      });
    } catch (error) {
      // No connection to the primary: every write fails alike, none was sent.
      return writes.map(() => ({ status: 'rejected', reason: error }));
    }
  }

  /** A write without WAIT, on the socket before this returns (redis-write-now.ts). */
  private write<T>(args: readonly RedisArg[]): Promise<T> {
    return this.withLink((link) => this.watch(link, () => writtenNow(link, [...args]) as Promise<T>, String(args[0]), 0));
  }

  transaction(_key: string, commands: readonly (readonly string[])[]): Promise<unknown[]> {
    return this.withLink((link) => {
      const multi = link.multi();
      for (const command of commands) multi.addCommand([...command]);
      return this.watch(link, () => multi.exec() as Promise<unknown[]>, 'MULTI', 0);
    });
  }

  async primaries(): Promise<PrimaryNode[]> {
    await this.connection();
    return [{ id: '0', send: <T>(args: readonly RedisArg[]) => this.send<T>('', args) }];
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const link = this.link;
    this.link = undefined;
    if (link?.isOpen === true) await link.close().catch(() => link.destroy());
  }

  /** Runs a command on `link`, dropping the link when its failure says it no longer leads to the primary. */
  private async watch<T>(link: NodeClient, run: () => Promise<T>, command: string, extra_ms: number): Promise<T> {
    // Outside Sentinel a slow answer is a slow server, not a moved primary: the connection stays.
    const onTimeout = this.mode === 'sentinel' ? (): void => this.lost(link) : undefined;
    try {
      return await bounded(run(), this.options.command_timeout_ms + extra_ms, command, onTimeout);
    } catch (error) {
      this.afterFailure(link, error);
      throw error;
    }
  }

  /** Drops `link` when a failure on it says it no longer leads to the primary (or, with Sentinel, timed out). */
  private afterFailure(link: NodeClient, error: unknown): void {
    const code = redisReplyCode(error);
    if ((code !== undefined && not_primary_codes.has(code)) || (this.mode === 'sentinel' && error instanceof RedisCommandTimeout))
      this.lost(link);
  }

  /**
   * Runs `use` on the connection, in this very call when it is up: commands are queued on the
   * connection in the order callers asked (the committer relies on it: a read sent after a commit
   * is answered after it).
   */
  private withLink<T>(use: (link: NodeClient) => Promise<T>): Promise<T> {
    const link = this.link;
    if (link?.isReady === true) return use(link);
    return this.connection().then(use);
  }

  /** The connection to the primary, reaching it again when there is none. */
  private connection(): Promise<NodeClient> {
    if (this.link?.isReady === true) return Promise.resolve(this.link);
    if (this.closed) return Promise.reject(new NoPrimary('redis connection closed'));
    // While attempts fail, callers fail fast instead of each starting one.
    if (this.linking === undefined && Date.now() - this.lastFailureAt < rediscover_interval_min_ms)
      return Promise.reject(new NoPrimary('no Redis primary reachable', { cause: this.lastFailure }));
    this.linking ??= this.establish().finally(() => {
      this.linking = undefined;
    });
    return this.linking;
  }

  private async establish(): Promise<NodeClient> {
    const stale = this.link;
    this.link = undefined;
    stale?.destroy();
    try {
      const client = await this.connect(await this.locate());
      this.link = client;
      this.failures = 0;
      return client;
    } catch (error) {
      this.failures += 1;
      this.lastFailureAt = Date.now();
      this.lastFailure = error instanceof Error ? error : new Error(String(error));
      this.scheduleRetry();
      throw error instanceof NoPrimary ? error : new NoPrimary('no Redis primary reachable', { cause: error });
    }
  }

  /** Where the primary is: the configured server, or the address most Sentinels name. */
  private async locate(): Promise<{ url?: string; socket?: HostPort }> {
    if (this.mode !== 'sentinel') return { url: this.target.url };
    const answers = await Promise.all(this.target.sentinels.map((sentinel) => this.askSentinel(sentinel)));
    const votes = new Map<string, number>();
    for (const answer of answers) if (answer !== undefined) votes.set(answer, (votes.get(answer) ?? 0) + 1);
    const [best] = [...votes].sort((a, b) => b[1] - a[1]);
    if (best === undefined) throw new NoPrimary(`no Sentinel named a primary for ${this.target.sentinel_name}`);
    return { socket: parseAddress(best[0]) };
  }

  private async askSentinel(sentinel: HostPort): Promise<string | undefined> {
    const client = createClient({
      socket: { host: sentinel.host, port: sentinel.port, connectTimeout: this.options.command_timeout_ms, reconnectStrategy: false },
      disableOfflineQueue: true,
    });
    client.on('error', () => undefined);
    try {
      const reply = await bounded(
        (async () => {
          await client.connect();
          return client.sendCommand(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.target.sentinel_name]);
        })(),
        this.options.command_timeout_ms,
        'SENTINEL',
      );
      return Array.isArray(reply) && reply.length === 2 ? `${String(reply[0])}:${String(reply[1])}` : undefined;
    } catch {
      return undefined;
    } finally {
      client.destroy();
    }
  }

  private async connect(where: { url?: string; socket?: HostPort }): Promise<NodeClient> {
    const client = createClient({
      ...(where.url === undefined ? credentials(this.target.url) : { url: where.url }),
      // Commands issued while disconnected fail at once instead of waiting in a queue: a commit
      // that waited could run long after its caller was told it failed.
      disableOfflineQueue: true,
      // Reconnection is this class's (the primary may have moved): the client never reconnects by itself.
      socket: { ...where.socket, connectTimeout: this.options.command_timeout_ms, reconnectStrategy: false },
      commandOptions: library_command_options,
    }) as unknown as NodeClient;
    client.on('error', (error: Error) => {
      this.options.onError(error);
      this.lost(client);
    });
    client.on('end', () => this.lost(client));
    try {
      await bounded(client.connect(), this.options.command_timeout_ms, 'CONNECT');
      if (this.mode === 'sentinel') {
        // A Sentinel may name a server that has not yet become primary, or no longer is one.
        const role = await bounded(client.sendCommand(['ROLE']), this.options.command_timeout_ms, 'ROLE');
        if (!Array.isArray(role) || role[0] !== 'master')
          throw new NoPrimary(`the server the Sentinels name is a ${String((role as unknown[])[0])}`);
      }
      return client;
    } catch (error) {
      client.destroy();
      throw error;
    }
  }

  /** The link failed: drop it (its commands in flight fail: outcome unknown) and reach the primary again. */
  private lost(client: NodeClient): void {
    if (this.link !== client) return;
    this.link = undefined;
    client.destroy();
    this.scheduleRetry();
  }

  /** Reaches the primary again in the background, so the process is ready as soon as Redis is. */
  private scheduleRetry(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const delay = Math.min(rediscover_interval_min_ms * 2 ** Math.min(this.failures, 8), this.options.reconnect_backoff_max_ms);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.link === undefined && !this.closed) this.connection().catch(() => undefined);
    }, delay);
    this.retryTimer.unref();
  }
}

function parseAddress(address: string): HostPort {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/** Reply codes meaning "this slot is not served here now": nothing ran; the slot map is read again. */
const slot_moved_codes = new Set(['MOVED', 'ASK', 'TRYAGAIN', 'CLUSTERDOWN']);

/** Redis Cluster through node-redis' cluster client (slot map, MOVED redirects, reconnection). */
class ClusterPrimaries implements RedisPrimaries {
  readonly mode: RedisMode = 'cluster';
  readonly sharded = true;
  readonly wait_replicas: number;
  private readonly cluster: ReturnType<typeof createCluster>;

  constructor(
    private readonly target: RedisTarget,
    private readonly options: ConnectOptions,
  ) {
    this.wait_replicas = target.wait_replicas;
    this.cluster = createCluster({
      rootNodes: target.cluster_nodes.map((node) => ({ socket: { host: node.host, port: node.port } })),
      defaults: {
        ...credentials(target.url),
        disableOfflineQueue: true,
        socket: {
          connectTimeout: options.command_timeout_ms,
          reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 8), options.reconnect_backoff_max_ms),
        },
      },
      commandOptions: library_command_options,
      useReplicas: false,
      // A primary that stops answering is usually being failed over: read the slot map again soon.
      topologyRefreshOnReconnectionAttemptStrategy: 100,
    });
    this.cluster.on('error', (error: Error) => options.onError(error));
    this.cluster.on('node-error', (error: Error) => options.onError(error));
  }

  async open(): Promise<void> {
    await bounded(this.cluster.connect(), this.options.command_timeout_ms * 5, 'CLUSTER CONNECT');
  }

  get ready(): boolean {
    return this.cluster.isReady;
  }

  async send<T>(key: string, args: readonly RedisArg[], extra_ms = 0): Promise<T> {
    return this.refreshing(() =>
      bounded(this.cluster.sendCommand<T>(key, false, [...args]), this.options.command_timeout_ms + extra_ms, String(args[0])),
    );
  }

  async sendReplicated<T>(key: string, args: readonly RedisArg[]): Promise<T> {
    if (this.target.wait_replicas === 0) return this.send(key, args);
    // Both on the client of the slot's primary itself: a redirect between them would WAIT elsewhere.
    return this.refreshing(async () => {
      const client = (await this.cluster.getNodeClientForKey(key)) as unknown as NodeClient;
      return writeAndWait<T>(client, args, this.target, this.options.command_timeout_ms);
    });
  }

  async sendReplicatedMany<T>(writes: readonly ReplicatedWrite[]): Promise<PromiseSettledResult<T>[]> {
    if (this.target.wait_replicas === 0) return Promise.allSettled(writes.map((write) => this.send<T>(write.key, write.args)));
    const results = new Array<PromiseSettledResult<T>>(writes.length);
    // The writes of each primary, in order, on the client of that primary itself.
    const byPrimary = new Map<NodeClient, number[]>();
    await Promise.all(
      writes.map(async (write, index) => {
        try {
          const client = (await this.cluster.getNodeClientForKey(write.key)) as unknown as NodeClient;
          const group = byPrimary.get(client);
          if (group === undefined) byPrimary.set(client, [index]);
          else group.push(index);
        } catch (error) {
          results[index] = { status: 'rejected', reason: error };
        }
      }),
    );
    let moved = false;
    await Promise.all(
      [...byPrimary].map(async ([client, indexes]) => {
        indexes.sort((a, b) => a - b);
        const args = indexes.map((index) => (writes[index] as ReplicatedWrite).args);
        const settled = await writesAndWait<T>(client, args, this.target, this.options.command_timeout_ms);
        settled.forEach((outcome, at) => {
          results[indexes[at] as number] = outcome;
          const code = outcome.status === 'rejected' ? redisReplyCode(outcome.reason) : undefined;
          if (code !== undefined && slot_moved_codes.has(code)) moved = true;
        });
      }),
    );
    if (moved) await this.cluster._slots.rediscover().catch(() => undefined);
    return results;
  }

  async transaction(key: string, commands: readonly (readonly string[])[]): Promise<unknown[]> {
    const multi = this.cluster.multi(key);
    for (const command of commands) multi.addCommand(key, false, [...command]);
    return this.refreshing(() => bounded<unknown[]>(multi.exec(), this.options.command_timeout_ms, 'MULTI'));
  }

  primaries(): Promise<PrimaryNode[]> {
    const lowest = new Map<string, number>();
    this.cluster.slots.forEach((shard, slot) => {
      const address = shard.master.address;
      if (!lowest.has(address)) lowest.set(address, slot);
    });
    const nodes: PrimaryNode[] = [];
    for (const master of this.cluster.masters) {
      const slot = lowest.get(master.address);
      if (slot === undefined) continue;
      nodes.push({
        id: String(slot),
        send: async <T>(args: readonly RedisArg[]) => {
          const client = (await this.cluster.nodeClient(master)) as unknown as NodeClient;
          return bounded(client.sendCommand([...args]) as Promise<T>, this.options.command_timeout_ms, String(args[0]));
        },
      });
    }
    return Promise.resolve(nodes.sort((a, b) => Number(a.id) - Number(b.id)));
  }

  async close(): Promise<void> {
    await this.cluster.close().catch(() => this.cluster.destroy());
  }

  /** Runs `work`; when the slot is not served where it was sent, reads the slot map again before failing. */
  private async refreshing<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const code = redisReplyCode(error);
      if (code !== undefined && slot_moved_codes.has(code)) await this.cluster._slots.rediscover().catch(() => undefined);
      throw error;
    }
  }
}

/** Commands that only read: sent without WAIT. Everything else is a write and waits for the replicas. */
const read_commands = new Set([
  'GET',
  'MGET',
  'EXISTS',
  'HGET',
  'HGETALL',
  'HMGET',
  'SMEMBERS',
  'SCARD',
  'ZRANGE',
  'ZRANGEBYSCORE',
  'ZCARD',
  'XRANGE',
  'XLEN',
  'TIME',
  'EVAL_RO',
  'EVALSHA_RO',
]);

/**
 * node-redis' `sendCommand(args)` over the primaries: each command goes to the primary of its first
 * key (a script's KEYS[1]; a command without keys, such as TIME, to any primary), and a write is
 * answered only once the replicas required have it. For code written against one connection
 * (the reports' back office) whose keys of one job share a hash tag.
 */
export function keyRoutedCommands(primaries: RedisPrimaries): { sendCommand(args: string[]): Promise<unknown> } {
  return {
    sendCommand(args: string[]): Promise<unknown> {
      const name = (args[0] ?? '').toUpperCase();
      const scripted = name.startsWith('EVAL');
      const key = (scripted ? (Number(args[2]) > 0 ? args[3] : undefined) : args[1]) ?? '';
      return read_commands.has(name) ? primaries.send(key, args) : primaries.sendReplicated(key, args);
    },
  };
}
