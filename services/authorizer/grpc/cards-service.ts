// gRPC handlers of CardService: programs, issuing named and anonymous cards (one or in bulk),
// audited state transitions, the issuer's view of a card, cash-outs and refund runs, PSP top-ups,
// PINs, tabs and merchant managers. Each handler decodes and validates (cards-validate.ts), calls
// the region or a use case (../usecases/), and maps the answer (cards-mapping.ts); every handler
// answers exactly once through service.ts's `unary` / `unaryAsync`.

import { failedPrecondition, invalidArgument } from '../../../actors/errors';
import type { ReplaceAnswer } from '../../../actors/card/decide';
import type { CancelIssuanceAnswer } from '../../../actors/card/issuance-cancel';
import type { IssueAnswer, TransitionAnswer } from '../../../actors/sharding/shard-region';
import type { Metadata } from '@grpc/grpc-js';
import type { AutoReload, CardState } from '../../../actors/card/rules';
import type { TxnAnswer } from '../../../actors/card/transaction';
import type { StoredProgram } from '../../../actors/program/config';
import {
  BulkIssueCardsResponse,
  type CancelIssuanceRequest,
  type CancelIssuanceResponse,
  CardServiceIssueCardResponse,
  ChangeCardStateResponse,
  type BulkIssueCardsRequest,
  type CardServiceIssueCardRequest,
  type CardServiceServer,
  type ChangeCardStateRequest,
  type CreditCardRequest,
  CreditCardResponse,
  type DefineProgramRequest,
  type DefineProgramResponse,
  type GetCardRequest,
  type GetCardResponse,
  type GetProgramRequest,
  type GetProgramResponse,
  type HandlePspCallbackRequest,
  type HandlePspCallbackResponse,
  type RegisterManagerRequest,
  type RegisterManagerResponse,
  type ReplaceCardRequest,
  type ReplaceCardResponse,
  type ReturnCardRequest,
  type ReturnCardResponse,
  type RunProgramRefundRequest,
  type RunProgramRefundResponse,
  type SetAutoReloadRequest,
  type SetAutoReloadResponse,
  type SetPinRequest,
  type SetPinResponse,
  type VerifyPinRequest,
  type VerifyPinResponse,
  type SetTabLimitRequest,
  type SetTabLimitResponse,
  type SettleTabRequest,
  type SettleTabResponse,
  type StartPspTopUpRequest,
  type StartPspTopUpResponse,
  type SetCardAuthRequest,
  type SetCardAuthResponse,
  type RegisterCardTokenRequest,
  type RegisterCardTokenResponse,
  type RemoveCardTokenRequest,
  type RemoveCardTokenResponse,
} from '../../../gen/tapline/v1/cards';
import type { ProgramCards } from '../store/program-cards';
import type { BulkIssueResult, CardIssuance } from '../usecases/card-issuance';
import type { PspCallbackAnswer, PspTopUps } from '../usecases/psp-top-ups';
import { cashOutRequest, type ProgramRefundRun, type RefundRunResult } from '../usecases/refund-run';
import type { CardTabs } from '../usecases/tabs';
import type { ManualCredits } from '../usecases/credits';
import {
  cardInfo,
  toCreditCardResponse,
  toPspCallbackResponse,
  toRefundRunResponse,
  toReturnResponse,
  toSettleTabResponse,
  wireProgram,
} from './cards-mapping';
import {
  parseCardAction,
  parseCardIds,
  parseHolder,
  parseIssueParams,
  parseMandateReference,
  parsePin,
  parseProgramConfig,
  parseSettlementMethod,
  parseSettlementReference,
  requireReason,
} from './cards-validate';
import { wireCardStatus } from './mapping';
import { programReviewHandlers } from './program-review-service';
import { parseKeyId } from './card-fanout-validate';
import { unary, unaryAsync, type ServiceDeps } from './service';
import { actingOf } from '../../common/auth/grpc-access';
import { outcomeOf } from '../usecases/outcome';
import { parseBankCard, requireAmount, requireBalance, requireClientKey, requireClientKeyText, requireId } from './validate';
import type { CardTokens, TokenRegistered, TokenRegistration } from '../usecases/card-tokens';
import type { TokenIndex } from '../../../actors/card/token-index';

/** A request held for a second principal: its approval's id (nothing else happened). */
interface Pending {
  readonly pendingApprovalId: string;
}

