// The one module that touches nact. Everything else depends on EntityActor.tell().
//
// Why a wrapper: nact handles each message in its own setImmediate, so an actor works through at
// most one message per event-loop turn, its mailbox is unbounded, and its query() correlates
// replies by a 32-bit random id (collisions at high concurrency; see ARCHITECTURE invariant 5).
// Here commands go into a bounded queue owned by the entity, and one nact message (the entity
// itself: "drain what is queued") hands the actor everything queued so far (up to drain_batch_max). Replies travel as callbacks
// inside the commands, never through query(). nact still gives us what it is good at: strictly
// sequential processing per actor and a supervision boundary.
//
// One more thing the wrapper mends: nact keeps the Immediate of an actor's last message in the
// actor object until its next message, and Node does not unlink an Immediate once it has run (its
// _idleNext and _argv stay). So an idle actor kept alive every Immediate queued after its last one
// in that event-loop turn, with their arguments: for the gRPC server, completed HTTP/2 streams and
// their calls. A heap snapshot taken 25 s after a load stopped held 5,037 finished Authorize calls
// this way (~30 MB of 116). releaseLastImmediate drops nact's reference as each drain starts.
//
// Memory per active entity counts (a million idle cards stay in memory between their payments), so
// what nact allocates per actor is kept to what it uses: every entity actor runs the same function
// (drainEntity) and the same no-op afterStop, shares one empty children registry, and is
// dispatched to through its actor object (nact's dispatch() looks the actor up by reference and
// makes a sender object on every message).

import { spawn, start, stop } from 'nact';
import { find as findNactActor } from 'nact/lib/system-map';
import { BoundedQueue } from './bounded-queue';

/** The behaviour of one entity: processes a batch of commands strictly after the previous one. */
export interface EntityBehavior<C> {
  receive(commands: C[]): void | Promise<void>;
  /** Called when receive() threw: every command of the batch must be answered with a failure. */
  fail(commands: C[], error: unknown): void;
}

/** Told when an actor has worked through everything queued for it (by the key it was spawned with). */
export interface IdleListener {
  actorIdle(key: string): void;
}

export interface ActorLimits {
  /** Commands waiting for one entity before tell() refuses. */
  readonly mailbox_max: number;
  /** Commands handed to the behaviour in one drain. */
  readonly drain_batch_max: number;
}

type NactRef = ReturnType<typeof spawn>;

/**
 * The part of nact's actor object this module uses (nact/lib/actor.js, untyped). spawnEntity
 * checks each field at spawn, so a nact upgrade that changes them fails there, loudly.
 */
interface NactActor {
  dispatch(message: unknown, sender: unknown): void;
  stop(): void;
  immediate: unknown;
  children: Map<string, unknown>;
  childReferences: Map<string, unknown>;
  path: { parts: string[] };
}

/**
 * The children registry every entity actor shares. nact gives each actor two Maps for the
 * children it may spawn (about 370 bytes per actor with their tables); an entity actor never
 * spawns one, so a million idle cards would keep 370 MB of empty Maps. nact only reads them, and
 * deletes from them when a child stops (there are none); adding to them throws.
 */
class NoChildren extends Map<string, unknown> {
  override set(): this {
    throw new Error('assertion: an entity actor spawns no child actors');
  }
}
const no_children: Map<string, unknown> = new NoChildren();

/** nact's sender of a message that has none (its dispatch() makes one per message otherwise). */
const nobody = Object.freeze({
  system: Object.freeze({ name: undefined }),
  path: Object.freeze({ parts: Object.freeze([]) }),
  type: 'nobody',
});

/** Called by nact after an entity actor stopped: nothing to do (shared, not one closure per actor). */
function afterEntityStopped(): void {}

/**
 * The one function every entity actor runs: its message is the EntityActor itself ("drain what
 * is queued"), so no actor needs a closure of its own. A behaviour that handled its batch
 * synchronously costs no promise here; nact itself awaits whatever the function returns.
 */
