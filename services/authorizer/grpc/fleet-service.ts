// FleetAdminService handlers: validate (fleet-validate.ts), hand to the fleet account's actor
// through the region, map the durable answer back. Same admission, deadline and status mapping
// as every other unary call (service.ts' unary()).

import type { FleetAccountAnswer, FleetCardAnswer, FleetMessage } from '../../../actors/fleet/actor';
import type { FleetAccountState, FleetCardState } from '../../../actors/fleet/rules';
import { isValidTimeZone, periodKeys } from '../../../actors/rules/calendar';
import { spentIn, type SpendLimits as DomainSpendLimits } from '../../../actors/rules/spend-limits';
import type { Outcome } from '../../../actors/errors';
import type { ReviewQueue } from '../../../actors/rules/review-queue';
import {
  SetFleetCardStatusResponse,
  type FleetAccount,
  type FleetAdminServiceServer,
  type FleetCard,
  type FleetInvoice,
  type SetFleetCardStatusRequest,
  type SpendLimits,
} from '../../../gen/tapline/v1/fleet';
import { Outcome as WireOutcome } from '../../../gen/tapline/v1/types';
import type { FleetCycleClose } from '../../../actors/fleet/decide';
import { invoiceNumber, outstandingMinor, overdueInvoice, uninvoicedMinor, type OpenInvoice } from '../../../actors/fleet/billing';
import { availableCreditMinor } from '../../../actors/fleet/rules';
import { liveHeldMinor } from '../../../actors/card/holds';
import type { SharedPriceList } from '../../../actors/state/fleet';
import type { TxnAnswer } from '../../../actors/card/transaction';
import { pin_pattern } from '../usecases/pin';
import { wireDeclineReason } from './mapping';
import { requireCurrency, requireId } from './validate';
import {
  parseBasePrices,
  parseBillingTerms,
  parseCardPolicy,
  parseCreditLimit,
  parseCycle,
  parseFleetPayment,
  parseFleetCardStatus,
  parseGroups,
  parsePolicy,
  parseRequiredPrompts,
  parsePricing,
  parseSpendLimits,
  requireFleetCardId,
  wireFleetCardStatus,
} from './fleet-validate';
import { fleetCardId } from '../../../actors/sharding/shard-key';
import { unary, unaryAsync, type ServiceDeps } from './service';
import { outcomeOf } from '../usecases/outcome';
import { actingOf } from '../../common/auth/grpc-access';
import type { Acting } from '../../../actors/principal';
import { invalidArgument } from '../../../actors/errors';

function wireLimits(limits: DomainSpendLimits): SpendLimits {
  const big = (value: number | undefined): bigint | undefined => (value === undefined ? undefined : BigInt(value));
  return {
    perTxnMinor: big(limits.per_txn_minor),
    dailyMinor: big(limits.daily_minor),
    weeklyMinor: big(limits.weekly_minor),
    monthlyMinor: big(limits.monthly_minor),
    lifetimeMinor: big(limits.lifetime_minor),
  };
}

function wireInvoice(fleetId: string, invoice: OpenInvoice, currency: string): FleetInvoice {
  return {
    number: invoiceNumber(fleetId, invoice.cycle),
    cycle: BigInt(invoice.cycle),
    amount: { amountMinor: BigInt(invoice.amountMinor), currency },
    outstanding: { amountMinor: BigInt(invoice.outstandingMinor), currency },
    issuedAtUnixMs: BigInt(invoice.issuedAtMs),
    dueAtUnixMs: BigInt(invoice.dueAtMs),
  };
}

