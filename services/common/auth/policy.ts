// Who may call what: the one table of Tapline's access policy. Every RPC of every door and every
// HTTP route of the reports service has exactly one rule here; the doors (grpc-access.ts,
// http-access.ts) only apply it, and test/unit/access-policy.test.ts fails when a served method or
// route has none. README "Doors and roles" is this table in prose.
//
// A rule says which principals may call (a terminal or gateway certificate, a node certificate,
// an operator token holding one of the listed roles, or anyone for health probes), what of the
// request must lie within the caller's scope (the terminal a terminal certificate names, the
// merchants of a gateway or merchant admin, the fleets of a fleet manager), and which requests
// need a second principal (four eyes). Scope extractors read the request's ids with the gRPC
// boundary's own validators, so a malformed id is INVALID_ARGUMENT exactly as the handler would
// say, and a well-formed one outside the scope is PERMISSION_DENIED; both change nothing.

import { invalidArgument, permissionDenied } from '../../../actors/errors';
import { parseFleetCardId } from '../../../actors/sharding/shard-key';
import { AdminServiceService } from '../../../gen/tapline/v1/admin';
import { ApprovalServiceService } from '../../../gen/tapline/v1/approvals';
import { AuthorizationServiceService, type GetReceiptRequest, type TopUpRequest } from '../../../gen/tapline/v1/authorization';
import { CardAction, CardServiceService } from '../../../gen/tapline/v1/cards';
import { FleetAdminServiceService } from '../../../gen/tapline/v1/fleet';
import { OfflineAdminServiceService, OfflineServiceService } from '../../../gen/tapline/v1/offline';
import { ClusterServiceService } from '../../../gen/tapline/internal/v1/cluster';
import { CardFanoutServiceService } from '../../../gen/tapline/internal/v1/fanout';
import { requireId } from '../../authorizer/grpc/validate';
import { settlement_batch_id_pattern } from '../ids';

/** Every role a token can grant, and what it is for. */
export const roles = {
  issuer_admin: 'programs, card issuance and funds, terminals of every merchant, fleet accounts and their credit',
  support: 'card lookup, freeze and unfreeze, report lost, block, replacement, PIN reset, cash-out at the desk',
  merchant_admin: 'its merchants only: their terminals, managers, fee reports and settlement statements',
  fleet_manager: 'its fleets only: policy, cards and their limits, the review queue, invoices',
  settlement_approver:
    "approves settlement batches, payee bank-account changes and holders' refund runs (never its own); pays a refund run it approved",
  analyst: 'reads reports and stored balances',
  auditor: 'reads the audit trail, pending approvals, reports and stored balances',
  approver: 'approves held operator requests: unblock, large issuance (four eyes, never its own)',
  psp: 'the payment service provider: delivers its signed top-up callbacks',
  reports: 'the reports service itself: reads stored balances and cards for reconciliation',
  cardholder:
    "a card's holder (through the portal): its own cards only: read them, report lost, freeze, check and change the PIN, top up at the PSP, claim a refund to a bank account",
} as const;
export type Role = keyof typeof roles;
export const role_names = Object.keys(roles) as Role[];

/** Roles whose grants are limited to listed ids; every other role acts on the whole deployment. */
export const scoped_roles: Readonly<Partial<Record<Role, 'merchants' | 'fleets' | 'cards'>>> = {
  merchant_admin: 'merchants',
  fleet_manager: 'fleets',
  cardholder: 'cards',
};

/** The ids of a request that a scoped grant must cover. */
export interface Scope {
  readonly merchants?: readonly string[];
  readonly fleets?: readonly string[];
  /** Cards named by the request (a cardholder's grant lists its own). */
  readonly cards?: readonly string[];
  /** Terminals whose merchant (looked up: a terminal's merchant never changes) must be covered. */
  readonly terminalMerchants?: readonly string[];
}

/** Bounds the policy reads from configuration. */
export interface PolicyLimits {
  /** Issuance (initial balances together) above this needs a second principal. */
  readonly four_eyes_amount_minor: number;
}

/** A request the rule reads fields of; the door gives it as decoded from the wire. */
type Request = unknown;

export type RpcRule =
  /** Health probes: load balancers and Kubernetes call without credentials. */
  | { readonly who: 'public' }
  /** Any caller this door authenticates (reflection: a client describing the API it may call). */
  | { readonly who: 'authenticated' }
  /**
   * A terminal or gateway certificate; every terminal the request names must be the terminal's own
   * or one of the gateway's merchants' ("per_item": AuthorizeStream checks each item).
   */
  | { readonly who: 'terminal'; readonly terminals: ((request: Request) => readonly string[]) | 'per_item' }
  /** Another node of the cluster (the internal door). */
  | { readonly who: 'node' }
  /** Only inside a frame forwarded by a node (never served on a door of its own). */
  | { readonly who: 'forwarded' }
  | OperatorRule;

