// gRPC handlers of CardService: programs, issuing named and anonymous cards (one or in
// bulk), audited state transitions and the issuer's view of a card. Validation is
// cards-validate.ts; every handler answers exactly once through service.ts's `unary`.

import { alreadyExists, failedPrecondition, invalidArgument, type Outcome, type TaplineError } from '../../../actors/errors';
import type { IssueAnswer, TransitionAnswer } from '../../../actors/card/actor';
import { cardsDigest, sameIssuance, type IssuanceRecord, type IssuanceRecords } from '../../../actors/card/issuance';
import type { AutoReload, CardProfile, CardState } from '../../../actors/card/rules';
import { liveHeldMinor } from '../../../actors/card/holds';
import type { ProgramConfig, StoredProgram } from '../../../actors/program/config';
import type {
  BulkIssueCardsRequest,
  BulkIssueCardsResponse,
  CardInfo,
  CardServiceIssueCardRequest,
  CardServiceIssueCardResponse,
  CardServiceServer,
  ChangeCardStateRequest,
  ChangeCardStateResponse,
  DefineProgramRequest,
  DefineProgramResponse,
  GetCardRequest,
  GetCardResponse,
  GetProgramRequest,
  GetProgramResponse,
  ProgramConfig as WireProgramConfig,
  RegisterManagerRequest,
  RegisterManagerResponse,
  Payout,
  ReplaceCardRequest,
  ReplaceCardResponse,
  ReturnCardRequest,
  ReturnCardResponse,
  RunProgramRefundRequest,
  RunProgramRefundResponse,
  HandlePspCallbackRequest,
  HandlePspCallbackResponse,
  SetAutoReloadRequest,
  SetAutoReloadResponse,
  StartPspTopUpRequest,
  StartPspTopUpResponse,
  SetPinRequest,
  SetPinResponse,
  SetTabLimitRequest,
  SetTabLimitResponse,
  SettleTabRequest,
  SettleTabResponse,
} from '../../../gen/tapline/v1/cards';
import { SettlementMethod } from '../../../gen/tapline/v1/cards';
import { Outcome as WireOutcome } from '../../../gen/tapline/v1/types';
import { parsePspPayload, verifyPspSignature, type AutoReloader, type PspAdapter } from '../psp';
import type { ReplaceAnswer } from '../../../actors/card/actor';
import { fingerprintOf, type MoneyRequest, type TxnAnswer } from '../../../actors/card/transaction';
import { clientKey } from '../../../actors/request-keys';
import type { ProgramCards } from '../store/program-cards';
import { toTopUpResponse, toVoidResponse, wireCardStatus, wireDeclineReason } from './mapping';
import { unary, type ServiceDeps } from './service';
import {
  parseCardAction,
  parseCardIds,
  parseHolder,
  parseIssueParams,
  parsePin,
  parseProgramConfig,
  requireReason,
  type IssueParams,
} from './cards-validate';
import { optionalId, requireAmount, requireBalance, requireClientKey, requireId } from './validate';
import { wireProgramRules } from './program-rules-wire';
import { programReviewHandlers } from './program-review-service';
import type * as grpc from '@grpc/grpc-js';
import {
  callOwner,
  card_fanout_service,
  type BulkCardIssue,
  type BulkCardIssued,
  type OwnerCaller,
  type RefundRunCashOut,
  type RefundRunCashedOut,
} from '../cluster/card-fanout-methods';

/** Cards of one bulk issuance in flight at once: keeps the commit queue and mailboxes shallow. */
const bulk_issue_concurrency = 128;

export interface CardServiceDeps extends ServiceDeps {
  readonly issuances: IssuanceRecords;
  readonly programCards: ProgramCards;
  /** Undefined without TAPLINE_PSP_SECRET: PSP calls are then FAILED_PRECONDITION. */
  readonly psp: { readonly adapter: PspAdapter; readonly secret: string; readonly autoReloader: AutoReloader } | undefined;
  /** The cluster router: bulk issuance and the refund run reach each card on its owner through it. */
  readonly owners: OwnerCaller;
}