/** The account as the operator sees it at `nowMs` (live holds, the overdue restriction). */
export function wireFleetAccount(state: FleetAccountState, nowMs: number): FleetAccount {
  const money = (amount: number): { amountMinor: bigint; currency: string } => ({ amountMinor: BigInt(amount), currency: state.currency });
  const { billing } = state;
  const overdue = overdueInvoice(billing, nowMs);
  return {
    fleetId: state.fleetId,
    creditLimit: money(state.creditLimitMinor),
    balance: money(state.balanceMinor),
    availableCredit: money(availableCreditMinor(state, nowMs)),
    timeZone: state.timeZone,
    limits: wireLimits(state.limits),
    points: BigInt(state.points),
    billingTerms: {
      paymentTermsDays: BigInt(billing.terms.payment_terms_days),
      blockAfterOverdueDays:
        billing.terms.block_after_overdue_days === undefined ? undefined : BigInt(billing.terms.block_after_overdue_days),
    },
    cycle: BigInt(billing.cycle),
    cycleOpenedAtUnixMs: BigInt(billing.cycleOpenedAtMs),
    uninvoiced: money(uninvoicedMinor(state.balanceMinor, billing)),
    invoicedUnpaid: money(outstandingMinor(billing)),
    held: money(liveHeldMinor(state, nowMs)),
    openInvoices: billing.invoices.map((invoice) => wireInvoice(state.fleetId, invoice, state.currency)),
    restrictedByInvoice: overdue === undefined ? '' : invoiceNumber(state.fleetId, overdue.cycle),
    cardPolicy: {
      pinRequired: state.cardPolicy.pin_required,
      pinAttemptsMax: BigInt(state.cardPolicy.pin_attempts_max),
      holdExpiryMs: BigInt(state.cardPolicy.hold_expiry_ms),
      completionToleranceBp: BigInt(state.cardPolicy.completion_tolerance_bp),
    },
    priceListId: state.priceList ?? '',
    prompts: {
      requireOdometer: state.prompts.require_odometer,
      requireDriver: state.prompts.require_driver,
      requireVehicle: state.prompts.require_vehicle,
      odometerJumpMaxKm: BigInt(state.prompts.odometer_jump_max_km),
    },
  };
}

export function wireFleetCard(state: FleetCardState, account: FleetAccountState, nowMs: number): FleetCard {
  const spent = spentIn(state.spent, periodKeys(nowMs, account.timeZone));
  return {
    cardId: state.cardId,
    fleetId: state.fleetId,
    status: wireFleetCardStatus(state.status),
    limits: wireLimits(state.limits),
    spentDayMinor: BigInt(spent.day),
    spentWeekMinor: BigInt(spent.week),
    spentMonthMinor: BigInt(spent.month),
    spentLifetimeMinor: BigInt(spent.lifetime),
    pinSet: state.pinHash !== undefined,
    pinLocked: state.pinHash !== undefined && (state.pinFailures ?? 0) >= account.cardPolicy.pin_attempts_max,
    // SetFleetCardLimits replaces the groups with the limits: a client keeping them must read them.
    productGroups: state.allowedGroups === undefined ? undefined : { allowed: [...state.allowedGroups] },
  };
}

type AccountReply = (outcome: Outcome<FleetAccountAnswer>) => void;
type CardReply = (outcome: Outcome<FleetCardAnswer>) => void;

/** An operator change of a fleet account, decided by the account's actor. */
function tellAccount(
  deps: ServiceDeps,
  fleetId: string,
  command: Extract<FleetMessage, { type: 'account' }>['command'],
  acting: Acting,
  reply: AccountReply,
): void {
  deps.region.tellFleet(fleetId, { type: 'account', command, operatorId: acting.subject, acting, reply, attempt: 0 });
}

/** An operator change of a fleet card, decided by its account's actor. */
function tellCard(
  deps: ServiceDeps,
  cardId: string,
  fleetId: string,
  command: Extract<FleetMessage, { type: 'card' }>['command'],
  acting: Acting,
  reply: CardReply,
): void {
  deps.region.tellFleet(fleetId, { type: 'card', cardId, command, operatorId: acting.subject, acting, reply, attempt: 0 });
}

function accountReply(deps: ServiceDeps): ({ state }: FleetAccountAnswer) => { account: FleetAccount } {
  return ({ state }) => ({ account: wireFleetAccount(state, deps.clock()) });
}

function fleetCardReply({ state, account }: FleetCardAnswer, nowMs: number): { card: FleetCard } {
  return { card: wireFleetCard(state, account, nowMs) };
}