/** The node's card authentication master keys, by id (usecases/card-auth.ts); only whether one is held is asked here. */
export interface CardAuthKeyIds {
  has(keyId: string): boolean;
}

export interface CardServiceDeps extends ServiceDeps {
  /** Undefined when TAPLINE_CARD_AUTH_KEYS is not set: no program or card can name a key. */
  readonly cardAuthKeys: CardAuthKeyIds | undefined;
  /** Open loop: registering visitors' bank cards as tokens of cards. */
  readonly cardTokens: Pick<CardTokens, 'register' | 'remove'>;
  /** The tokens' index, written on a token's owner (the fan-out's IndexCardToken). */
  readonly tokenIndex: Pick<TokenIndex, 'change'>;
  readonly issuance: CardIssuance;
  readonly refundRun: ProgramRefundRun;
  readonly pspTopUps: PspTopUps;
  readonly tabs: CardTabs;
  /** Manual credits by operators (CreditCard). */
  readonly credits: ManualCredits;
  /** Program review listings read the program's cards (program-review-service.ts). */
  readonly programCards: ProgramCards;
}

export function cardService(deps: CardServiceDeps): CardServiceServer {
  return {
    // Program rules of plain cards (program-review-service.ts).
    ...programReviewHandlers(deps),
    ...programAndIssuanceHandlers(deps),
    ...lifecycleHandlers(deps),
    ...issuanceCancelHandlers(deps),
    ...paymentHandlers(deps),
    ...pinHandlers(deps),
    ...tabAndManagerHandlers(deps),
    setCardAuth: unary<SetCardAuthRequest, SetCardAuthResponse, CardState>(
      deps,
      'SetCardAuth',
      (request, reply, call) => {
        const cardId = requireId('card_id', request.cardId);
        const keyId = parseKeyId('key_id', request.keyId);
        requireKeyHeld(deps, keyId);
        deps.region.setCardAuth(cardId, keyId, request.counter, actingOf(call), reply);
      },
      (state: CardState) => cardReply(state, deps.clock()),
    ),
    ...bankCardHandlers(deps),
  };
}

/** Open loop: a visitor's bank card registered as a token of a card, or taken off it. */
function bankCardHandlers(deps: CardServiceDeps): Pick<CardServiceServer, 'registerCardToken' | 'removeCardToken'> {
  const parse = (
    request: RegisterCardTokenRequest | RemoveCardTokenRequest,
    call: { readonly metadata: Metadata; getPath(): string },
  ): TokenRegistration => ({
    cardId: requireId('card_id', request.cardId),
    bankCard: parseBankCard('bank_card', request.bankCard),
    acting: actingOf(call),
  });
  const answer = ({ cardId, programId, bankCards }: TokenRegistered): RegisterCardTokenResponse => ({ cardId, programId, bankCards });
  return {
    registerCardToken: unaryAsync<RegisterCardTokenRequest, RegisterCardTokenResponse, TokenRegistered>(
      deps,
      'RegisterCardToken',
      (request, call) => deps.cardTokens.register(parse(request, call)),
      answer,
    ),
    removeCardToken: unaryAsync<RemoveCardTokenRequest, RemoveCardTokenResponse, TokenRegistered>(
      deps,
      'RemoveCardToken',
      (request, call) => deps.cardTokens.remove(parse(request, call)),
      answer,
    ),
  };
}

/** A key id a program or card names must be one this node holds (all nodes hold the same keys). */
function requireKeyHeld(deps: CardServiceDeps, keyId: string): void {
  if (keyId !== '' && deps.cardAuthKeys?.has(keyId) !== true)
    throw failedPrecondition(`no card authentication key ${keyId} is configured (TAPLINE_CARD_AUTH_KEYS)`, { keyId });
}

