// Promise-returning calls of CardService and of the hold kinds of AuthorizationService,
// for tests and tools; every call has a deadline. Kept apart from tapline-client.ts so the two
// grow independently.

import * as grpc from '@grpc/grpc-js';
import {
  CardServiceClient,
  type BulkIssueCardsRequest,
  type BulkIssueCardsResponse,
  type CancelIssuanceResponse,
  type CardServiceIssueCardRequest,
  type CardServiceIssueCardResponse,
  type ChangeCardStateRequest,
  type ChangeCardStateResponse,
  type CreditCardResponse,
  type DefineProgramResponse,
  type GetCardResponse,
  type GetProgramResponse,
  type ProgramConfig,
  type RegisterManagerResponse,
  type ReplaceCardResponse,
  type ReturnCardResponse,
  type RunProgramRefundResponse,
  type HandlePspCallbackResponse,
  type SetAutoReloadResponse,
  type StartPspTopUpResponse,
  type SetPinResponse,
  type VerifyPinResponse,
  type SetTabLimitResponse,
  type SettleTabResponse,
  SettlementMethod,
  type GetCardRulesResponse,
  type ListProgramReviewsResponse,
  type ResolveProgramReviewResponse,
  type SetCardAuthResponse,
  type RegisterCardTokenResponse,
  type RemoveCardTokenResponse,
} from '../../gen/tapline/v1/cards';
import { ApprovalServiceClient, type ApproveResponse, type RejectResponse } from '../../gen/tapline/v1/approvals';
import { operatorChannel, TerminalChannels, type ClientAccess } from './access';
import {
  type AuthorizationServiceClient,
  type AuthorizeRequest,
  type RefundResponse,
  type VoidResponse,
} from '../../gen/tapline/v1/authorization';
import { AuthorizationKind, type BankCard } from '../../gen/tapline/v1/types';
import { call_deadline_ms } from './tapline-client';

type Callback<T> = (error: grpc.ServiceError | null, response: T) => void;

