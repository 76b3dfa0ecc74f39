// gRPC handlers of CardService: programs, issuing named and anonymous cards (one or in bulk),
// audited state transitions, the issuer's view of a card, cash-outs and refund runs, PSP top-ups,
// PINs, tabs and merchant managers. Each handler decodes and validates (cards-validate.ts), calls
// the region or a use case (../usecases/), and maps the answer (cards-mapping.ts); every handler
// answers exactly once through service.ts's `unary` / `unaryAsync`.

import { failedPrecondition, invalidArgument } from '../../../actors/errors';
import type { ReplaceAnswer } from '../../../actors/card/decide';
import type { CancelIssuanceAnswer } from '../../../actors/card/issuance-cancel';
import type { IssueAnswer, TransitionAnswer } from '../../../actors/sharding/shard-region';
import type { AutoReload, CardState } from '../../../actors/card/rules';
import type { TxnAnswer } from '../../../actors/card/transaction';
import type { StoredProgram } from '../../../actors/program/config';
import type {
  BulkIssueCardsRequest,
  BulkIssueCardsResponse,
  CancelIssuanceRequest,
  CancelIssuanceResponse,
  CardServiceIssueCardRequest,
  CardServiceIssueCardResponse,
  CardServiceServer,
  ChangeCardStateRequest,
  ChangeCardStateResponse,
  CreditCardRequest,
  CreditCardResponse,
  DefineProgramRequest,
  DefineProgramResponse,
  GetCardRequest,
  GetCardResponse,
  GetProgramRequest,
  GetProgramResponse,
  HandlePspCallbackRequest,
  HandlePspCallbackResponse,
  RegisterManagerRequest,
  RegisterManagerResponse,
  ReplaceCardRequest,
  ReplaceCardResponse,
  ReturnCardRequest,
  ReturnCardResponse,
  RunProgramRefundRequest,
  RunProgramRefundResponse,
  SetAutoReloadRequest,
  SetAutoReloadResponse,
  SetPinRequest,
  SetPinResponse,
  SetTabLimitRequest,
  SetTabLimitResponse,
  SettleTabRequest,
  SettleTabResponse,
  SetCardAuthRequest,
  SetCardAuthResponse,
  RegisterCardTokenRequest,
  RegisterCardTokenResponse,
  RemoveCardTokenRequest,
  RemoveCardTokenResponse,
  StartPspTopUpRequest,
  StartPspTopUpResponse,
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
import { optionalId, parseBankCard, requireAmount, requireBalance, requireClientKey, requireClientKeyText, requireId } from './validate';
import type { CardTokens, TokenRegistered, TokenRegistration } from '../usecases/card-tokens';
import type { TokenIndex } from '../../../actors/card/token-index';

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
    ...tabAndManagerHandlers(deps),
    setCardAuth: unary<SetCardAuthRequest, SetCardAuthResponse, CardState>(
      deps,
      'SetCardAuth',
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const keyId = parseKeyId('key_id', request.keyId);
        const operatorId = requireId('operator_id', request.operatorId);
        requireKeyHeld(deps, keyId);
        deps.region.setCardAuth(cardId, keyId, request.counter, operatorId, reply);
      },
      (state: CardState) => cardReply(state, deps.clock()),
    ),
    ...bankCardHandlers(deps),
  };
}