export interface OperatorRule {
  readonly who: 'operator';
  /** The roles allowed; a function when some requests need a narrower set. */
  readonly roles: readonly Role[] | ((request: Request) => readonly Role[]);
  /** What a scoped role must cover; a scoped role may only be listed with it. */
  readonly scope?: (request: Request) => Scope;
  /** Why this request needs a second principal, or undefined when it does not. */
  readonly four_eyes?: (request: Request, limits: PolicyLimits) => string | undefined;
}

export type Door = 'terminal' | 'operator' | 'internal';

const any_reader: readonly Role[] = ['issuer_admin', 'support', 'analyst', 'auditor'];
const balances_readers: readonly Role[] = ['reports', 'analyst', 'auditor'];

/** Typed accessors of request fields: rules are written against the wire types. */
function fields<T>(read: (request: T) => Scope): (request: Request) => Scope {
  return read as (request: Request) => Scope;
}
function terminalsOf<T>(read: (request: T) => readonly string[]): (request: Request) => readonly string[] {
  return read as (request: Request) => readonly string[];
}
function amountOf(money: { readonly amountMinor: bigint } | undefined): bigint {
  return money?.amountMinor ?? 0n;
}
function aboveAmount(total: bigint, limits: PolicyLimits, what: string): string | undefined {
  return total > BigInt(limits.four_eyes_amount_minor) ? `${what} above ${limits.four_eyes_amount_minor} minor units` : undefined;
}

/** The fleet of a fleet card id, validated like the handler does. */
export function fleetOfCard(cardId: string): string {
  const parsed = parseFleetCardId(cardId);
  if (parsed === undefined)
    throw invalidArgument('card_id must be <fleet_id>~<card_no>, each 1-64 characters of A-Z a-z 0-9 . _ -', { field: 'card_id' });
  return parsed.fleetId;
}

/** The merchant of the terminal a request names (looked up) must be in a merchant admin's scope. */
const terminal_merchant = fields((request: { terminalId: string }) => ({
  terminalMerchants: [requireId('terminal_id', request.terminalId)],
}));

const own_terminal = terminalsOf((request: { terminalId: string }) => [requireId('terminal_id', request.terminalId)]);

const authorization_rules: Record<keyof typeof AuthorizationServiceService, RpcRule> = {
  authorize: { who: 'terminal', terminals: own_terminal },
  // A terminal fetches its own parameters (a gateway those of its merchants' terminals).
  getTerminalParameters: { who: 'terminal', terminals: own_terminal },
  authorizeStream: { who: 'terminal', terminals: 'per_item' },
  topUp: {
    who: 'terminal',
    terminals: terminalsOf((request: TopUpRequest) => {
      // A credit without a terminal (PSP, admin) is no terminal's operation: the operator API and
      // the PSP callback carry those.
      if (request.terminalId === '' && request.idempotencyKey !== '')
        throw permissionDenied('a top-up without a terminal is not taken on the terminal API');
      return [requireId('terminal_id', request.terminalId)];
    }),
  },
  // Any terminal may read a card's balance (the card is in the holder's hand at the terminal).
  getBalance: { who: 'terminal', terminals: () => [] },
  reverse: { who: 'terminal', terminals: own_terminal },
  void: { who: 'terminal', terminals: own_terminal },
  refund: { who: 'terminal', terminals: own_terminal },
  // A tap reports its own pours (its sale, or a period of its own).
  reportPour: { who: 'terminal', terminals: own_terminal },
  // A receipt named by a terminal transaction is that terminal's to reprint.
  getReceipt: {
    who: 'terminal',
    terminals: terminalsOf((request: GetReceiptRequest) =>
      request.transaction?.ref?.$case === 'terminalTxn' ? [requireId('terminal_id', request.transaction.ref.value.terminalId)] : [],
    ),
  },
};

const admin_rules: Record<keyof typeof AdminServiceService, RpcRule> = {
  issueCard: {
    who: 'operator',
    roles: ['issuer_admin'],
    four_eyes: (request, limits) =>
      aboveAmount(amountOf((request as { initialBalance?: { amountMinor: bigint } }).initialBalance), limits, 'an initial balance'),
  },
  setCardStatus: { who: 'operator', roles: ['issuer_admin', 'support'] },
  registerTerminal: {
    who: 'operator',
    roles: ['issuer_admin', 'merchant_admin'],
    scope: fields((request: { merchantId: string }) => ({ merchants: [requireId('merchant_id', request.merchantId)] })),
  },
  setTerminalEnabled: { who: 'operator', roles: ['issuer_admin', 'merchant_admin'], scope: terminal_merchant },
  updateTerminalParameters: { who: 'operator', roles: ['issuer_admin', 'merchant_admin'], scope: terminal_merchant },
  // Reads a terminal's record (cashier ids and grants, never their codes).
  getTerminal: { who: 'operator', roles: ['issuer_admin', 'merchant_admin', 'support', 'analyst', 'auditor'], scope: terminal_merchant },
  // A merchant admin must name one of its merchants (an empty merchant_id is outside any scope).
  searchTerminals: {
    who: 'operator',
    roles: ['issuer_admin', 'merchant_admin', 'support', 'analyst', 'auditor'],
    scope: fields((request: { merchantId: string }) => ({
      merchants: request.merchantId === '' ? [] : [requireId('merchant_id', request.merchantId)],
    })),
  },
  // Cashier logins are the merchant's to grant or deny, at its own terminals.
  setTerminalCashier: { who: 'operator', roles: ['issuer_admin', 'merchant_admin'], scope: terminal_merchant },
  listBalances: { who: 'operator', roles: balances_readers },
};