/** What a PSP callback did: the top-up's answer, or a failed payment acknowledged. */
export type PspCallbackAnswer = { readonly failed: true } | { readonly failed: false; readonly answer: TxnAnswer };

/**
 * Verifies and applies a PSP callback (from gRPC or the simulated PSP). A successful payment is a
 * top-up keyed by the PSP reference; a failed one moves nothing. Either way a pending auto-reload
 * of the card is settled.
 */
export function handlePspCallback(
  deps: CardServiceDeps,
  payload: string,
  signature: string,
  reply: (outcome: Outcome<PspCallbackAnswer>) => void,
): void {
  const psp = deps.psp;
  if (psp === undefined) throw failedPrecondition('PSP callbacks need TAPLINE_PSP_SECRET configured on the node');
  const refused = verifyPspSignature(psp.secret, payload, signature);
  if (refused !== undefined) throw refused;
  const event = parsePspPayload(payload);
  if (event.status === 'failed') {
    if (event.kind === 'auto_reload') psp.autoReloader.settled(event.card);
    reply({ ok: true, value: { failed: true } });
    return;
  }
  const request: Omit<MoneyRequest, 'fingerprint'> = {
    kind: 'top_up',
    key: clientKey(`psp:${event.reference}`),
    cardId: event.card,
    terminalId: '',
    amountMinor: event.amountMinor,
    currency: event.currency,
    source: event.kind === 'auto_reload' ? 'auto_reload' : 'psp',
    operatorId: '',
    originalKey: '',
  };
  deps.region.money({ ...request, fingerprint: fingerprintOf(request) }, (outcome) => {
    if (event.kind === 'auto_reload') psp.autoReloader.settled(event.card);
    reply(outcome.ok ? { ok: true, value: { failed: false, answer: outcome.value } } : outcome);
  });
}

const settlement_methods: ReadonlyMap<SettlementMethod, string> = new Map([
  [SettlementMethod.SETTLEMENT_METHOD_INVOICE, 'invoice'],
  [SettlementMethod.SETTLEMENT_METHOD_DIRECT_DEBIT, 'direct_debit'],
]);

/** Cards one refund run pays out: its payout list must fit one reply (~50 bytes a line, 4 MB). */
export const program_refund_cards_max = 50_000;
/** Cash-outs of one refund run in flight at once. */
const program_refund_concurrency = 64;

function wireProgram(config: ProgramConfig): WireProgramConfig {
  return {
    pinRequired: config.pinRequired,
    maxBalanceMinor: BigInt(config.maxBalanceMinor),
    maxTopUpMinor: BigInt(config.maxTopUpMinor),
    holdExpiryMs: BigInt(config.holdExpiryMs),
    completionToleranceBp: config.completionToleranceBp,
    depositMinor: BigInt(config.depositMinor),
    pinAttemptsMax: config.pinAttemptsMax,
    partialHolds: config.partialHolds,
    ...(config.rules === undefined ? {} : { rules: wireProgramRules(config.rules) }),
  };
}

export function cardInfo(state: CardState, nowMs: number): CardInfo {
  const money = (amountMinor: number): { amountMinor: bigint; currency: string } => ({
    amountMinor: BigInt(amountMinor),
    currency: state.currency,
  });
  const profile = state.profile;
  return {
    cardId: state.cardId,
    programId: state.programId,
    status: wireCardStatus(state.status),
    balance: money(state.balanceMinor),
    available: money(state.balanceMinor - liveHeldMinor(state, nowMs) + (profile?.tabLimitMinor ?? 0)),
    deposit: money(profile?.depositMinor ?? 0),
    named: profile?.named ?? false,
    expiresAtUnixMs: BigInt(profile?.expiresAtMs ?? 0),
    pinSet: (profile?.pinHash ?? '') !== '',
    holds: state.holds === undefined ? 0 : Object.keys(state.holds).length,
    issuanceId: profile?.issuance ?? '',
    tabLimit: money(profile?.tabLimitMinor ?? 0),
  };
}

