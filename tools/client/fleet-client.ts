// A promise-returning client for FleetAdminService plus a builder for fleet card purchases (with
// line items and prompts); used by the tests, the demo and the benchmark. Every call has a deadline.

import { operatorChannel, type ClientAccess } from './access';
import * as grpc from '@grpc/grpc-js';
import {
  FleetAdminServiceClient,
  type CreateFleetAccountRequest,
  type CreateFleetAccountResponse,
  type GetFleetAccountResponse,
  type GetFleetCardResponse,
  type IssueFleetCardRequest,
  type IssueFleetCardResponse,
  type ListReviewQueueResponse,
  type ResolveReviewResponse,
  type LoadBasePricesRequest,
  type LoadBasePricesResponse,
  type SetFleetCardLimitsRequest,
  type SetFleetCardLimitsResponse,
  type SetFleetCardStatusRequest,
  type SetFleetCardStatusResponse,
  type SetFleetLimitsRequest,
  type SetFleetLimitsResponse,
  type SetFleetPolicyRequest,
  type SetFleetPolicyResponse,
  type SetFleetPromptsRequest,
  type SetFleetPromptsResponse,
  type SetFleetPricingRequest,
  type SetFleetPricingResponse,
  type SetFleetBillingTermsResponse,
  type CloseFleetCycleResponse,
  type PostFleetPaymentResponse,
  type SetFleetCardPinResponse,
  type LoadSharedPricesResponse,
} from '../../gen/tapline/v1/fleet';
import type { AuthorizeRequest } from '../../gen/tapline/v1/authorization';
import { AuthorizationKind, type LineItem } from '../../gen/tapline/v1/types';
import { call_deadline_ms } from './tapline-client';

/** One line of a fleet basket: quantity in thousandths, amounts in minor units. */
export interface FleetLine {
  readonly code: string;
  readonly group: string;
  readonly qtyMilli?: number;
  readonly unitMinor?: number;
  readonly amountMinor: number;
}

export interface FleetPrompts {
  readonly odometerKm?: number;
  readonly driverId?: string;
  readonly vehicleId?: string;
}

export function fleetPurchase(
  terminalId: string,
  txn: number | bigint,
  cardId: string,
  lines: readonly FleetLine[],
  prompts: FleetPrompts = {},
  currency = 'EUR',
): AuthorizeRequest {
  const lineItems: LineItem[] = lines.map((line) => ({
    productCode: line.code,
    productGroup: line.group,
    quantityMilli: BigInt(line.qtyMilli ?? 1000),
    unitPriceMinor: BigInt(line.unitMinor ?? line.amountMinor),
    amountMinor: BigInt(line.amountMinor),
  }));
  const total = lines.reduce((sum, line) => sum + line.amountMinor, 0);
  return {
    terminalId,
    terminalTxnNumber: BigInt(txn),
    cardId,
    amount: { amountMinor: BigInt(total), currency },
    kind: AuthorizationKind.AUTHORIZATION_KIND_PURCHASE,
    lineItems,
    pin: '',
    prompts: { odometerKm: BigInt(prompts.odometerKm ?? 0), driverId: prompts.driverId ?? '', vehicleId: prompts.vehicleId ?? '' },
    offline: undefined,
    original: undefined,
  };
}

/** A pump's pre-authorization: the amount it unlocks, the driver's prompts and PIN, no basket yet. */
export function fleetPreAuthorization(
  terminalId: string,
  txn: number | bigint,
  cardId: string,
  amountMinor: number,
  prompts: FleetPrompts = {},
  pin = '',
): AuthorizeRequest {
  return {
    ...fleetPurchase(terminalId, txn, cardId, [], prompts),
    amount: { amountMinor: BigInt(amountMinor), currency: 'EUR' },
    kind: AuthorizationKind.AUTHORIZATION_KIND_PRE_AUTHORIZATION,
    pin,
  };
}

/** The pump's completion of its pre-authorization `original`: what was delivered. */
export function fleetCompletion(
  terminalId: string,
  txn: number | bigint,
  cardId: string,
  original: { terminalId: string; txn: number | bigint },
  lines: readonly FleetLine[],
): AuthorizeRequest {
  return {
    ...fleetPurchase(terminalId, txn, cardId, lines),
    kind: AuthorizationKind.AUTHORIZATION_KIND_COMPLETION,
    original: { ref: { $case: 'terminalTxn', value: { terminalId: original.terminalId, txnNumber: BigInt(original.txn) } } },
  };
}

type Callback<T> = (error: grpc.ServiceError | null, response: T) => void;

