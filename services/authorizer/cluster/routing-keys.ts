// How every public method finds the entity it acts on: ONE table, method path -> routing key.
// The routing key is the entity's shard key (actors/sharding/shard-key.ts derives it per kind of
// entity, and shardOfKey(key) is the shard): a card id, or a fleet card's fleet id, for card
// operations; a terminal id for terminal administration; and so on. A method added later only
// needs an entry here to be forwarded to its owner. A method whose entry has no key, or a request
// whose key is empty, runs on the node that received it (validation then answers, or the handler
// needs no owner).

import { shardKeyOf, type PlacedKind } from '../../../actors/sharding/shard-key';
import { AdminServiceService } from '../../../gen/tapline/v1/admin';
import { AuthorizationServiceService } from '../../../gen/tapline/v1/authorization';
import { CardServiceService } from '../../../gen/tapline/v1/cards';
import { FleetAdminServiceService } from '../../../gen/tapline/v1/fleet';
import { CardFanoutServiceService } from '../../../gen/tapline/internal/v1/fanout';
import { OfflineAdminServiceService, OfflineServiceService } from '../../../gen/tapline/v1/offline';

type KeyOf<Req> = (request: Req) => string;

type RequestOf<M> = M extends { requestDeserialize: (bytes: Buffer) => infer Req } ? Req : never;

function entry<M extends { path: string; requestDeserialize: (bytes: Buffer) => unknown }>(
  method: M,
  keyOf: KeyOf<RequestOf<M>>,
): [string, KeyOf<unknown>] {
  return [method.path, keyOf as KeyOf<unknown>];
}

/** The shard key of an entity of `kind`; '' (runs where it arrives) when the request carries no id. */
const keyOf =
  (kind: PlacedKind) =>
  (id: string | undefined): string =>
    typeof id === 'string' ? shardKeyOf(kind, id) : '';

/** A card's shard key: the card id, or its fleet account's id for a fleet card ("<fleet>~<no>"). */
const card = keyOf('card');
const terminal = keyOf('terminal');
const fleet = keyOf('fleet');
const program = keyOf('program');
const issuance = keyOf('issuance');
const merchant = keyOf('merchant');
const priceList = keyOf('price_list');
const token = keyOf('token');