const of_card = fields((request: { cardId: string }) => ({ cards: [requireId('card_id', request.cardId)] }));

/** What a cardholder may do to its own card: stop it (lost, frozen); starting it again is the desk's. */
const holder_actions: readonly CardAction[] = [CardAction.CARD_ACTION_REPORT_LOST, CardAction.CARD_ACTION_FREEZE];

const card_rules: Record<keyof typeof CardServiceService, RpcRule> = {
  defineProgram: { who: 'operator', roles: ['issuer_admin'] },
  getProgram: { who: 'operator', roles: any_reader },
  issueCard: {
    who: 'operator',
    roles: ['issuer_admin'],
    four_eyes: (request, limits) =>
      aboveAmount(
        amountOf((request as { params?: { initialBalance?: { amountMinor: bigint } } }).params?.initialBalance),
        limits,
        'an initial balance',
      ),
  },
  bulkIssueCards: {
    who: 'operator',
    roles: ['issuer_admin'],
    four_eyes: (request, limits) => {
      const bulk = request as { cardIds: readonly string[]; params?: { initialBalance?: { amountMinor: bigint } } };
      return aboveAmount(amountOf(bulk.params?.initialBalance) * BigInt(bulk.cardIds.length), limits, 'initial balances together');
    },
  },
  changeCardState: {
    who: 'operator',
    roles: (request) =>
      holder_actions.includes((request as { action?: CardAction } | undefined)?.action ?? CardAction.CARD_ACTION_UNSPECIFIED)
        ? ['issuer_admin', 'support', 'cardholder']
        : ['issuer_admin', 'support'],
    scope: of_card,
    four_eyes: (request) => ((request as { action: CardAction }).action === CardAction.CARD_ACTION_UNBLOCK ? 'an unblock' : undefined),
  },
  getCard: { who: 'operator', roles: [...any_reader, 'reports', 'cardholder'], scope: of_card },
  registerManager: {
    who: 'operator',
    roles: ['issuer_admin', 'merchant_admin'],
    scope: fields((request: { merchantId: string }) => ({ merchants: [requireId('merchant_id', request.merchantId)] })),
  },
  replaceCard: { who: 'operator', roles: ['issuer_admin', 'support'] },
  // A settlement approver cashes out the cards of a refund run it approved (the reports service
  // calls ReturnCard with the approver's own token, so the node's audit names the approver).
  returnCard: { who: 'operator', roles: ['issuer_admin', 'support', 'settlement_approver'] },
  // Back to stock: the desk that issued by mistake hands the initial balance and deposit back.
  cancelIssuance: { who: 'operator', roles: ['issuer_admin', 'support'] },
  // A card's chip key enrolment (the NFC desk) and a visitor's bank card listed on a card (the token desk).
  setCardAuth: { who: 'operator', roles: ['issuer_admin', 'support'] },
  registerCardToken: { who: 'operator', roles: ['issuer_admin', 'support'] },
  removeCardToken: { who: 'operator', roles: ['issuer_admin', 'support'] },
  runProgramRefund: { who: 'operator', roles: ['issuer_admin'] },
  // A holder pays a top-up of its own card at the PSP (the portal's top-up page): starting one moves
  // nothing; the money comes only with the PSP's own report.
  startPspTopUp: { who: 'operator', roles: ['issuer_admin', 'support', 'cardholder'], scope: of_card },
  handlePspCallback: { who: 'operator', roles: ['psp'] },
  // A holder may switch its own card's auto-reload off (amount 0); a mandate is stored by the desk
  // or by the PSP's report of the holder's first payment (StartPspTopUp with auto_reload), never
  // named by a holder.
  setAutoReload: {
    who: 'operator',
    roles: (request) =>
      ((request as { amount?: { amountMinor: bigint } } | undefined)?.amount?.amountMinor ?? 0n) === 0n
        ? ['issuer_admin', 'support', 'cardholder']
        : ['issuer_admin', 'support'],
    scope: of_card,
  },
  // A credit without a sale: always held for a second principal (the approved request runs, and
  // usecases/credits.ts checks the approver again before the money moves).
  creditCard: { who: 'operator', roles: ['issuer_admin', 'support'], four_eyes: () => 'a manual credit' },
  // A holder changes its own PIN with the current one (which the card checks and counts); only the
  // desk resets a forgotten or locked one.
  setPin: {
    who: 'operator',
    roles: (request) =>
      (request as { reset?: boolean } | undefined)?.reset === false
        ? ['issuer_admin', 'support', 'cardholder']
        : ['issuer_admin', 'support'],
    scope: of_card,
  },
  // A holder checks its own card's PIN (the portal's sign-in; a wrong one is counted like any);
  // the desk checks a PIN a holder says before it helps.
  verifyPin: { who: 'operator', roles: ['issuer_admin', 'support', 'cardholder'], scope: of_card },
  setTabLimit: { who: 'operator', roles: ['issuer_admin'] },
  settleTab: { who: 'operator', roles: ['issuer_admin'] },
  getCardRules: { who: 'operator', roles: any_reader },
  listProgramReviews: { who: 'operator', roles: any_reader },
  resolveProgramReview: { who: 'operator', roles: ['issuer_admin', 'support'] },
};

