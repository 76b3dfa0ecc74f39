// Proves the access policy table (services/common/auth/policy.ts) is complete and coherent: every
// method of every gRPC service Tapline defines has a rule on the door that serves it (or is marked
// as reached only through forwarded frames), every route the reports service serves has a rule,
// every role the rules name exists, scoped roles appear only with a scope extractor, and the
// decisions themselves hold for terminals, gateways, operators and their scopes, four eyes
// included (a manual credit reaches the card only with an approver other than its requester).

import assert from 'node:assert/strict';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { AdminServiceService } from '../../gen/tapline/v1/admin';
import { ApprovalServiceService } from '../../gen/tapline/v1/approvals';
import { AuthorizationServiceService } from '../../gen/tapline/v1/authorization';
import { CardAction, CardServiceService } from '../../gen/tapline/v1/cards';
import { FleetAdminServiceService } from '../../gen/tapline/v1/fleet';
import { OfflineAdminServiceService, OfflineServiceService } from '../../gen/tapline/v1/offline';
import { ClusterServiceService } from '../../gen/tapline/internal/v1/cluster';
import { CardFanoutServiceService } from '../../gen/tapline/internal/v1/fanout';
import { operator_services, terminal_services } from '../../services/authorizer/grpc/server';
import { admits, checkTerminals, operatorGrant, type AccessLookups } from '../../services/common/auth/access';
import { grantsOf } from '../../services/common/auth/tokens';
import { principalOfUri, identityUri, parseSerials, normalSerial } from '../../services/common/auth/certificates';
import {
  health_paths,
  http_rules,
  operatorRuleOf,
  portal_rules,
  reflection_paths,
  role_names,
  roles,
  rpc_rules,
  scoped_roles,
  type Door,
  type OperatorRule,
} from '../../services/common/auth/policy';
import { report_route_names } from '../../services/reports/server';
import { settlementRouteOf } from '../../services/reports/settlement';
import { refundClaimRouteOf } from '../../services/reports/refund-claims/http';
import { events_routes } from '../../services/events/http';
import type { OperatorPrincipal } from '../../actors/principal';
import { RejectedError } from '../../actors/errors';
import type { MoneyRequest } from '../../actors/card/transaction';
import type { ShardRegion } from '../../actors/sharding/shard-region';
import { ManualCredits } from '../../services/authorizer/usecases/credits';

const all_services: readonly [string, ServiceDefinition][] = [
  ['tapline.v1.AuthorizationService', AuthorizationServiceService],
  ['tapline.v1.AdminService', AdminServiceService],
  ['tapline.v1.CardService', CardServiceService],
  ['tapline.v1.FleetAdminService', FleetAdminServiceService],
  ['tapline.v1.ApprovalService', ApprovalServiceService],
  ['tapline.v1.OfflineService', OfflineServiceService],
  ['tapline.v1.OfflineAdminService', OfflineAdminServiceService],
  ['tapline.internal.v1.ClusterService', ClusterServiceService],
  ['tapline.internal.v1.CardFanoutService', CardFanoutServiceService],
];

/** Which door serves each service (the servers' own lists). */
function doorOf(service: string): Door {
  if ((terminal_services as readonly string[]).includes(service)) return 'terminal';
  if ((operator_services as readonly string[]).includes(service)) return 'operator';
  return 'internal';
}

const lookups = (merchants: Record<string, string>): AccessLookups => ({
  merchantOfTerminal: (terminal) => Promise.resolve(merchants[terminal]),
});

const operator = (role: string, scope: string[] = ['*'], subject = 'alice'): OperatorPrincipal => ({
  kind: 'operator',
  subject,
  issuer: 'https://idp.example/',
  grants: [{ role, scope }],
});

async function refusal(work: () => unknown): Promise<string> {
  try {
    await work();
  } catch (error) {
    assert.ok(error instanceof RejectedError, `a typed refusal, got ${String(error)}`);
    return error.code;
  }
  return 'allowed';
}