function drainEntity(state: undefined, entity: EntityActor<unknown, EntityBehavior<unknown>>): undefined | Promise<undefined> {
  const pending = entity.drainOnce();
  return pending === undefined ? state : pending.then(() => state);
}

export class ActorRuntime {
  private readonly system: NactRef;
  private spawnedCount = 0;

  constructor() {
    this.system = start() as NactRef;
  }

  /** `idle`: who is told, with `key`, each time the actor has nothing queued after a batch. */
  spawn<C, B extends EntityBehavior<C>>(
    name: string,
    behavior: B,
    limits: ActorLimits,
    idle?: { listener: IdleListener; key: string },
  ): EntityActor<C, B> {
    if (limits.drain_batch_max < 1 || limits.mailbox_max < limits.drain_batch_max) {
      throw new RangeError('actor limits: need 1 <= drain_batch_max <= mailbox_max');
    }
    // nact names allow only URI-safe characters (entity ids are [A-Za-z0-9._-]). They are made unique per spawn so a passivated entity's successor never collides with a
    // nact child that is still finishing its stop.
    this.spawnedCount += 1;
    const nactActor = spawnEntity(this.system, `${name}_${this.spawnedCount}`);
    return new EntityActor<C, B>(nactActor, behavior, limits, idle?.listener, idle?.key);
  }

  shutdown(): void {
    stop(this.system);
  }
}

/** Spawns a nact actor running drainEntity and answers its actor object (checked, children shared). */
function spawnEntity(parent: NactRef, name: string): NactActor {
  const ref = spawn(parent, drainEntity, name, { afterStop: afterEntityStopped }) as NactRef;
  const actor = findNactActor(systemNameOf(parent), ref);
  if (!isNactActor(actor)) throw new Error('assertion: nact spawned an actor object of a shape this runtime does not know');
  actor.children = no_children;
  actor.childReferences = no_children;
  // nact builds the path's parts by spreading its parent's into a new array, which leaves it room
  // to grow (about 150 bytes for two names); a path never changes, so keep an array of its size.
  actor.path.parts = actor.path.parts.slice();
  return actor;
}

function isNactActor(actor: unknown): actor is NactActor {
  return (
    typeof actor === 'object' &&
    actor !== null &&
    'immediate' in actor &&
    'dispatch' in actor &&
    typeof actor.dispatch === 'function' &&
    'stop' in actor &&
    typeof actor.stop === 'function' &&
    'children' in actor &&
    actor.children instanceof Map &&
    actor.children.size === 0 &&
    'childReferences' in actor &&
    actor.childReferences instanceof Map &&
    actor.childReferences.size === 0 &&
    'path' in actor &&
    typeof actor.path === 'object' &&
    actor.path !== null &&
    'parts' in actor.path &&
    Array.isArray(actor.path.parts)
  );
}

const drain_scheduled = 1;
const stopped = 2;
const busy = 4;

export class EntityActor<C, B extends EntityBehavior<C> = EntityBehavior<C>> {
  /** When its owner last handed it a message (epoch ms; the shard region passivates by it). */
  lastUsedMs = 0;
  /** Commands waiting; none while the actor has nothing queued (an idle entity keeps no queue). */
  private queue: BoundedQueue<C> | undefined = undefined;
  /** drain_scheduled | stopped | busy: one small integer instead of three fields per actor. */
  private flags = 0;

  constructor(
    /** nact's actor object: messages are dispatched to it directly (no lookup by reference per message). */
    private readonly nactActor: NactActor,
    readonly behavior: B,
    private readonly limits: ActorLimits,
    private readonly idleListener?: IdleListener,
    private readonly key?: string,
  ) {}