const of_fleet = fields((request: { fleetId: string }) => ({ fleets: [requireId('fleet_id', request.fleetId)] }));
const of_fleet_card = fields((request: { cardId: string }) => ({ fleets: [fleetOfCard(request.cardId)] }));

const fleet_rules: Record<keyof typeof FleetAdminServiceService, RpcRule> = {
  createFleetAccount: { who: 'operator', roles: ['issuer_admin'] },
  // A fleet's credit limit is the issuer's decision; its spending limits are the fleet's.
  setFleetLimits: {
    who: 'operator',
    roles: (request) =>
      (request as { creditLimitMinor?: bigint } | undefined)?.creditLimitMinor === undefined
        ? ['issuer_admin', 'fleet_manager']
        : ['issuer_admin'],
    scope: of_fleet,
  },
  setFleetPolicy: { who: 'operator', roles: ['issuer_admin', 'fleet_manager'], scope: of_fleet },
  // The prompts alone (SetFleetPolicy's part a fleet's own page sets): the same people.
  setFleetPrompts: { who: 'operator', roles: ['issuer_admin', 'fleet_manager'], scope: of_fleet },
  setFleetPricing: { who: 'operator', roles: ['issuer_admin'] },
  loadBasePrices: { who: 'operator', roles: ['issuer_admin'] },
  issueFleetCard: { who: 'operator', roles: ['issuer_admin', 'fleet_manager'], scope: of_fleet },
  setFleetCardLimits: { who: 'operator', roles: ['issuer_admin', 'fleet_manager'], scope: of_fleet_card },
  setFleetCardStatus: {
    who: 'operator',
    roles: ['issuer_admin', 'fleet_manager', 'support'],
    scope: of_fleet_card,
    four_eyes: (request) => ((request as { unblock?: boolean }).unblock === true ? 'an unblock' : undefined),
  },
  getFleetAccount: { who: 'operator', roles: ['issuer_admin', 'fleet_manager', 'analyst', 'auditor'], scope: of_fleet },
  getFleetCard: {
    who: 'operator',
    roles: ['issuer_admin', 'fleet_manager', 'support', 'reports', 'analyst', 'auditor'],
    scope: of_fleet_card,
  },
  listReviewQueue: { who: 'operator', roles: ['issuer_admin', 'fleet_manager', 'auditor'], scope: of_fleet },
  resolveReview: { who: 'operator', roles: ['issuer_admin', 'fleet_manager'], scope: of_fleet },
  // The driver's PIN is handed out by whoever hands out the card: the fleet's manager (its own
  // fleets), the issuer, or support resetting a locked one, as for plain cards (SetPin).
  setFleetCardPin: { who: 'operator', roles: ['issuer_admin', 'fleet_manager', 'support'], scope: of_fleet_card },
  // Payment terms and the overdue restriction are the terms of the issuer's credit: its decision,
  // like the credit limit. A fleet manager cannot loosen the rule that blocks its own cards.
  setFleetBillingTerms: { who: 'operator', roles: ['issuer_admin'] },
  // Closing a cycle issues an invoice to the customer: the issuer's billing run.
  closeFleetCycle: { who: 'operator', roles: ['issuer_admin'] },
  // A payment restores the account's credit, so it is posted by the issuer's back office from the
  // money it received, never by the fleet that owes it (a fleet manager could free its own credit
  // without paying). No second principal, as for SettleTab: it cannot create money (a payment above
  // what the invoices owe is declined), it is keyed by the bank reference (posted once), and the
  // audit record names who posted it.
  postFleetPayment: { who: 'operator', roles: ['issuer_admin'] },
  // Shared wholesale prices price every fleet that follows the list: the issuer's, like LoadBasePrices.
  loadSharedPrices: { who: 'operator', roles: ['issuer_admin'] },
};

