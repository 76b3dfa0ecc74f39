// Promise-returning client of the offline API over real sockets, for the terminal simulator, the
// demo, the tests and the benchmark: OfflineService on the terminal door, as the terminal each call
// names (its own client certificate, one channel per terminal) or as a gateway relaying for its
// merchants' terminals; OfflineAdminService on the operator door with a bearer token
// (tools/client/access.ts). Every call has a deadline.

import * as grpc from '@grpc/grpc-js';
import {
  OfflineAdminServiceClient,
  OfflineServiceClient,
  type AckDenylistResponse,
  type GetDenylistDeltaResponse,
  type GetOfflineProfileResponse,
  type GetTerminalOfflineResponse,
  type RefreshCardCounterResponse,
  type SetTerminalOfflineResponse,
  type UploadOfflineBatchResponse,
} from '../../gen/tapline/v1/offline';
import { operatorChannel, reader_terminal, type ClientAccess } from './access';
import { call_deadline_ms } from './tapline-client';

type Callback<T> = (error: grpc.ServiceError | null, response: T) => void;

function invoke<T>(fn: (options: grpc.CallOptions, callback: Callback<T>) => unknown, deadlineMs = call_deadline_ms): Promise<T> {
  return new Promise((resolve, reject) => {
    fn({ deadline: Date.now() + deadlineMs }, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

export interface TerminalOfflineSetup {
  readonly terminalId: string;
  /** Ed25519 public key: 32 raw bytes or SPKI DER. */
  readonly publicKey: Uint8Array;
  readonly programIds: readonly string[];
  readonly totalMaxMinor: number;
  readonly currency: string;
  readonly countMax: number;
  readonly offlineMaxMs: number;
}

const terminal_id_pattern = /^[A-Za-z0-9._-]{1,64}$/;

export class OfflineClient {
  readonly admin: OfflineAdminServiceClient;
  private readonly channels = new Map<string, Promise<OfflineServiceClient>>();

  /**
   * `access`: the node's doors and how to prove who calls. `options.gateway`: every terminal call
   * goes through a gateway certificate of these merchants (a venue gateway relaying its terminals).
   */
  constructor(
    readonly access: ClientAccess,
    private readonly options: { readonly channel?: grpc.ChannelOptions; readonly gateway?: readonly string[] } = {},
  ) {
    this.admin = new OfflineAdminServiceClient(...operatorChannel(access, options.channel));
  }

  /** The same doors, relayed by a gateway of `merchantIds`. */
  viaGateway(merchantIds: readonly string[]): OfflineClient {
    return new OfflineClient(this.access, { ...this.options, gateway: merchantIds });
  }

  /**
   * OfflineService as the caller of terminal `terminalId`: its own certificate, or the gateway's.
   * A request naming something that is not a terminal id goes out as the reader terminal, so the
   * node answers it as it answers malformed input.
   */
  terminal(terminalId: string): Promise<OfflineServiceClient> {
    const gateway = this.options.gateway;
    const id = terminal_id_pattern.test(terminalId) ? terminalId : reader_terminal;
    const key = gateway === undefined ? `t:${id}` : `g:${gateway.join(',')}`;
    let client = this.channels.get(key);
    if (client === undefined) {
      const credentials = gateway === undefined ? this.access.terminalCredentials(id) : this.access.gatewayCredentials(gateway);
      client = credentials.then(
        (c) => new OfflineServiceClient(this.access.endpoints.terminal, c, { ...this.access.channelOptions, ...this.options.channel }),
      );
      this.channels.set(key, client);
    }
    return client;
  }

  setTerminalOffline(setup: TerminalOfflineSetup): Promise<SetTerminalOfflineResponse> {
    const request = {
      terminalId: setup.terminalId,
      publicKey: Buffer.from(setup.publicKey),
      programIds: [...setup.programIds],
      totalMax: { amountMinor: BigInt(setup.totalMaxMinor), currency: setup.currency },
      countMax: setup.countMax,
      offlineMaxMs: BigInt(setup.offlineMaxMs),
      // Ignored by the node: who acted is the token's subject.
      operatorId: '',
    };
    return invoke((options, cb) => this.admin.setTerminalOffline(request, new grpc.Metadata(), options, cb));
  }

  terminalOffline(terminalId: string): Promise<GetTerminalOfflineResponse> {
    return invoke((options, cb) => this.admin.getTerminalOffline({ terminalId }, new grpc.Metadata(), options, cb));
  }

  async profile(terminalId: string, lastEntry: number): Promise<GetOfflineProfileResponse> {
    const client = await this.terminal(terminalId);
    return invoke((options, cb) =>
      client.getOfflineProfile({ terminalId, lastEntry: BigInt(lastEntry) }, new grpc.Metadata(), options, cb),
    );
  }

  async delta(
    terminalId: string,
    since: readonly bigint[],
    pageToken = '',
    pageSize = 0,
    deadlineMs?: number,
  ): Promise<GetDenylistDeltaResponse> {
    const request = { terminalId, since: [...since], pageToken, pageSize };
    const client = await this.terminal(terminalId);
    return invoke((options, cb) => client.getDenylistDelta(request, new grpc.Metadata(), options, cb), deadlineMs);
  }

  async ack(terminalId: string, shardVersions: readonly bigint[], lastEntry: number): Promise<AckDenylistResponse> {
    const request = { terminalId, shardVersions: [...shardVersions], lastEntry: BigInt(lastEntry) };
    const client = await this.terminal(terminalId);
    return invoke((options, cb) => client.ackDenylist(request, new grpc.Metadata(), options, cb));
  }

  async upload(terminalId: string, batch: Uint8Array, signature: Uint8Array, deadlineMs?: number): Promise<UploadOfflineBatchResponse> {
    const request = { terminalId, batch: Buffer.from(batch), signature: Buffer.from(signature) };
    const client = await this.terminal(terminalId);
    return invoke((options, cb) => client.uploadOfflineBatch(request, new grpc.Metadata(), options, cb), deadlineMs);
  }

  async refreshCounter(terminalId: string, cardId: string): Promise<RefreshCardCounterResponse> {
    const client = await this.terminal(terminalId);
    return invoke((options, cb) => client.refreshCardCounter({ terminalId, cardId }, new grpc.Metadata(), options, cb));
  }

  close(): void {
    for (const client of this.channels.values())
      void client.then(
        (c) => c.close(),
        () => undefined,
      );
    this.channels.clear();
    this.admin.close();
  }
}
