// The hostile-client suite: every method of every door and every route of the reports service,
// called by every kind of caller that must not get in, over real gRPC with real TLS, real HTTPS,
// real Redis (and ClickHouse behind the reports). For each method: a dump of Redis before the
// hostile calls, each hostile call refused with the precise status (UNAUTHENTICATED when the
// caller cannot prove who it is, PERMISSION_DENIED when it may not do this; 401 / 403 over HTTP),
// the dump again (unchanged), then the allowed principal's call passing the door. Callers:
//   terminal door   no TLS at all, TLS without a client certificate, a certificate of another CA,
//                   an expired and a revoked certificate, a node's certificate, another terminal's
//                   certificate, a gateway of another merchant;
//   operator door   no token, an expired, a tampered, an unknown-key and a wrong-audience token, a
//                   terminal certificate without token, a role the method's rule does not allow, a
//                   merchant admin of another merchant, a fleet manager of another fleet, the
//                   holder of another card;
//   internal door   no TLS, no client certificate, a terminal's certificate, a node certificate of
//                   another CA, and a node's frame without the caller it must carry.
// A method or route added without its case here fails the coverage checks at the end.

import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { AdminServiceService } from '../../gen/tapline/v1/admin';
import { ApprovalServiceService } from '../../gen/tapline/v1/approvals';
import { AuthorizationServiceService, type AuthorizeStreamResponse } from '../../gen/tapline/v1/authorization';
import { CardAction, CardServiceService, SettlementMethod } from '../../gen/tapline/v1/cards';
import { FleetAdminServiceService, FleetCardStatus } from '../../gen/tapline/v1/fleet';
import { ClusterServiceService, type ForwardResponse } from '../../gen/tapline/internal/v1/cluster';
import { OfflineAdminServiceService, OfflineBatch, OfflineEntryKind, OfflineServiceService } from '../../gen/tapline/v1/offline';
import { batchSigningBytes } from '../../actors/offline/signature';
import { CardStatus } from '../../gen/tapline/v1/types';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { signPspPayload, pspPayload } from '../../services/authorizer/usecases/psp';
import { http_rules, role_names, rpc_rules, scoped_roles, type Role } from '../../services/common/auth/policy';
import { migrate } from '../../services/streamer/schema/migrate';
import { ClickHouseRunner } from '../../services/reports/clickhouse-runner';
import { ReportsServer } from '../../services/reports/server';
import { RedisSettlementStore } from '../../services/reports/settlement-store';
import { singleRedis } from '../../services/common/redis-target';
import { EventsStore } from '../../services/events/store';
import { createClient } from 'redis';
import { createLogger } from '../../services/common/logger';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, RefundClient, programConfig } from '../../tools/client/card-client';
import { FleetClient } from '../../tools/client/fleet-client';
import { OfflineClient } from '../../tools/client/offline-client';
import { generateTerminalKey } from '../../tools/offline-terminal/simulator';
import { httpRequest } from '../../tools/client/http';
import { DevCredentials, DevIssuer, dev_issuer, type CertificateFiles } from '../../tools/devenv/credentials';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import type { RedisInstance } from '../../tools/devenv/redis';
import { connectInspector, type Inspector } from '../support/redis-inspect';
import {
  accessTo,
  forwardedCaller,
  reportsSecurity,
  startInProcessNode,
  startTestRedis,
  testCardStates,
  testCredentials,
  testDataDir,
  test_shard_count,
  waitFor,
} from '../support/harness';

const psp_secret = 'trust-boundary-psp-secret-0123';
const database = 'tapline_trust';
const range = 'from=2026-01-01&to=2026-01-02';
type Definition = grpc.MethodDefinition<unknown, unknown>;

const definitions = new Map<string, Definition>(
  [
    AuthorizationServiceService,
    AdminServiceService,
    CardServiceService,
    FleetAdminServiceService,
    ApprovalServiceService,
    OfflineServiceService,
    OfflineAdminServiceService,
    ClusterServiceService,
  ].flatMap((service) => Object.values(service).map((method): [string, Definition] => [method.path, method as unknown as Definition])),
);

/** A request of a method: its message with every default, and the given fields. */
function message(path: string, fields: Record<string, unknown>): unknown {
  const definition = definitions.get(path);
  if (definition === undefined) throw new Error(`no method ${path}`);
  return { ...(definition.requestDeserialize(Buffer.alloc(0)) as Record<string, unknown>), ...fields };
}

interface CallResult {
  readonly code: grpc.status;
  readonly details: string;
}

function unary(client: grpc.Client, path: string, request: unknown, metadata = new grpc.Metadata()): Promise<CallResult> {
  const definition = definitions.get(path) as Definition;
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      definition.requestSerialize,
      definition.responseDeserialize,
      request,
      metadata,
      { deadline: Date.now() + 10_000 },
      (error) => resolve(error === null ? { code: grpc.status.OK, details: '' } : { code: error.code, details: error.details }),
    );
  });
}

/** One AuthorizeStream with one item: the call's status, or the item's when the call itself was let in. */
function streamItem(client: grpc.Client, request: unknown): Promise<CallResult> {
  const definition = definitions.get(AuthorizationServiceService.authorizeStream.path) as Definition;
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize,
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
    );
    let item: CallResult | undefined;
    call.on('data', (frame: AuthorizeStreamResponse) => {
      const result = frame.results[0];
      if (result !== undefined) item = { code: result.statusCode, details: result.statusMessage };
    });
    call.on('error', (error: grpc.ServiceError) => resolve(item ?? { code: error.code, details: error.details }));
    call.on('end', () => resolve(item ?? { code: grpc.status.UNKNOWN, details: 'stream ended without a result' }));
    call.write({ items: [{ correlationId: 'one', request }] });
    call.end();
  });
}

const local = { 'grpc.ssl_target_name_override': 'localhost' };