/** Open loop: a visitor's bank card registered as a token of a card, or taken off it. */
function bankCardHandlers(deps: CardServiceDeps): Pick<CardServiceServer, 'registerCardToken' | 'removeCardToken'> {
  const parse = (request: RegisterCardTokenRequest | RemoveCardTokenRequest): TokenRegistration => ({
    cardId: requireId('card_id', request.cardId),
    bankCard: parseBankCard('bank_card', request.bankCard),
    operatorId: requireId('operator_id', request.operatorId),
  });
  const answer = ({ cardId, programId, bankCards }: TokenRegistered): RegisterCardTokenResponse => ({ cardId, programId, bankCards });
  return {
    registerCardToken: unaryAsync<RegisterCardTokenRequest, RegisterCardTokenResponse, TokenRegistered>(
      deps,
      'RegisterCardToken',
      (request) => deps.cardTokens.register(parse(request)),
      answer,
    ),
    removeCardToken: unaryAsync<RemoveCardTokenRequest, RemoveCardTokenResponse, TokenRegistered>(
      deps,
      'RemoveCardToken',
      (request) => deps.cardTokens.remove(parse(request)),
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
      (request, reply) => {
        const programId = requireId('program_id', request.programId);
        const config = parseProgramConfig(request.config);
        requireKeyHeld(deps, config.cardAuthKeyId);
        deps.programs.define(programId, config, optionalId('operator_id', request.operatorId, ''), reply);
      },
      (program) => ({ programId: program.programId, version: BigInt(program.version) }),
    ),
    getProgram: unaryAsync<GetProgramRequest, GetProgramResponse, StoredProgram>(
      deps,
      'GetProgram',
      (request) => deps.programs.load(requireId('program_id', request.programId)),
      (program) => ({ programId: program.programId, config: wireProgram(program.config), version: BigInt(program.version) }),
    ),
    issueCard: unaryAsync<CardServiceIssueCardRequest, CardServiceIssueCardResponse, IssueAnswer>(
      deps,
      'CardService.IssueCard',
      (request) => {
        const cardId = requireId('card_id', request.cardId);
        const nowMs = deps.clock();
        const params = parseIssueParams(request.params, nowMs);
        const holder = parseHolder(request.holder);
        const pin = parsePin(request.pin);
        const operatorId = optionalId('operator_id', request.operatorId, '');
        return deps.issuance.issue({ cardId, params, holder, pin, operatorId, nowMs });
      },
      ({ state, alreadyExisted }) => ({ card: cardInfo(state, deps.clock()), alreadyExisted }),
    ),
    bulkIssueCards: unaryAsync<BulkIssueCardsRequest, BulkIssueCardsResponse, BulkIssueResult>(
      deps,
      'BulkIssueCards',
      (request) => {
        const issuanceId = requireId('issuance_id', request.issuanceId);
        const cardIds = parseCardIds(request.cardIds);
        const nowMs = deps.clock();
        const params = parseIssueParams(request.params, nowMs);
        const operatorId = optionalId('operator_id', request.operatorId, '');
        return deps.issuance.bulkIssue({ issuanceId, cardIds, params, operatorId, nowMs });
      },
      (result) => ({ ...result }),
    ),
  };
}