/** Programs and issuing cards, one or in bulk. */
function programAndIssuanceHandlers(
  deps: CardServiceDeps,
): Pick<CardServiceServer, 'defineProgram' | 'getProgram' | 'issueCard' | 'bulkIssueCards'> {
  return {
    defineProgram: unary<DefineProgramRequest, DefineProgramResponse, StoredProgram>(
      deps,
      'DefineProgram',
      (request, reply, call) => {
        const programId = requireId('program_id', request.programId);
        const config = parseProgramConfig(request.config);
        requireKeyHeld(deps, config.cardAuthKeyId);
        deps.programs.define(programId, config, actingOf(call), reply);
      },
      (program) => ({ programId: program.programId, version: BigInt(program.version) }),
    ),
    getProgram: unaryAsync<GetProgramRequest, GetProgramResponse, StoredProgram>(
      deps,
      'GetProgram',
      (request) => deps.programs.load(requireId('program_id', request.programId)),
      (program) => ({ programId: program.programId, config: wireProgram(program.config), version: BigInt(program.version) }),
    ),
    issueCard: unaryAsync<CardServiceIssueCardRequest, CardServiceIssueCardResponse, IssueAnswer | Pending>(
      deps,
      'CardService.IssueCard',
      async (request, call) => {
        const cardId = requireId('card_id', request.cardId);
        const nowMs = deps.clock();
        const params = parseIssueParams(request.params, nowMs);
        const holder = parseHolder(request.holder);
        const pin = parsePin(request.pin);
        // A large initial balance waits for a second principal (four eyes).
        const pendingApprovalId = await deps.approvals.holdIfNeeded(call);
        if (pendingApprovalId !== undefined) return { pendingApprovalId };
        return deps.issuance.issue({ cardId, params, holder, pin, acting: actingOf(call), nowMs });
      },
      (value) =>
        'pendingApprovalId' in value
          ? CardServiceIssueCardResponse.fromPartial({ pendingApprovalId: value.pendingApprovalId })
          : { card: cardInfo(value.state, deps.clock()), alreadyExisted: value.alreadyExisted, pendingApprovalId: '' },
    ),
    bulkIssueCards: unaryAsync<BulkIssueCardsRequest, BulkIssueCardsResponse, BulkIssueResult | (Pending & { issuanceId: string })>(
      deps,
      'BulkIssueCards',
      async (request, call) => {
        const issuanceId = requireId('issuance_id', request.issuanceId);
        const cardIds = parseCardIds(request.cardIds);
        const nowMs = deps.clock();
        const params = parseIssueParams(request.params, nowMs);
        const pendingApprovalId = await deps.approvals.holdIfNeeded(call);
        if (pendingApprovalId !== undefined) return { pendingApprovalId, issuanceId };
        return deps.issuance.bulkIssue({ issuanceId, cardIds, params, acting: actingOf(call), nowMs });
      },
      (result) =>
        'pendingApprovalId' in result
          ? BulkIssueCardsResponse.fromPartial({ issuanceId: result.issuanceId, pendingApprovalId: result.pendingApprovalId })
          : { ...result, pendingApprovalId: '' },
    ),
  };
}

