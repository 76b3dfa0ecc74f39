// A gRPC client that sends bytes exactly as given (identity serializers) to any method of a node,
// for the tests of what a hostile or broken client can send: undecodable requests, fuzzed
// messages, streams that are written and never read. Every such test builds its channels here,
// through `rawDoors`, and reaches each door the way a legitimate client does (the test
// credentials: a terminal or gateway certificate on the terminal door, a token of a role the
// access policy allows on the operator door, a node certificate on the internal door), so the
// bytes get past the access check and reach the decoders and handlers.

import { readFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { terminal_services } from '../../services/authorizer/grpc/server';
import { operatorChannel, reader_terminal } from '../../tools/client/access';
import type { CertificateFiles } from '../../tools/devenv/credentials';
import type { ServerProcess } from '../../tools/devenv/node-process';
import { accessTo, endpointsOf, nodeChannelCredentials, testCredentials } from './harness';

/** How a call ended: its status, and the messages the server sent before it. */
export interface RawOutcome {
  readonly code: grpc.status;
  readonly details: string;
  readonly messages: Buffer[];
}

const identity = (bytes: Buffer): Buffer => bytes;

/** Bounds a raw call even when the server never answers (a hang is a finding, not a stuck test). */
export const raw_call_deadline_ms = 15_000;

/** One channel with identity serializers; a method is addressed by its full path. */
export class RawChannel {
  readonly client: grpc.Client;

  constructor(address: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}) {
    this.client = new grpc.Client(address, credentials, options);
  }

  /** A unary call with these request bytes. */
  unary(path: string, request: Buffer, deadline_ms = raw_call_deadline_ms): Promise<RawOutcome> {
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        path,
        identity,
        identity,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + deadline_ms },
        (error, response) => {
          if (error) resolve({ code: error.code, details: error.details, messages: [] });
          else resolve({ code: grpc.status.OK, details: '', messages: response === undefined ? [] : [response] });
        },
      );
    });
  }

  /**
   * A server-streaming call: sends the request, collects at most `messages_max` messages, then
   * cancels (a Watch never ends by itself); the outcome of a cancelled call is OK with its messages.
   */
  serverStream(path: string, request: Buffer, messages_max = 1, deadline_ms = raw_call_deadline_ms): Promise<RawOutcome> {
    return new Promise((resolve) => {
      const messages: Buffer[] = [];
      let settled = false;
      const call = this.client.makeServerStreamRequest(path, identity, identity, request, new grpc.Metadata(), {
        deadline: Date.now() + deadline_ms,
      });
      call.on('data', (message: Buffer) => {
        messages.push(message);
        if (messages.length >= messages_max && !settled) {
          settled = true;
          resolve({ code: grpc.status.OK, details: 'cancelled by the test after its messages', messages });
          call.cancel();
        }
      });
      call.on('error', (error: grpc.ServiceError) => {
        if (settled) return;
        settled = true;
        resolve({ code: error.code, details: error.details, messages });
      });
      call.on('status', (status: grpc.StatusObject) => {
        if (settled) return;
        settled = true;
        resolve({ code: status.code, details: status.details, messages });
      });
    });
  }

  /** A bidirectional stream: writes the frames, half-closes, and collects what comes back. */
  bidi(path: string, frames: readonly Buffer[], deadline_ms = raw_call_deadline_ms): Promise<RawOutcome> {
    return new Promise((resolve) => {
      const messages: Buffer[] = [];
      let settled = false;
      const call = this.client.makeBidiStreamRequest(path, identity, identity, new grpc.Metadata(), {
        deadline: Date.now() + deadline_ms,
      });
      call.on('data', (message: Buffer) => messages.push(message));
      call.on('error', (error: grpc.ServiceError) => {
        if (settled) return;
        settled = true;
        resolve({ code: error.code, details: error.details, messages });
      });
      call.on('status', (status: grpc.StatusObject) => {
        if (settled) return;
        settled = true;
        resolve({ code: status.code, details: status.details, messages });
      });
      for (const frame of frames) call.write(frame);
      call.end();
    });
  }

  /** A bidirectional stream left open for the caller to drive (write, never read, ...). */
  openBidi(path: string, deadline_ms?: number): grpc.ClientDuplexStream<Buffer, Buffer> {
    return this.client.makeBidiStreamRequest(
      path,
      identity,
      identity,
      new grpc.Metadata(),
      deadline_ms === undefined ? {} : { deadline: Date.now() + deadline_ms },
    );
  }

  close(): void {
    this.client.close();
  }
}

/** A message in gRPC's length-prefixed framing (uncompressed). */
function grpcFrame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/**
 * One HTTP/2 connection speaking gRPC by hand, for what a grpc-js client will not do: streams
 * written and never read (a grpc-js client keeps receiving into its own memory until the
 * application reads, so the server would never feel it), and calls whose place among the
 * connection's streams matters.
 */
export class RawConnection {
  readonly session: http2.ClientHttp2Session;
  private readonly settings: Promise<http2.Settings>;

  /** Over TLS with a client certificate (`tls`), or plaintext (the development switch). */
  constructor(address: string, tls?: { readonly ca: Buffer; readonly client: CertificateFiles }) {
    this.session =
      tls === undefined
        ? http2.connect(`http://${address}`)
        : http2.connect(`https://${address}`, {
            ca: tls.ca,
            cert: readFileSync(tls.client.cert),
            key: readFileSync(tls.client.key),
            // Local nodes' certificates name localhost (TLS sends no IP address as the server name).
            servername: 'localhost',
          });
    this.session.on('error', () => undefined);
    this.settings = new Promise((resolve) => this.session.once('remoteSettings', resolve));
  }

  /** The server's HTTP/2 SETTINGS, once they arrived. */
  serverSettings(): Promise<http2.Settings> {
    return this.settings;
  }