describe('access policy: one table for every method and route', () => {
  it('has a rule for every method of every service, on the door that serves it', () => {
    for (const [name, service] of all_services) {
      const door = doorOf(name);
      for (const method of Object.values(service))
        assert.ok(rpc_rules[door].has(method.path), `${method.path} has no rule on the ${door} door`);
    }
  });

  it('has rules for health and reflection on both public doors: health public, reflection for authenticated callers', () => {
    for (const door of ['terminal', 'operator'] as const) {
      for (const path of health_paths) assert.equal(rpc_rules[door].get(path)?.who, 'public', `${door} ${path}`);
      for (const path of reflection_paths) assert.equal(rpc_rules[door].get(path)?.who, 'authenticated', `${door} ${path}`);
    }
    for (const path of [...health_paths, ...reflection_paths]) assert.equal(rpc_rules.internal.get(path), undefined, `internal ${path}`);
  });

  it('names no rule for a method that does not exist', () => {
    const known = new Set(all_services.flatMap(([, service]) => Object.values(service).map((method) => method.path)));
    for (const door of ['terminal', 'operator', 'internal'] as const)
      for (const path of rpc_rules[door].keys())
        assert.ok(known.has(path) || path.startsWith('/grpc.'), `${door}: rule for unknown method ${path}`);
  });

  it('has a rule for every route of the reports service, settlement, notices and webhooks included', () => {
    const settlement = [
      ['PUT', '/settlement/merchants/m'],
      ['GET', '/settlement/merchants/m'],
      ['POST', '/settlement/merchants/m/payee/approve'],
      ['GET', '/settlement/merchants/m/batches'],
      ['POST', '/settlement/merchants/m/batches'],
      ['POST', '/settlement/runs'],
      ['GET', '/settlement/batches/m.daily.2026-01-01'],
      ['POST', '/settlement/batches/m.daily.2026-01-01/approve'],
      ['POST', '/settlement/batches/m.daily.2026-01-01/settle'],
      ['GET', '/settlement/batches/m.daily.2026-01-01/transfer.csv'],
      ['GET', '/settlement/batches/m.daily.2026-01-01/files/pain.001'],
      ['PUT', '/settlement/campaigns/c'],
      ['GET', '/settlement/campaigns/c'],
    ].map(([method, path]) => settlementRouteOf(method as string, path as string)?.name);
    const refunds = [
      ['GET', '/refund-claims/cards/c'],
      ['PUT', '/refund-claims/cards/c'],
      ['GET', '/refund-claims/programs/p'],
      ['PUT', '/refund-claims/programs/p'],
      ['POST', '/refund-claims/programs/p/runs'],
      ['GET', '/refund-claims/runs/p.refund.1'],
      ['POST', '/refund-claims/runs/p.refund.1/approve'],
      ['GET', '/refund-claims/runs/p.refund.1/pain.001'],
    ].map(([method, path]) => refundClaimRouteOf(method as string, path as string)?.name);
    settlement.push(...refunds);
    const events = events_routes.map((route) => `events.${route.name}`);
    for (const name of [...report_route_names, ...settlement, ...events, 'healthz', 'metrics', 'unknown']) {
      assert.ok(name !== undefined, 'every settlement path resolves to a route');
      assert.ok(http_rules[name] !== undefined, `route ${name} has no rule`);
    }
    assert.deepEqual(
      Object.keys(http_rules).sort(),
      [...new Set([...report_route_names, ...settlement, ...events, 'healthz', 'metrics', 'unknown'])].sort(),
      'and no rule for a route that does not exist',
    );
  });

  it('names only roles that exist; scoped roles only where the request names what they are limited to', () => {
    const rules: [string, readonly string[], boolean][] = [];
    for (const [path, rule] of rpc_rules.operator)
      if (rule.who === 'operator') {
        const listed = typeof rule.roles === 'function' ? [...rule.roles(undefined), ...rule.roles({ creditLimitMinor: 1n })] : rule.roles;
        rules.push([path, listed, rule.scope !== undefined]);
      }
    for (const [route, rule] of Object.entries(http_rules))
      if (rule.roles !== undefined) rules.push([route, rule.roles, rule.scope !== undefined]);
    for (const [name, listed, scoped] of rules) {
      for (const role of listed) assert.ok(role in roles, `${name}: unknown role ${role}`);
      for (const role of listed.filter((role) => scoped_roles[role as keyof typeof scoped_roles] !== undefined))
        assert.ok(scoped || name === 'unknown', `${name}: scoped role ${role} without a scope extractor`);
    }
    for (const role of role_names)
      assert.ok(
        rules.some(([, listed]) => listed.includes(role)),
        `role ${role} is allowed nothing`,
      );
  });
});