export const routing_keys: ReadonlyMap<string, KeyOf<unknown>> = new Map([
  entry(AuthorizationServiceService.authorize, (request) => card(request.cardId)),
  entry(AuthorizationServiceService.topUp, (request) => card(request.cardId)),
  entry(AuthorizationServiceService.reverse, (request) => card(request.cardId)),
  entry(AuthorizationServiceService.getBalance, (request) => card(request.cardId)),
  entry(AuthorizationServiceService.void, (request) => card(request.cardId)),
  entry(AuthorizationServiceService.refund, (request) => card(request.cardId)),
  entry(AuthorizationServiceService.getReceipt, (request) => card(request.cardId)),
  // A pour report commits on its terminal's shard.
  entry(AuthorizationServiceService.reportPour, (request) => terminal(request.terminalId)),
  entry(AdminServiceService.issueCard, (request) => card(request.cardId)),
  entry(AdminServiceService.setCardStatus, (request) => card(request.cardId)),
  entry(AdminServiceService.registerTerminal, (request) => terminal(request.terminalId)),
  entry(AdminServiceService.setTerminalEnabled, (request) => terminal(request.terminalId)),
  entry(AdminServiceService.updateTerminalParameters, (request) => terminal(request.terminalId)),
  entry(AdminServiceService.getTerminal, (request) => terminal(request.terminalId)),
  entry(AdminServiceService.setTerminalCashier, (request) => terminal(request.terminalId)),
  // Reads the stored terminals from Redis (store/terminals.ts): any node can answer.
  entry(AdminServiceService.searchTerminals, () => ''),
  // A terminal's parameters are read from its actor, on its owner.
  entry(AuthorizationServiceService.getTerminalParameters, (request) => terminal(request.terminalId)),
  // Reads the stored balances from Redis (store/balances.ts): any node can answer.
  entry(AdminServiceService.listBalances, () => ''),
  // Programs and issuance records live on the shard of their own id, managers on their merchant's.
  entry(CardServiceService.defineProgram, (request) => program(request.programId)),
  entry(CardServiceService.getProgram, (request) => program(request.programId)),
  entry(CardServiceService.issueCard, (request) => card(request.cardId)),
  entry(CardServiceService.bulkIssueCards, (request) => issuance(request.issuanceId)),
  entry(CardServiceService.changeCardState, (request) => card(request.cardId)),
  entry(CardServiceService.getCard, (request) => card(request.cardId)),
  entry(CardServiceService.registerManager, (request) => merchant(request.merchantId)),
  entry(CardServiceService.replaceCard, (request) => card(request.cardId)),
  entry(CardServiceService.returnCard, (request) => card(request.cardId)),
  entry(CardServiceService.runProgramRefund, (request) => program(request.programId)),
  entry(CardServiceService.startPspTopUp, (request) => card(request.cardId)),
  // A PSP callback runs on its card's owner (the card named in the payload; the owner verifies the
  // signature before acting on it); an unreadable payload runs where it arrives and is refused.
  entry(CardServiceService.handlePspCallback, (request) => card(pspCallbackCardOf(request.payload))),
  entry(CardServiceService.setAutoReload, (request) => card(request.cardId)),
  entry(CardServiceService.creditCard, (request) => card(request.cardId)),
  entry(CardServiceService.setPin, (request) => card(request.cardId)),
  entry(CardServiceService.verifyPin, (request) => card(request.cardId)),
  entry(CardServiceService.setTabLimit, (request) => card(request.cardId)),
  entry(CardServiceService.settleTab, (request) => card(request.cardId)),
  entry(CardServiceService.getCardRules, (request) => card(request.cardId)),
  // Lists by scanning the program's card records in Redis (a read): any node can answer.
  entry(CardServiceService.listProgramReviews, () => ''),
  entry(CardServiceService.resolveProgramReview, (request) => card(request.cardId)),
  entry(CardServiceService.cancelIssuance, (request) => card(request.cardId)),
  entry(CardServiceService.setCardAuth, (request) => card(request.cardId)),
  // A bank card's PAN is hashed on the node it reached and goes no further: these run where they
  // arrive and reach the card's and the token's owners with the token only.
  entry(CardServiceService.registerCardToken, () => ''),
  entry(CardServiceService.removeCardToken, () => ''),
  entry(FleetAdminServiceService.createFleetAccount, (request) => fleet(request.fleetId)),
  entry(FleetAdminServiceService.setFleetLimits, (request) => fleet(request.fleetId)),
  entry(FleetAdminServiceService.setFleetPolicy, (request) => fleet(request.fleetId)),
  entry(FleetAdminServiceService.setFleetPrompts, (request) => fleet(request.fleetId)),
  entry(FleetAdminServiceService.setFleetPricing, (request) => fleet(request.fleetId)),
  entry(FleetAdminServiceService.loadBasePrices, (request) => fleet(request.fleetId)),
  entry(FleetAdminServiceService.issueFleetCard, (request) => fleet(request.fleetId)),
  entry(FleetAdminServiceService.setFleetCardLimits, (request) => card(request.cardId)),
  entry(FleetAdminServiceService.setFleetCardStatus, (request) => card(request.cardId)),
  entry(FleetAdminServiceService.getFleetAccount, (request) => fleet(request.fleetId)),
  entry(FleetAdminServiceService.getFleetCard, (request) => card(request.cardId)),
  entry(FleetAdminServiceService.listReviewQueue, (request) => fleet(request.fleetId)),
  entry(FleetAdminServiceService.resolveReview, (request) => fleet(request.fleetId)),
  // Offline selling: a terminal's grant, acknowledgement and uploads on its terminal's owner (its
  // actor decides them); deltas read Redis on any node; a card counter's base on the card's owner.
  entry(OfflineServiceService.getOfflineProfile, (request) => terminal(request.terminalId)),
  entry(OfflineServiceService.getDenylistDelta, () => ''),
  entry(OfflineServiceService.ackDenylist, (request) => terminal(request.terminalId)),
  entry(OfflineServiceService.uploadOfflineBatch, (request) => terminal(request.terminalId)),
  entry(OfflineServiceService.refreshCardCounter, (request) => card(request.cardId)),
  entry(OfflineAdminServiceService.setTerminalOffline, (request) => terminal(request.terminalId)),
  entry(OfflineAdminServiceService.getTerminalOffline, (request) => terminal(request.terminalId)),
  entry(FleetAdminServiceService.setFleetBillingTerms, (request) => fleet(request.fleetId)),
  entry(FleetAdminServiceService.closeFleetCycle, (request) => fleet(request.fleetId)),
  entry(FleetAdminServiceService.postFleetPayment, (request) => fleet(request.fleetId)),
  entry(FleetAdminServiceService.setFleetCardPin, (request) => card(request.cardId)),
  // A shared price list lives on the shard of its own id (actors/fleet/price-lists.ts).
  entry(FleetAdminServiceService.loadSharedPrices, (request) => priceList(request.priceListId)),
  // Internal fan-out calls (bulk issuance, refund run): one per card, on the card's owner.
  entry(CardFanoutServiceService.issueBulkCard, (request) => card(request.cardId)),
  entry(CardFanoutServiceService.refundRunCashOut, (request) => card(request.cardId)),
  // A PSP webhook runs on the owner of the card its URL names (the owner fetches the payment).
  entry(CardFanoutServiceService.applyPspWebhook, (request) => card(request.cardId)),
  // A bank card's token is listed on its card's owner and indexed on the token's own owner.
  entry(CardFanoutServiceService.linkCardToken, (request) => card(request.cardId)),
  entry(CardFanoutServiceService.indexCardToken, (request) => token(request.token)),
  entry(CardFanoutServiceService.mergeOfflineEntries, (request) => card(request.cardId)),
]);

/** The handler refuses payloads over 4,096 bytes; no longer string is parsed to route it. */
const psp_payload_route_chars_max = 4_096;

/**
 * The card a PSP callback payload names, read only to choose the node; '' when it cannot be read
 * (the handler then refuses the callback wherever it arrived).
 */
export function pspCallbackCardOf(payload: string): string {
  // Longer than any payload the handler accepts (psp.ts, 4,096 bytes): refused where it arrives,
  // without parsing unauthenticated bulk here.
  if (payload.length > psp_payload_route_chars_max) return '';
  try {
    const parsed: unknown = JSON.parse(payload);
    const cardId = typeof parsed === 'object' && parsed !== null ? (parsed as { card?: unknown }).card : undefined;
    return typeof cardId === 'string' ? cardId : '';
  } catch {
    return '';
  }
}

/** The routing key of a request, or '' when the method has none (runs where it arrives). */
export function routingKeyOf(path: string, request: unknown): string {
  const keyOf = routing_keys.get(path);
  if (keyOf === undefined) return '';
  const key = keyOf(request);
  return typeof key === 'string' ? key : '';
}