  /** A stream of `path` written and never read. */
  unreadStream(path: string): UnreadStream {
    return new UnreadStream(this.session.request(grpcHeaders(path)));
  }

  /** A unary call on this connection: the gRPC status and the response messages. */
  unary(path: string, request: Buffer): Promise<{ status: number; messages: Buffer[] }> {
    return new Promise((resolve, reject) => {
      const stream = this.session.request(grpcHeaders(path));
      const chunks: Buffer[] = [];
      let status: number | undefined;
      const readStatus = (headers: http2.IncomingHttpHeaders): void => {
        const value = headers['grpc-status'];
        if (value !== undefined) status = Number(value);
      };
      stream.on('response', readStatus);
      stream.on('trailers', readStatus);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', reject);
      stream.on('close', () => {
        const body = Buffer.concat(chunks);
        const messages: Buffer[] = [];
        for (let at = 0; at + 5 <= body.length;) {
          const length = body.readUInt32BE(at + 1);
          messages.push(body.subarray(at + 5, at + 5 + length));
          at += 5 + length;
        }
        resolve({ status: status ?? -1, messages });
      });
      stream.end(grpcFrame(request));
    });
  }

  close(): void {
    this.session.destroy();
  }
}

function grpcHeaders(path: string): http2.OutgoingHttpHeaders {
  return { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' };
}

/** A gRPC stream written at the HTTP/2 level and never read (see RawConnection). */
export class UnreadStream {
  constructor(readonly stream: http2.ClientHttp2Stream) {
    stream.pause();
    stream.on('error', () => undefined);
  }

  /** Writes one message; false when the stream's buffer is full (wait for 'drain'). */
  write(message: Buffer): boolean {
    return this.stream.write(grpcFrame(message));
  }

  /** Resolves true on 'drain', false when none came within `wait_ms`. */
  drained(wait_ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const onDrain = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.stream.off('drain', onDrain);
        resolve(false);
      }, wait_ms);
      this.stream.once('drain', onDrain);
    });
  }

  /**
   * Writes messages until the server stops taking them (no 'drain' within `blocked_after_ms`),
   * `messages_max` are written, or `enough()` says so.
   */
  async writeUntilBlocked(
    next: (index: number) => Buffer,
    bounds: { readonly messages_max: number; readonly blocked_after_ms: number; readonly enough?: () => boolean },
  ): Promise<{ written: number; blocked: boolean }> {
    const { messages_max, blocked_after_ms, enough } = bounds;
    let written = 0;
    while (written < messages_max && enough?.() !== true) {
      const more = this.write(next(written));
      written += 1;
      if (!more && !(await this.drained(blocked_after_ms))) return { written, blocked: true };
    }
    return { written, blocked: false };
  }

  close(): void {
    this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}

/** The doors of a node as raw channels: terminal, operator and internal. */
export interface RawDoors {
  /** The channel serving a service, by its full name (e.g. "tapline.v1.AuthorizationService"). */
  forService(service: string): RawChannel;
  /** A hand-driven HTTP/2 connection to the terminal door, with the same certificate (RawConnection). */
  rawConnection(): RawConnection;
  readonly terminal: RawChannel;
  readonly operator: RawChannel;
  readonly internal: RawChannel;
  close(): void;
}

/** Whether a service is served on the internal (node-to-node) door. */
export function isInternalService(service: string): boolean {
  return service.startsWith('tapline.internal.');
}

/** Whether a service is served on the terminal door (health and reflection are served on every door). */
export function isTerminalService(service: string): boolean {
  return (terminal_services as readonly string[]).includes(service) || service.startsWith('grpc.');
}

/** Who the raw client is on the terminal door: one terminal, or a gateway of some merchants. */
export type TerminalIdentity = { readonly terminal: string } | { readonly gateway: readonly string[] };

/** The node id of the raw client's certificate on the internal door (a peer of the cluster). */
export const raw_peer_node_id = 'raw-peer';

/**
 * Raw channels to a node's doors with the test credentials: the terminal door as `identity`
 * (default: the reader terminal, which may read any balance), the operator door with a token of a
 * role the policy allows for each method, the internal door as a peer node.
 */
export async function rawDoors(
  node: AuthorizerNode | ServerProcess,
  options: { readonly identity?: TerminalIdentity; readonly channelOptions?: grpc.ChannelOptions } = {},
): Promise<RawDoors> {
  const identity = options.identity ?? { terminal: reader_terminal };
  const endpoints = endpointsOf(node);
  const access = await accessTo(endpoints);
  const credentials = await testCredentials();
  const client = 'terminal' in identity ? await credentials.terminal(identity.terminal) : await credentials.gateway(identity.gateway);
  const terminalCredentials =
    'terminal' in identity ? await access.terminalCredentials(identity.terminal) : await access.gatewayCredentials(identity.gateway);
  const channelOptions = { ...access.channelOptions, ...options.channelOptions };
  const terminal = new RawChannel(endpoints.terminal, terminalCredentials, channelOptions);
  const operator = new RawChannel(...operatorChannel(access, options.channelOptions));
  if (endpoints.internal === undefined || endpoints.internal.endsWith(':0')) throw new Error('the node announced no internal port');
  const internal = new RawChannel(endpoints.internal, await nodeChannelCredentials(raw_peer_node_id), channelOptions);
  const ca = readFileSync(credentials.caFile);
  return {
    forService: (service) => (isInternalService(service) ? internal : isTerminalService(service) ? terminal : operator),
    rawConnection: () => new RawConnection(endpoints.terminal, { ca, client }),
    terminal,
    operator,
    internal,
    close: () => {
      terminal.close();
      operator.close();
      internal.close();
    },
  };
}