function invoke<T>(fn: (options: grpc.CallOptions, callback: Callback<T>) => unknown, deadlineMs = call_deadline_ms): Promise<T> {
  return new Promise((resolve, reject) => {
    fn({ deadline: Date.now() + deadlineMs }, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

/** A bank card as the wire carries it. */
export function bankCardOf(bankCard: { pan: string } | { par: string }): BankCard {
  return { id: 'pan' in bankCard ? { $case: 'pan', value: bankCard.pan } : { $case: 'par', value: bankCard.par } };
}

export function programConfig(fields: Partial<ProgramConfig> = {}): ProgramConfig {
  return {
    pinRequired: false,
    maxBalanceMinor: 0n,
    maxTopUpMinor: 0n,
    holdExpiryMs: 0n,
    completionToleranceBp: 0,
    depositMinor: 0n,
    pinAttemptsMax: 0,
    partialHolds: false,
    cardAuthKeyId: '',
    ...fields,
  };
}

/** An authorization of one of the hold kinds; `original` names the pre-authorization (terminal, txn). */
export function holdRequest(
  kind: 'pre_authorization' | 'incremental' | 'completion',
  terminalId: string,
  txn: number,
  cardId: string,
  amountMinor: number,
  original?: { terminalId: string; txn: number },
): AuthorizeRequest {
  const wireKind = {
    pre_authorization: AuthorizationKind.AUTHORIZATION_KIND_PRE_AUTHORIZATION,
    incremental: AuthorizationKind.AUTHORIZATION_KIND_INCREMENTAL,
    completion: AuthorizationKind.AUTHORIZATION_KIND_COMPLETION,
  }[kind];
  return {
    terminalId,
    terminalTxnNumber: BigInt(txn),
    cardId,
    amount: { amountMinor: BigInt(amountMinor), currency: 'EUR' },
    kind: wireKind,
    lineItems: [],
    pin: '',
    prompts: undefined,
    offline: undefined,
    original:
      original === undefined
        ? undefined
        : { ref: { $case: 'terminalTxn', value: { terminalId: original.terminalId, txnNumber: BigInt(original.txn) } } },
  };
}

export class CardClient {
  readonly cards: CardServiceClient;
  readonly approvals: ApprovalServiceClient;
  /** The terminal door, one channel per terminal certificate. */
  readonly terminals: TerminalChannels;

  constructor(readonly access: ClientAccess) {
    this.cards = new CardServiceClient(...operatorChannel(access));
    this.approvals = new ApprovalServiceClient(...operatorChannel(access));
    this.terminals = new TerminalChannels(access);
  }

  /** The terminal API as terminal `terminalId` (its own certificate). */
  terminal(terminalId: string): Promise<AuthorizationServiceClient> {
    return this.terminals.terminal(terminalId);
  }

  /** Approves a held four-eyes request (as the access' approver, another principal than the requester). */
  approve(approvalId: string): Promise<ApproveResponse> {
    return invoke((options, cb) => this.approvals.approve({ approvalId }, new grpc.Metadata(), options, cb));
  }

  reject(approvalId: string, reason: string): Promise<RejectResponse> {
    return invoke((options, cb) => this.approvals.reject({ approvalId, reason }, new grpc.Metadata(), options, cb));
  }

  defineProgram(programId: string, config: ProgramConfig): Promise<DefineProgramResponse> {
    return invoke((options, cb) => this.cards.defineProgram({ programId, config, operatorId: 'ops' }, new grpc.Metadata(), options, cb));
  }

  getProgram(programId: string): Promise<GetProgramResponse> {
    return invoke((options, cb) => this.cards.getProgram({ programId }, new grpc.Metadata(), options, cb));
  }

  issue(request: CardServiceIssueCardRequest): Promise<CardServiceIssueCardResponse> {
    return invoke((options, cb) => this.cards.issueCard(request, new grpc.Metadata(), options, cb));
  }

  bulkIssue(request: BulkIssueCardsRequest): Promise<BulkIssueCardsResponse> {
    return invoke((options, cb) => this.cards.bulkIssueCards(request, new grpc.Metadata(), options, cb));
  }

  changeState(request: ChangeCardStateRequest): Promise<ChangeCardStateResponse> {
    return invoke((options, cb) => this.cards.changeCardState(request, new grpc.Metadata(), options, cb));
  }

  getCard(cardId: string): Promise<GetCardResponse> {
    return invoke((options, cb) => this.cards.getCard({ cardId }, new grpc.Metadata(), options, cb));
  }

  replace(cardId: string, replacementCardId: string): Promise<ReplaceCardResponse> {
    return invoke((options, cb) =>
      this.cards.replaceCard({ cardId, replacementCardId, reason: 'damaged', operatorId: 'ops' }, new grpc.Metadata(), options, cb),
    );
  }

  returnCard(cardId: string, idempotencyKey: string): Promise<ReturnCardResponse> {
    return invoke((options, cb) =>
      this.cards.returnCard({ cardId, idempotencyKey, operatorId: 'cash-desk' }, new grpc.Metadata(), options, cb),
    );
  }

  refundRun(programId: string, runId: string): Promise<RunProgramRefundResponse> {
    return invoke(
      (options, cb) => this.cards.runProgramRefund({ programId, runId, operatorId: 'ops' }, new grpc.Metadata(), options, cb),
      120_000,
    );
  }

  /** Asks for a manual credit: it is held (pending_approval_id) until another principal approves it. */
  creditCard(cardId: string, amountMinor: number, idempotencyKey: string, currency = 'EUR'): Promise<CreditCardResponse> {
    const request = { cardId, amount: { amountMinor: BigInt(amountMinor), currency }, idempotencyKey, operatorId: '' };
    return invoke((options, cb) => this.cards.creditCard(request, new grpc.Metadata(), options, cb));
  }

  /** With `autoReload`, the first payment of a mandate for that auto-reload. */
  startPspTopUp(
    cardId: string,
    amountMinor: number,
    autoReload?: { readonly thresholdMinor: number; readonly amountMinor: number },
  ): Promise<StartPspTopUpResponse> {
    const eur = (minor: number): { amountMinor: bigint; currency: string } => ({ amountMinor: BigInt(minor), currency: 'EUR' });
    const setup =
      autoReload === undefined ? {} : { autoReload: { threshold: eur(autoReload.thresholdMinor), amount: eur(autoReload.amountMinor) } };
    return invoke((options, cb) =>
      this.cards.startPspTopUp({ cardId, amount: eur(amountMinor), ...setup }, new grpc.Metadata(), options, cb),
    );
  }

  pspCallback(payload: string, signature: string): Promise<HandlePspCallbackResponse> {
    return invoke((options, cb) => this.cards.handlePspCallback({ payload, signature }, new grpc.Metadata(), options, cb));
  }

  setAutoReload(cardId: string, thresholdMinor: number, amountMinor: number, mandateReference: string): Promise<SetAutoReloadResponse> {
    const request = {
      cardId,
      threshold: { amountMinor: BigInt(thresholdMinor), currency: 'EUR' },
      amount: { amountMinor: BigInt(amountMinor), currency: 'EUR' },
      mandateReference,
      operatorId: 'ops',
    };
    return invoke((options, cb) => this.cards.setAutoReload(request, new grpc.Metadata(), options, cb));
  }

  setPin(cardId: string, newPin: string, oldPin = '', reset = false): Promise<SetPinResponse> {
    return invoke((options, cb) =>
      this.cards.setPin({ cardId, newPin, oldPin, reset, operatorId: reset ? 'support-1' : '' }, new grpc.Metadata(), options, cb),
    );
  }

  verifyPin(cardId: string, pin: string): Promise<VerifyPinResponse> {
    return invoke((options, cb) => this.cards.verifyPin({ cardId, pin }, new grpc.Metadata(), options, cb));
  }

  setTabLimit(cardId: string, limitMinor: number): Promise<SetTabLimitResponse> {
    return invoke((options, cb) =>
      this.cards.setTabLimit(
        { cardId, limit: { amountMinor: BigInt(limitMinor), currency: 'EUR' }, operatorId: 'ops' },
        new grpc.Metadata(),
        options,
        cb,
      ),
    );
  }

  settleTab(
    cardId: string,
    amountMinor: number,
    reference: string,
    method = SettlementMethod.SETTLEMENT_METHOD_INVOICE,
  ): Promise<SettleTabResponse> {
    const request = { cardId, amount: { amountMinor: BigInt(amountMinor), currency: 'EUR' }, method, reference, operatorId: 'accounts' };
    return invoke((options, cb) => this.cards.settleTab(request, new grpc.Metadata(), options, cb));
  }

  /** A card's rule state (points, temporary block, open reviews). */
  getCardRules(cardId: string): Promise<GetCardRulesResponse> {
    return invoke((options, cb) => this.cards.getCardRules({ cardId }, new grpc.Metadata(), options, cb));
  }

  listProgramReviews(programId: string): Promise<ListProgramReviewsResponse> {
    return invoke((options, cb) => this.cards.listProgramReviews({ programId }, new grpc.Metadata(), options, cb));
  }

  resolveProgramReview(cardId: string, transactionId: string, note: string): Promise<ResolveProgramReviewResponse> {
    return invoke((options, cb) =>
      this.cards.resolveProgramReview({ cardId, transactionId, note, operatorId: 'risk-desk' }, new grpc.Metadata(), options, cb),
    );
  }

  /** Registers a visitor's bank card (PAN or PAR) as a token of a card. */
  registerCardToken(cardId: string, bankCard: { pan: string } | { par: string }): Promise<RegisterCardTokenResponse> {
    const request = { cardId, bankCard: bankCardOf(bankCard), operatorId: '' };
    return invoke((options, cb) => this.cards.registerCardToken(request, new grpc.Metadata(), options, cb));
  }

  removeCardToken(cardId: string, bankCard: { pan: string } | { par: string }): Promise<RemoveCardTokenResponse> {
    const request = { cardId, bankCard: bankCardOf(bankCard), operatorId: '' };
    return invoke((options, cb) => this.cards.removeCardToken(request, new grpc.Metadata(), options, cb));
  }

  /** Enrols a card for authentication under a key with the chip's counter ('' key: stops it). */
  setCardAuth(cardId: string, keyId: string, counter: number): Promise<SetCardAuthResponse> {
    return invoke((options, cb) => this.cards.setCardAuth({ cardId, keyId, counter, operatorId: '' }, new grpc.Metadata(), options, cb));
  }

  cancelIssuance(cardId: string, reason = 'issued by mistake'): Promise<CancelIssuanceResponse> {
    return invoke((options, cb) => this.cards.cancelIssuance({ cardId, reason, operatorId: '' }, new grpc.Metadata(), options, cb));
  }

  async voidHold(terminalId: string, txn: number, cardId: string, original: { terminalId: string; txn: number }): Promise<VoidResponse> {
    const request = {
      terminalId,
      terminalTxnNumber: BigInt(txn),
      cardId,
      original: { ref: { $case: 'terminalTxn' as const, value: { terminalId: original.terminalId, txnNumber: BigInt(original.txn) } } },
    };
    const terminal = await this.terminal(terminalId);
    return invoke((options, cb) => terminal.void(request, new grpc.Metadata(), options, cb));
  }

  close(): void {
    this.cards.close();
    this.approvals.close();
    this.terminals.close();
  }
}

/** Refund and manager calls. */
export class RefundClient {
  readonly cards: CardServiceClient;
  readonly terminals: TerminalChannels;

  constructor(readonly access: ClientAccess) {
    this.cards = new CardServiceClient(...operatorChannel(access));
    this.terminals = new TerminalChannels(access);
  }

  registerManager(merchantId: string, managerId: string, pin: string): Promise<RegisterManagerResponse> {
    return invoke((options, cb) =>
      this.cards.registerManager({ merchantId, managerId, pin, operatorId: 'ops' }, new grpc.Metadata(), options, cb),
    );
  }

  async refund(
    terminalId: string,
    txn: number,
    cardId: string,
    original: { terminalId: string; txn: number },
    amountMinor: number,
    manager: { id: string; pin: string },
    currency = 'EUR',
  ): Promise<RefundResponse> {
    const request = {
      terminalId,
      terminalTxnNumber: BigInt(txn),
      cardId,
      original: { ref: { $case: 'terminalTxn' as const, value: { terminalId: original.terminalId, txnNumber: BigInt(original.txn) } } },
      amount: { amountMinor: BigInt(amountMinor), currency },
      managerId: manager.id,
      managerPin: manager.pin,
    };
    const terminal = await this.terminals.terminal(terminalId);
    return invoke((options, cb) => terminal.refund(request, new grpc.Metadata(), options, cb));
  }

  close(): void {
    this.cards.close();
    this.terminals.close();
  }
}