  /** A drain message is on its way to nact (another tell() need not send one). */
  private get drainScheduled(): boolean {
    return (this.flags & drain_scheduled) !== 0;
  }
  private set drainScheduled(on: boolean) {
    this.flags = on ? this.flags | drain_scheduled : this.flags & ~drain_scheduled;
  }
  private get stopped(): boolean {
    return (this.flags & stopped) !== 0;
  }
  private set stopped(on: boolean) {
    this.flags = on ? this.flags | stopped : this.flags & ~stopped;
  }
  /** The behaviour is working through a batch. */
  private get busy(): boolean {
    return (this.flags & busy) !== 0;
  }
  private set busy(on: boolean) {
    this.flags = on ? this.flags | busy : this.flags & ~busy;
  }

  /** Queues a command; false when the mailbox is full or the actor was stopped. */
  tell(command: C): boolean {
    if (this.stopped) return false;
    this.queue ??= new BoundedQueue<C>(this.limits.mailbox_max);
    if (!this.queue.push(command)) return false;
    this.scheduleDrain();
    return true;
  }

  /** Commands waiting plus whether a batch is being processed: an idle actor has neither. */
  get idle(): boolean {
    return this.queue === undefined && !this.busy && !this.drainScheduled;
  }

  get depth(): number {
    return this.queue?.length ?? 0;
  }

  /**
   * Stops the nact actor; later tell() calls return false. Returns the commands that were still
   * queued, so the caller can answer them (none when the actor was idle).
   */
  stop(): C[] {
    if (this.stopped) return [];
    this.stopped = true;
    this.nactActor.stop();
    const queued = this.queue?.take(this.queue.length) ?? [];
    this.queue = undefined;
    return queued;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    this.nactActor.dispatch(this, nobody);
  }

  /**
   * Hands the behaviour the next batch; a promise only when the behaviour returned one. Run by
   * nact (drainEntity), never by other code.
   */
  drainOnce(): Promise<void> | undefined {
    this.releaseLastImmediate();
    this.drainScheduled = false;
    const queue = this.queue;
    if (queue === undefined) return undefined;
    const batch = queue.take(this.limits.drain_batch_max);
    if (queue.length === 0) this.queue = undefined;
    this.busy = true;
    let pending: void | Promise<void>;
    try {
      pending = this.behavior.receive(batch);
    } catch (error) {
      this.failBatch(batch, error);
      this.afterBatch();
      return undefined;
    }
    if (pending === undefined) {
      this.afterBatch();
      return undefined;
    }
    return pending.then(
      () => this.afterBatch(),
      (error: unknown) => {
        this.failBatch(batch, error);
        this.afterBatch();
      },
    );
  }

  /** receive() threw or rejected: the behaviour answers the whole batch with the failure. */
  private failBatch(batch: C[], error: unknown): void {
    try {
      this.behavior.fail(batch, error);
    } catch (failError) {
      // fail() must answer the batch; when it throws too, the behaviour is broken. nact's
      // supervision logs the error and terminates the actor, so mark it stopped: tell() must
      // then refuse instead of queueing commands that nothing will ever process.
      this.stopped = true;
      this.busy = false;
      throw failError;
    }
  }

  /**
   * Runs inside the Immediate nact scheduled for this message: nact only reads the field again to
   * cancel a pending Immediate when the actor stops, and this one is already running.
   */
  private releaseLastImmediate(): void {
    this.nactActor.immediate = undefined;
  }

  private afterBatch(): void {
    this.busy = false;
    if (this.stopped) return;
    if (this.queue !== undefined) this.scheduleDrain();
    else if (this.idleListener !== undefined) this.idleListener.actorIdle(this.key as string);
  }
}

/**
 * The name of the actor system a nact reference belongs to. nact's typings do not declare the
 * reference's `system` field, which its own system map is keyed by; read it with a check rather
 * than a cast, so a nact upgrade that changes it fails here, loudly.
 */
function systemNameOf(ref: unknown): string {
  const system = typeof ref === 'object' && ref !== null && 'system' in ref ? ref.system : undefined;
  const name = typeof system === 'object' && system !== null && 'name' in system ? system.name : undefined;
  if (typeof name !== 'string') throw new Error('assertion: a nact reference names its actor system');
  return name;
}