/** Checks the issue against its program (loaded first) and builds the card's profile. */
function issueProfile(deps: ServiceDeps, params: IssueParams, named: boolean, pinHash: string, issuance: string): CardProfile {
  const program = deps.programs.get(params.programId);
  const depositMinor = params.depositMinor ?? program.depositMinor;
  if (program.maxBalanceMinor > 0 && params.initialBalanceMinor > program.maxBalanceMinor) {
    throw invalidArgument(`initial balance exceeds the program's max_balance_minor ${program.maxBalanceMinor}`);
  }
  return { named, depositMinor, expiresAtMs: params.expiresAtMs, pinHash, pinFailures: 0, issuance };
}

function issueCommand(cardId: string, params: IssueParams, profile: CardProfile, nowMs: number): IssueCommand {
  return {
    type: 'issue',
    cardId,
    currency: params.currency,
    initialBalanceMinor: params.initialBalanceMinor,
    programId: params.programId,
    nowMs,
    profile,
  };
}

type IssueCommand = Parameters<ServiceDeps['region']['issueProfiledCard']>[0];

function asError(error: unknown): TaplineError {
  return error as TaplineError;
}

export function cardService(deps: CardServiceDeps): CardServiceServer {
  const { region, programs } = deps;
  return {
    // Program rules of plain cards (program-review-service.ts).
    ...programReviewHandlers(deps),
    defineProgram: unary<DefineProgramRequest, DefineProgramResponse, StoredProgram>(
      deps,
      'DefineProgram',
      (request, reply) => {
        const programId = requireId('program_id', request.programId);
        const config = parseProgramConfig(request.config);
        programs.define(programId, config, optionalId('operator_id', request.operatorId, ''), reply);
      },
      (program) => ({ programId: program.programId, version: BigInt(program.version) }),
    ),

    getProgram: unary<GetProgramRequest, GetProgramResponse, StoredProgram>(
      deps,
      'GetProgram',
      (request, reply) => {
        const programId = requireId('program_id', request.programId);
        programs.load(programId).then(
          (program) => reply({ ok: true, value: program }),
          (error: unknown) => reply({ ok: false, error: asError(error) }),
        );
      },
      (program) => ({ programId: program.programId, config: wireProgram(program.config), version: BigInt(program.version) }),
    ),

    issueCard: unary<CardServiceIssueCardRequest, CardServiceIssueCardResponse, IssueAnswer>(
      deps,
      'CardService.IssueCard',
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const nowMs = deps.clock();
        const params = parseIssueParams(request.params, nowMs);
        const holder = parseHolder(request.holder);
        const pin = parsePin(request.pin);
        const operatorId = optionalId('operator_id', request.operatorId, '');
        if (pin !== undefined && deps.pinHasher === undefined)
          throw failedPrecondition('PINs need TAPLINE_PIN_SECRET configured on the node');
        const pinHash = pin === undefined ? '' : (deps.pinHasher?.hash(cardId, pin) ?? '');
        programs.ensure(params.programId).then(
          () => {
            let profile: CardProfile;
            try {
              profile = issueProfile(deps, params, holder !== undefined, pinHash, '');
            } catch (error) {
              reply({ ok: false, error: asError(error) });
              return;
            }
            region.issueProfiledCard(issueCommand(cardId, params, profile, nowMs), holder, operatorId, reply);
          },
          (error: unknown) => reply({ ok: false, error: asError(error) }),
        );
      },
      ({ state, alreadyExisted }) => ({ card: cardInfo(state, deps.clock()), alreadyExisted }),
    ),

    bulkIssueCards: unary<BulkIssueCardsRequest, BulkIssueCardsResponse, { issuanceId: string; issued: number; alreadyExisted: number }>(
      deps,
      'BulkIssueCards',
      (request, reply) => {
        const issuanceId = requireId('issuance_id', request.issuanceId);
        const cardIds = parseCardIds(request.cardIds);
        const nowMs = deps.clock();
        const params = parseIssueParams(request.params, nowMs);
        const operatorId = optionalId('operator_id', request.operatorId, '');
        bulkIssue(deps, issuanceId, cardIds, params, operatorId, nowMs, reply);
      },
      (value) => value,
    ),

    changeCardState: unary<ChangeCardStateRequest, ChangeCardStateResponse, TransitionAnswer>(
      deps,
      'ChangeCardState',
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const action = parseCardAction(request.action);
        const reason = requireReason(request.reason);
        const operatorId = requireId('operator_id', request.operatorId);
        const approverId = optionalId('approver_id', request.approverId, '');
        region.changeCardState(cardId, { action, operatorId, approverId }, reason, reply);
      },
      ({ state, previous }) => ({ cardId: state.cardId, status: wireCardStatus(state.status), previous: wireCardStatus(previous) }),
    ),

    getCard: unary<GetCardRequest, GetCardResponse, CardState>(
      deps,
      'GetCard',
      (request, reply) => {
        region.balance(requireId('card_id', request.cardId), reply);
      },
      (state) => ({ card: cardInfo(state, deps.clock()) }),
    ),

    replaceCard: unary<ReplaceCardRequest, ReplaceCardResponse, ReplaceAnswer>(
      deps,
      'ReplaceCard',
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const replacementId = requireId('replacement_card_id', request.replacementCardId);
        if (replacementId === cardId) throw invalidArgument('a card cannot replace itself');
        const reason = requireReason(request.reason);
        const operatorId = requireId('operator_id', request.operatorId);
        region.replaceCard(cardId, replacementId, reason, operatorId, reply);
      },
      ({ old, replacement, alreadyReplaced }) => ({
        oldCard: cardInfo(old, deps.clock()),
        replacement: cardInfo(replacement, deps.clock()),
        alreadyReplaced,
      }),
    ),

    returnCard: unary<ReturnCardRequest, ReturnCardResponse, TxnAnswer>(
      deps,
      'ReturnCard',
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const key = requireClientKey('idempotency_key', request.idempotencyKey);
        const operatorId = requireId('operator_id', request.operatorId);
        region.money(cashOutRequest(cardId, key, operatorId), reply);
      },
      toReturnResponse,
    ),

    runProgramRefund: unary<RunProgramRefundRequest, RunProgramRefundResponse, RunProgramRefundResponse>(
      deps,
      'RunProgramRefund',
      (request, reply) => {
        const programId = requireId('program_id', request.programId);
        const runId = requireId('run_id', request.runId);
        const operatorId = requireId('operator_id', request.operatorId);
        refundRun(deps, programId, runId, operatorId).then(
          (value) => reply({ ok: true, value }),
          (error: unknown) => reply({ ok: false, error: asError(error) }),
        );
      },
      (value) => value,
    ),

    startPspTopUp: unary<StartPspTopUpRequest, StartPspTopUpResponse, { reference: string; paymentUrl: string }>(
      deps,
      'StartPspTopUp',
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const { amountMinor, currency } = requireAmount('amount', request.amount);
        const psp = deps.psp;
        if (psp === undefined) throw failedPrecondition('PSP top-ups need TAPLINE_PSP_SECRET configured on the node');
        // The card must exist before the holder is sent to pay.
        region.balance(cardId, (card) => {
          if (!card.ok) return reply(card);
          if (card.value.currency !== currency)
            return reply({ ok: false, error: invalidArgument("amount.currency is not the card's currency") });
          psp.adapter.startPayment(cardId, amountMinor, currency).then(
            (value) => reply({ ok: true, value }),
            (error: unknown) => reply({ ok: false, error: asError(error) }),
          );
        });
      },
      ({ reference, paymentUrl }) => ({ pspReference: reference, paymentUrl }),
    ),

    handlePspCallback: unary<HandlePspCallbackRequest, HandlePspCallbackResponse, PspCallbackAnswer>(
      deps,
      'HandlePspCallback',
      (request, reply) => {
        handlePspCallback(deps, request.payload, request.signature, reply);
      },
      (value) => {
        if (value.failed)
          return {
            outcome: WireOutcome.OUTCOME_DECLINED,
            declineReason: 0,
            transactionId: '',
            balanceAfter: undefined,
            replayed: false,
            paymentFailed: true,
          };
        const response = toTopUpResponse(value.answer);
        return {
          outcome: response.outcome,
          declineReason: response.declineReason,
          transactionId: response.transactionId,
          balanceAfter: response.balanceAfter,
          replayed: response.replayed,
          paymentFailed: false,
        };
      },
    ),

    setAutoReload: unary<SetAutoReloadRequest, SetAutoReloadResponse, CardState>(
      deps,
      'SetAutoReload',
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const amount = requireBalance('amount', request.amount);
        const threshold = requireBalance('threshold', request.threshold);
        const operatorId = requireId('operator_id', request.operatorId);
        if (amount.currency !== threshold.currency) throw invalidArgument('threshold and amount must be in one currency');
        let autoReload: AutoReload | undefined;
        if (amount.amountMinor > 0) {
          if (!/^[A-Za-z0-9._-]{1,100}$/.test(request.mandateReference))
            throw invalidArgument('mandate_reference must be 1-100 of A-Z a-z 0-9 . _ -');
          if (deps.psp === undefined) throw failedPrecondition('auto-reload needs TAPLINE_PSP_SECRET configured on the node');
          autoReload = { thresholdMinor: threshold.amountMinor, amountMinor: amount.amountMinor, mandate: request.mandateReference };
        }
        region.setAutoReload(cardId, autoReload, operatorId, reply);
      },
      (state) => ({ card: cardInfo(state, deps.clock()) }),
    ),

    setPin: unary<SetPinRequest, SetPinResponse, CardState>(
      deps,
      'SetPin',
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const newPin = parsePin(request.newPin);
        if (newPin === undefined) throw invalidArgument('new_pin is required');
        const oldPin = parsePin(request.oldPin);
        const operatorId = request.reset ? requireId('operator_id', request.operatorId) : optionalId('operator_id', request.operatorId, '');
        const hasher = deps.pinHasher;
        if (hasher === undefined) throw failedPrecondition('PINs need TAPLINE_PIN_SECRET configured on the node');
        region.setPin(
          cardId,
          hasher.hash(cardId, newPin),
          oldPin === undefined ? undefined : hasher.hash(cardId, oldPin),
          request.reset,
          operatorId,
          reply,
        );
      },
      (state) => ({ card: cardInfo(state, deps.clock()) }),
    ),

    setTabLimit: unary<SetTabLimitRequest, SetTabLimitResponse, CardState>(
      deps,
      'SetTabLimit',
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const limit = requireBalance('limit', request.limit);
        const operatorId = requireId('operator_id', request.operatorId);
        region.balance(cardId, (card) => {
          if (!card.ok) return reply(card);
          if (card.value.currency !== limit.currency)
            return reply({ ok: false, error: invalidArgument("limit.currency is not the card's currency") });
          region.setTabLimit(cardId, limit.amountMinor, operatorId, reply);
        });
      },
      (state) => ({ card: cardInfo(state, deps.clock()) }),
    ),

    settleTab: unary<SettleTabRequest, SettleTabResponse, TxnAnswer>(
      deps,
      'SettleTab',
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const { amountMinor, currency } = requireAmount('amount', request.amount);
        const method = settlement_methods.get(request.method);
        if (method === undefined) throw invalidArgument('method must be INVOICE or DIRECT_DEBIT');
        if (!/^[A-Za-z0-9._:-]{1,100}$/.test(request.reference)) throw invalidArgument('reference must be 1-100 of A-Z a-z 0-9 . _ : -');
        const operatorId = optionalId('operator_id', request.operatorId, '');
        const settlement: Omit<MoneyRequest, 'fingerprint'> = {
          kind: 'tab_settlement',
          key: clientKey(`tab:${request.reference}`),
          cardId,
          terminalId: '',
          amountMinor,
          currency,
          source: method,
          operatorId,
          originalKey: '',
        };
        region.money({ ...settlement, fingerprint: fingerprintOf(settlement) }, reply);
      },
      ({ result, replayed }) => ({
        outcome: result.outcome === 'approved' ? WireOutcome.OUTCOME_APPROVED : WireOutcome.OUTCOME_DECLINED,
        declineReason: wireDeclineReason(result.reason ?? ''),
        transactionId: result.id,
        balance: { amountMinor: BigInt(result.ledgerAfterMinor ?? 0), currency: result.currency },
        replayed,
      }),
    ),

    registerManager: unary<RegisterManagerRequest, RegisterManagerResponse, { merchantId: string; managerId: string }>(
      deps,
      'RegisterManager',
      (request, reply) => {
        const merchantId = requireId('merchant_id', request.merchantId);
        const managerId = requireId('manager_id', request.managerId);
        const pin = parsePin(request.pin);
        if (pin === undefined) throw invalidArgument('pin is required');
        const operatorId = optionalId('operator_id', request.operatorId, '');
        if (deps.managers === undefined) throw failedPrecondition('manager PINs need TAPLINE_PIN_SECRET configured on the node');
        deps.managers.register(merchantId, managerId, pin, operatorId, deps.clock(), reply);
      },
      (value) => value,
    ),
  };
}