const approval_rules: Record<keyof typeof ApprovalServiceService, RpcRule> = {
  listApprovals: { who: 'operator', roles: ['approver', 'auditor', 'issuer_admin', 'support'] },
  getApproval: { who: 'operator', roles: ['approver', 'auditor', 'issuer_admin', 'support'] },
  // That the approver is not the requester is checked against the held request (usecases/approvals.ts).
  approve: { who: 'operator', roles: ['approver'] },
  reject: { who: 'operator', roles: ['approver'] },
};

// Offline selling (docs/OFFLINE.md): a terminal syncs, acknowledges its denylist, uploads and
// refreshes a card's counter as itself, the terminal its certificate names; a gateway does it for
// its merchants' terminals (relaying a batch keeps it verifiable: the terminal's own key signed it).
const offline_rules: Record<keyof typeof OfflineServiceService, RpcRule> = {
  getOfflineProfile: { who: 'terminal', terminals: own_terminal },
  getDenylistDelta: { who: 'terminal', terminals: own_terminal },
  ackDenylist: { who: 'terminal', terminals: own_terminal },
  uploadOfflineBatch: { who: 'terminal', terminals: own_terminal },
  refreshCardCounter: { who: 'terminal', terminals: own_terminal },
};

const of_terminal = fields((request: { terminalId: string }) => ({ terminalMerchants: [requireId('terminal_id', request.terminalId)] }));

const offline_admin_rules: Record<keyof typeof OfflineAdminServiceService, RpcRule> = {
  // A terminal's offline caps bound what the issuer may lose to its offline sales (the loss bound
  // adds each terminal's grant): the issuer sets them, not the merchant.
  setTerminalOffline: { who: 'operator', roles: ['issuer_admin'] },
  getTerminalOffline: {
    who: 'operator',
    roles: ['issuer_admin', 'merchant_admin', 'support', 'analyst', 'auditor'],
    scope: of_terminal,
  },
  // Which cards are refused offline and why: the issuer's and support's to check, the auditors' to read.
  listDenylist: { who: 'operator', roles: ['issuer_admin', 'support', 'analyst', 'auditor'] },
};

/** Paths of the standard services every public door serves beside the API. */
// List (grpc-health-check serves it) tells what Check tells, for every service at once.
export const health_paths = ['/grpc.health.v1.Health/Check', '/grpc.health.v1.Health/Watch', '/grpc.health.v1.Health/List'] as const;
export const reflection_paths = [
  '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
  '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
] as const;

function byPath(service: Record<string, { readonly path: string }>, rules: Record<string, RpcRule>): [string, RpcRule][] {
  return Object.entries(service).map(([name, method]) => {
    const rule = rules[name];
    if (rule === undefined) throw new Error(`assertion: no access rule for ${method.path}`);
    return [method.path, rule];
  });
}

function standard(): [string, RpcRule][] {
  return [
    ...health_paths.map((path): [string, RpcRule] => [path, { who: 'public' }]),
    ...reflection_paths.map((path): [string, RpcRule] => [path, { who: 'authenticated' }]),
  ];
}

/** The rules of each door, by full method path. A path without a rule on a door is refused there. */
export const rpc_rules: Readonly<Record<Door, ReadonlyMap<string, RpcRule>>> = {
  terminal: new Map([
    ...byPath(AuthorizationServiceService, authorization_rules),
    ...byPath(OfflineServiceService, offline_rules),
    ...standard(),
  ]),
  operator: new Map([
    ...byPath(AdminServiceService, admin_rules),
    ...byPath(CardServiceService, card_rules),
    ...byPath(FleetAdminServiceService, fleet_rules),
    ...byPath(ApprovalServiceService, approval_rules),
    ...byPath(OfflineAdminServiceService, offline_admin_rules),
    ...standard(),
  ]),
  internal: new Map([
    [ClusterServiceService.forward.path, { who: 'node' }],
    // Reached only inside Forward frames (cluster/router.ts), carrying their original caller.
    ...Object.values(CardFanoutServiceService).map((method): [string, RpcRule] => [method.path, { who: 'forwarded' }]),
  ]),
};

/** The rule of a method on whichever public door serves it (approvals and forwarded calls run it again). */
export function operatorRuleOf(path: string): OperatorRule | undefined {
  const rule = rpc_rules.operator.get(path);
  return rule?.who === 'operator' ? rule : undefined;
}

// ---- HTTP routes of the reports service (services/reports/server.ts names them) --------------

export interface HttpRule {
  readonly who: 'public' | 'operator';
  readonly roles?: readonly Role[];
  /** What a scoped role must cover, from the route's path parameters. */
  readonly scope?: (path: readonly string[]) => Scope;
  /** Documentation of the route's four-eyes check (done against stored state by the route). */
  readonly four_eyes?: string;
}