describe('trust boundary: hostile callers on every door, method and route (real TLS, tokens, Redis)', function () {
  this.timeout(300_000);
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let node: AuthorizerNode;
  let inspect: Inspector;
  let credentials: DevCredentials;
  let ca: Buffer;
  let reports: ReportsServer;
  let runner: ClickHouseRunner;
  let settlement: RedisSettlementStore;
  let eventsRedis: ReturnType<typeof createClient> | undefined;
  const closers: (() => void)[] = [];
  let txn = 1_000;
  const pending: string[] = [];
  /** t-home's offline key: its batches are signed with it. */
  let offlineKey: ReturnType<typeof generateTerminalKey>;

  const channel = (address: string, credentialsOf: grpc.ChannelCredentials): grpc.Client => {
    const client = new grpc.Client(address, credentialsOf, local);
    closers.push(() => client.close());
    return client;
  };
  const withCertificate = (files: CertificateFiles, caPem = ca): grpc.ChannelCredentials =>
    grpc.credentials.createSsl(caPem, readFileSync(files.key), readFileSync(files.cert));
  const bearer = (token: string): grpc.Metadata => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    return metadata;
  };

  before(async function () {
    credentials = await testCredentials();
    ca = readFileSync(credentials.caFile);
    [redis, clickhouse] = await Promise.all([
      startTestRedis('trust-boundary'),
      startClickHouse({ dataDir: testDataDir('trust-boundary-ch') }),
    ]);
    await migrate(clickhouse.url, database);
    node = await startInProcessNode(redis.url, { TAPLINE_PIN_SECRET: 'trust-boundary-pin-secret', TAPLINE_PSP_SECRET: psp_secret });
    inspect = await connectInspector(redis.url);
    await fixtures();
    runner = new ClickHouseRunner(clickhouse.url, database, 30_000);
    settlement = await RedisSettlementStore.connect(singleRedis(redis.url));
    eventsRedis = createClient({ url: redis.url });
    await eventsRedis.connect();
    const events = { store: new EventsStore(eventsRedis), now: Date.now, status: () => Promise.resolve({ relay: 'not started here' }) };
    reports = await ReportsServer.start(
      { query: runner.query, database, cards: await testCardStates(node), settlement, events },
      0,
      createLogger('trust-reports', 'silent'),
      await reportsSecurity(),
    );
  });

  after(async function () {
    for (const close of closers) close();
    await reports?.stop(1_000);
    await Promise.all([runner?.close(), settlement?.close(), inspect?.close(), eventsRedis?.close()]);
    await node?.shutdown();
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  /** Terminals and cards of two merchants, two fleets, a program, a manager, held approvals. */
  async function fixtures(): Promise<void> {
    const access = await accessTo(node);
    const client = new TaplineClient(access);
    const cards = new CardClient(access);
    const fleets = new FleetClient(access);
    try {
      await client.registerTerminal('t-home', 'm-home');
      await client.registerTerminal('t-away', 'm-away');
      await cards.defineProgram('p-1', programConfig());
      for (const card of ['c-1', 'c-auth', 'c-state', 'c-replace', 'c-return', 'c-cancel', 'c-pin', 'c-refund-run'])
        await client.issueCard(card, 10_000, 'EUR', card === 'c-refund-run' ? 'p-refund' : 'p-1');
      await cards.issue({
        cardId: 'c-tab',
        params: { initialBalance: { amountMinor: 0n, currency: 'EUR' }, programId: 'p-1', deposit: undefined, expiresAtUnixMs: 0n },
        holder: { name: 'Tab Holder', idDocumentType: 0, idDocumentNumber: '', phone: '', email: '' },
        pin: '',
        operatorId: '',
      });
      const refunds = new RefundClient(access);
      await refunds.registerManager('m-home', 'boss', '1234');
      refunds.close();
      for (const fleet of ['f-home', 'f-away']) {
        await fleets.createAccount({ fleetId: fleet, creditLimitMinor: 100_000, timeZone: 'Europe/Berlin' });
        await fleets.issueCard({ fleetId: fleet, cardNo: '1', limits: undefined, productGroups: undefined, operatorId: '' });
      }
      // t-home sells offline: a program with offline limits, its settings and key, a card.
      const offline = new OfflineClient(access);
      await cards.defineProgram(
        'p-off',
        programConfig({ offline: { txnMaxMinor: 2_000n, cardMaxMinor: 5_000n, debtThresholdMinor: 1_000n, cardCounter: false } }),
      );
      offlineKey = generateTerminalKey();
      await offline.setTerminalOffline(offlineSetup());
      await client.issueCard('c-off', 10_000, 'EUR', 'p-off');
      offline.close();
      // The first purchase of c-auth: what reversals, refunds and receipts refer to.
      await client.authorize(purchase('t-home', 1, 'c-auth', 500));
      // Two held unblocks (approved and rejected by the approval methods' allowed callers).
      for (const card of ['c-held-1', 'c-held-2']) {
        await client.issueCard(card, 100, 'EUR', 'p-1');
        await cards.changeState({ cardId: card, action: CardAction.CARD_ACTION_BLOCK, reason: 'x', operatorId: '', approverId: '' });
        pending.push(
          (await cards.changeState({ cardId: card, action: CardAction.CARD_ACTION_UNBLOCK, reason: 'x', operatorId: '', approverId: '' }))
            .pendingApprovalId,
        );
      }
    } finally {
      client.close();
      cards.close();
      fleets.close();
    }
  }

  // ---- the terminal door ----------------------------------------------------------------------

  function offlineSetup() {
    return {
      terminalId: 't-home',
      publicKey: offlineKey.spki,
      programIds: ['p-off'],
      totalMaxMinor: 100_000,
      currency: 'EUR',
      countMax: 100,
      offlineMaxMs: 3_600_000,
    };
  }

  /** t-home's first offline batch (one sale under its first grant), signed with its key. */
  function offlineUpload(): Record<string, unknown> {
    const batch = OfflineBatch.encode({
      terminalId: 't-home',
      batchNumber: 1n,
      entries: [
        {
          entryNumber: 1n,
          kind: OfflineEntryKind.OFFLINE_ENTRY_KIND_SALE,
          cardId: 'c-off',
          programId: 'p-off',
          amount: { amountMinor: 100n, currency: 'EUR' },
          voidOf: 0n,
          grantNumber: 1n,
          offsetMs: 1_000n,
          counter: undefined,
          receiptNumber: 1n,
        },
      ],
    }).finish();
    const signature = sign(null, batchSigningBytes(batch), offlineKey.privateKey);
    return { terminalId: 't-home', batch: Buffer.from(batch), signature };
  }

  /** Each terminal-door method: a valid request naming t-home, and whether it names a terminal. */
  const terminal_requests: Record<string, { build: () => unknown; names_terminal: boolean; allowed?: grpc.status }> = {
    [AuthorizationServiceService.authorize.path]: { build: () => purchase('t-home', ++txn, 'c-auth', 10), names_terminal: true },
    [AuthorizationServiceService.authorizeStream.path]: { build: () => purchase('t-home', ++txn, 'c-auth', 10), names_terminal: true },
    [AuthorizationServiceService.topUp.path]: {
      build: () =>
        message(AuthorizationServiceService.topUp.path, {
          terminalId: 't-home',
          terminalTxnNumber: BigInt(++txn),
          cardId: 'c-auth',
          amount: { amountMinor: 100n, currency: 'EUR' },
          source: 1,
        }),
      names_terminal: true,
    },
    [AuthorizationServiceService.getBalance.path]: { build: () => ({ cardId: 'c-auth' }), names_terminal: false },
    [AuthorizationServiceService.getTerminalParameters.path]: {
      build: () => ({ terminalId: 't-home', knownVersion: 0n }),
      names_terminal: true,
    },
    [AuthorizationServiceService.reverse.path]: {
      build: () =>
        message(AuthorizationServiceService.reverse.path, {
          terminalId: 't-home',
          terminalTxnNumber: BigInt(++txn),
          cardId: 'c-auth',
          original: { ref: { $case: 'terminalTxn', value: { terminalId: 't-home', txnNumber: 1n } } },
        }),
      names_terminal: true,
    },
    [AuthorizationServiceService.void.path]: {
      build: () =>
        message(AuthorizationServiceService.void.path, {
          terminalId: 't-home',
          terminalTxnNumber: BigInt(++txn),
          cardId: 'c-auth',
          original: { ref: { $case: 'terminalTxn', value: { terminalId: 't-home', txnNumber: 1n } } },
        }),
      names_terminal: true,
    },
    [AuthorizationServiceService.refund.path]: {
      build: () =>
        message(AuthorizationServiceService.refund.path, {
          terminalId: 't-home',
          terminalTxnNumber: BigInt(++txn),
          cardId: 'c-auth',
          original: { ref: { $case: 'terminalTxn', value: { terminalId: 't-home', txnNumber: 1n } } },
          amount: { amountMinor: 1n, currency: 'EUR' },
          managerId: 'boss',
          managerPin: '1234',
        }),
      names_terminal: true,
    },
    [AuthorizationServiceService.getReceipt.path]: {
      build: () => ({ cardId: 'c-auth', transaction: { ref: { $case: 'terminalTxn', value: { terminalId: 't-home', txnNumber: 1n } } } }),
      names_terminal: true,
    },
    // Offline selling: each call names t-home; the upload's batch is t-home's, signed by its key
    // (merged once for its terminal, answered again for its gateway).
    [OfflineServiceService.getOfflineProfile.path]: { build: () => ({ terminalId: 't-home', lastEntry: 0n }), names_terminal: true },
    [OfflineServiceService.getDenylistDelta.path]: {
      build: () => ({ terminalId: 't-home', since: [], pageToken: '', pageSize: 100 }),
      names_terminal: true,
    },
    [OfflineServiceService.ackDenylist.path]: {
      build: () => ({ terminalId: 't-home', shardVersions: Array.from({ length: test_shard_count }, () => 0n), lastEntry: 0n }),
      names_terminal: true,
    },
    [OfflineServiceService.uploadOfflineBatch.path]: { build: offlineUpload, names_terminal: true },
    // No counter key is configured here: the allowed caller passes the door and learns that.
    [OfflineServiceService.refreshCardCounter.path]: {
      build: () => ({ terminalId: 't-home', cardId: 'c-off' }),
      names_terminal: true,
      allowed: grpc.status.FAILED_PRECONDITION,
    },
    [AuthorizationServiceService.reportPour.path]: {
      build: () => ({
        terminalId: 't-home',
        reportId: `pour-${++txn}`,
        subject: { $case: 'period', value: { fromUnixMs: 1n, toUnixMs: 2n } },
        pouredMl: 500n,
        productCode: '',
      }),
      names_terminal: true,
    },
  };

  it('terminal door: every method refuses callers without a valid certificate of its own terminal, changing nothing', async function () {
    const other = await DevCredentials.open(testDataDir('trust-other-ca'));
    const expired = await credentials.authority.issue({ kind: 'terminal', terminalId: 't-home' }, 'expired-t-home', { days: -2 });
    const revoked = await credentials.authority.issue({ kind: 'terminal', terminalId: 't-home' }, 'revoked-t-home');
    credentials.revoke(revoked.serial);
    const address = `127.0.0.1:${node.grpcPort}`;
    const revokedClient = channel(address, withCertificate(revoked));
    let seen = '';
    await waitFor(
      'the node rereads the revocation list',
      async () => {
        const result = await unary(revokedClient, AuthorizationServiceService.getBalance.path, { cardId: 'c-auth' });
        seen = `${grpc.status[result.code]} ${result.details}`;
        return result.code === grpc.status.UNAUTHENTICATED;
      },
      () => seen,
      5_000,
    );
    const everywhere: [string, grpc.Client, grpc.status][] = [
      ['no TLS', channel(address, grpc.credentials.createInsecure()), grpc.status.UNAVAILABLE],
      ['TLS without a client certificate', channel(address, grpc.credentials.createSsl(ca)), grpc.status.UNAUTHENTICATED],
      [
        'a terminal certificate of another CA',
        channel(address, withCertificate(await other.terminal('t-home'))),
        grpc.status.UNAUTHENTICATED,
      ],
      ['an expired certificate', channel(address, withCertificate(expired)), grpc.status.UNAUTHENTICATED],
      ['a revoked certificate', revokedClient, grpc.status.UNAUTHENTICATED],
      ["a node's certificate", channel(address, withCertificate(await credentials.node('hostile-node'))), grpc.status.PERMISSION_DENIED],
    ];
    const scoped: [string, grpc.Client, grpc.status][] = [
      [
        "another terminal's certificate",
        channel(address, withCertificate(await credentials.terminal('t-away'))),
        grpc.status.PERMISSION_DENIED,
      ],
      [
        'a gateway of another merchant',
        channel(address, withCertificate(await credentials.gateway(['m-away']))),
        grpc.status.PERMISSION_DENIED,
      ],
    ];
    const allowed = channel(address, withCertificate(await credentials.terminal('t-home')));
    const gateway = channel(address, withCertificate(await credentials.gateway(['m-home'])));
    for (const path of rpc_rules.terminal.keys()) {
      const cases = terminal_requests[path];
      if (cases === undefined) continue;
      const call = (client: grpc.Client): Promise<CallResult> =>
        path === AuthorizationServiceService.authorizeStream.path ? streamItem(client, cases.build()) : unary(client, path, cases.build());
      const before = await inspect.snapshot();
      for (const [who, client, code] of [...everywhere, ...(cases.names_terminal ? scoped : [])]) {
        const result = await call(client);
        assert.equal(grpc.status[result.code], grpc.status[code], `${path} by ${who}: ${result.details}`);
      }
      assert.equal(await inspect.snapshot(), before, `${path}: the refused calls changed nothing`);
      for (const [who, client] of [
        ['its terminal', allowed],
        ["its merchant's gateway", gateway],
      ] as const) {
        const result = await call(client);
        assert.equal(grpc.status[result.code], grpc.status[cases.allowed ?? grpc.status.OK], `${path} by ${who}: ${result.details}`);
      }
    }
  });

  // ---- the operator door ----------------------------------------------------------------------

  const eur = (amountMinor: bigint): { amountMinor: bigint; currency: string } => ({ amountMinor, currency: 'EUR' });
  const params = { initialBalance: eur(100n), programId: 'p-1', deposit: undefined, expiresAtUnixMs: 0n };
  let issued = 0;
  const psp = (): Record<string, unknown> => {
    const payload = pspPayload({
      reference: `ref-${++txn}`,
      card: 'c-1',
      amountMinor: 100,
      currency: 'EUR',
      status: 'succeeded',
      kind: 'top_up',
      signedAtMs: Date.now(),
    });
    return { payload, signature: signPspPayload(psp_secret, payload) };
  };

  /** Each operator method: a valid request, the merchant or fleet it names, what its allowed caller gets. */
  const operator_requests: Record<
    string,
    { build: () => Record<string, unknown>; merchant?: string; fleet?: string; card?: string; allowed?: grpc.status }
  > = {
    [AdminServiceService.issueCard.path]: { build: () => ({ cardId: `adm-${++issued}`, initialBalance: eur(100n), programId: 'p-1' }) },
    [AdminServiceService.setCardStatus.path]: { build: () => ({ cardId: 'c-1', status: CardStatus.CARD_STATUS_FROZEN, reason: 'check' }) },
    [AdminServiceService.registerTerminal.path]: {
      build: () => ({ terminalId: `t-new-${++issued}`, merchantId: 'm-home' }),
      merchant: 'm-home',
    },
    [AdminServiceService.setTerminalEnabled.path]: { build: () => ({ terminalId: 't-home', enabled: true }), merchant: 'm-home' },
    [AdminServiceService.listBalances.path]: { build: () => ({ pageSize: 10 }) },
    [AdminServiceService.updateTerminalParameters.path]: {
      build: () => ({
        terminalId: 't-home',
        parameters: { receiptHeader: `Home ${++issued}`, receiptFooter: '', offlineProfile: '' },
        expectedVersion: 0n,
      }),
      merchant: 'm-home',
    },
    [AdminServiceService.getTerminal.path]: { build: () => ({ terminalId: 't-home' }), merchant: 'm-home' },
    [AdminServiceService.searchTerminals.path]: { build: () => ({ merchantId: 'm-home', pageSize: 10 }), merchant: 'm-home' },
    [AdminServiceService.setTerminalCashier.path]: {
      build: () => ({ terminalId: 't-home', cashierId: `cashier-${++issued}`, code: '1234', granted: true }),
      merchant: 'm-home',
    },
    [CardServiceService.defineProgram.path]: { build: () => ({ programId: 'p-2', config: programConfig() }) },
    [CardServiceService.getProgram.path]: { build: () => ({ programId: 'p-1' }) },
    [CardServiceService.issueCard.path]: { build: () => ({ cardId: `cs-${++issued}`, params }) },
    [CardServiceService.bulkIssueCards.path]: {
      build: () => ({ issuanceId: `bulk-${++issued}`, cardIds: [`bk-${issued}-1`, `bk-${issued}-2`], params }),
    },
    [CardServiceService.changeCardState.path]: {
      build: () => ({ cardId: 'c-state', action: CardAction.CARD_ACTION_FREEZE, reason: 'check' }),
    },
    [CardServiceService.getCard.path]: { build: () => ({ cardId: 'c-1' }) },
    [CardServiceService.registerManager.path]: {
      build: () => ({ merchantId: 'm-home', managerId: 'boss-2', pin: '4321' }),
      merchant: 'm-home',
    },
    [CardServiceService.replaceCard.path]: {
      build: () => ({ cardId: 'c-replace', replacementCardId: 'c-replacement', reason: 'damaged' }),
    },
    [CardServiceService.returnCard.path]: { build: () => ({ cardId: 'c-return', idempotencyKey: 'ret-1' }) },
    [CardServiceService.cancelIssuance.path]: { build: () => ({ cardId: 'c-cancel', reason: 'issued by mistake' }) },
    [CardServiceService.runProgramRefund.path]: { build: () => ({ programId: 'p-refund', runId: 'run-1' }) },
    // c-1 is frozen by SetCardStatus above: the allowed caller passes the door, and the card could
    // not take the top-up, so nothing is started at the PSP.
    [CardServiceService.startPspTopUp.path]: {
      build: () => ({ cardId: 'c-1', amount: eur(500n) }),
      card: 'c-1',
      allowed: grpc.status.FAILED_PRECONDITION,
    },
    [CardServiceService.handlePspCallback.path]: { build: psp },
    [CardServiceService.setAutoReload.path]: { build: () => ({ cardId: 'c-1', threshold: eur(0n), amount: eur(0n) }), card: 'c-1' },
    // The allowed caller's credit is held for a second principal (OK with a pending approval id).
    [CardServiceService.creditCard.path]: { build: () => ({ cardId: 'c-1', amount: eur(100n), idempotencyKey: `credit-${++issued}` }) },
    [CardServiceService.setPin.path]: { build: () => ({ cardId: 'c-pin', newPin: '2468', reset: true }) },
    // Runs after SetPin's allowed call above (the door's methods in the service's order), which set this PIN.
    [CardServiceService.verifyPin.path]: { build: () => ({ cardId: 'c-pin', pin: '2468' }), card: 'c-pin' },
    [CardServiceService.setTabLimit.path]: { build: () => ({ cardId: 'c-tab', limit: eur(1_000n) }) },
    [CardServiceService.settleTab.path]: {
      build: () => ({
        cardId: 'c-tab',
        amount: eur(10n),
        method: SettlementMethod.SETTLEMENT_METHOD_INVOICE,
        reference: `inv-${++issued}`,
      }),
    },
    [CardServiceService.getCardRules.path]: { build: () => ({ cardId: 'c-1' }) },
    [CardServiceService.setCardAuth.path]: { build: () => ({ cardId: 'c-1', keyId: '', counter: 0 }) },
    [CardServiceService.registerCardToken.path]: {
      build: () => ({ cardId: 'c-1', bankCard: { id: { $case: 'par', value: 'TRUSTBOUNDARY0000000000000001' } } }),
    },
    [CardServiceService.removeCardToken.path]: {
      build: () => ({ cardId: 'c-1', bankCard: { id: { $case: 'par', value: 'TRUSTBOUNDARY0000000000000001' } } }),
    },
    [CardServiceService.listProgramReviews.path]: { build: () => ({ programId: 'p-1' }) },
    [CardServiceService.resolveProgramReview.path]: {
      build: () => ({ cardId: 'c-1', transactionId: 'no-such-review', note: '' }),
      allowed: grpc.status.NOT_FOUND,
    },
    [FleetAdminServiceService.createFleetAccount.path]: {
      build: () => ({ fleetId: `f-new-${++issued}`, creditLimit: eur(1_000n), timeZone: 'Europe/Berlin' }),
    },
    [FleetAdminServiceService.setFleetLimits.path]: { build: () => ({ fleetId: 'f-home', limits: {} }), fleet: 'f-home' },
    [FleetAdminServiceService.setFleetPolicy.path]: {
      build: () => ({ fleetId: 'f-home', productGroups: { allowed: ['fuel'] } }),
      fleet: 'f-home',
    },
    [FleetAdminServiceService.setFleetPrompts.path]: {
      build: () => ({
        fleetId: 'f-home',
        prompts: { requireOdometer: true, requireDriver: false, requireVehicle: false, odometerJumpMaxKm: 0n },
      }),
      fleet: 'f-home',
    },
    [FleetAdminServiceService.setFleetPricing.path]: { build: () => ({ fleetId: 'f-home', agreements: [] }) },
    [FleetAdminServiceService.loadBasePrices.path]: {
      build: () => ({ fleetId: 'f-home', prices: [{ productCode: 'diesel', unitMilliMinor: 179_900n, effectiveFromUnixMs: 1n }] }),
    },
    [FleetAdminServiceService.issueFleetCard.path]: { build: () => ({ fleetId: 'f-home', cardNo: `n${++issued}` }), fleet: 'f-home' },
    [FleetAdminServiceService.setFleetCardLimits.path]: { build: () => ({ cardId: 'f-home~1', limits: {} }), fleet: 'f-home' },
    [FleetAdminServiceService.setFleetCardStatus.path]: {
      build: () => ({ cardId: 'f-home~1', status: FleetCardStatus.FLEET_CARD_STATUS_ACTIVE }),
      fleet: 'f-home',
    },
    [FleetAdminServiceService.getFleetAccount.path]: { build: () => ({ fleetId: 'f-home' }), fleet: 'f-home' },
    [FleetAdminServiceService.getFleetCard.path]: { build: () => ({ cardId: 'f-home~1' }), fleet: 'f-home' },
    [FleetAdminServiceService.listReviewQueue.path]: { build: () => ({ fleetId: 'f-home' }), fleet: 'f-home' },
    [FleetAdminServiceService.resolveReview.path]: {
      build: () => ({ fleetId: 'f-home', transactionId: 'no-such-review', note: '' }),
      fleet: 'f-home',
      allowed: grpc.status.NOT_FOUND,
    },
    [OfflineAdminServiceService.setTerminalOffline.path]: {
      build: () => {
        const setup = offlineSetup();
        return { ...setup, publicKey: Buffer.from(setup.publicKey), totalMax: eur(100_000n), offlineMaxMs: 3_600_000n };
      },
    },
    [OfflineAdminServiceService.getTerminalOffline.path]: { build: () => ({ terminalId: 't-home' }), merchant: 'm-home' },
    [OfflineAdminServiceService.listDenylist.path]: { build: () => ({ pageSize: 10, pageToken: '' }) },
    [FleetAdminServiceService.setFleetCardPin.path]: { build: () => ({ cardId: 'f-home~1', pin: '2468' }), fleet: 'f-home' },
    [FleetAdminServiceService.setFleetBillingTerms.path]: {
      build: () => ({ fleetId: 'f-home', terms: { paymentTermsDays: 30n, blockAfterOverdueDays: 10n } }),
    },
    [FleetAdminServiceService.closeFleetCycle.path]: { build: () => ({ fleetId: 'f-home', cycle: 1n }) },
    // Nothing is owed yet: the allowed caller's payment is answered (declined, above what is owed).
    [FleetAdminServiceService.postFleetPayment.path]: {
      build: () => ({ fleetId: 'f-home', reference: `pay-${++issued}`, amount: eur(100n) }),
    },
    [FleetAdminServiceService.loadSharedPrices.path]: {
      build: () => ({ priceListId: 'spot-1', prices: [{ productCode: 'diesel', unitMilliMinor: 150_000n, effectiveFromUnixMs: 1n }] }),
    },
    [ApprovalServiceService.listApprovals.path]: { build: () => ({}) },
    [ApprovalServiceService.getApproval.path]: { build: () => ({ approvalId: pending[0] }) },
    [ApprovalServiceService.approve.path]: { build: () => ({ approvalId: pending[0] }) },
    [ApprovalServiceService.reject.path]: { build: () => ({ approvalId: pending[1], reason: 'no' }) },
  };

  /** The roles a method's rule allows (for a request it accepts), and one role it does not. */
  function rolesOf(path: string): { allowed: readonly Role[]; refused: Role | undefined } {
    const rule = rpc_rules.operator.get(path);
    if (rule?.who !== 'operator') return { allowed: [], refused: undefined };
    const request = operator_requests[path]?.build();
    const allowed = typeof rule.roles === 'function' ? rule.roles(request) : rule.roles;
    return { allowed, refused: role_names.find((role) => !allowed.includes(role)) };
  }

  async function tampered(): Promise<string> {
    const [header, payload, signature] = (await credentials.token('support')).split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    claims['tapline_roles'] = role_names.map((role) => ({ role, scope: ['*'] }));
    return [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
  }

  it('operator door: every method refuses callers without a valid token of an allowed role and scope, changing nothing', async function () {
    const address = `127.0.0.1:${node.operatorPort}`;
    const server = channel(address, grpc.credentials.createSsl(ca));
    const stranger = await DevIssuer.open(testDataDir('trust-stranger-issuer'), dev_issuer);
    const everywhere: [string, grpc.Client, grpc.Metadata, grpc.status][] = [
      ['no token', server, new grpc.Metadata(), grpc.status.UNAUTHENTICATED],
      [
        'an expired token',
        server,
        bearer(await credentials.issuer.token({ role: 'issuer_admin', expires_in_s: -600 })),
        grpc.status.UNAUTHENTICATED,
      ],
      ['a tampered token', server, bearer(await tampered()), grpc.status.UNAUTHENTICATED],
      ['a token signed by an unknown key', server, bearer(await stranger.token({ role: 'issuer_admin' })), grpc.status.UNAUTHENTICATED],
      [
        'a token for another audience',
        server,
        bearer(await credentials.issuer.token({ role: 'issuer_admin', audience: 'elsewhere' })),
        grpc.status.UNAUTHENTICATED,
      ],
      [
        'a terminal certificate without token',
        channel(address, withCertificate(await credentials.terminal('t-home'))),
        new grpc.Metadata(),
        grpc.status.UNAUTHENTICATED,
      ],
    ];
    for (const path of rpc_rules.operator.keys()) {
      const cases = operator_requests[path];
      if (cases === undefined) continue;
      const { allowed, refused } = rolesOf(path);
      const hostile = [...everywhere];
      if (refused !== undefined)
        hostile.push([`role ${refused}`, server, bearer(await credentials.token(refused)), grpc.status.PERMISSION_DENIED]);
      if (cases.merchant !== undefined && allowed.includes('merchant_admin'))
        hostile.push([
          'a merchant admin of another merchant',
          server,
          bearer(await credentials.token('merchant_admin', ['m-away'])),
          grpc.status.PERMISSION_DENIED,
        ]);
      if (cases.fleet !== undefined && allowed.includes('fleet_manager'))
        hostile.push([
          'a fleet manager of another fleet',
          server,
          bearer(await credentials.token('fleet_manager', ['f-away'])),
          grpc.status.PERMISSION_DENIED,
        ]);
      if (cases.card !== undefined && allowed.includes('cardholder'))
        hostile.push([
          'the holder of another card',
          server,
          bearer(await credentials.token('cardholder', ['c-other'])),
          grpc.status.PERMISSION_DENIED,
        ]);
      const before = await inspect.snapshot();
      for (const [who, client, metadata, code] of hostile) {
        const result = await unary(client, path, message(path, cases.build()), metadata);
        assert.equal(grpc.status[result.code], grpc.status[code], `${path} by ${who}: ${result.details}`);
      }
      assert.equal(await inspect.snapshot(), before, `${path}: the refused calls changed nothing`);
      // The allowed caller: a scoped role within its own scope where the method has one.
      const role =
        allowed.find((candidate) => scoped_roles[candidate] !== undefined && (cases.merchant ?? cases.fleet) !== undefined) ?? allowed[0];
      assert.ok(role !== undefined, `${path} allows some role`);
      const scope = role === 'merchant_admin' ? [cases.merchant ?? ''] : role === 'fleet_manager' ? [cases.fleet ?? ''] : ['*'];
      const result = await unary(server, path, message(path, cases.build()), bearer(await credentials.token(role, scope)));
      assert.equal(
        grpc.status[result.code],
        grpc.status[cases.allowed ?? grpc.status.OK],
        `${path} by ${role} (${scope.join(',')}): ${result.details}`,
      );
    }
  });

  it('four eyes: the principal that asked cannot approve its own request, whatever its roles; another approver can', async function () {
    const server = channel(`127.0.0.1:${node.operatorPort}`, grpc.credentials.createSsl(ca));
    const requester = bearer(await credentials.token('issuer_admin', ['*'], 'alice'));
    const hold = (path: string, request: Record<string, unknown>): Promise<{ pendingApprovalId: string }> =>
      new Promise((resolve, reject) => {
        const definition = definitions.get(path) as Definition;
        server.makeUnaryRequest(
          path,
          definition.requestSerialize,
          (bytes: Buffer) => definition.responseDeserialize(bytes),
          message(path, request),
          requester,
          (error, value) => (error ? reject(error) : resolve(value as { pendingApprovalId: string })),
        );
      });
    const approveAs = (subject: string, approvalId: string): Promise<{ code: grpc.status; details: string }> =>
      credentials
        .token('approver', ['*'], subject)
        .then((token) => unary(server, ApprovalServiceService.approve.path, { approvalId }, bearer(token)));
    const cases: [string, () => Promise<{ pendingApprovalId: string }>, string, number][] = [
      [
        'an issuance of 10,000.00',
        () => hold(CardServiceService.issueCard.path, { cardId: 'c-large', params: { ...params, initialBalance: eur(1_000_000n) } }),
        'c-large',
        1_000_000,
      ],
      [
        'a manual credit of 5.00',
        () => hold(CardServiceService.creditCard.path, { cardId: 'c-large', amount: eur(500n), idempotencyKey: 'four-eyes-credit' }),
        'c-large',
        1_000_500,
      ],
    ];
    for (const [what, ask, cardId, balance] of cases) {
      const held = await ask();
      assert.match(held.pendingApprovalId, /^[0-9a-f-]{36}$/, `${what} is held`);
      const before = await inspect.snapshot();
      const self = await approveAs('alice', held.pendingApprovalId);
      assert.equal(grpc.status[self.code], 'PERMISSION_DENIED', `${what}: ${self.details}`);
      assert.equal(await inspect.snapshot(), before, `${what}: a refused self-approval changes nothing`);
      const other = await approveAs('bob', held.pendingApprovalId);
      assert.equal(grpc.status[other.code], 'OK', `${what}: ${other.details}`);
      assert.equal((await inspect.card(cardId))?.balanceMinor, balance, `${what}: carried out once approved`);
    }
  });

  // ---- the internal door ----------------------------------------------------------------------

  it('internal door: only node certificates of the cluster CA get in, and a frame must carry its caller', async function () {
    const address = `127.0.0.1:${node.internalPort}`;
    const other = await DevCredentials.open(testDataDir('trust-other-ca-nodes'));
    const forward = (client: grpc.Client, caller: Buffer): Promise<CallResult> => {
      const definition = definitions.get(ClusterServiceService.forward.path) as Definition;
      return new Promise((resolve) => {
        const call = client.makeBidiStreamRequest(
          definition.path,
          definition.requestSerialize,
          definition.responseDeserialize,
          new grpc.Metadata(),
          {
            deadline: Date.now() + 10_000,
          },
        );
        call.on('data', (frame: ForwardResponse) => {
          const result = frame.results[0];
          if (result !== undefined) {
            resolve({ code: result.statusCode, details: result.statusMessage });
            call.cancel();
          }
        });
        call.on('error', (error: grpc.ServiceError) => resolve({ code: error.code, details: error.details }));
        const request = AuthorizationServiceService.getBalance.requestSerialize({ cardId: 'c-1' });
        call.write({ calls: [{ callId: 1n, method: AuthorizationServiceService.getBalance.path, request, timeoutMs: 5_000, caller }] });
      });
    };
    const before = await inspect.snapshot();
    for (const [who, client, code] of [
      ['no TLS', channel(address, grpc.credentials.createInsecure()), grpc.status.UNAVAILABLE],
      ['TLS without a client certificate', channel(address, grpc.credentials.createSsl(ca)), grpc.status.UNAUTHENTICATED],
      ["a terminal's certificate", channel(address, withCertificate(await credentials.terminal('t-home'))), grpc.status.PERMISSION_DENIED],
      ['a node certificate of another CA', channel(address, withCertificate(await other.node('intruder'))), grpc.status.UNAUTHENTICATED],
      [
        'a node whose frame carries no caller',
        channel(address, withCertificate(await credentials.node('peer-1'))),
        grpc.status.PERMISSION_DENIED,
      ],
    ] as const) {
      const result = await forward(client, who.includes('no caller') ? Buffer.alloc(0) : forwardedCaller());
      assert.equal(grpc.status[result.code], grpc.status[code], `Forward by ${who}: ${result.details}`);
    }
    assert.equal(await inspect.snapshot(), before, 'nothing changed');
    const peer = await forward(channel(address, withCertificate(await credentials.node('peer-1'))), forwardedCaller());
    assert.equal(grpc.status[peer.code], 'OK', `a node with its caller is served: ${peer.details}`);
  });

  // ---- the reports service --------------------------------------------------------------------

  const day = (offset_days: number): string => new Date(Date.now() + offset_days * 86_400_000).toISOString().slice(0, 10);
  const campaign = { program: 'p-1', opens: day(0), deadline: day(30) };
  const delivery = '0'.repeat(32);
  const contact = { email: 'holder@example.org', language: 'en', consent: { email: true, sms: false }, notices: ['top_up'] };
  const subscription = { email: 'ops@example.org', consent: { email: true, sms: false }, notices: ['card_blocked'], programs: ['*'] };
  const template = { email_subject: 'Top-up', email_text: 'Topped up', sms_text: 'Topped up' };
  /** Notices and webhooks: each route, created before it is read, read before it is removed. */
  const events_cases = [
    {
      name: 'events.webhook_endpoint_put',
      method: 'PUT',
      path: '/webhooks/endpoints/tb-hook',
      body: { url: 'https://example.org/hook', events: ['transaction.*'] },
      allowed: 201,
    },
    { name: 'events.webhook_endpoints', method: 'GET', path: '/webhooks/endpoints', allowed: 200 },
    { name: 'events.webhook_endpoint_get', method: 'GET', path: '/webhooks/endpoints/tb-hook', allowed: 200 },
    { name: 'events.webhook_endpoint_deliveries', method: 'GET', path: '/webhooks/endpoints/tb-hook/deliveries', allowed: 200 },
    { name: 'events.webhook_endpoint_delete', method: 'DELETE', path: '/webhooks/endpoints/tb-hook', allowed: 200 },
    { name: 'events.notice_contact_put', method: 'PUT', path: '/notices/cards/c-1', body: contact, allowed: 200 },
    { name: 'events.notice_contact_get', method: 'GET', path: '/notices/cards/c-1', allowed: 200 },
    { name: 'events.notice_card_deliveries', method: 'GET', path: '/notices/cards/c-1/deliveries', allowed: 200 },
    { name: 'events.notice_contact_delete', method: 'DELETE', path: '/notices/cards/c-1', allowed: 200 },
    { name: 'events.notice_operator_put', method: 'PUT', path: '/notices/operators/ops-tb', body: subscription, allowed: 200 },
    { name: 'events.notice_operator_get', method: 'GET', path: '/notices/operators/ops-tb', allowed: 200 },
    { name: 'events.notice_operator_deliveries', method: 'GET', path: '/notices/operators/ops-tb/deliveries', allowed: 200 },
    { name: 'events.notice_operator_delete', method: 'DELETE', path: '/notices/operators/ops-tb', allowed: 200 },
    { name: 'events.notice_template_put', method: 'PUT', path: '/notices/templates/p-1/top_up/en', body: template, allowed: 200 },
    { name: 'events.notice_template_get', method: 'GET', path: '/notices/templates/p-1/top_up/en', allowed: 200 },
    // No delivery exists: the allowed caller learns just that.
    { name: 'events.delivery_get', method: 'GET', path: `/deliveries/${delivery}`, allowed: 404 },
    { name: 'events.delivery_retry', method: 'POST', path: `/deliveries/${delivery}/retry`, body: {}, allowed: 404 },
    { name: 'events.events_status', method: 'GET', path: '/events/status', allowed: 200 },
  ];

  const routes: {
    readonly name: string;
    readonly method: string;
    readonly path: string;
    readonly body?: unknown;
    readonly merchant?: string;
    readonly fleet?: string;
    readonly allowed: number;
  }[] = [
    { name: 'float', method: 'GET', path: '/reports/float', allowed: 200 },
    { name: 'reconciliation', method: 'GET', path: '/reports/reconciliation', allowed: 200 },
    { name: 'merchants', method: 'GET', path: `/reports/merchants?${range}`, allowed: 200 },
    { name: 'operations', method: 'GET', path: `/reports/operations?${range}`, allowed: 200 },
    { name: 'card_history', method: 'GET', path: '/reports/cards/c-1/history', allowed: 200 },
    // No streamer runs here: ClickHouse holds no transaction of the card, so the allowed caller learns just that.
    { name: 'card_transaction_lines', method: 'GET', path: '/reports/cards/c-1/transactions/t-1/lines', allowed: 404 },
    { name: 'top_ups', method: 'GET', path: `/reports/top-ups?${range}`, allowed: 200 },
    { name: 'audit', method: 'GET', path: `/reports/audit?${range}&principal=dev-issuer_admin`, allowed: 200 },
    // No streamer runs here: ClickHouse knows no program yet, so the allowed caller learns just that.
    { name: 'event_statistics', method: 'GET', path: '/reports/events/p-1/statistics', allowed: 404 },
    { name: 'fleet_invoice', method: 'GET', path: `/reports/fleets/f-home/invoice?${range}`, fleet: 'f-home', allowed: 200 },
    // No streamer runs here: ClickHouse holds no closed cycle, so the allowed caller learns just that.
    { name: 'fleet_cycle_invoice', method: 'GET', path: '/reports/fleets/f-home/invoices/1', fleet: 'f-home', allowed: 404 },
    { name: 'fleet_statement', method: 'GET', path: `/reports/fleets/f-home/statement?${range}`, fleet: 'f-home', allowed: 200 },
    { name: 'fleet_cards', method: 'GET', path: '/reports/fleets/f-home/cards', fleet: 'f-home', allowed: 200 },
    {
      name: 'settlement.merchant.put',
      method: 'PUT',
      path: '/settlement/merchants/m-home',
      body: {
        cycle: 'daily',
        payee_name: 'Home Bar',
        payee_iban: 'DE89370400440532013000',
        rates: [{ kind: 'purchase', percent_bp: 100, fixed_minor: 0 }],
      },
      allowed: 202,
    },
    { name: 'settlement.merchant.get', method: 'GET', path: '/settlement/merchants/m-home', merchant: 'm-home', allowed: 200 },
    { name: 'merchant_fees', method: 'GET', path: `/reports/merchants/m-home/fees?${range}`, merchant: 'm-home', allowed: 200 },
    { name: 'merchant_terminals', method: 'GET', path: '/reports/merchants/m-home/terminals', merchant: 'm-home', allowed: 200 },
    { name: 'merchant_sales', method: 'GET', path: `/reports/merchants/m-home/sales?${range}`, merchant: 'm-home', allowed: 200 },
    {
      name: 'merchant_transaction_lines',
      method: 'GET',
      path: '/reports/merchants/m-home/transactions/t-1/lines',
      merchant: 'm-home',
      allowed: 404,
    },
    {
      name: 'terminal_history',
      method: 'GET',
      path: `/reports/merchants/m-home/terminals/t-home/history?${range}`,
      merchant: 'm-home',
      allowed: 200,
    },
    {
      name: 'terminal_statistics',
      method: 'GET',
      path: `/reports/merchants/m-home/terminals/t-home/statistics?${range}`,
      merchant: 'm-home',
      allowed: 200,
    },
    { name: 'settlement.payee.approve', method: 'POST', path: '/settlement/merchants/m-home/payee/approve', body: {}, allowed: 200 },
    {
      name: 'settlement.batches.compute',
      method: 'POST',
      path: '/settlement/merchants/m-home/batches',
      body: { date: '2026-01-01' },
      allowed: 201,
    },
    { name: 'settlement.batches.list', method: 'GET', path: '/settlement/merchants/m-home/batches', merchant: 'm-home', allowed: 200 },
    { name: 'settlement.runs', method: 'POST', path: '/settlement/runs', body: { date: '2026-01-01' }, allowed: 200 },
    { name: 'settlement.batch.get', method: 'GET', path: '/settlement/batches/m-home.daily.2026-01-01', merchant: 'm-home', allowed: 200 },
    {
      name: 'settlement.batch.approve',
      method: 'POST',
      path: '/settlement/batches/m-home.daily.2026-01-01/approve',
      body: {},
      allowed: 200,
    },
    {
      name: 'settlement.batch.settle',
      method: 'POST',
      path: '/settlement/batches/m-home.daily.2026-01-01/settle',
      body: { reference: 'SEPA-1' },
      allowed: 200,
    },
    { name: 'settlement.batch.transfer', method: 'GET', path: '/settlement/batches/m-home.daily.2026-01-01/transfer.csv', allowed: 200 },
    { name: 'settlement.batch.files', method: 'GET', path: '/settlement/batches/m-home.daily.2026-01-01/files/csv', allowed: 200 },
    { name: 'taps', method: 'GET', path: `/reports/taps?${range}`, allowed: 200 },
    { name: 'offline', method: 'GET', path: `/reports/offline?${range}`, allowed: 200 },
    { name: 'offline_terminals', method: 'GET', path: '/reports/offline/terminals', allowed: 200 },
    { name: 'settlement.campaign.put', method: 'PUT', path: '/settlement/campaigns/tb-campaign', body: campaign, allowed: 200 },
    { name: 'settlement.campaign.get', method: 'GET', path: '/settlement/campaigns/tb-campaign', allowed: 200 },
    { name: 'breakage', method: 'GET', path: '/reports/campaigns/tb-campaign/breakage', allowed: 200 },
    // Refund claims: this reports service serves none (no claim store), so an allowed caller learns
    // just that (404); what these cases prove is that everyone else is refused first, changing nothing.
    { name: 'refund_claims.card.get', method: 'GET', path: '/refund-claims/cards/c-1', allowed: 404 },
    {
      name: 'refund_claims.card.put',
      method: 'PUT',
      path: '/refund-claims/cards/c-1',
      body: { holder_name: 'Ann Holder', iban: 'NL91ABNA0417164300' },
      allowed: 404,
    },
    { name: 'refund_claims.program.get', method: 'GET', path: '/refund-claims/programs/p-1', allowed: 404 },
    { name: 'refund_claims.window.put', method: 'PUT', path: '/refund-claims/programs/p-1', body: { opens: 0 }, allowed: 404 },
    { name: 'refund_claims.run.propose', method: 'POST', path: '/refund-claims/programs/p-1/runs', body: {}, allowed: 404 },
    { name: 'refund_claims.run.get', method: 'GET', path: '/refund-claims/runs/p-1.refund.1', allowed: 404 },
    { name: 'refund_claims.run.approve', method: 'POST', path: '/refund-claims/runs/p-1.refund.1/approve', body: {}, allowed: 404 },
    { name: 'refund_claims.run.file', method: 'GET', path: '/refund-claims/runs/p-1.refund.1/pain.001', allowed: 404 },
    ...events_cases,
  ];

  it('reports service: every route refuses a missing, expired, tampered or foreign token (401) and a role or scope it does not allow (403), changing nothing', async function () {
    const stranger = await DevIssuer.open(testDataDir('trust-stranger-issuer-http'), dev_issuer);
    const url = (path: string): string => `https://localhost:${reports.port}${path}`;
    const everywhere: [string, string | undefined, number][] = [
      ['no token', undefined, 401],
      ['an expired token', await credentials.issuer.token({ role: 'issuer_admin', expires_in_s: -600 }), 401],
      ['a tampered token', await tampered(), 401],
      ['a token signed by an unknown key', await stranger.token({ role: 'issuer_admin' }), 401],
      ['a token for another audience', await credentials.issuer.token({ role: 'issuer_admin', audience: 'elsewhere' }), 401],
    ];
    for (const route of routes) {
      const rule = http_rules[route.name];
      assert.ok(rule?.roles !== undefined, `route ${route.name} has a rule with roles`);
      const refused = role_names.find((role) => !(rule.roles ?? []).includes(role));
      const hostile = [...everywhere];
      if (refused !== undefined) hostile.push([`role ${refused}`, await credentials.token(refused), 403]);
      if (route.merchant !== undefined)
        hostile.push(['a merchant admin of another merchant', await credentials.token('merchant_admin', ['m-away']), 403]);
      if (route.fleet !== undefined)
        hostile.push(['a fleet manager of another fleet', await credentials.token('fleet_manager', ['f-away']), 403]);
      const body = route.body === undefined ? undefined : JSON.stringify(route.body);
      const send = (token: string | undefined) =>
        httpRequest(url(route.path), {
          method: route.method,
          ca,
          ...(token === undefined ? {} : { token }),
          ...(body === undefined ? {} : { body }),
        });
      const before = await inspect.snapshot();
      for (const [who, token, status] of hostile) {
        const answer = await send(token);
        assert.equal(answer.status, status, `${route.method} ${route.path} by ${who}: ${answer.body}`);
      }
      assert.equal(await inspect.snapshot(), before, `${route.name}: the refused requests changed nothing`);
      const role =
        route.merchant !== undefined ? 'merchant_admin' : route.fleet !== undefined ? 'fleet_manager' : (rule.roles?.[0] as Role);
      const scope = route.merchant !== undefined ? [route.merchant] : route.fleet !== undefined ? [route.fleet] : ['*'];
      if (route.name === 'settlement.batch.approve') {
        // Four eyes: the principal that computed the batch cannot approve it.
        const own = await send(await credentials.token('settlement_approver', ['*'], 'dev-issuer_admin'));
        assert.equal(own.status, 403, own.body);
        assert.equal(await inspect.snapshot(), before, 'a refused self-approval changed nothing');
      }
      const answer = await send(await credentials.token(role, scope));
      assert.equal(answer.status, route.allowed, `${route.method} ${route.path} by ${role} (${scope.join(',')}): ${answer.body}`);
    }
    assert.equal((await httpRequest(url('/healthz'), { ca })).status, 200, '/healthz is public (probes)');
  });

  // ---- coverage: a method or route added without its case here fails -----------------------------

  it('covers every method of every door and every route of the reports service', function () {
    for (const path of rpc_rules.terminal.keys())
      if (!path.startsWith('/grpc.')) assert.ok(terminal_requests[path] !== undefined, `terminal door: no hostile case for ${path}`);
    for (const path of rpc_rules.operator.keys())
      if (!path.startsWith('/grpc.')) assert.ok(operator_requests[path] !== undefined, `operator door: no hostile case for ${path}`);
    const tested = new Set(routes.map((route) => route.name));
    for (const name of Object.keys(http_rules))
      if (http_rules[name]?.who !== 'public' && name !== 'unknown')
        assert.ok(tested.has(name), `reports: no hostile case for route ${name}`);
  });

  it('serves health checks without credentials (probes), and reflection only to authenticated callers', async function () {
    const operator = channel(`127.0.0.1:${node.operatorPort}`, grpc.credentials.createSsl(ca));
    const health = await new Promise<CallResult>((resolve) =>
      operator.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        () => Buffer.alloc(0),
        (bytes: Buffer) => bytes,
        {},
        new grpc.Metadata(),
        { deadline: Date.now() + 5_000 },
        (error) => resolve(error === null ? { code: grpc.status.OK, details: '' } : { code: error.code, details: error.details }),
      ),
    );
    assert.equal(grpc.status[health.code], 'OK', health.details);
    const reflection = await new Promise<CallResult>((resolve) => {
      const call = operator.makeBidiStreamRequest(
        '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
        () => Buffer.from([0x3a, 0x01, 0x2a]),
        (bytes: Buffer) => bytes,
        new grpc.Metadata(),
        { deadline: Date.now() + 5_000 },
      );
      call.on('data', () => resolve({ code: grpc.status.OK, details: 'answered' }));
      call.on('error', (error: grpc.ServiceError) => resolve({ code: error.code, details: error.details }));
      call.write({});
      call.end();
    });
    assert.equal(grpc.status[reflection.code], 'UNAUTHENTICATED', reflection.details);
  });
});