function cashOutRequest(cardId: string, key: string, operatorId: string): MoneyRequest {
  const request: Omit<MoneyRequest, 'fingerprint'> = {
    kind: 'cash_out',
    key,
    cardId,
    terminalId: '',
    amountMinor: 0,
    currency: '',
    source: '',
    operatorId,
    originalKey: '',
  };
  return { ...request, fingerprint: fingerprintOf(request) };
}

function toReturnResponse({ result, replayed }: TxnAnswer): ReturnCardResponse {
  const response = toVoidResponse({ result, replayed });
  return {
    outcome: response.outcome,
    declineReason: response.declineReason,
    declineRule: response.declineRule,
    transactionId: response.transactionId,
    payout: response.releasedAmount,
    replayed,
  };
}

/**
 * The end-of-event refund run: every card of the program is cashed out with the key
 * "refund-run:<run>:<card>", so running it again (after a crash, a time-out) pays nothing twice
 * and answers the same list from the stored answers.
 */
async function refundRun(deps: CardServiceDeps, programId: string, runId: string, operatorId: string): Promise<RunProgramRefundResponse> {
  const cardIds = await deps.programCards.cardsOf(programId, program_refund_cards_max);
  const payouts: Payout[] = [];
  const totals = new Map<string, bigint>();
  let skipped = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cardIds.length) {
      const cardId = cardIds[next++] as string;
      const request: RefundRunCashOut = { cardId, key: clientKey(`refund-run:${runId}:${cardId}`), operatorId };
      const answer = await callOwner(deps.owners, card_fanout_service.refundRunCashOut, request);
      if (!answer.approved) {
        skipped += 1;
        continue;
      }
      const amount = BigInt(answer.amountMinor);
      payouts.push({
        cardId,
        payout: { amountMinor: amount, currency: answer.currency },
        named: answer.named,
        transactionId: answer.transactionId,
      });
      totals.set(answer.currency, (totals.get(answer.currency) ?? 0n) + amount);
    }
  };
  await Promise.all(Array.from({ length: Math.min(program_refund_concurrency, cardIds.length) }, worker));
  payouts.sort((a, b) => (a.cardId < b.cardId ? -1 : a.cardId > b.cardId ? 1 : 0));
  return { runId, payouts, skipped, totals: [...totals].sort().map(([currency, amountMinor]) => ({ amountMinor, currency })) };
}