export function fleetAdminService(deps: ServiceDeps): FleetAdminServiceServer {
  return {
    ...accountHandlers(deps),
    ...accountPricingHandlers(deps),
    ...cardHandlers(deps),
    ...reviewHandlers(deps),
    ...billingHandlers(deps),
    loadSharedPrices: unary(
      deps,
      'LoadSharedPrices',
      (request, reply: (outcome: Outcome<{ listId: string; list: SharedPriceList }>) => void, call) => {
        const listId = requireId('price_list_id', request.priceListId);
        deps.priceLists.load(listId, parseBasePrices(request.prices), actingOf(call), (outcome) =>
          reply(outcome.ok ? { ok: true, value: { listId, list: outcome.value } } : outcome),
        );
      },
      ({ listId, list }) => ({
        priceListId: listId,
        prices: list.prices.map((entry) => ({
          productCode: entry.product_code,
          unitMilliMinor: BigInt(entry.unit_milli_minor),
          effectiveFromUnixMs: BigInt(entry.effective_from_ms),
        })),
      }),
    ),
    setFleetCardPin: unary(
      deps,
      'SetFleetCardPin',
      (request, reply: CardReply, call) => {
        const { cardId, fleetId } = requireFleetCardId('card_id', request.cardId);
        if (!pin_pattern.test(request.pin)) throw invalidArgument('pin must be 4-12 digits');
        const command = { type: 'set_pin' as const, pinHash: deps.pins.hashOf(cardId, request.pin) };
        tellCard(deps, cardId, fleetId, command, actingOf(call), reply);
      },
      (answer: FleetCardAnswer) => fleetCardReply(answer, deps.clock()),
    ),
  };
}

/** The fleet account: creation, limits and policy. */
function accountHandlers(
  deps: ServiceDeps,
): Pick<FleetAdminServiceServer, 'createFleetAccount' | 'setFleetLimits' | 'setFleetPolicy' | 'setFleetPrompts'> {
  return {
    createFleetAccount: unary(
      deps,
      'CreateFleetAccount',
      (request, reply: AccountReply, call) => {
        const fleetId = requireId('fleet_id', request.fleetId);
        if (request.creditLimit === undefined) throw invalidArgument('credit_limit is required');
        const currency = requireCurrency('credit_limit.currency', request.creditLimit.currency);
        const creditLimitMinor = parseCreditLimit('credit_limit.amount_minor', request.creditLimit.amountMinor);
        if (!isValidTimeZone(request.timeZone)) throw invalidArgument('time_zone must be an IANA time zone name such as Europe/Berlin');
        tellAccount(
          deps,
          fleetId,
          { type: 'create', currency, creditLimitMinor, timeZone: request.timeZone, nowMs: deps.clock() },
          actingOf(call),
          reply,
        );
      },
      (answer) => ({ ...accountReply(deps)(answer), alreadyExisted: answer.alreadyExisted }),
    ),
    setFleetLimits: unary(
      deps,
      'SetFleetLimits',
      (request, reply: AccountReply, call) => {
        const fleetId = requireId('fleet_id', request.fleetId);
        const limits = parseSpendLimits('limits', request.limits);
        const creditLimitMinor =
          request.creditLimitMinor === undefined ? undefined : parseCreditLimit('credit_limit_minor', request.creditLimitMinor);
        tellAccount(deps, fleetId, { type: 'set_limits', limits, creditLimitMinor }, actingOf(call), reply);
      },
      accountReply(deps),
    ),
    setFleetPolicy: unary(
      deps,
      'SetFleetPolicy',
      (request, reply: AccountReply, call) => {
        const fleetId = requireId('fleet_id', request.fleetId);
        const allowedGroups = parseGroups('product_groups', request.productGroups);
        const { prompts, program } = parsePolicy(request.prompts, request.program);
        const cardPolicy = parseCardPolicy(request.cardPolicy);
        tellAccount(deps, fleetId, { type: 'set_policy', allowedGroups, prompts, program, cardPolicy }, actingOf(call), reply);
      },
      accountReply(deps),
    ),
    setFleetPrompts: unary(
      deps,
      'SetFleetPrompts',
      (request, reply: AccountReply, call) => {
        const fleetId = requireId('fleet_id', request.fleetId);
        const prompts = parseRequiredPrompts('prompts', request.prompts);
        tellAccount(deps, fleetId, { type: 'set_prompts', prompts }, actingOf(call), reply);
      },
      accountReply(deps),
    ),
  };
}

