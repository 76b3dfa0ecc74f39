// The portal's calls to the rest of Tapline, always as the signed-in person: each call carries a
// token minted for the session (issuer.ts), so the node's operator door and the reports service
// apply their own access rules to the person, and their audit records name the person. A refusal
// there comes back here as a RejectedError with the same code (PERMISSION_DENIED, NOT_FOUND, ...)
// and the page shows it as 403, 404, ...; the portal never holds a credential of its own that could
// do more.

import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import * as grpc from '@grpc/grpc-js';
import { rejected, TaplineError, unavailable, type RejectionCode } from '../../actors/errors';
import { AdminServiceClient } from '../../gen/tapline/v1/admin';
import {
  CardAction,
  CardServiceClient,
  type CardInfo,
  type ChangeCardStateResponse,
  type GetCardResponse,
  type VerifyPinRequest,
  type VerifyPinResponse,
  type StartPspTopUpRequest,
  type StartPspTopUpResponse,
  type SetAutoReloadRequest,
  type SetAutoReloadResponse,
} from '../../gen/tapline/v1/cards';
import {
  FleetAdminServiceClient,
  type FleetAccount,
  type FleetCard,
  type GetFleetAccountResponse,
  type GetFleetCardResponse,
  type ListReviewQueueResponse,
  type ReviewEntry,
  type SetFleetCardStatusResponse,
  FleetCardStatus,
  type SetFleetCardLimitsResponse,
  type SpendLimits,
  type ProductGroups,
} from '../../gen/tapline/v1/fleet';
import {
  SearchTerminalsRequest,
  type SearchTerminalsResponse,
  type SetTerminalEnabledResponse,
  type TerminalRecord,
} from '../../gen/tapline/v1/admin';
import { OfflineAdminServiceClient } from '../../gen/tapline/v1/offline';

/** A reports answer larger than this is refused (a page shows a few hundred rows at most). */
export const report_bytes_max = 4 * 1024 * 1024;

const rejection_codes: ReadonlyMap<grpc.status, RejectionCode> = new Map([
  [grpc.status.INVALID_ARGUMENT, 'invalid_argument'],
  [grpc.status.NOT_FOUND, 'not_found'],
  [grpc.status.FAILED_PRECONDITION, 'failed_precondition'],
  [grpc.status.ALREADY_EXISTS, 'already_exists'],
  [grpc.status.PERMISSION_DENIED, 'permission_denied'],
  [grpc.status.UNAUTHENTICATED, 'unauthenticated'],
]);

export const http_rejections: ReadonlyMap<number, RejectionCode> = new Map([
  [400, 'invalid_argument'],
  [401, 'unauthenticated'],
  [403, 'permission_denied'],
  [404, 'not_found'],
  [409, 'failed_precondition'],
]);

/** A backend's refusal as the domain's error; anything else is the backend being unavailable. */
function fromGrpc(error: grpc.ServiceError): Error {
  const code = rejection_codes.get(error.code);
  if (code !== undefined) return rejected(code, error.details);
  return unavailable('the authorizer did not answer', { grpc_code: error.code }, { cause: error });
}

type Unary<Q, R> = (
  request: Q,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: R) => void,
) => unknown;

export interface BackendSettings {
  readonly authorizer_address: string;
  readonly reports_url: string;
  readonly ca_file: string;
  readonly server_name?: string | undefined;
  readonly call_timeout_ms: number;
}

export class Backend {
  private readonly cards: InstanceType<typeof CardServiceClient>;
  readonly fleets: InstanceType<typeof FleetAdminServiceClient>;
  private readonly admin: InstanceType<typeof AdminServiceClient>;
  readonly offline: InstanceType<typeof OfflineAdminServiceClient>;
  readonly ca: Buffer;

  constructor(readonly settings: BackendSettings) {
    this.ca = readFileSync(settings.ca_file);
    const credentials = grpc.credentials.createSsl(this.ca);
    const options = settings.server_name === undefined ? {} : { 'grpc.ssl_target_name_override': settings.server_name };
    this.cards = new CardServiceClient(settings.authorizer_address, credentials, options);
    this.fleets = new FleetAdminServiceClient(settings.authorizer_address, credentials, options);
    this.admin = new AdminServiceClient(settings.authorizer_address, credentials, options);
    this.offline = new OfflineAdminServiceClient(settings.authorizer_address, credentials, options);
  }

  /** One unary call to the node as the person whose token it carries (fleet.ts and organizer.ts call it too). */
  call<Q, R>(method: Unary<Q, R>, request: Q, token: string): Promise<R> {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const deadline = new Date(Date.now() + this.settings.call_timeout_ms);
    return new Promise((resolve, reject) => {
      method(request, metadata, { deadline }, (error, response) => (error === null ? resolve(response) : reject(fromGrpc(error))));
    });
  }

  async card(token: string, cardId: string): Promise<CardInfo> {
    const reply = await this.call<{ cardId: string }, GetCardResponse>(this.cards.getCard.bind(this.cards), { cardId }, token);
    if (reply.card === undefined) throw rejected('not_found', 'card not found');
    return reply.card;
  }

  changeCardState(token: string, cardId: string, action: CardAction, reason: string): Promise<ChangeCardStateResponse> {
    return this.call(this.cards.changeCardState.bind(this.cards), { cardId, action, reason, operatorId: '', approverId: '' }, token);
  }

  /**
   * Checks a card's PIN with the card itself (VerifyPin): the card counts a wrong one as a wrong
   * attempt, locking it after the program's maximum, and refuses a card without a PIN. Resolves
   * when it is right.
   */
  async checkPin(token: string, cardId: string, pin: string): Promise<void> {
    await this.call<VerifyPinRequest, VerifyPinResponse>(this.cards.verifyPin.bind(this.cards), { cardId, pin }, token);
  }