const report_readers: readonly Role[] = ['analyst', 'auditor', 'issuer_admin'];
const settlement_readers: readonly Role[] = ['issuer_admin', 'merchant_admin', 'settlement_approver', 'analyst', 'auditor'];
const merchant_at = (index: number) => (path: readonly string[]) => ({ merchants: [path[index] ?? ''] });
const card_at = (index: number) => (path: readonly string[]) => ({ cards: [path[index] ?? ''] });
const fleet_at = (index: number) => (path: readonly string[]) => ({ fleets: [path[index] ?? ''] });
/** A batch id is "<merchant>.<cycle>.<date>": its merchant is its first part. */
// A merchant id may itself contain dots: the batch id's own pattern says where it ends. A malformed id
// names no merchant, so a scoped caller is refused and anyone else meets the route's 400.
const batch_merchant = (path: readonly string[]) => ({ merchants: [settlement_batch_id_pattern.exec(path[0] ?? '')?.[1] ?? ''] });

/** Every route of the reports service by its name (the names server.ts and settlement.ts give). */
export const http_rules: Readonly<Record<string, HttpRule>> = {
  healthz: { who: 'public' },
  // A path no route matches: any authenticated caller learns it does not exist (404), nobody else.
  unknown: { who: 'operator', roles: role_names },
  // Prometheus scrapes it; it carries counts and timings, never business data.
  metrics: { who: 'public' },
  float: { who: 'operator', roles: report_readers },
  reconciliation: { who: 'operator', roles: report_readers },
  merchants: { who: 'operator', roles: report_readers },
  operations: { who: 'operator', roles: report_readers },
  // A holder reads its own card's history (the portal asks as the holder).
  card_history: { who: 'operator', roles: [...report_readers, 'support', 'cardholder'], scope: card_at(0) },
  top_ups: { who: 'operator', roles: report_readers },
  audit: { who: 'operator', roles: ['auditor'] },
  merchant_fees: { who: 'operator', roles: [...report_readers, 'merchant_admin'], scope: merchant_at(0) },
  // One merchant's terminal: its transactions, and sales per day, declines by reason, sales per cashier.
  terminal_history: { who: 'operator', roles: [...report_readers, 'merchant_admin'], scope: merchant_at(0) },
  terminal_statistics: { who: 'operator', roles: [...report_readers, 'merchant_admin'], scope: merchant_at(0) },
  // When each of a merchant's terminals was last seen (its latest transaction).
  merchant_terminals: { who: 'operator', roles: [...report_readers, 'merchant_admin'], scope: merchant_at(0) },
  merchant_sales: { who: 'operator', roles: [...report_readers, 'merchant_admin'], scope: merchant_at(0) },
  // A transaction's line items for its receipt: read as its card (the holder, its own cards only)
  // or as its merchant (the merchant admin, its merchants only).
  card_transaction_lines: { who: 'operator', roles: [...report_readers, 'support', 'cardholder'], scope: card_at(0) },
  merchant_transaction_lines: { who: 'operator', roles: [...report_readers, 'merchant_admin'], scope: merchant_at(0) },
  fleet_invoice: { who: 'operator', roles: [...report_readers, 'fleet_manager'], scope: fleet_at(0) },
  // A closed cycle's invoice and the account statement: the fleet's own documents (its manager,
  // its fleets only) and the issuer's readers.
  fleet_cycle_invoice: { who: 'operator', roles: [...report_readers, 'fleet_manager'], scope: fleet_at(0) },
  fleet_statement: { who: 'operator', roles: [...report_readers, 'fleet_manager'], scope: fleet_at(0) },
  // The fleet's cards and vehicles: its manager's list (its fleets only) and the issuer's readers.
  fleet_cards: { who: 'operator', roles: [...report_readers, 'fleet_manager'], scope: fleet_at(0) },
  // Beer taps: poured against paid per tap and day (the merchants' and the issuer's analysts).
  taps: { who: 'operator', roles: report_readers },
  // A refund campaign's breakage (unclaimed money at its deadline).
  breakage: { who: 'operator', roles: report_readers },
  event_statistics: { who: 'operator', roles: report_readers },
  // Offline selling: sales by liability, debt, exposure per program; each terminal's denylist staleness.
  offline: { who: 'operator', roles: report_readers },
  offline_terminals: { who: 'operator', roles: [...report_readers, 'support'] },
  'settlement.merchant.get': { who: 'operator', roles: settlement_readers, scope: merchant_at(0) },
  'settlement.merchant.put': {
    who: 'operator',
    roles: ['issuer_admin'],
    four_eyes: 'a new payee bank account is held until a settlement approver other than its proposer approves it',
  },
  'settlement.payee.approve': {
    who: 'operator',
    roles: ['settlement_approver'],
    four_eyes: 'the approver must not be the principal that proposed the payee account',
  },
  'settlement.batches.list': { who: 'operator', roles: settlement_readers, scope: merchant_at(0) },
  'settlement.batches.compute': { who: 'operator', roles: ['issuer_admin'] },
  'settlement.runs': { who: 'operator', roles: ['issuer_admin'] },
  'settlement.batch.get': { who: 'operator', roles: settlement_readers, scope: batch_merchant },
  'settlement.batch.approve': {
    who: 'operator',
    roles: ['settlement_approver'],
    four_eyes: 'the approver must not be the principal that computed the batch',
  },
  'settlement.batch.settle': { who: 'operator', roles: ['issuer_admin', 'settlement_approver'] },
  'settlement.batch.transfer': { who: 'operator', roles: ['issuer_admin', 'settlement_approver'] },
  'settlement.batch.files': { who: 'operator', roles: ['issuer_admin', 'settlement_approver'] },
  'settlement.campaign.put': { who: 'operator', roles: ['issuer_admin'] },
  'settlement.campaign.get': { who: 'operator', roles: ['issuer_admin', 'settlement_approver', 'analyst', 'auditor'] },
  // Holders' refund claims to a bank account (refund-claims/http.ts): the holder claims for its own
  // card; an issuer opens the window and proposes a run; a settlement approver approves and pays it.
  'refund_claims.card.get': { who: 'operator', roles: ['cardholder', 'issuer_admin', 'support', 'settlement_approver'], scope: card_at(0) },
  'refund_claims.card.put': { who: 'operator', roles: ['cardholder'], scope: card_at(0) },
  'refund_claims.program.get': { who: 'operator', roles: ['issuer_admin', 'settlement_approver', 'auditor'] },
  'refund_claims.window.put': { who: 'operator', roles: ['issuer_admin'] },
  'refund_claims.run.propose': { who: 'operator', roles: ['issuer_admin'] },
  'refund_claims.run.get': { who: 'operator', roles: ['issuer_admin', 'settlement_approver', 'auditor'] },
  'refund_claims.run.approve': {
    who: 'operator',
    roles: ['settlement_approver'],
    four_eyes: 'the approver must not be the principal that proposed the run; the cash-outs then run as the approver',
  },
  'refund_claims.run.file': { who: 'operator', roles: ['issuer_admin', 'settlement_approver'] },
  ...eventsRules(),
};