function invoke<T>(
  fn: (metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback<T>) => unknown,
  deadlineMs = call_deadline_ms,
): Promise<T> {
  return new Promise((resolve, reject) => {
    fn(new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

export class FleetClient {
  readonly fleet: FleetAdminServiceClient;

  constructor(
    readonly access: ClientAccess,
    options: grpc.ChannelOptions = {},
  ) {
    this.fleet = new FleetAdminServiceClient(...operatorChannel(access, options));
  }

  createAccount(
    request: Partial<CreateFleetAccountRequest> & { fleetId: string; creditLimitMinor: number; timeZone: string; currency?: string },
  ): Promise<CreateFleetAccountResponse> {
    const wire: CreateFleetAccountRequest = {
      fleetId: request.fleetId,
      timeZone: request.timeZone,
      operatorId: 'ops',
      creditLimit: { amountMinor: BigInt(request.creditLimitMinor), currency: request.currency ?? 'EUR' },
    };
    return invoke((m, o, cb) => this.fleet.createFleetAccount(wire, m, o, cb));
  }

  setLimits(request: SetFleetLimitsRequest): Promise<SetFleetLimitsResponse> {
    return invoke((m, o, cb) => this.fleet.setFleetLimits(request, m, o, cb));
  }

  setPolicy(request: SetFleetPolicyRequest): Promise<SetFleetPolicyResponse> {
    return invoke((m, o, cb) => this.fleet.setFleetPolicy(request, m, o, cb));
  }

  setPrompts(request: SetFleetPromptsRequest): Promise<SetFleetPromptsResponse> {
    return invoke((m, o, cb) => this.fleet.setFleetPrompts(request, m, o, cb));
  }

  setPricing(request: Omit<SetFleetPricingRequest, 'priceListId'> & { priceListId?: string }): Promise<SetFleetPricingResponse> {
    return invoke((m, o, cb) => this.fleet.setFleetPricing({ priceListId: '', ...request }, m, o, cb));
  }

  loadBasePrices(request: LoadBasePricesRequest): Promise<LoadBasePricesResponse> {
    return invoke((m, o, cb) => this.fleet.loadBasePrices(request, m, o, cb));
  }

  loadSharedPrices(priceListId: string, prices: LoadBasePricesRequest['prices']): Promise<LoadSharedPricesResponse> {
    return invoke((m, o, cb) => this.fleet.loadSharedPrices({ priceListId, prices }, m, o, cb));
  }

  issueCard(request: IssueFleetCardRequest): Promise<IssueFleetCardResponse> {
    return invoke((m, o, cb) => this.fleet.issueFleetCard(request, m, o, cb));
  }

  setCardLimits(request: SetFleetCardLimitsRequest): Promise<SetFleetCardLimitsResponse> {
    return invoke((m, o, cb) => this.fleet.setFleetCardLimits(request, m, o, cb));
  }

  setCardStatus(request: SetFleetCardStatusRequest): Promise<SetFleetCardStatusResponse> {
    return invoke((m, o, cb) => this.fleet.setFleetCardStatus(request, m, o, cb));
  }

  getAccount(fleetId: string): Promise<GetFleetAccountResponse> {
    return invoke((m, o, cb) => this.fleet.getFleetAccount({ fleetId }, m, o, cb));
  }

  getCard(cardId: string): Promise<GetFleetCardResponse> {
    return invoke((m, o, cb) => this.fleet.getFleetCard({ cardId }, m, o, cb));
  }

  listReviewQueue(fleetId: string): Promise<ListReviewQueueResponse> {
    return invoke((m, o, cb) => this.fleet.listReviewQueue({ fleetId }, m, o, cb));
  }

  resolveReview(fleetId: string, transactionId: string, note = ''): Promise<ResolveReviewResponse> {
    return invoke((m, o, cb) => this.fleet.resolveReview({ fleetId, transactionId, note, operatorId: 'ops' }, m, o, cb));
  }

  setBillingTerms(fleetId: string, paymentTermsDays: number, blockAfterOverdueDays?: number): Promise<SetFleetBillingTermsResponse> {
    const terms = {
      paymentTermsDays: BigInt(paymentTermsDays),
      blockAfterOverdueDays: blockAfterOverdueDays === undefined ? undefined : BigInt(blockAfterOverdueDays),
    };
    return invoke((m, o, cb) => this.fleet.setFleetBillingTerms({ fleetId, terms }, m, o, cb));
  }

  closeCycle(fleetId: string, cycle: number | bigint): Promise<CloseFleetCycleResponse> {
    return invoke((m, o, cb) => this.fleet.closeFleetCycle({ fleetId, cycle: BigInt(cycle) }, m, o, cb));
  }

  postPayment(fleetId: string, reference: string, amountMinor: number | bigint, currency = 'EUR'): Promise<PostFleetPaymentResponse> {
    const amount = { amountMinor: BigInt(amountMinor), currency };
    return invoke((m, o, cb) => this.fleet.postFleetPayment({ fleetId, reference, amount }, m, o, cb));
  }

  setCardPin(cardId: string, pin: string): Promise<SetFleetCardPinResponse> {
    return invoke((m, o, cb) => this.fleet.setFleetCardPin({ cardId, pin }, m, o, cb));
  }

  close(): void {
    this.fleet.close();
  }
}