/** A card's audited transitions, the issuer's view, replacement, return and the program's refund run. */
function lifecycleHandlers(
  deps: CardServiceDeps,
): Pick<CardServiceServer, 'changeCardState' | 'getCard' | 'replaceCard' | 'returnCard' | 'runProgramRefund'> {
  return {
    changeCardState: unaryAsync<ChangeCardStateRequest, ChangeCardStateResponse, TransitionAnswer | (Pending & { cardId: string })>(
      deps,
      'ChangeCardState',
      async (request, call) => {
        const cardId = requireId('card_id', request.cardId);
        const action = parseCardAction(request.action);
        const reason = requireReason(request.reason);
        // An unblock waits for a second principal (four eyes); the approver is recorded with it.
        const pendingApprovalId = await deps.approvals.holdIfNeeded(call);
        if (pendingApprovalId !== undefined) return { pendingApprovalId, cardId };
        return outcomeOf<TransitionAnswer>((reply) => deps.region.changeCardState(cardId, action, reason, actingOf(call), reply));
      },
      (value) =>
        'pendingApprovalId' in value
          ? ChangeCardStateResponse.fromPartial({ cardId: value.cardId, pendingApprovalId: value.pendingApprovalId })
          : {
              cardId: value.state.cardId,
              status: wireCardStatus(value.state.status),
              previous: wireCardStatus(value.previous),
              pendingApprovalId: '',
            },
    ),
    getCard: unary<GetCardRequest, GetCardResponse, CardState>(
      deps,
      'GetCard',
      (request, reply) => deps.region.balance(requireId('card_id', request.cardId), reply),
      (state: CardState) => cardReply(state, deps.clock()),
    ),
    replaceCard: unary<ReplaceCardRequest, ReplaceCardResponse, ReplaceAnswer>(
      deps,
      'ReplaceCard',
      (request, reply, call) => {
        const cardId = requireId('card_id', request.cardId);
        const replacementId = requireId('replacement_card_id', request.replacementCardId);
        if (replacementId === cardId) throw invalidArgument('a card cannot replace itself');
        const reason = requireReason(request.reason);
        deps.region.replaceCard(cardId, replacementId, reason, actingOf(call), reply);
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
      (request, reply, call) => {
        const cardId = requireId('card_id', request.cardId);
        const key = requireClientKey('idempotency_key', request.idempotencyKey);
        deps.region.money(cashOutRequest(cardId, key, actingOf(call)), reply);
      },
      toReturnResponse,
    ),
    runProgramRefund: unaryAsync<RunProgramRefundRequest, RunProgramRefundResponse, RefundRunResult>(
      deps,
      'RunProgramRefund',
      (request, call) => {
        const programId = requireId('program_id', request.programId);
        const runId = requireId('run_id', request.runId);
        return deps.refundRun.run({ programId, runId, acting: actingOf(call) });
      },
      toRefundRunResponse,
    ),
  };
}

/** Cancelling a card's issuance (actors/card/issuance-cancel.ts): the card goes back to stock. */
function issuanceCancelHandlers(deps: CardServiceDeps): Pick<CardServiceServer, 'cancelIssuance'> {
  return {
    cancelIssuance: unary<CancelIssuanceRequest, CancelIssuanceResponse, CancelIssuanceAnswer>(
      deps,
      'CancelIssuance',
      (request, reply, call) => {
        const cardId = requireId('card_id', request.cardId);
        const reason = requireReason(request.reason);
        deps.region.cancelIssuance(cardId, reason, actingOf(call), reply);
      },
      (answer) => ({
        cardId: answer.cardId,
        previous: wireCardStatus(answer.previous),
        balance: { amountMinor: BigInt(answer.balanceMinor), currency: answer.currency },
        deposit: { amountMinor: BigInt(answer.depositMinor), currency: answer.currency },
        alreadyUnissued: answer.alreadyUnissued,
      }),
    ),
  };
}

/** PSP top-ups and mandates, and manual credits. */
function paymentHandlers(
  deps: CardServiceDeps,
): Pick<CardServiceServer, 'startPspTopUp' | 'handlePspCallback' | 'setAutoReload' | 'creditCard'> {
  return {
    startPspTopUp: unaryAsync<StartPspTopUpRequest, StartPspTopUpResponse, { reference: string; paymentUrl: string }>(
      deps,
      'StartPspTopUp',
      (request) => {
        const cardId = requireId('card_id', request.cardId);
        const { amountMinor, currency } = requireAmount('amount', request.amount);
        const setup = request.autoReload;
        if (setup === undefined) return deps.pspTopUps.start({ cardId, amountMinor, currency });
        const threshold = requireBalance('auto_reload.threshold', setup.threshold);
        const reload = requireAmount('auto_reload.amount', setup.amount);
        if (threshold.currency !== currency || reload.currency !== currency)
          throw invalidArgument('auto_reload is in the currency of the top-up');
        return deps.pspTopUps.start({
          cardId,
          amountMinor,
          currency,
          autoReload: { thresholdMinor: threshold.amountMinor, amountMinor: reload.amountMinor },
        });
      },
      ({ reference, paymentUrl }) => ({ pspReference: reference, paymentUrl }),
    ),
    handlePspCallback: unaryAsync<HandlePspCallbackRequest, HandlePspCallbackResponse, PspCallbackAnswer>(
      deps,
      'HandlePspCallback',
      (request) => deps.pspTopUps.handleCallback(request.payload, request.signature),
      toPspCallbackResponse,
    ),
    setAutoReload: unaryAsync<SetAutoReloadRequest, SetAutoReloadResponse, CardState>(
      deps,
      'SetAutoReload',
      (request, call) => {
        const cardId = requireId('card_id', request.cardId);
        const amount = requireBalance('amount', request.amount);
        const threshold = requireBalance('threshold', request.threshold);
        if (amount.currency !== threshold.currency) throw invalidArgument('threshold and amount must be in one currency');
        // An amount of 0 removes the mandate.
        const autoReload: AutoReload | undefined =
          amount.amountMinor > 0
            ? {
                thresholdMinor: threshold.amountMinor,
                amountMinor: amount.amountMinor,
                mandate: parseMandateReference(request.mandateReference),
              }
            : undefined;
        return deps.pspTopUps.setAutoReload({ cardId, autoReload, acting: actingOf(call) });
      },
      (state: CardState) => cardReply(state, deps.clock()),
    ),

    creditCard: unaryAsync<CreditCardRequest, CreditCardResponse, TxnAnswer | Pending>(
      deps,
      'CreditCard',
      async (request, call) => {
        const cardId = requireId('card_id', request.cardId);
        const { amountMinor, currency } = requireAmount('amount', request.amount);
        const key = requireClientKeyText('idempotency_key', request.idempotencyKey);
        // Every manual credit waits for a second principal (four eyes); the approved one runs here.
        const pendingApprovalId = await deps.approvals.holdIfNeeded(call);
        if (pendingApprovalId !== undefined) return { pendingApprovalId };
        return deps.credits.credit({ cardId, amountMinor, currency, key, acting: actingOf(call) });
      },
      (value) =>
        'pendingApprovalId' in value
          ? CreditCardResponse.fromPartial({ pendingApprovalId: value.pendingApprovalId })
          : toCreditCardResponse(value),
    ),
  };
}

/** PINs: changed with the current one or reset by the desk, and checked without a change. */
function pinHandlers(deps: CardServiceDeps): Pick<CardServiceServer, 'setPin' | 'verifyPin'> {
  return {
    setPin: unaryAsync<SetPinRequest, SetPinResponse, CardState>(
      deps,
      'SetPin',
      (request, call) => {
        const cardId = requireId('card_id', request.cardId);
        const newPin = parsePin(request.newPin);
        if (newPin === undefined) throw invalidArgument('new_pin is required');
        const oldPin = parsePin(request.oldPin);
        return deps.pins.setPin({ cardId, newPin, oldPin, reset: request.reset, acting: actingOf(call) });
      },
      (state: CardState) => cardReply(state, deps.clock()),
    ),
    verifyPin: unaryAsync<VerifyPinRequest, VerifyPinResponse, CardState>(
      deps,
      'VerifyPin',
      (request, call) => {
        const cardId = requireId('card_id', request.cardId);
        const pin = parsePin(request.pin);
        if (pin === undefined) throw invalidArgument('pin is required');
        return deps.pins.verifyPin(cardId, pin, actingOf(call));
      },
      (state: CardState) => cardReply(state, deps.clock()),
    ),
  };
}

/** On-tab accounts and merchant managers. */
function tabAndManagerHandlers(deps: CardServiceDeps): Pick<CardServiceServer, 'setTabLimit' | 'settleTab' | 'registerManager'> {
  return {
    setTabLimit: unaryAsync<SetTabLimitRequest, SetTabLimitResponse, CardState>(
      deps,
      'SetTabLimit',
      (request, call) => {
        const cardId = requireId('card_id', request.cardId);
        const limit = requireBalance('limit', request.limit);
        return deps.tabs.setLimit({ cardId, limitMinor: limit.amountMinor, currency: limit.currency, acting: actingOf(call) });
      },
      (state: CardState) => cardReply(state, deps.clock()),
    ),
    settleTab: unaryAsync<SettleTabRequest, SettleTabResponse, TxnAnswer>(
      deps,
      'SettleTab',
      (request, call) => {
        const cardId = requireId('card_id', request.cardId);
        const { amountMinor, currency } = requireAmount('amount', request.amount);
        const method = parseSettlementMethod(request.method);
        const reference = parseSettlementReference(request.reference);
        return deps.tabs.settle({ cardId, amountMinor, currency, method, reference, acting: actingOf(call) });
      },
      toSettleTabResponse,
    ),
    registerManager: unary<RegisterManagerRequest, RegisterManagerResponse, { merchantId: string; managerId: string }>(
      deps,
      'RegisterManager',
      (request, reply, call) => {
        const merchantId = requireId('merchant_id', request.merchantId);
        const managerId = requireId('manager_id', request.managerId);
        const pin = parsePin(request.pin);
        if (pin === undefined) throw invalidArgument('pin is required');
        if (deps.managers === undefined) throw failedPrecondition('manager PINs need TAPLINE_PIN_SECRET configured on the node');
        deps.managers.register(merchantId, managerId, pin, actingOf(call), deps.clock(), reply);
      },
      (value) => value,
    ),
  };
}

/** The reply of the calls that answer with the card as it is now. */
function cardReply(state: CardState, nowMs: number): { card: ReturnType<typeof cardInfo> } {
  return { card: cardInfo(state, nowMs) };
}