/**
 * Notices and webhooks (services/events/http.ts, the route names prefixed "events."): webhook
 * endpoints are the issuer's integrations; cardholders' contacts and their deliveries are
 * support's; operator subscriptions, templates and retries the issuer's; the relay's status is
 * for anyone who reads the system's health. Auditors read every history.
 */
function eventsRules(): Record<string, HttpRule> {
  const integrations: readonly Role[] = ['issuer_admin'];
  const support: readonly Role[] = ['issuer_admin', 'support'];
  const readers = (roles: readonly Role[]): readonly Role[] => [...roles, 'auditor'];
  return {
    'events.webhook_endpoints': { who: 'operator', roles: readers(integrations) },
    'events.webhook_endpoint_put': { who: 'operator', roles: integrations },
    'events.webhook_endpoint_get': { who: 'operator', roles: readers(integrations) },
    'events.webhook_endpoint_delete': { who: 'operator', roles: integrations },
    'events.webhook_endpoint_deliveries': { who: 'operator', roles: readers(integrations) },
    'events.notice_contact_put': { who: 'operator', roles: support },
    'events.notice_contact_get': { who: 'operator', roles: support },
    'events.notice_contact_delete': { who: 'operator', roles: support },
    'events.notice_card_deliveries': { who: 'operator', roles: readers(support) },
    'events.notice_operator_put': { who: 'operator', roles: integrations },
    'events.notice_operator_get': { who: 'operator', roles: readers(integrations) },
    'events.notice_operator_delete': { who: 'operator', roles: integrations },
    'events.notice_operator_deliveries': { who: 'operator', roles: readers(integrations) },
    'events.notice_template_put': { who: 'operator', roles: integrations },
    'events.notice_template_get': { who: 'operator', roles: readers(integrations) },
    'events.delivery_get': { who: 'operator', roles: readers(support) },
    'events.delivery_retry': { who: 'operator', roles: integrations },
    'events.events_status': { who: 'operator', roles: ['issuer_admin', 'support', 'analyst', 'auditor'] },
  };
}

// ---- Pages and JSON routes of the portal (services/portal/server.ts names them) ----------------

/**
 * The portal's own first check of a signed-in person, before it calls anything: the person's one
 * grant must allow the page and cover the card, fleet or merchant its path names (403 otherwise,
 * and nothing of it is fetched). The node and the reports service check every call again with the
 * token minted for the person, so this table can only ever refuse more, never allow more.
 */
