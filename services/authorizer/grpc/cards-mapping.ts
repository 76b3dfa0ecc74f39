// CardService answers to wire messages: the issuer's view of a card, a program, and the replies of
// the cash-out, PSP, manual credit, refund run and tab calls. Pure functions, no validation (cards-validate.ts).

import { liveHeldMinor } from '../../../actors/card/holds';
import type { CardAuthState } from '../../../actors/card/card-auth';
import type { CardState } from '../../../actors/card/rules';
import type { TxnAnswer } from '../../../actors/card/transaction';
import type { ProgramConfig } from '../../../actors/program/config';
import type {
  CardAuthInfo,
  CardInfo,
  CreditCardResponse,
  HandlePspCallbackResponse,
  ProgramConfig as WireProgramConfig,
  ReturnCardResponse,
  RunProgramRefundResponse,
  SettleTabResponse,
} from '../../../gen/tapline/v1/cards';
import { Outcome as WireOutcome } from '../../../gen/tapline/v1/types';
import type { PspCallbackAnswer } from '../usecases/psp-top-ups';
import type { RefundRunResult } from '../usecases/refund-run';
import { toTopUpResponse, toVoidResponse, wireCardStatus, wireDeclineReason } from './mapping';
import { wireProgramRules } from './program-rules-wire';

export function wireProgram(config: ProgramConfig): WireProgramConfig {
  return {
    pinRequired: config.pinRequired,
    maxBalanceMinor: BigInt(config.maxBalanceMinor),
    maxTopUpMinor: BigInt(config.maxTopUpMinor),
    holdExpiryMs: BigInt(config.holdExpiryMs),
    completionToleranceBp: config.completionToleranceBp,
    depositMinor: BigInt(config.depositMinor),
    pinAttemptsMax: config.pinAttemptsMax,
    partialHolds: config.partialHolds,
    cardAuthKeyId: config.cardAuthKeyId,
    ...(config.rules === undefined ? {} : { rules: wireProgramRules(config.rules) }),
    ...(config.offline === undefined
      ? {}
      : {
          offline: {
            txnMaxMinor: BigInt(config.offline.txnMaxMinor),
            cardMaxMinor: BigInt(config.offline.cardMaxMinor),
            debtThresholdMinor: BigInt(config.offline.debtThresholdMinor),
            cardCounter: config.offline.cardCounter,
          },
        }),
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
    bankCards: state.tokens?.length ?? 0,
    ...(state.auth === undefined ? {} : { auth: cardAuthInfo(state.auth) }),
    // The mandate's end only: whoever may read the card sees which mandate, not a reference to charge.
    ...(profile?.autoReload === undefined
      ? {}
      : {
          autoReload: {
            threshold: money(profile.autoReload.thresholdMinor),
            amount: money(profile.autoReload.amountMinor),
            mandateEnding: profile.autoReload.mandate.slice(-4),
          },
        }),
  };
}

function cardAuthInfo(auth: CardAuthState): CardAuthInfo {
  return {
    keyId: auth.keyId,
    counter: auth.counter,
    flags: auth.flags,
    lastFlagReason: auth.lastFlag?.reason ?? '',
    lastFlagAtUnixMs: BigInt(auth.lastFlag?.atMs ?? 0),
    lastFlagTerminalId: auth.lastFlag?.terminalId ?? '',
  };
}

export function toReturnResponse({ result, replayed }: TxnAnswer): ReturnCardResponse {
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

export function toPspCallbackResponse(value: PspCallbackAnswer): HandlePspCallbackResponse {
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
}

export function toRefundRunResponse(run: RefundRunResult): RunProgramRefundResponse {
  return {
    runId: run.runId,
    payouts: run.payouts.map((payout) => ({
      cardId: payout.cardId,
      payout: { amountMinor: BigInt(payout.amountMinor), currency: payout.currency },
      named: payout.named,
      transactionId: payout.transactionId,
    })),
    skipped: run.skipped,
    totals: run.totals.map(({ currency, amountMinor }) => ({ amountMinor, currency })),
  };
}

export function toCreditCardResponse({ result, replayed }: TxnAnswer): CreditCardResponse {
  return {
    outcome: result.outcome === 'approved' ? WireOutcome.OUTCOME_APPROVED : WireOutcome.OUTCOME_DECLINED,
    declineReason: wireDeclineReason(result.reason ?? ''),
    declineRule: result.rule ?? '',
    transactionId: result.id,
    balanceAfter: { amountMinor: BigInt(result.balanceAfterMinor), currency: result.currency },
    replayed,
    pendingApprovalId: '',
  };
}

export function toSettleTabResponse({ result, replayed }: TxnAnswer): SettleTabResponse {
  return {
    outcome: result.outcome === 'approved' ? WireOutcome.OUTCOME_APPROVED : WireOutcome.OUTCOME_DECLINED,
    declineReason: wireDeclineReason(result.reason ?? ''),
    transactionId: result.id,
    balance: { amountMinor: BigInt(result.ledgerAfterMinor ?? 0), currency: result.currency },
    replayed,
  };
}