/**
 * Issues every card (at most bulk_issue_concurrency at once), then writes the issuance record.
 * A retry with the same issuance id re-issues nothing: each card is idempotent by id (same
 * fields: already existed), and the record is compared, not overwritten.
 */
function bulkIssue(
  deps: CardServiceDeps,
  issuanceId: string,
  cardIds: string[],
  params: IssueParams,
  operatorId: string,
  nowMs: number,
  reply: (outcome: Outcome<{ issuanceId: string; issued: number; alreadyExisted: number }>) => void,
): void {
  const run = async (): Promise<{ issuanceId: string; issued: number; alreadyExisted: number }> => {
    await deps.programs.ensure(params.programId);
    const profile = issueProfile(deps, params, false, '', issuanceId);
    const record: IssuanceRecord = {
      issuance: issuanceId,
      program: params.programId,
      currency: params.currency,
      initialBalanceMinor: params.initialBalanceMinor,
      depositMinor: profile.depositMinor,
      expiresAtMs: params.expiresAtMs,
      count: cardIds.length,
      cardsDigest: cardsDigest(cardIds),
      operator: operatorId,
      at: nowMs,
    };
    const existing = await deps.issuances.load(issuanceId);
    if (existing !== undefined && !sameIssuance(existing, record)) {
      throw alreadyExists('issuance id already used for other cards or parameters', { issuance: issuanceId });
    }
    let issued = 0;
    let alreadyExisted = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cardIds.length) {
        const cardId = cardIds[next++] as string;
        const request: BulkCardIssue = { command: issueCommand(cardId, params, profile, nowMs), operatorId };
        const answer = await callOwner(deps.owners, card_fanout_service.issueBulkCard, request);
        if (answer.alreadyExisted) alreadyExisted += 1;
        else issued += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(bulk_issue_concurrency, cardIds.length) }, worker));
    await new Promise<IssuanceRecord>((resolve, reject) =>
      deps.issuances.write(record, (outcome) => (outcome.ok ? resolve(outcome.value) : reject(outcome.error))),
    );
    return { issuanceId, issued, alreadyExisted };
  };
  run().then(
    (value) => reply({ ok: true, value }),
    (error: unknown) => reply({ ok: false, error: asError(error) }),
  );
}