  /**
   * Starts a top-up the holder pays at the PSP: its reference and the checkout URL to send the holder
   * to. With `autoReload` it is the first payment of a mandate for that auto-reload (stored by the
   * node when the PSP reports it paid, with the PSP's mandate).
   */
  startPspTopUp(
    token: string,
    cardId: string,
    amountMinor: bigint,
    currency: string,
    autoReload?: { readonly thresholdMinor: bigint; readonly amountMinor: bigint },
  ): Promise<StartPspTopUpResponse> {
    const setup =
      autoReload === undefined
        ? {}
        : {
            autoReload: {
              threshold: { amountMinor: autoReload.thresholdMinor, currency },
              amount: { amountMinor: autoReload.amountMinor, currency },
            },
          };
    return this.call<StartPspTopUpRequest, StartPspTopUpResponse>(
      this.cards.startPspTopUp.bind(this.cards),
      { cardId, amount: { amountMinor, currency }, ...setup },
      token,
    );
  }

  /** Switches a card's auto-reload off (SetAutoReload with amount 0: the one change a holder may make). */
  switchAutoReloadOff(token: string, cardId: string, currency: string): Promise<SetAutoReloadResponse> {
    return this.call<SetAutoReloadRequest, SetAutoReloadResponse>(
      this.cards.setAutoReload.bind(this.cards),
      { cardId, threshold: { amountMinor: 0n, currency }, amount: { amountMinor: 0n, currency }, mandateReference: '', operatorId: '' },
      token,
    );
  }

  async fleetAccount(token: string, fleetId: string): Promise<FleetAccount> {
    const reply = await this.call<{ fleetId: string }, GetFleetAccountResponse>(
      this.fleets.getFleetAccount.bind(this.fleets),
      { fleetId },
      token,
    );
    if (reply.account === undefined) throw rejected('not_found', 'fleet account not found');
    return reply.account;
  }

  async fleetCard(token: string, cardId: string): Promise<FleetCard> {
    const reply = await this.call<{ cardId: string }, GetFleetCardResponse>(this.fleets.getFleetCard.bind(this.fleets), { cardId }, token);
    if (reply.card === undefined) throw rejected('not_found', 'fleet card not found');
    return reply.card;
  }

  /** Sets a card's limits and product groups together (absent groups: every group the account allows). */
  setFleetCardLimits(
    token: string,
    cardId: string,
    limits: SpendLimits,
    productGroups: ProductGroups | undefined,
  ): Promise<SetFleetCardLimitsResponse> {
    return this.call(this.fleets.setFleetCardLimits.bind(this.fleets), { cardId, limits, productGroups, operatorId: '' }, token);
  }

  setFleetCardStatus(token: string, cardId: string, status: FleetCardStatus): Promise<SetFleetCardStatusResponse> {
    return this.call(this.fleets.setFleetCardStatus.bind(this.fleets), { cardId, status, operatorId: '', unblock: false }, token);
  }

  async reviewQueue(token: string, fleetId: string): Promise<ReviewEntry[]> {
    const reply = await this.call<{ fleetId: string }, ListReviewQueueResponse>(
      this.fleets.listReviewQueue.bind(this.fleets),
      { fleetId },
      token,
    );
    return reply.entries;
  }

  setTerminalEnabled(token: string, terminalId: string, enabled: boolean): Promise<SetTerminalEnabledResponse> {
    return this.call(this.admin.setTerminalEnabled.bind(this.admin), { terminalId, enabled, operatorId: '' }, token);
  }

  /**
   * A merchant's terminals, page by page up to `terminals_max` (the node's own listing, read as the
   * person: a merchant admin only gets its own merchants').
   */
  async merchantTerminals(token: string, merchantId: string, terminals_max: number): Promise<TerminalRecord[]> {
    const terminals: TerminalRecord[] = [];
    let pageToken = '';
    do {
      const page = await this.call<SearchTerminalsRequest, SearchTerminalsResponse>(
        this.admin.searchTerminals.bind(this.admin),
        SearchTerminalsRequest.fromPartial({ merchantId, pageSize: 200, pageToken }),
        token,
      );
      terminals.push(...page.terminals);
      pageToken = page.nextPageToken;
    } while (pageToken !== '' && terminals.length < terminals_max);
    return terminals.slice(0, terminals_max);
  }

  /** One JSON report of the reports service (a path under /reports/), read as the person. */
  report(token: string, path: string): Promise<Record<string, unknown>> {
    const url = new URL(path, this.settings.reports_url);
    const options: https.RequestOptions = {
      ca: this.ca,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      timeout: this.settings.call_timeout_ms,
      ...(this.settings.server_name === undefined ? {} : { servername: this.settings.server_name }),
    };
    return new Promise((resolve, reject) => {
      const request = https.get(url, options, (response) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > report_bytes_max) request.destroy(unavailable('the report is larger than the portal shows', { bytes }));
          else chunks.push(chunk);
        });
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          const code = http_rejections.get(status);
          if (code !== undefined) return reject(rejected(code, `the reports service answered ${status}`));
          if (status !== 200) return reject(unavailable('the reports service failed', { status }));
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
          } catch (error) {
            reject(unavailable('the reports service answered no JSON', {}, { cause: error }));
          }
        });
        response.on('error', reject);
      });
      request.on('timeout', () => request.destroy(unavailable('the reports service did not answer in time', { path: url.pathname })));
      request.on('error', (error) =>
        reject(error instanceof TaplineError ? error : unavailable('the reports service is unreachable', {}, { cause: error })),
      );
    });
  }

  close(): void {
    for (const client of [this.cards, this.fleets, this.admin, this.offline]) client.close();
  }
}

export { CardAction, FleetCardStatus };
