// Promise-returning client of the offline API (OfflineService, OfflineAdminService) over a real
// socket, for the terminal simulator, the demo, the tests and the benchmark. Every call has a
// deadline.

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

export class OfflineClient {
  readonly offline: OfflineServiceClient;
  readonly admin: OfflineAdminServiceClient;

  constructor(
    readonly address: string,
    options: grpc.ChannelOptions = {},
    credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  ) {
    this.offline = new OfflineServiceClient(address, credentials, options);
    this.admin = new OfflineAdminServiceClient(address, credentials, options);
  }

  setTerminalOffline(setup: TerminalOfflineSetup): Promise<SetTerminalOfflineResponse> {
    const request = {
      terminalId: setup.terminalId,
      publicKey: Buffer.from(setup.publicKey),
      programIds: [...setup.programIds],
      totalMax: { amountMinor: BigInt(setup.totalMaxMinor), currency: setup.currency },
      countMax: setup.countMax,
      offlineMaxMs: BigInt(setup.offlineMaxMs),
      operatorId: 'ops',
    };
    return invoke((options, cb) => this.admin.setTerminalOffline(request, new grpc.Metadata(), options, cb));
  }

  terminalOffline(terminalId: string): Promise<GetTerminalOfflineResponse> {
    return invoke((options, cb) => this.admin.getTerminalOffline({ terminalId }, new grpc.Metadata(), options, cb));
  }

  profile(terminalId: string, lastEntry: number): Promise<GetOfflineProfileResponse> {
    return invoke((options, cb) =>
      this.offline.getOfflineProfile({ terminalId, lastEntry: BigInt(lastEntry) }, new grpc.Metadata(), options, cb),
    );
  }

  delta(
    terminalId: string,
    since: readonly bigint[],
    pageToken = '',
    pageSize = 0,
    deadlineMs?: number,
  ): Promise<GetDenylistDeltaResponse> {
    const request = { terminalId, since: [...since], pageToken, pageSize };
    return invoke((options, cb) => this.offline.getDenylistDelta(request, new grpc.Metadata(), options, cb), deadlineMs);
  }

  ack(terminalId: string, shardVersions: readonly bigint[], lastEntry: number): Promise<AckDenylistResponse> {
    const request = { terminalId, shardVersions: [...shardVersions], lastEntry: BigInt(lastEntry) };
    return invoke((options, cb) => this.offline.ackDenylist(request, new grpc.Metadata(), options, cb));
  }

  upload(terminalId: string, batch: Uint8Array, signature: Uint8Array, deadlineMs?: number): Promise<UploadOfflineBatchResponse> {
    const request = { terminalId, batch: Buffer.from(batch), signature: Buffer.from(signature) };
    return invoke((options, cb) => this.offline.uploadOfflineBatch(request, new grpc.Metadata(), options, cb), deadlineMs);
  }

  refreshCounter(terminalId: string, cardId: string): Promise<RefreshCardCounterResponse> {
    return invoke((options, cb) => this.offline.refreshCardCounter({ terminalId, cardId }, new grpc.Metadata(), options, cb));
  }

  close(): void {
    this.offline.close();
    this.admin.close();
  }
}