/** The fleet account's prices (negotiated and base) and its inquiry. */
function accountPricingHandlers(
  deps: ServiceDeps,
): Pick<FleetAdminServiceServer, 'setFleetPricing' | 'loadBasePrices' | 'getFleetAccount'> {
  return {
    setFleetPricing: unary(
      deps,
      'SetFleetPricing',
      (request, reply: AccountReply, call) => {
        const fleetId = requireId('fleet_id', request.fleetId);
        tellAccount(
          deps,
          fleetId,
          {
            type: 'set_pricing',
            pricing: parsePricing(request.agreements),
            priceList: request.priceListId === '' ? undefined : requireId('price_list_id', request.priceListId),
          },
          actingOf(call),
          reply,
        );
      },
      accountReply(deps),
    ),
    loadBasePrices: unary(
      deps,
      'LoadBasePrices',
      (request, reply: AccountReply, call) => {
        const fleetId = requireId('fleet_id', request.fleetId);
        tellAccount(
          deps,
          fleetId,
          { type: 'load_prices', prices: parseBasePrices(request.prices), nowMs: deps.clock() },
          actingOf(call),
          reply,
        );
      },
      accountReply(deps),
    ),
    getFleetAccount: unary(
      deps,
      'GetFleetAccount',
      (request, reply: (outcome: Outcome<FleetAccountState>) => void) => {
        deps.region.tellFleet(requireId('fleet_id', request.fleetId), { type: 'get_account', reply, attempt: 0 });
      },
      (state) => ({ account: wireFleetAccount(state, deps.clock()) }),
    ),
  };
}

/** The account's cards: issue, limits, status, inquiry. */
function cardHandlers(
  deps: ServiceDeps,
): Pick<FleetAdminServiceServer, 'issueFleetCard' | 'setFleetCardLimits' | 'setFleetCardStatus' | 'getFleetCard'> {
  return {
    issueFleetCard: unary(
      deps,
      'IssueFleetCard',
      (request, reply: CardReply, call) => {
        const fleetId = requireId('fleet_id', request.fleetId);
        const cardId = fleetCardId(fleetId, requireId('card_no', request.cardNo));
        const command = {
          type: 'issue' as const,
          limits: parseSpendLimits('limits', request.limits),
          allowedGroups: parseGroups('product_groups', request.productGroups),
          nowMs: deps.clock(),
        };
        tellCard(deps, cardId, fleetId, command, actingOf(call), reply);
      },
      (answer) => ({ ...fleetCardReply(answer, deps.clock()), alreadyExisted: answer.alreadyExisted }),
    ),
    setFleetCardLimits: unary(
      deps,
      'SetFleetCardLimits',
      (request, reply: CardReply, call) => {
        const { cardId, fleetId } = requireFleetCardId('card_id', request.cardId);
        const command = {
          type: 'set_limits' as const,
          limits: parseSpendLimits('limits', request.limits),
          allowedGroups: parseGroups('product_groups', request.productGroups),
        };
        tellCard(deps, cardId, fleetId, command, actingOf(call), reply);
      },
      (answer: FleetCardAnswer) => fleetCardReply(answer, deps.clock()),
    ),
    setFleetCardStatus: unaryAsync<SetFleetCardStatusRequest, SetFleetCardStatusResponse, FleetCardAnswer | { pendingApprovalId: string }>(
      deps,
      'SetFleetCardStatus',
      async (request, call) => {
        const { cardId, fleetId } = requireFleetCardId('card_id', request.cardId);
        const command = { type: 'set_status' as const, status: parseFleetCardStatus(request.status), unblock: request.unblock };
        // An unblock waits for a second principal (four eyes); the approver is recorded with it.
        const pendingApprovalId = await deps.approvals.holdIfNeeded(call);
        if (pendingApprovalId !== undefined) return { pendingApprovalId };
        return outcomeOf<FleetCardAnswer>((reply) => tellCard(deps, cardId, fleetId, command, actingOf(call), reply));
      },
      (value) =>
        'pendingApprovalId' in value
          ? SetFleetCardStatusResponse.fromPartial({ pendingApprovalId: value.pendingApprovalId })
          : { ...fleetCardReply(value, deps.clock()), pendingApprovalId: '' },
    ),
    getFleetCard: unary(
      deps,
      'GetFleetCard',
      (request, reply: CardReply) => {
        const { cardId, fleetId } = requireFleetCardId('card_id', request.cardId);
        deps.region.tellFleet(fleetId, { type: 'get_card', cardId, reply, attempt: 0 });
      },
      (answer: FleetCardAnswer) => fleetCardReply(answer, deps.clock()),
    ),
  };
}