describe('access policy: decisions', () => {
  const authorize = rpc_rules.terminal.get(AuthorizationServiceService.authorize.path);
  const request = { terminalId: 't-1', cardId: 'c-1' };

  it('a terminal speaks for itself only; a gateway for the terminals of its merchants only', async () => {
    assert.ok(authorize?.who === 'terminal' && authorize.terminals !== 'per_item');
    const terminalsOf = authorize.terminals;
    const named = terminalsOf(request);
    const merchants = lookups({ 't-1': 'm-1', 't-2': 'm-2' });
    assert.equal(await refusal(() => checkTerminals({ kind: 'terminal', terminalId: 't-1' }, named, merchants)), 'allowed');
    assert.equal(await refusal(() => checkTerminals({ kind: 'terminal', terminalId: 't-2' }, named, merchants)), 'permission_denied');
    assert.equal(await refusal(() => checkTerminals({ kind: 'gateway', merchantIds: ['m-1'] }, named, merchants)), 'allowed');
    assert.equal(await refusal(() => checkTerminals({ kind: 'gateway', merchantIds: ['m-2'] }, named, merchants)), 'permission_denied');
    assert.equal(
      await refusal(() => checkTerminals({ kind: 'gateway', merchantIds: ['m-1'] }, ['t-unknown'], merchants)),
      'permission_denied',
    );
    assert.equal(await refusal(() => terminalsOf({ terminalId: 'bad id', cardId: 'c' })), 'invalid_argument');
    assert.ok(!admits(authorize, { kind: 'node', nodeId: 'n-1' }), 'a node is no terminal');
    assert.ok(!admits(authorize, operator('issuer_admin')), 'an operator is no terminal');
  });

  it('offline selling: a terminal syncs and uploads as itself, a gateway for its merchants; only the issuer sets offline caps', async () => {
    const merchants = lookups({ 't-1': 'm-1', 't-2': 'm-2' });
    for (const method of Object.values(OfflineServiceService)) {
      const rule = rpc_rules.terminal.get(method.path);
      assert.ok(rule?.who === 'terminal' && rule.terminals !== 'per_item', `${method.path} is a terminal's call`);
      assert.equal(rpc_rules.operator.get(method.path), undefined, `${method.path} is not served on the operator door`);
      const terminalsOf = rule.terminals;
      const named = terminalsOf({ terminalId: 't-1', cardId: 'c-1' });
      assert.equal(await refusal(() => checkTerminals({ kind: 'terminal', terminalId: 't-1' }, named, merchants)), 'allowed');
      assert.equal(
        await refusal(() => checkTerminals({ kind: 'terminal', terminalId: 't-2' }, named, merchants)),
        'permission_denied',
        `${method.path}: another terminal's certificate`,
      );
      assert.equal(await refusal(() => checkTerminals({ kind: 'gateway', merchantIds: ['m-1'] }, named, merchants)), 'allowed');
      assert.equal(
        await refusal(() => checkTerminals({ kind: 'gateway', merchantIds: ['m-2'] }, named, merchants)),
        'permission_denied',
        `${method.path}: a gateway of another merchant`,
      );
      assert.equal(await refusal(() => terminalsOf({ terminalId: '' })), 'invalid_argument', `${method.path}: no terminal named`);
    }
    const set = operatorRuleOf(OfflineAdminServiceService.setTerminalOffline.path) as OperatorRule;
    assert.deepEqual(set.roles, ['issuer_admin']);
    const get = operatorRuleOf(OfflineAdminServiceService.getTerminalOffline.path) as OperatorRule;
    const scope = get.scope?.({ terminalId: 't-1' });
    assert.equal((await operatorGrant(get, operator('merchant_admin', ['m-1']), {}, scope, merchants)).role, 'merchant_admin');
    assert.equal(await refusal(() => operatorGrant(get, operator('merchant_admin', ['m-2']), {}, scope, merchants)), 'permission_denied');
    // The denylist names cards and why they are refused: the issuer's side reads it, never a merchant or a fleet.
    const list = operatorRuleOf(OfflineAdminServiceService.listDenylist.path) as OperatorRule;
    assert.equal((await operatorGrant(list, operator('auditor', ['*']), {}, undefined, merchants)).role, 'auditor');
    for (const role of ['merchant_admin', 'fleet_manager', 'cardholder'] as const)
      assert.equal(await refusal(() => operatorGrant(list, operator(role, ['m-1']), {}, undefined, merchants)), 'permission_denied', role);
  });

  it('refuses a keyed top-up on the terminal door (a credit without a terminal)', async () => {
    const rule = rpc_rules.terminal.get(AuthorizationServiceService.topUp.path);
    assert.ok(rule?.who === 'terminal' && rule.terminals !== 'per_item');
    const terminalsOf = rule.terminals;
    assert.equal(await refusal(() => terminalsOf({ terminalId: '', idempotencyKey: 'psp-1' })), 'permission_denied');
  });

  it('an operator needs an allowed role, and a scoped role covers only its merchants or fleets', async () => {
    const register = operatorRuleOf(AdminServiceService.registerTerminal.path) as OperatorRule;
    const scope = register.scope?.({ terminalId: 't-9', merchantId: 'm-1' });
    const none = lookups({});
    assert.equal((await operatorGrant(register, operator('issuer_admin'), {}, scope, none)).role, 'issuer_admin');
    assert.equal((await operatorGrant(register, operator('merchant_admin', ['m-1']), {}, scope, none)).role, 'merchant_admin');
    assert.equal(await refusal(() => operatorGrant(register, operator('merchant_admin', ['m-2']), {}, scope, none)), 'permission_denied');
    assert.equal(await refusal(() => operatorGrant(register, operator('support'), {}, scope, none)), 'permission_denied');
    const enable = operatorRuleOf(AdminServiceService.setTerminalEnabled.path) as OperatorRule;
    const terminalScope = enable.scope?.({ terminalId: 't-1' });
    const merchants = lookups({ 't-1': 'm-1' });
    assert.equal((await operatorGrant(enable, operator('merchant_admin', ['m-1']), {}, terminalScope, merchants)).role, 'merchant_admin');
    assert.equal(
      await refusal(() => operatorGrant(enable, operator('merchant_admin', ['m-2']), {}, terminalScope, merchants)),
      'permission_denied',
    );
    const limits = operatorRuleOf(FleetAdminServiceService.setFleetLimits.path) as OperatorRule;
    const fleet = { fleetId: 'f-1', limits: {} };
    assert.equal(
      (await operatorGrant(limits, operator('fleet_manager', ['f-1']), fleet, limits.scope?.(fleet), none)).role,
      'fleet_manager',
    );
    const credit = { ...fleet, creditLimitMinor: 5n };
    assert.equal(
      await refusal(() => operatorGrant(limits, operator('fleet_manager', ['f-1']), credit, limits.scope?.(credit), none)),
      'permission_denied',
      "a fleet's credit limit is the issuer's decision",
    );
  });

  it("a cardholder reads, stops and re-PINs its own card only; starting it again and a PIN reset are the desk's", async () => {
    const holder = operator('cardholder', ['c-1']);
    const none = lookups({});
    const decide = async (path: string, request: object): Promise<string> => {
      const rule = operatorRuleOf(path) as OperatorRule;
      try {
        return (await operatorGrant(rule, holder, request, rule.scope?.(request), none)).role;
      } catch (error) {
        assert.ok(error instanceof RejectedError);
        return error.code;
      }
    };
    const state = CardServiceService.changeCardState.path;
    assert.equal(await decide(CardServiceService.getCard.path, { cardId: 'c-1' }), 'cardholder');
    assert.equal(await decide(CardServiceService.getCard.path, { cardId: 'c-2' }), 'permission_denied');
    assert.equal(await decide(state, { cardId: 'c-1', action: CardAction.CARD_ACTION_REPORT_LOST }), 'cardholder');
    assert.equal(await decide(state, { cardId: 'c-1', action: CardAction.CARD_ACTION_FREEZE }), 'cardholder');
    assert.equal(await decide(state, { cardId: 'c-2', action: CardAction.CARD_ACTION_REPORT_LOST }), 'permission_denied');
    for (const action of [CardAction.CARD_ACTION_UNFREEZE, CardAction.CARD_ACTION_UNBLOCK, CardAction.CARD_ACTION_BLOCK])
      assert.equal(await decide(state, { cardId: 'c-1', action }), 'permission_denied', `action ${action}`);
    assert.equal(await decide(CardServiceService.setPin.path, { cardId: 'c-1', reset: false }), 'cardholder');
    assert.equal(await decide(CardServiceService.setPin.path, { cardId: 'c-1', reset: true }), 'permission_denied');
    assert.equal(await decide(CardServiceService.creditCard.path, { cardId: 'c-1' }), 'permission_denied');
    assert.equal(await decide(CardServiceService.verifyPin.path, { cardId: 'c-1', pin: '2468' }), 'cardholder');
    assert.equal(
      await decide(CardServiceService.verifyPin.path, { cardId: 'c-2', pin: '2468' }),
      'permission_denied',
      "guessing another card's PIN",
    );
    assert.equal(await decide(CardServiceService.startPspTopUp.path, { cardId: 'c-1' }), 'cardholder');
    assert.equal(await decide(CardServiceService.startPspTopUp.path, { cardId: 'c-2' }), 'permission_denied');
    // Auto-reload: a holder switches its own off; storing a mandate is the desk's or the PSP's report.
    const autoReload = CardServiceService.setAutoReload.path;
    const eur = (amountMinor: bigint) => ({ amountMinor, currency: 'EUR' });
    assert.equal(await decide(autoReload, { cardId: 'c-1', threshold: eur(0n), amount: eur(0n) }), 'cardholder');
    assert.equal(await decide(autoReload, { cardId: 'c-2', threshold: eur(0n), amount: eur(0n) }), 'permission_denied');
    assert.equal(
      await decide(autoReload, { cardId: 'c-1', threshold: eur(500n), amount: eur(2_000n), mandateReference: 'cst_x.mdt_y' }),
      'permission_denied',
      'a mandate named by the holder',
    );
    const history = http_rules['card_history'];
    assert.ok(history?.scope !== undefined);
    assert.equal((await operatorGrant(history, holder, undefined, history.scope(['c-1']), none)).role, 'cardholder');
    assert.equal(await refusal(() => operatorGrant(history, holder, undefined, history.scope?.(['c-2']), none)), 'permission_denied');
  });

  it('the portal: every route has a rule, scoped pages cover only what their path names', async () => {
    const none = lookups({});
    const decide = async (route: string, role: string, scope: string[], id: string): Promise<string> => {
      const rule = portal_rules[route];
      assert.ok(rule !== undefined, route);
      if (rule.who === 'public') return 'public';
      try {
        return (await operatorGrant(rule, operator(role, scope), undefined, rule.scope?.([id]), none)).role;
      } catch (error) {
        assert.ok(error instanceof RejectedError);
        return error.code;
      }
    };
    assert.equal(await decide('portal.card', 'cardholder', ['c-1'], 'c-1'), 'cardholder');
    assert.equal(await decide('portal.card', 'cardholder', ['c-1'], 'c-2'), 'permission_denied');
    assert.equal(await decide('portal.fleet', 'fleet_manager', ['f-1'], 'f-2'), 'permission_denied');
    assert.equal(await decide('portal.merchant', 'merchant_admin', ['m-1'], 'm-2'), 'permission_denied');
    assert.equal(await decide('portal.merchant', 'fleet_manager', ['m-1'], 'm-1'), 'permission_denied');
    assert.equal(await decide('portal.organizer', 'cardholder', ['*'], ''), 'permission_denied');
    for (const route of ['portal.card.top_up', 'portal.card.receipt']) {
      assert.equal(await decide(route, 'cardholder', ['c-1'], 'c-1'), 'cardholder', route);
      assert.equal(await decide(route, 'cardholder', ['c-1'], 'c-2'), 'permission_denied', route);
      assert.equal(await decide(route, 'merchant_admin', ['c-1'], 'c-1'), 'permission_denied', route);
    }
    for (const route of [
      'portal.merchant.terminals',
      'portal.merchant.terminals.switch',
      'portal.merchant.managers',
      'portal.merchant.settlement',
    ]) {
      assert.equal(await decide(route, 'merchant_admin', ['m-1'], 'm-1'), 'merchant_admin', route);
      assert.equal(await decide(route, 'merchant_admin', ['m-1'], 'm-2'), 'permission_denied', route);
      assert.equal(await decide(route, 'cardholder', ['m-1'], 'm-1'), 'permission_denied', route);
    }
    assert.equal(await decide('portal.top_up_return', 'cardholder', [], ''), 'public');
    assert.equal(await decide('portal.organizer', 'issuer_admin', ['*'], ''), 'issuer_admin');
    for (const [route, rule] of Object.entries(portal_rules))
      for (const role of rule.roles ?? []) {
        assert.ok(role in roles, `${route}: unknown role ${role}`);
        if (scoped_roles[role] !== undefined)
          assert.ok(rule.scope !== undefined, `${route}: scoped role ${role} without a scope extractor`);
      }
  });

  it("a settlement batch belongs to the merchant its id names, dots in the merchant's id included", () => {
    const scope = http_rules['settlement.batch.get']?.scope;
    assert.deepEqual(scope?.(['acme.east.daily.2026-12-01'])?.merchants, ['acme.east']);
    assert.deepEqual(scope?.(['acme.weekly.2026-11-30'])?.merchants, ['acme']);
    assert.deepEqual(scope?.(['not-a-batch'])?.merchants, [''], 'a malformed id names no merchant');
  });

  it('marks four-eyes requests: an unblock, an issuance above the amount, every manual credit', () => {
    const limits = { four_eyes_amount_minor: 100_000 };
    const change = operatorRuleOf(CardServiceService.changeCardState.path);
    assert.ok(change?.four_eyes?.({ action: CardAction.CARD_ACTION_UNBLOCK }, limits) !== undefined);
    assert.equal(change?.four_eyes?.({ action: CardAction.CARD_ACTION_FREEZE }, limits), undefined);
    const issue = operatorRuleOf(AdminServiceService.issueCard.path);
    assert.equal(issue?.four_eyes?.({ initialBalance: { amountMinor: 100_000n } }, limits), undefined);
    assert.ok(issue?.four_eyes?.({ initialBalance: { amountMinor: 100_001n } }, limits) !== undefined);
    const bulk = operatorRuleOf(CardServiceService.bulkIssueCards.path);
    assert.ok(bulk?.four_eyes?.({ cardIds: ['a', 'b', 'c'], params: { initialBalance: { amountMinor: 40_000n } } }, limits) !== undefined);
    const credit = operatorRuleOf(CardServiceService.creditCard.path);
    assert.ok(credit?.four_eyes?.({ amount: { amountMinor: 1n } }, limits) !== undefined, 'even a credit of one minor unit');
  });

  it('a manual credit moves money only with an approver other than its requester', async () => {
    const moved: string[] = [];
    const region = {
      money: (request: MoneyRequest, reply: (outcome: { ok: false; error: unknown }) => void) => {
        moved.push(request.operatorId);
        reply({ ok: false, error: new Error('stop here') });
      },
    } as unknown as Pick<ShardRegion, 'money'>;
    const credits = new ManualCredits(region);
    const acting = { subject: 'alice', role: 'issuer_admin', scope: '*', action: 'tapline.v1.CardService/CreditCard' };
    const credit = { cardId: 'c-1', amountMinor: 100, currency: 'EUR', key: 'goodwill-1' };
    for (const approver of [undefined, '', 'alice'])
      assert.equal(
        await refusal(() => credits.credit({ ...credit, acting: { ...acting, ...(approver === undefined ? {} : { approver }) } })),
        'permission_denied',
        `approver ${String(approver)}`,
      );
    assert.deepEqual(moved, [], 'nothing reached the card');
    await assert.rejects(credits.credit({ ...credit, acting: { ...acting, approver: 'bob' } }), /stop here/);
    assert.deepEqual(moved, ['alice'], 'the approved credit reaches the card as its requester');
  });
});

