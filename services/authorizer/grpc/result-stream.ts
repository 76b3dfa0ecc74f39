// The answering half of a stream of items (a gateway's AuthorizeStream, a peer's Forward), with
// back-pressure. Each item read is owed one result. Results answered in the same event-loop turn
// leave together, in frames of at most `frame_results_max`, and only while the transport takes
// them: once write() says its buffer is full, nothing more is written until 'drain'. An item
// counts as pending from when it is read until its result is handed to the transport; when a
// stream has `stream_pending_items_max` pending, or all streams of its connection together have
// `connection_pending_items_max`, the stream stops reading (HTTP/2 flow control then stops the
// client) and reads again once back under half the bound. So a client that sends and never reads
// holds a bounded share of the node: its pending items, plus the few frames the transport buffers.
// The stream ends (OK) once its input ended and every result is written.

import type * as grpc from '@grpc/grpc-js';

export interface ResultStreamLimits {
  /** Items of one stream read and not yet written back; reading pauses at this bound. */
  readonly stream_pending_items_max: number;
  /** The same over all streams of one client connection. */
  readonly connection_pending_items_max: number;
  /** Results per frame written. */
  readonly frame_results_max: number;
}

/** Items pending on the streams of one client connection. */
class ConnectionBudget {
  pending = 0;
  streams = 0;
  /** Streams of the connection that stopped reading; each looks again when the connection's count falls. */
  readonly paused = new Set<ResultStream<unknown>>();

  constructor(readonly peer: string) {}
}

/** The per-connection budgets of a server's streams, keyed by the connection's peer address. */
export class ConnectionBudgets {
  private readonly byPeer = new Map<string, ConnectionBudget>();

  join(peer: string): ConnectionBudget {
    let budget = this.byPeer.get(peer);
    if (budget === undefined) {
      budget = new ConnectionBudget(peer);
      this.byPeer.set(peer, budget);
    }
    budget.streams += 1;
    return budget;
  }

  /** Forgets a connection once it has no stream and nothing pending. */
  forgetIfIdle(budget: ConnectionBudget): void {
    if (budget.streams === 0 && budget.pending === 0 && this.byPeer.get(budget.peer) === budget) this.byPeer.delete(budget.peer);
  }

  /** Items pending over every connection (the gauge a dashboard shows). */
  get pendingItems(): number {
    let pending = 0;
    for (const budget of this.byPeer.values()) pending += budget.pending;
    return pending;
  }
}

type Writable<Frame> = Pick<grpc.ServerDuplexStream<unknown, Frame>, 'write' | 'end' | 'pause' | 'resume' | 'on' | 'getPeer'>;

export class ResultStream<Result, Frame = unknown> {
  private outgoing: Result[] = [];
  private pending = 0;
  private flushScheduled = false;
  private waitingForDrain = false;
  private readingPaused = false;
  private inputDone = false;
  private closed = false;
  private readonly budget: ConnectionBudget;

  constructor(
    private readonly call: Writable<Frame>,
    private readonly toFrame: (results: Result[]) => Frame,
    private readonly limits: ResultStreamLimits,
    private readonly budgets: ConnectionBudgets,
  ) {
    this.budget = budgets.join(call.getPeer());
    call.on('drain', () => {
      this.waitingForDrain = false;
      this.flush();
    });
  }

  /** An item was read: it is owed a result. Stops reading at the stream's or the connection's bound. */
  itemRead(): void {
    this.pending += 1;
    this.budget.pending += 1;
    if (this.readingPaused) return;
    if (this.pending >= this.limits.stream_pending_items_max || this.budget.pending >= this.limits.connection_pending_items_max) {
      this.readingPaused = true;
      this.budget.paused.add(this as ResultStream<unknown>);
      this.call.pause();
    }
  }

  /** An item's result: written with the others answered in this turn (dropped once the stream is closed). */
  answer(result: Result): void {
    if (this.closed) {
      this.release(1);
      return;
    }
    this.outgoing.push(result);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** The client half-closed: the stream ends once every item read is answered and written. */
  inputEnded(): void {
    this.inputDone = true;
    if (!this.flushScheduled) this.flush();
  }

  /** The call ended (cancelled, failed): results still to come are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const dropped = this.outgoing.length;
    this.outgoing = [];
    this.budget.streams -= 1;
    this.budget.paused.delete(this as ResultStream<unknown>);
    this.release(dropped);
    this.budgets.forgetIfIdle(this.budget);
  }

  /** Writes what is answered so far (as far as the transport takes it), then closes: the call is about to fail. */
  flushAndClose(): void {
    this.flush();
    this.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Items of this stream read and not yet written back. */
  get pendingItems(): number {
    return this.pending;
  }

  private flush(): void {
    if (this.closed) return;
    const max = this.limits.frame_results_max;
    while (this.outgoing.length > 0 && !this.waitingForDrain) {
      const results = this.outgoing.length <= max ? this.outgoing : this.outgoing.slice(0, max);
      this.outgoing = this.outgoing.length <= max ? [] : this.outgoing.slice(max);
      const more = this.call.write(this.toFrame(results));
      this.release(results.length);
      if (!more) this.waitingForDrain = true;
    }
    if (this.inputDone && this.pending === 0) {
      this.close();
      this.call.end();
    }
  }

  /** Items no longer pending: written, or dropped. Streams of the connection may read again. */
  private release(count: number): void {
    if (count === 0) return;
    this.pending -= count;
    this.budget.pending -= count;
    if (this.budget.pending <= this.limits.connection_pending_items_max / 2)
      for (const stream of this.budget.paused) stream.resumeIfUnder();
    if (this.closed) this.budgets.forgetIfIdle(this.budget);
  }

  /** Reads again once both this stream and its connection are back under half their bounds. */
  private resumeIfUnder(): void {
    if (!this.readingPaused) return;
    if (this.pending > this.limits.stream_pending_items_max / 2) return;
    if (this.budget.pending > this.limits.connection_pending_items_max / 2) return;
    this.readingPaused = false;
    this.budget.paused.delete(this as ResultStream<unknown>);
    if (!this.closed) this.call.resume();
  }
}
