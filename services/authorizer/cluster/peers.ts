// Node-to-node links. One long-lived bidirectional Forward stream per peer: calls made in the same
// event-loop turn leave together in one frame, results come back tagged with their call id. A
// broken stream fails its pending calls as "outcome unknown, retry" (the router retries them with
// the same request, so the same idempotency key) and the next call opens a new stream.

import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  ClusterServiceClient,
  type ForwardRequest,
  type ForwardResponse,
  type ForwardedCall,
  type ForwardedResult,
} from '../../../gen/tapline/internal/v1/cluster';
import type { Member } from '../store/cluster-store';
import { DeadlineExceededError, resourceExhausted, type TaplineError } from '../../../actors/errors';

/** What a forwarded call came back with. */
export type ForwardOutcome =
  | { readonly kind: 'result'; readonly result: ForwardedResult }
  /** The peer does not hold the shard, or the link broke before an answer: retry (same key). */
  | { readonly kind: 'retry'; readonly reason: string }
  | { readonly kind: 'failed'; readonly error: TaplineError };

/** The TLS server name node links send (the peer's identity is checked on its certificate's URI). */
const peer_tls_name = 'tapline-node';

export interface PeerLimits {
  /** Forwarded calls awaiting their result on one link; past it calls get RESOURCE_EXHAUSTED. */
  readonly forward_in_flight_max: number;
  /** Bound on a forwarded call that carries no client deadline. */
  readonly forward_timeout_ms: number;
}

interface Pending {
  readonly done: (outcome: ForwardOutcome) => void;
  readonly timer: NodeJS.Timeout;
}

class PeerLink {
  private readonly client: ClusterServiceClient;
  private stream: grpc.ClientDuplexStream<ForwardRequest, ForwardResponse> | undefined;
  private readonly pending = new Map<number, Pending>();
  private outgoing: ForwardedCall[] = [];
  private flushScheduled = false;
  private nextCallId = 1;
  private closed = false;

  constructor(
    readonly member: Member,
    private readonly limits: PeerLimits,
    private readonly logger: Logger,
    credentials: grpc.ChannelCredentials,
  ) {
    // Mutual TLS with the cluster CA: this node's certificate, and the peer's required to name
    // the member (services/authorizer/doors.ts); plaintext only in the development mode.
    this.client = new ClusterServiceClient(member.address, credentials, {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      // A peer is verified by the node its certificate names, never by its address (a pod IP or a
      // name that moves); a fixed TLS server name keeps IP addresses out of SNI (RFC 6066).
      'grpc.ssl_target_name_override': peer_tls_name,
    });
  }

  forward(method: string, request: Buffer, timeout_ms: number, caller: Buffer, done: (outcome: ForwardOutcome) => void): void {
    if (this.closed) {
      done({ kind: 'retry', reason: 'peer link closed' });
      return;
    }
    if (this.pending.size >= this.limits.forward_in_flight_max) {
      done({ kind: 'failed', error: resourceExhausted('too many forwarded calls in flight', { peer: this.member.nodeId }) });
      return;
    }
    const callId = this.nextCallId++;
    const wait_ms = timeout_ms > 0 ? timeout_ms : this.limits.forward_timeout_ms;
    const timer = setTimeout(() => {
      if (this.pending.delete(callId))
        done({ kind: 'failed', error: new DeadlineExceededError('forwarded call passed its deadline', { peer: this.member.nodeId }) });
    }, wait_ms);
    this.pending.set(callId, { done, timer });
    this.outgoing.push({ callId: BigInt(callId), method, request, timeoutMs: timeout_ms, caller });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  close(reason: string): void {
    this.closed = true;
    this.outgoing = [];
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
    this.failAll(reason);
    this.client.close();
  }

  private flush(): void {
    this.flushScheduled = false;
    const calls = this.outgoing;
    this.outgoing = [];
    // A link closed after the flush was scheduled has already failed these calls as retryable.
    if (calls.length === 0 || this.closed) return;
    try {
      this.ensureStream().write({ calls });
    } catch (error) {
      // Opening or writing the stream failed at once (channel shut down): nothing was sent.
      this.logger.warn(
        { peer: this.member.nodeId, err: error instanceof Error ? error.message : String(error) },
        'forward stream could not be written',
      );
      this.stream = undefined;
      this.failAll('forward stream could not be written');
    }
  }

  private ensureStream(): grpc.ClientDuplexStream<ForwardRequest, ForwardResponse> {
    if (this.stream !== undefined) return this.stream;
    const stream = this.client.forward();
    this.stream = stream;
    stream.on('data', (frame: ForwardResponse) => {
      for (const result of frame.results) {
        const callId = Number(result.callId);
        const pending = this.pending.get(callId);
        if (pending === undefined) continue;
        this.pending.delete(callId);
        clearTimeout(pending.timer);
        if (result.notOwner) pending.done({ kind: 'retry', reason: 'peer does not hold the shard' });
        else pending.done({ kind: 'result', result });
      }
    });
    const broken = (reason: string): void => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.failAll(reason);
    };
    stream.on('error', (error: Error) => {
      if (this.stream !== stream) return;
      this.logger.warn({ peer: this.member.nodeId, err: error.message }, 'forward stream failed');
      broken('forward stream failed');
    });
    stream.on('end', () => broken('forward stream ended'));
    return stream;
  }

  private failAll(reason: string): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const call of pending) {
      clearTimeout(call.timer);
      call.done({ kind: 'retry', reason });
    }
  }
}

export class Peers {
  private readonly links = new Map<string, PeerLink>();

  constructor(
    private readonly limits: PeerLimits,
    private readonly logger: Logger,
    /** Credentials of a link to one peer (mutual TLS naming that peer; services/authorizer/doors.ts). */
    private readonly credentials: (nodeId: string) => grpc.ChannelCredentials,
  ) {}

  /** Keeps one link per live peer; links to departed peers (or moved addresses) are closed. */
  update(members: readonly Member[], self: string): void {
    const live = new Map(members.filter((m) => m.nodeId !== self).map((m) => [m.nodeId, m]));
    for (const [nodeId, link] of this.links) {
      if (live.get(nodeId)?.address !== link.member.address) {
        this.links.delete(nodeId);
        link.close('peer left the cluster');
      }
    }
  }

  forward(
    member: Member,
    method: string,
    request: Buffer,
    timeout_ms: number,
    caller: Buffer,
    done: (outcome: ForwardOutcome) => void,
  ): void {
    let link = this.links.get(member.nodeId);
    if (link !== undefined && link.member.address !== member.address) {
      this.links.delete(member.nodeId);
      link.close('peer address changed');
      link = undefined;
    }
    if (link === undefined) {
      link = new PeerLink(member, this.limits, this.logger, this.credentials(member.nodeId));
      this.links.set(member.nodeId, link);
    }
    link.forward(method, request, timeout_ms, caller, done);
  }

  closeAll(): void {
    for (const link of this.links.values()) link.close('node stopping');
    this.links.clear();
  }
}