describe('certificate identities and token grants', () => {
  it('reads the SPIFFE forms it writes, and nothing else', () => {
    for (const principal of [
      { kind: 'terminal', terminalId: 'pos-1' },
      { kind: 'gateway', merchantIds: ['m-1', 'm-2'] },
      { kind: 'node', nodeId: 'tapline-0' },
    ] as const)
      assert.deepEqual(principalOfUri(identityUri(principal)), principal);
    for (const uri of [
      'spiffe://other/terminal/pos-1',
      'spiffe://tapline/terminal/pos 1',
      'spiffe://tapline/terminal/a/b',
      'spiffe://tapline/operator/alice',
      'spiffe://tapline/terminal/',
      'https://tapline/terminal/pos-1',
    ])
      assert.equal(principalOfUri(uri), undefined, uri);
  });

  it('parses revocation lists as serials, with comments and colons', () => {
    const serials = parseSerials('# revoked\n01:AB:cd\n  0ff  # old gateway\nnot-hex\n\n');
    assert.deepEqual([...serials].sort(), ['1ABCD', 'FF']);
    assert.equal(normalSerial('00:0F:F0'), 'FF0');
  });

  it('keeps the grants of roles it knows and refuses a malformed roles claim', () => {
    assert.deepEqual(
      grantsOf([
        { role: 'support', scope: ['*'] },
        { role: 'janitor', scope: ['*'] },
      ]),
      [{ role: 'support', scope: ['*'] }],
    );
    assert.deepEqual(grantsOf(undefined), []);
    for (const claim of ['support', [{ role: 'support' }], [{ role: 'support', scope: ['bad id'] }]])
      assert.throws(
        () => grantsOf(claim),
        (error: unknown) => error instanceof RejectedError && error.code === 'unauthenticated',
      );
  });
});