export const portal_rules: Readonly<Record<string, HttpRule>> = {
  'portal.login': { who: 'public' },
  'portal.static': { who: 'public' },
  'portal.language': { who: 'public' },
  'portal.home': { who: 'public' },
  'portal.logout': { who: 'public' },
  'portal.openapi': { who: 'public' },
  // Where the PSP returns a holder after paying: a page with a link back, nothing of any card.
  'portal.top_up_return': { who: 'public' },
  'portal.card': { who: 'operator', roles: ['cardholder', 'issuer_admin', 'support'], scope: card_at(0) },
  'portal.card.stop': { who: 'operator', roles: ['cardholder', 'issuer_admin', 'support'], scope: card_at(0) },
  'portal.card.top_up': { who: 'operator', roles: ['cardholder', 'issuer_admin', 'support'], scope: card_at(0) },
  'portal.card.receipt': { who: 'operator', roles: ['cardholder', 'issuer_admin', 'support'], scope: card_at(0) },
  // Auto-reload: see it, set it up by paying a first top-up at the PSP (the node stores the PSP's
  // mandate once it is paid), switch it off.
  'portal.card.auto_reload': { who: 'operator', roles: ['cardholder', 'issuer_admin', 'support'], scope: card_at(0) },
  'portal.card.auto_reload.set_up': { who: 'operator', roles: ['cardholder', 'issuer_admin', 'support'], scope: card_at(0) },
  'portal.card.auto_reload.off': { who: 'operator', roles: ['cardholder', 'issuer_admin', 'support'], scope: card_at(0) },
  // A holder's refund claim to a bank account: its own card only (the reports service checks again).
  'portal.card.refund': { who: 'operator', roles: ['cardholder'], scope: card_at(0) },
  'portal.card.refund_submit': { who: 'operator', roles: ['cardholder'], scope: card_at(0) },
  // The program's claims and payout runs: the issuer proposes, a settlement approver approves and pays.
  'portal.organizer.refunds': { who: 'operator', roles: ['issuer_admin', 'settlement_approver', 'auditor'] },
  'portal.organizer.refunds_propose': { who: 'operator', roles: ['issuer_admin'] },
  'portal.organizer.refunds_approve': { who: 'operator', roles: ['settlement_approver'] },
  'portal.organizer.refunds_file': { who: 'operator', roles: ['issuer_admin', 'settlement_approver'] },
  'portal.fleet': { who: 'operator', roles: ['fleet_manager', 'issuer_admin'], scope: fleet_at(0) },
  'portal.fleet.card_limits': { who: 'operator', roles: ['fleet_manager', 'issuer_admin'], scope: fleet_at(0) },
  'portal.fleet.card_block': { who: 'operator', roles: ['fleet_manager', 'issuer_admin'], scope: fleet_at(0) },
  'portal.fleet.cards': { who: 'operator', roles: ['fleet_manager', 'issuer_admin'], scope: fleet_at(0) },
  'portal.fleet.limits': { who: 'operator', roles: ['fleet_manager', 'issuer_admin'], scope: fleet_at(0) },
  'portal.fleet.card_groups': { who: 'operator', roles: ['fleet_manager', 'issuer_admin'], scope: fleet_at(0) },
  'portal.fleet.prompts': { who: 'operator', roles: ['fleet_manager', 'issuer_admin'], scope: fleet_at(0) },
  'portal.fleet.review': { who: 'operator', roles: ['fleet_manager', 'issuer_admin'], scope: fleet_at(0) },
  'portal.fleet.document': { who: 'operator', roles: ['fleet_manager', 'issuer_admin'], scope: fleet_at(0) },
  'portal.merchant': { who: 'operator', roles: ['merchant_admin', 'issuer_admin'], scope: merchant_at(0) },
  'portal.merchant.terminal': { who: 'operator', roles: ['merchant_admin', 'issuer_admin'], scope: merchant_at(0) },
  'portal.merchant.terminals': { who: 'operator', roles: ['merchant_admin', 'issuer_admin'], scope: merchant_at(0) },
  'portal.merchant.terminals.switch': { who: 'operator', roles: ['merchant_admin', 'issuer_admin'], scope: merchant_at(0) },
  'portal.merchant.managers': { who: 'operator', roles: ['merchant_admin', 'issuer_admin'], scope: merchant_at(0) },
  'portal.merchant.settlement': { who: 'operator', roles: ['merchant_admin', 'issuer_admin'], scope: merchant_at(0) },
  'portal.organizer': { who: 'operator', roles: ['issuer_admin', 'analyst'] },
  'portal.organizer.card_lookup': { who: 'operator', roles: ['issuer_admin', 'support'] },
  // The audit log is the auditors' (the reports service's audit route is theirs alone).
  'portal.organizer.audit': { who: 'operator', roles: ['auditor'] },
  // Settlement batches: an issuer proposes, a settlement approver (another person) approves.
  'portal.organizer.settlement': { who: 'operator', roles: ['issuer_admin', 'settlement_approver', 'auditor'] },
  'portal.organizer.settlement_propose': { who: 'operator', roles: ['issuer_admin'] },
  'portal.organizer.settlement_approve': { who: 'operator', roles: ['settlement_approver'] },
  'portal.organizer.denylist': { who: 'operator', roles: ['issuer_admin', 'support', 'analyst', 'auditor'] },
  'api.event_statistics': { who: 'operator', roles: ['issuer_admin', 'analyst'] },
};
