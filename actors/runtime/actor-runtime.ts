// The one module that touches nact. Everything else depends on EntityActor.tell().
//
// Why a wrapper: nact handles each message in its own setImmediate, so an actor works through at
// most one message per event-loop turn, its mailbox is unbounded, and its query() correlates
// replies by a 32-bit random id (collisions at high concurrency; see ARCHITECTURE invariant 5).
// Here commands go into a bounded queue owned by the entity, and one nact message ("drain")
// hands the actor everything queued so far (up to drain_batch_max). Replies travel as callbacks
// inside the commands, never through query(). nact still gives us what it is good at: strictly
// sequential processing per actor and a supervision boundary.
//
// One more thing the wrapper mends: nact keeps the Immediate of an actor's last message in the
// actor object until its next message, and Node does not unlink an Immediate once it has run (its
// _idleNext and _argv stay). So an idle actor kept alive every Immediate queued after its last one
// in that event-loop turn, with their arguments: for the gRPC server, completed HTTP/2 streams and
// their calls. A heap snapshot taken 25 s after a load stopped held 5,037 finished Authorize calls
// this way (~30 MB of 116). releaseLastImmediate drops nact's reference as each drain starts.

import { dispatch, spawn, start, stop } from 'nact';
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
const drain_message = 'drain';

export class ActorRuntime {
  private readonly system: NactRef;
  private spawnedCount = 0;

  constructor() {
    this.system = start() as NactRef;
  }

  /** `idle`: who is told, with `key`, each time the actor has nothing queued after a batch. */
  spawn<C>(name: string, behavior: EntityBehavior<C>, limits: ActorLimits, idle?: { listener: IdleListener; key: string }): EntityActor<C> {
    if (limits.drain_batch_max < 1 || limits.mailbox_max < limits.drain_batch_max) {
      throw new RangeError('actor limits: need 1 <= drain_batch_max <= mailbox_max');
    }
    // nact names allow only URI-safe characters (entity ids are [A-Za-z0-9._-]). They are made unique per spawn so a passivated entity's successor never collides with a
    // nact child that is still finishing its stop.
    this.spawnedCount += 1;
    return new EntityActor<C>(this.system, `${name}_${this.spawnedCount}`, behavior, limits, idle?.listener, idle?.key);
  }

  shutdown(): void {
    stop(this.system);
  }
}

export class EntityActor<C> {
  private readonly queue: BoundedQueue<C>;
  private readonly ref: NactRef;
  /** nact's actor object behind `ref`, whose `immediate` field releaseLastImmediate clears. */
  private readonly nactActor: { immediate?: unknown } | undefined;
  private drainScheduled = false;
  private stopped = false;
  private busy = false;

  constructor(
    parent: NactRef,
    name: string,
    private readonly behavior: EntityBehavior<C>,
    private readonly limits: ActorLimits,
    private readonly idleListener?: IdleListener,
    private readonly key?: string,
  ) {
    this.queue = new BoundedQueue<C>(limits.mailbox_max);
    // A behaviour that handled its batch synchronously costs no promise here; nact itself awaits
    // whatever the function returns.
    this.ref = spawn(
      parent,
      (state: undefined) => {
        const pending = this.drainOnce();
        return pending === undefined ? state : pending.then(() => state);
      },
      name,
    ) as NactRef;
    const actor = findNactActor(systemNameOf(parent), this.ref);
    this.nactActor = typeof actor === 'object' && actor !== null && 'immediate' in actor ? actor : undefined;
  }

  /** Queues a command; false when the mailbox is full or the actor was stopped. */
  tell(command: C): boolean {
    if (this.stopped || !this.queue.push(command)) return false;
    this.scheduleDrain();
    return true;
  }

  /** Commands waiting plus whether a batch is being processed: an idle actor has neither. */
  get idle(): boolean {
    return this.queue.length === 0 && !this.busy && !this.drainScheduled;
  }

  get depth(): number {
    return this.queue.length;
  }

  /**
   * Stops the nact actor; later tell() calls return false. Returns the commands that were still
   * queued, so the caller can answer them (none when the actor was idle).
   */
  stop(): C[] {
    if (this.stopped) return [];
    this.stopped = true;
    stop(this.ref);
    return this.queue.take(this.queue.length);
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    dispatch(this.ref, drain_message);
  }

  /** Hands the behaviour the next batch; a promise only when the behaviour returned one. */
  private drainOnce(): Promise<void> | undefined {
    this.releaseLastImmediate();
    this.drainScheduled = false;
    const batch = this.queue.take(this.limits.drain_batch_max);
    if (batch.length === 0) return undefined;
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
    if (this.nactActor !== undefined) this.nactActor.immediate = undefined;
  }

  private afterBatch(): void {
    this.busy = false;
    if (this.stopped) return;
    if (this.queue.length > 0) this.scheduleDrain();
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