/** A card's audited transitions, the issuer's view, replacement, return and the program's refund run. */
function lifecycleHandlers(
  deps: CardServiceDeps,
): Pick<CardServiceServer, 'changeCardState' | 'getCard' | 'replaceCard' | 'returnCard' | 'runProgramRefund'> {
  return {
    changeCardState: unary<ChangeCardStateRequest, ChangeCardStateResponse, TransitionAnswer>(
      deps,
      'ChangeCardState',
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const action = parseCardAction(request.action);
        const reason = requireReason(request.reason);
        const operatorId = requireId('operator_id', request.operatorId);
        const approverId = optionalId('approver_id', request.approverId, '');
        deps.region.changeCardState(cardId, { action, operatorId, approverId }, reason, reply);
      },
      ({ state, previous }) => ({ cardId: state.cardId, status: wireCardStatus(state.status), previous: wireCardStatus(previous) }),
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
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const replacementId = requireId('replacement_card_id', request.replacementCardId);
        if (replacementId === cardId) throw invalidArgument('a card cannot replace itself');
        const reason = requireReason(request.reason);
        const operatorId = requireId('operator_id', request.operatorId);
        deps.region.replaceCard(cardId, replacementId, reason, operatorId, reply);
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
        deps.region.money(cashOutRequest(cardId, key, operatorId), reply);
      },
      toReturnResponse,
    ),
    runProgramRefund: unaryAsync<RunProgramRefundRequest, RunProgramRefundResponse, RefundRunResult>(
      deps,
      'RunProgramRefund',
      (request) => {
        const programId = requireId('program_id', request.programId);
        const runId = requireId('run_id', request.runId);
        const operatorId = requireId('operator_id', request.operatorId);
        return deps.refundRun.run({ programId, runId, operatorId });
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
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const reason = requireReason(request.reason);
        const operatorId = requireId('operator_id', request.operatorId);
        deps.region.cancelIssuance(cardId, { reason, operatorId }, reply);
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

/** PSP top-ups and mandates, and PINs. */
function paymentHandlers(
  deps: CardServiceDeps,
): Pick<CardServiceServer, 'startPspTopUp' | 'handlePspCallback' | 'setAutoReload' | 'creditCard' | 'setPin'> {
  return {
    startPspTopUp: unaryAsync<StartPspTopUpRequest, StartPspTopUpResponse, { reference: string; paymentUrl: string }>(
      deps,
      'StartPspTopUp',
      (request) => {
        const cardId = requireId('card_id', request.cardId);
        const { amountMinor, currency } = requireAmount('amount', request.amount);
        return deps.pspTopUps.start({ cardId, amountMinor, currency });
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
      (request) => {
        const cardId = requireId('card_id', request.cardId);
        const amount = requireBalance('amount', request.amount);
        const threshold = requireBalance('threshold', request.threshold);
        const operatorId = requireId('operator_id', request.operatorId);
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
        return deps.pspTopUps.setAutoReload({ cardId, autoReload, operatorId });
      },
      (state: CardState) => cardReply(state, deps.clock()),
    ),

    creditCard: unaryAsync<CreditCardRequest, CreditCardResponse, TxnAnswer>(
      deps,
      'CreditCard',
      (request) => {
        const cardId = requireId('card_id', request.cardId);
        const { amountMinor, currency } = requireAmount('amount', request.amount);
        const key = requireClientKeyText('idempotency_key', request.idempotencyKey);
        const operatorId = requireId('operator_id', request.operatorId);
        return deps.credits.credit({ cardId, amountMinor, currency, key, operatorId });
      },
      toCreditCardResponse,
    ),

    setPin: unaryAsync<SetPinRequest, SetPinResponse, CardState>(
      deps,
      'SetPin',
      (request) => {
        const cardId = requireId('card_id', request.cardId);
        const newPin = parsePin(request.newPin);
        if (newPin === undefined) throw invalidArgument('new_pin is required');
        const oldPin = parsePin(request.oldPin);
        const operatorId = request.reset ? requireId('operator_id', request.operatorId) : optionalId('operator_id', request.operatorId, '');
        return deps.pins.setPin({ cardId, newPin, oldPin, reset: request.reset, operatorId });
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
      (request) => {
        const cardId = requireId('card_id', request.cardId);
        const limit = requireBalance('limit', request.limit);
        const operatorId = requireId('operator_id', request.operatorId);
        return deps.tabs.setLimit({ cardId, limitMinor: limit.amountMinor, currency: limit.currency, operatorId });
      },
      (state: CardState) => cardReply(state, deps.clock()),
    ),
    settleTab: unaryAsync<SettleTabRequest, SettleTabResponse, TxnAnswer>(
      deps,
      'SettleTab',
      (request) => {
        const cardId = requireId('card_id', request.cardId);
        const { amountMinor, currency } = requireAmount('amount', request.amount);
        const method = parseSettlementMethod(request.method);
        const reference = parseSettlementReference(request.reference);
        const operatorId = optionalId('operator_id', request.operatorId, '');
        return deps.tabs.settle({ cardId, amountMinor, currency, method, reference, operatorId });
      },
      toSettleTabResponse,
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

/** The reply of the calls that answer with the card as it is now. */
function cardReply(state: CardState, nowMs: number): { card: ReturnType<typeof cardInfo> } {
  return { card: cardInfo(state, nowMs) };
}
