// A small promise-returning client for Tapline's gRPC API over a real socket, with request
// builders; used by the demo, the tests and the benchmark driver. Every call has a deadline.
// (It is not a published SDK: terminals and gateways use the proto with their own stack.)

import * as grpc from '@grpc/grpc-js';
import {
  AdminServiceClient,
  type IssueCardResponse,
  type RegisterTerminalResponse,
  type SetCardStatusResponse,
  type SetTerminalEnabledResponse,
} from '../../gen/tapline/v1/admin';
import { operatorChannel, reader_terminal, TerminalChannels, type ClientAccess } from './access';
import {
  type AuthorizationServiceClient,
  type AuthorizeRequest,
  type AuthorizeResponse,
  type GetBalanceResponse,
  type ReverseResponse,
  TopUpSource,
  type TopUpResponse,
} from '../../gen/tapline/v1/authorization';
import { AuthorizationKind, type CardStatus } from '../../gen/tapline/v1/types';

export const call_deadline_ms = 30_000;

type Callback<T> = (error: grpc.ServiceError | null, response: T) => void;

function invoke<T>(fn: (options: grpc.CallOptions, callback: Callback<T>) => unknown, deadlineMs = call_deadline_ms): Promise<T> {
  return new Promise((resolve, reject) => {
    fn({ deadline: Date.now() + deadlineMs }, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

export function purchase(
  terminalId: string,
  txn: number | bigint,
  cardId: string,
  amountMinor: number | bigint,
  currency = 'EUR',
): AuthorizeRequest {
  return {
    terminalId,
    terminalTxnNumber: BigInt(txn),
    cardId,
    amount: { amountMinor: BigInt(amountMinor), currency },
    kind: AuthorizationKind.AUTHORIZATION_KIND_PURCHASE,
    lineItems: [],
    pin: '',
    prompts: undefined,
    offline: undefined,
    original: undefined,
  };
}

export class TaplineClient {
  readonly admin: AdminServiceClient;
  /** The terminal door, one channel per terminal certificate (and per gateway). */
  readonly terminals: TerminalChannels;

  /** `access`: the node's doors and how to prove who calls (tools/client/access.ts). */
  constructor(
    readonly access: ClientAccess,
    options: grpc.ChannelOptions = {},
  ) {
    this.terminals = new TerminalChannels(access, options);
    this.admin = new AdminServiceClient(...operatorChannel(access, options));
  }

  /** The terminal API as terminal `terminalId` (its own certificate). */
  terminal(terminalId: string): Promise<AuthorizationServiceClient> {
    return this.terminals.terminal(terminalId);
  }

  /** The terminal API as a venue gateway for these merchants (AuthorizeStream). */
  gateway(merchantIds: readonly string[]): Promise<AuthorizationServiceClient> {
    return this.terminals.gateway(merchantIds);
  }

  async authorize(request: AuthorizeRequest, deadlineMs?: number): Promise<AuthorizeResponse> {
    const terminal = await this.terminal(request.terminalId);
    return invoke((options, cb) => terminal.authorize(request, new grpc.Metadata(), options, cb), deadlineMs);
  }

  async topUp(
    cardId: string,
    amountMinor: number,
    key: { terminalId: string; txn: number } | { idempotencyKey: string },
    currency = 'EUR',
  ): Promise<TopUpResponse> {
    const request = {
      terminalId: 'terminalId' in key ? key.terminalId : '',
      terminalTxnNumber: 'terminalId' in key ? BigInt(key.txn) : 0n,
      idempotencyKey: 'idempotencyKey' in key ? key.idempotencyKey : '',
      cardId,
      amount: { amountMinor: BigInt(amountMinor), currency },
      source: 'terminalId' in key ? TopUpSource.TOP_UP_SOURCE_CASH : TopUpSource.TOP_UP_SOURCE_PSP,
      operatorId: '',
    };
    // A keyed top-up names no terminal: it goes out as the reader terminal (and is refused there).
    const terminal = await this.terminal(request.terminalId === '' ? reader_terminal : request.terminalId);
    return invoke((options, cb) => terminal.topUp(request, new grpc.Metadata(), options, cb));
  }

  async balance(cardId: string): Promise<GetBalanceResponse> {
    const terminal = await this.terminal(reader_terminal);
    return invoke((options, cb) => terminal.getBalance({ cardId }, new grpc.Metadata(), options, cb));
  }

  async reverse(terminalId: string, txn: number, cardId: string, original: { terminalId: string; txn: number }): Promise<ReverseResponse> {
    const request = {
      terminalId,
      terminalTxnNumber: BigInt(txn),
      cardId,
      original: { ref: { $case: 'terminalTxn' as const, value: { terminalId: original.terminalId, txnNumber: BigInt(original.txn) } } },
    };
    const terminal = await this.terminal(terminalId);
    return invoke((options, cb) => terminal.reverse(request, new grpc.Metadata(), options, cb));
  }

  issueCard(cardId: string, initialMinor: number, currency = 'EUR', programId = 'test'): Promise<IssueCardResponse> {
    const request = { cardId, initialBalance: { amountMinor: BigInt(initialMinor), currency }, programId, operatorId: '' };
    return invoke((options, cb) => this.admin.issueCard(request, new grpc.Metadata(), options, cb));
  }

  setCardStatus(cardId: string, status: CardStatus): Promise<SetCardStatusResponse> {
    return invoke((options, cb) =>
      this.admin.setCardStatus({ cardId, status, reason: 'test', operatorId: '' }, new grpc.Metadata(), options, cb),
    );
  }

  registerTerminal(terminalId: string, merchantId: string, deadlineMs?: number): Promise<RegisterTerminalResponse> {
    return invoke(
      (options, cb) =>
        this.admin.registerTerminal(
          { terminalId, merchantId, location: 'test', operatorId: '', serialNumber: '', parameters: undefined },
          new grpc.Metadata(),
          options,
          cb,
        ),
      deadlineMs,
    );
  }

  setTerminalEnabled(terminalId: string, enabled: boolean): Promise<SetTerminalEnabledResponse> {
    return invoke((options, cb) =>
      this.admin.setTerminalEnabled({ terminalId, enabled, operatorId: '' }, new grpc.Metadata(), options, cb),
    );
  }

  close(): void {
    this.terminals.close();
    this.admin.close();
  }
}