/** The review queue of flagged transactions. */
function reviewHandlers(deps: ServiceDeps): Pick<FleetAdminServiceServer, 'listReviewQueue' | 'resolveReview'> {
  return {
    listReviewQueue: unary(
      deps,
      'ListReviewQueue',
      (request, reply: (outcome: Outcome<{ queue: ReviewQueue; currency: string }>) => void) => {
        deps.region.tellFleet(requireId('fleet_id', request.fleetId), { type: 'list_review', reply, attempt: 0 });
      },
      ({ queue, currency }) => ({
        entries: queue.entries.map((entry) => ({
          transactionId: entry.id,
          cardId: entry.card,
          amount: { amountMinor: BigInt(entry.amount_minor), currency },
          flags: [...entry.flags],
          authorizedAtUnixMs: BigInt(entry.at_ms),
        })),
        dropped: BigInt(queue.dropped),
      }),
    ),
    resolveReview: unary(
      deps,
      'ResolveReview',
      (request, reply: (outcome: Outcome<ReviewQueue>) => void, call) => {
        const fleetId = requireId('fleet_id', request.fleetId);
        if (request.transactionId === '' || request.transactionId.length > 64)
          throw invalidArgument('transaction_id must be 1-64 characters');
        if (request.note.length > 256) throw invalidArgument('note is at most 256 characters');
        const acting = actingOf(call);
        deps.region.tellFleet(fleetId, {
          type: 'resolve_review',
          transactionId: request.transactionId,
          operatorId: acting.subject,
          acting,
          note: request.note,
          reply,
          attempt: 0,
        });
      },
      (queue) => ({ remaining: BigInt(queue.entries.length) }),
    ),
  };
}

/** The postpaid cycle: terms, closing a cycle, payments. */
function billingHandlers(
  deps: ServiceDeps,
): Pick<FleetAdminServiceServer, 'setFleetBillingTerms' | 'closeFleetCycle' | 'postFleetPayment'> {
  return {
    setFleetBillingTerms: unary(
      deps,
      'SetFleetBillingTerms',
      (request, reply: AccountReply, call) => {
        const fleetId = requireId('fleet_id', request.fleetId);
        const terms = parseBillingTerms(request.terms);
        tellAccount(deps, fleetId, { type: 'set_billing', terms }, actingOf(call), reply);
      },
      accountReply(deps),
    ),
    closeFleetCycle: unary(
      deps,
      'CloseFleetCycle',
      (request, reply: (outcome: Outcome<FleetCycleClose>) => void, call) => {
        const fleetId = requireId('fleet_id', request.fleetId);
        const cycle = parseCycle(request.cycle);
        const acting = actingOf(call);
        deps.region.tellFleet(fleetId, {
          type: 'close_cycle',
          cycle,
          operatorId: acting.subject,
          acting,
          reply,
          attempt: 0,
        });
      },
      (answer) => ({
        invoice: answer.invoice === undefined ? undefined : wireInvoice(answer.account.fleetId, answer.invoice, answer.account.currency),
        alreadyClosed: answer.alreadyClosed,
        account: wireFleetAccount(answer.account, deps.clock()),
        appliedCredit: { amountMinor: BigInt(answer.appliedMinor), currency: answer.account.currency },
      }),
    ),
    postFleetPayment: unary(
      deps,
      'PostFleetPayment',
      (request, reply: (outcome: Outcome<TxnAnswer>) => void, call, deadlineMs) => {
        deps.region.money(parseFleetPayment(request, actingOf(call)), reply, undefined, deadlineMs);
      },
      ({ result, replayed }) => ({
        outcome: result.outcome === 'approved' ? WireOutcome.OUTCOME_APPROVED : WireOutcome.OUTCOME_DECLINED,
        declineReason: wireDeclineReason(result.reason),
        declineRule: result.rule ?? '',
        transactionId: result.id,
        appliedAmount: { amountMinor: BigInt(result.amountMinor), currency: result.currency },
        availableCredit: { amountMinor: BigInt(result.balanceAfterMinor), currency: result.currency },
        replayed,
      }),
    ),
  };
}