/**
 * The owner's side of the fan-out calls (cluster/card-fanout-methods.ts): one card of a bulk
 * issuance, one cash-out of a refund run. Each is the card's ordinary idempotent operation (issue
 * by card id, cash-out by the run's key for the card), so a retry or a re-run moves nothing twice.
 */
export function cardFanoutHandlers(deps: CardServiceDeps): grpc.UntypedServiceImplementation {
  const issueBulkCard = unary<BulkCardIssue, BulkCardIssued, IssueAnswer>(
    deps,
    'Internal.IssueBulkCard',
    (request, reply) => {
      const { command, operatorId } = request;
      deps.programs.ensure(command.programId).then(
        () => deps.region.issueProfiledCard(command, undefined, operatorId, reply),
        (error: unknown) => reply({ ok: false, error: asError(error) }),
      );
    },
    ({ alreadyExisted }) => ({ alreadyExisted }),
  );
  const refundRunCashOut = unary<RefundRunCashOut, RefundRunCashedOut, RefundRunCashedOut>(
    deps,
    'Internal.RefundRunCashOut',
    (request, reply) => {
      deps.region.money(cashOutRequest(request.cardId, request.key, request.operatorId), (cashed) => {
        if (!cashed.ok) return reply(cashed);
        const { result } = cashed.value;
        const answer = {
          approved: result.outcome === 'approved',
          amountMinor: result.amountMinor,
          currency: result.currency,
          transactionId: result.id,
        };
        if (!answer.approved) return reply({ ok: true, value: { ...answer, named: false } });
        deps.region.balance(request.cardId, (card) =>
          reply(card.ok ? { ok: true, value: { ...answer, named: card.value.profile?.named ?? false } } : card),
        );
      });
    },
    (value) => value,
  );
  return { issueBulkCard: issueBulkCard as grpc.UntypedHandleCall, refundRunCashOut: refundRunCashOut as grpc.UntypedHandleCall };
}
