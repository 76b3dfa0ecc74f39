// Proves terminal management end to end over real gRPC with TLS (terminal certificates, operator
// tokens), real Redis and ClickHouse 18.16 through the outbox and the streamer: a terminal is
// registered with its serial number, location and parameters; a parameters change increments the
// version and the terminal fetches the new parameters over its own door; a disabled terminal's
// authorizations are refused ("terminal disabled") and pass again once it is enabled; terminals
// are searched by merchant, status, serial number and location text a page at a time; a merchant
// admin grants and denies cashiers, whose sales carry them to ClickHouse, and an unknown or denied
// cashier or a wrong code is refused; a merchant admin of another merchant gets PERMISSION_DENIED
// on every terminal method and changes nothing; bad input is INVALID_ARGUMENT and changes nothing.
// The per-terminal history and statistics of the reports service add up to the requests sent.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {
  TerminalStatusFilter,
  type SearchTerminalsRequest,
  type SearchTerminalsResponse,
  type TerminalRecord,
} from '../../gen/tapline/v1/admin';
import type {
  AuthorizeRequest,
  AuthorizeResponse,
  AuthorizeStreamResponse,
  AuthorizeStreamResult,
  GetTerminalParametersResponse,
} from '../../gen/tapline/v1/authorization';
import { DeclineReason, Outcome, type TerminalParameters } from '../../gen/tapline/v1/types';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { createLogger } from '../../services/common/logger';
import type { CardStateReader } from '../../services/reports/card-states';
import { ClickHouseRunner } from '../../services/reports/clickhouse-runner';
import { ReportsServer } from '../../services/reports/server';
import { loadStreamerConfig } from '../../services/streamer/config';
import { migrate } from '../../services/streamer/schema/migrate';
import { Streamer } from '../../services/streamer/streamer';
import { purchase, TaplineClient } from '../../tools/client/tapline-client';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import type { RedisInstance } from '../../tools/devenv/redis';
import { connectInspector, type Inspector } from '../support/redis-inspect';
import {
  accessTo,
  reportsRequest,
  reportsSecurity,
  startInProcessNode,
  startTestRedis,
  testDataDir,
  testToken,
  waitFor,
} from '../support/harness';
import { streamerEnv } from '../support/outbox-fixtures';
import { cashier_code_attempts_max } from '../../services/authorizer/usecases/terminals';

const database = 'terminals_it';
const logger = createLogger('terminals-test', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn');

const no_card_states: CardStateReader = {
  allBalances: () => Promise.reject(new Error('not read here')),
  card: () => Promise.reject(new Error('not read here')),
  close: () => undefined,
};

type Call<Req, Res> = (request: Req, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<Res>) => unknown;

/** One unary call with a deadline, as a promise. */
function call<Req, Res>(method: Call<Req, Res>, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (error, response) =>
      error || response === undefined ? reject(error ?? new Error('no response')) : resolve(response),
    );
  });
}

async function refusedWith(code: grpc.status, what: string, promise: Promise<unknown>, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: grpc.ServiceError) => {
    assert.equal(error.code, code, `${what}: expected ${grpc.status[code]}, got ${grpc.status[error.code]} (${error.details})`);
    if (message !== undefined) assert.match(error.details, message, what);
    return true;
  });
}

const parameters_v1: TerminalParameters = {
  receiptHeader: 'Bar North\nHall A',
  receiptFooter: 'Thank you',
  communication: { host: 'pay.example.org', port: 8443, timeoutMs: 4_000 },
  offlineProfile: 'festival-basic',
};

describe('terminal management (real gRPC over TLS, Redis, streamer, ClickHouse 18.16)', function () {
  this.timeout(180_000);
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let node: AuthorizerNode;
  /** Issuer admin (the test credentials' default roles). */
  let issuer: TaplineClient;
  /** A merchant admin of bar-north only. */
  let north: TaplineClient;
  /** A merchant admin of bar-south only. */
  let south: TaplineClient;
  let streamer: Streamer;
  let runner: ClickHouseRunner;
  let server: ReportsServer;
  let inspector: Inspector;
  const today = new Date().toISOString().slice(0, 10);
  let txn = 0;

  const getTerminal = async (client: TaplineClient, terminalId: string): Promise<TerminalRecord> =>
    (await call(client.admin.getTerminal.bind(client.admin), { terminalId })).terminal ?? assert.fail('no terminal in the answer');
  const search = (client: TaplineClient, request: Partial<SearchTerminalsRequest>): Promise<SearchTerminalsResponse> =>
    call(client.admin.searchTerminals.bind(client.admin), {
      merchantId: '',
      status: TerminalStatusFilter.TERMINAL_STATUS_FILTER_UNSPECIFIED,
      serialNumber: '',
      locationContains: '',
      pageSize: 0,
      pageToken: '',
      ...request,
    });
  const fetchParameters = async (terminalId: string, knownVersion: bigint): Promise<GetTerminalParametersResponse> => {
    const terminal = await issuer.terminal(terminalId);
    return call(terminal.getTerminalParameters.bind(terminal), { terminalId, knownVersion });
  };
  const sell = (
    terminalId: string,
    cardId: string,
    amount: number,
    cashier?: { cashierId: string; code: string },
  ): Promise<AuthorizeResponse> => {
    const request: AuthorizeRequest = { ...purchase(terminalId, ++txn, cardId, amount), cashier };
    return issuer.authorize(request);
  };
  const terminalDump = async (): Promise<string> =>
    (await inspector.snapshot())
      .split('\n')
      .filter((line) => line.includes(':term:'))
      .join('\n');

  before(async function () {
    [redis, clickhouse] = await Promise.all([startTestRedis('terminals-it'), startClickHouse({ dataDir: testDataDir('terminals-it-ch') })]);
    await migrate(clickhouse.url, database);
    node = await startInProcessNode(redis.url, { TAPLINE_PIN_SECRET: 'terminals-pin-secret' });
    inspector = await connectInspector(redis.url);
    issuer = new TaplineClient(await accessTo(node));
    north = new TaplineClient(
      await accessTo(node, { overrides: { token: await testToken('merchant_admin', ['bar-north'], 'boss-north') } }),
    );
    south = new TaplineClient(
      await accessTo(node, { overrides: { token: await testToken('merchant_admin', ['bar-south'], 'boss-south') } }),
    );
    await issuer.issueCard('guest-1', 100_000);
    await issuer.issueCard('guest-poor', 100);
    streamer = await Streamer.start(loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database)), logger);
    runner = new ClickHouseRunner(clickhouse.url, database, 20_000);
    server = await ReportsServer.start({ query: runner.query, database, cards: no_card_states }, 0, logger, await reportsSecurity());
  });

  after(async function () {
    await server?.stop(1_000);
    await streamer?.stop();
    for (const client of [issuer, north, south]) client?.close();
    await node?.shutdown();
    await inspector?.client.quit();
    await runner?.close();
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  it('registers a terminal with serial, location and parameters; a parameters change increments the version the terminal fetches', async function () {
    const registered = await call(north.admin.registerTerminal.bind(north.admin), {
      terminalId: 'pos-1',
      merchantId: 'bar-north',
      location: 'Hall A, north bar',
      operatorId: 'ignored',
      serialNumber: 'SN-4711',
      parameters: parameters_v1,
    });
    assert.deepEqual(registered, {
      terminalId: 'pos-1',
      merchantId: 'bar-north',
      enabled: true,
      alreadyExisted: false,
      parametersVersion: 1n,
    });
    const record = await getTerminal(issuer, 'pos-1');
    assert.deepEqual(record, {
      terminalId: 'pos-1',
      merchantId: 'bar-north',
      location: 'Hall A, north bar',
      serialNumber: 'SN-4711',
      enabled: true,
      parameters: parameters_v1,
      parametersVersion: 1n,
      cashiers: [],
    });
    assert.deepEqual(await fetchParameters('pos-1', 0n), { terminalId: 'pos-1', version: 1n, unchanged: false, parameters: parameters_v1 });
    assert.deepEqual(await fetchParameters('pos-1', 1n), { terminalId: 'pos-1', version: 1n, unchanged: true, parameters: undefined });

    const parameters_v2 = { ...parameters_v1, receiptFooter: 'See you tomorrow', offlineProfile: 'festival-strict' };
    const updated = await call(north.admin.updateTerminalParameters.bind(north.admin), {
      terminalId: 'pos-1',
      parameters: parameters_v2,
      expectedVersion: 1n,
    });
    assert.equal(updated.terminal?.parametersVersion, 2n);
    assert.deepEqual(await fetchParameters('pos-1', 1n), { terminalId: 'pos-1', version: 2n, unchanged: false, parameters: parameters_v2 });
    // The same parameters again change nothing; a change based on an old version is refused.
    const again = await call(north.admin.updateTerminalParameters.bind(north.admin), {
      terminalId: 'pos-1',
      parameters: parameters_v2,
      expectedVersion: 0n,
    });
    assert.equal(again.terminal?.parametersVersion, 2n);
    const before = await terminalDump();
    await refusedWith(
      grpc.status.FAILED_PRECONDITION,
      'a change based on version 1',
      call(north.admin.updateTerminalParameters.bind(north.admin), { terminalId: 'pos-1', parameters: parameters_v1, expectedVersion: 1n }),
      /version 2/,
    );
    assert.equal(await terminalDump(), before, 'a refused change writes nothing');
    // Registering again with another serial number is refused; with the same one it is a no-op.
    await refusedWith(
      grpc.status.ALREADY_EXISTS,
      'another serial',
      call(issuer.admin.registerTerminal.bind(issuer.admin), {
        terminalId: 'pos-1',
        merchantId: 'bar-north',
        location: '',
        operatorId: '',
        serialNumber: 'SN-9999',
        parameters: undefined,
      }),
    );
    assert.equal(await terminalDump(), before);
  });

  it("declines a disabled terminal's authorizations precisely and approves them again once enabled", async function () {
    const balance = async (): Promise<bigint> => (await issuer.balance('guest-1')).balance?.amountMinor ?? -1n;
    const start = await balance();
    assert.equal((await sell('pos-1', 'guest-1', 100)).outcome, Outcome.OUTCOME_APPROVED);
    assert.deepEqual(
      await call(north.admin.setTerminalEnabled.bind(north.admin), { terminalId: 'pos-1', enabled: false, operatorId: '' }),
      {
        terminalId: 'pos-1',
        enabled: false,
      },
    );
    await refusedWith(grpc.status.FAILED_PRECONDITION, 'disabled terminal', sell('pos-1', 'guest-1', 100), /terminal disabled/);
    assert.equal(await balance(), start - 100n, 'the refused sale moved nothing');
    assert.equal((await getTerminal(issuer, 'pos-1')).enabled, false);
    await call(north.admin.setTerminalEnabled.bind(north.admin), { terminalId: 'pos-1', enabled: true, operatorId: '' });
    assert.equal((await sell('pos-1', 'guest-1', 100)).outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(await balance(), start - 200n);
  });

  it('lets the merchant grant and deny cashiers; unknown or denied cashiers and wrong codes are refused and move nothing', async function () {
    const grant = (cashierId: string, code: string, granted: boolean) =>
      call(north.admin.setTerminalCashier.bind(north.admin), { terminalId: 'pos-1', cashierId, code, granted });
    assert.deepEqual(await grant('anna', '4321', true), { terminalId: 'pos-1', cashierId: 'anna', granted: true });
    assert.deepEqual(await grant('ben', '1111', true), { terminalId: 'pos-1', cashierId: 'ben', granted: true });
    const anna = { cashierId: 'anna', code: '4321' };
    assert.equal((await sell('pos-1', 'guest-1', 250, anna)).outcome, Outcome.OUTCOME_APPROVED);
    assert.equal((await sell('pos-1', 'guest-1', 150, anna)).outcome, Outcome.OUTCOME_APPROVED);
    assert.equal((await sell('pos-1', 'guest-1', 300, { cashierId: 'ben', code: '1111' })).outcome, Outcome.OUTCOME_APPROVED);
    const start = (await issuer.balance('guest-1')).balance?.amountMinor;
    await refusedWith(
      grpc.status.PERMISSION_DENIED,
      'wrong code',
      sell('pos-1', 'guest-1', 10, { cashierId: 'anna', code: '0000' }),
      /code wrong/,
    );
    await refusedWith(
      grpc.status.PERMISSION_DENIED,
      'unknown cashier',
      sell('pos-1', 'guest-1', 10, { cashierId: 'carl', code: '4321' }),
      /unknown/,
    );
    await grant('ben', '', false);
    await refusedWith(
      grpc.status.PERMISSION_DENIED,
      'denied cashier',
      sell('pos-1', 'guest-1', 10, { cashierId: 'ben', code: '1111' }),
      /denied/,
    );
    assert.equal((await issuer.balance('guest-1')).balance?.amountMinor, start, 'refused cashiers moved nothing');
    // The record lists the cashiers and their grants, never their codes.
    const record = await getTerminal(north, 'pos-1');
    assert.deepEqual(record.cashiers, [
      { cashierId: 'anna', granted: true },
      { cashierId: 'ben', granted: false },
    ]);
    assert.ok(!(await terminalDump()).includes('4321'), 'a code is stored only as its keyed hash');
    // A new cashier needs a code; a bad code is INVALID_ARGUMENT; both change nothing.
    const before = await terminalDump();
    await refusedWith(grpc.status.INVALID_ARGUMENT, 'new cashier without a code', grant('dora', '', true));
    await refusedWith(grpc.status.INVALID_ARGUMENT, 'a code of letters', grant('dora', 'abcd', true));
    await refusedWith(grpc.status.NOT_FOUND, 'denying an unknown cashier', grant('erik', '', false));
    assert.equal(await terminalDump(), before);
  });

  it('locks a cashier after repeated wrong codes at a terminal, changing nothing else, until the merchant grants them again', async function () {
    const lena = { cashierId: 'lena', code: '2468' };
    const wrong = { cashierId: 'lena', code: '8642' };
    await call(north.admin.setTerminalCashier.bind(north.admin), {
      terminalId: 'pos-1',
      cashierId: 'lena',
      code: lena.code,
      granted: true,
    });
    const wrongCodes = async (count: number): Promise<void> => {
      for (let attempt = 1; attempt <= count; attempt++)
        await refusedWith(
          grpc.status.PERMISSION_DENIED,
          `wrong code ${attempt} of ${count}`,
          sell('pos-1', 'guest-1', 10, wrong),
          /code wrong/,
        );
    };
    // One attempt short of the lock, then the right code: the count starts again.
    await wrongCodes(cashier_code_attempts_max - 1);
    assert.equal((await sell('pos-1', 'guest-1', 20, lena)).outcome, Outcome.OUTCOME_APPROVED, 'the right code before the lock sells');
    // A whole run of wrong codes: the last one locks lena at pos-1, whatever code comes next.
    await wrongCodes(cashier_code_attempts_max);
    const balance = (await issuer.balance('guest-1')).balance?.amountMinor;
    const terminal = await terminalDump();
    await refusedWith(grpc.status.PERMISSION_DENIED, 'locked cashier, right code', sell('pos-1', 'guest-1', 20, lena), /cashier locked/);
    await refusedWith(grpc.status.PERMISSION_DENIED, 'locked cashier, wrong code', sell('pos-1', 'guest-1', 20, wrong), /cashier locked/);
    assert.equal((await issuer.balance('guest-1')).balance?.amountMinor, balance, 'a locked cashier moved nothing');
    assert.equal(await terminalDump(), terminal, "a locked cashier changed nothing of the terminal's record");
    // The lock is the cashier's at this terminal: another cashier still sells there.
    assert.equal((await sell('pos-1', 'guest-1', 20, { cashierId: 'anna', code: '4321' })).outcome, Outcome.OUTCOME_APPROVED);
    // The count is durable in Redis, on the terminal's shard, shared by every node.
    const tries = (await inspector.snapshot()).split('\n').filter((line) => line.includes(':tries:cashier:pos-1/lena='));
    assert.equal(tries.length, 1, `one attempts record of lena at pos-1, saw ${tries.length}`);
    // The merchant grants lena again (keeping her code): the lock is lifted.
    await call(north.admin.setTerminalCashier.bind(north.admin), { terminalId: 'pos-1', cashierId: 'lena', code: '', granted: true });
    assert.equal((await sell('pos-1', 'guest-1', 20, lena)).outcome, Outcome.OUTCOME_APPROVED, 'unlocked by the merchant');
    const cleared = (await inspector.snapshot()).split('\n').filter((line) => line.includes(':tries:cashier:pos-1/lena='));
    assert.deepEqual(cleared, [], 'a sale let through leaves no count behind');
  });

  it('counts a retried sale with a wrong code once; the same sale with other codes is counted guess by guess', async function () {
    await call(north.admin.setTerminalCashier.bind(north.admin), { terminalId: 'pos-1', cashierId: 'mo', code: '1357', granted: true });
    const retried = ++txn;
    const sameSale = (code: string): Promise<AuthorizeResponse> =>
      issuer.authorize({ ...purchase('pos-1', retried, 'guest-1', 10), cashier: { cashierId: 'mo', code } });
    // A terminal retrying one timed-out sale (same key, same code) more often than the lock allows
    // compares one code: it is never locked for it.
    for (let retry = 1; retry <= cashier_code_attempts_max + 2; retry++)
      await refusedWith(grpc.status.PERMISSION_DENIED, `retry ${retry} of one wrong-code sale`, sameSale('9999'), /code wrong/);
    // The same key with other codes is guessing: each is counted, and the fifth attempt in all locks mo.
    for (let guess = 1; guess < cashier_code_attempts_max; guess++)
      await refusedWith(grpc.status.PERMISSION_DENIED, `guess ${guess} under the same key`, sameSale(`000${guess}`), /code wrong/);
    await refusedWith(
      grpc.status.PERMISSION_DENIED,
      'mo locked after one retried code and four other guesses',
      sell('pos-1', 'guest-1', 10, { cashierId: 'mo', code: '1357' }),
      /cashier locked/,
    );
  });

  it("counts a cashier's wrong codes on a gateway's stream too, with one count for stream and unary requests", async function () {
    const mia = { cashierId: 'mia', code: '13579' };
    const wrong = { cashierId: 'mia', code: '97531' };
    await call(north.admin.setTerminalCashier.bind(north.admin), { terminalId: 'pos-1', cashierId: 'mia', code: mia.code, granted: true });
    const gateway = await issuer.gateway(['bar-north']);
    const frame = (cashiers: { cashierId: string; code: string }[]): Promise<AuthorizeStreamResult[]> =>
      new Promise((resolve, reject) => {
        const results: AuthorizeStreamResult[] = [];
        const stream = gateway.authorizeStream();
        stream.on('data', (response: AuthorizeStreamResponse) => results.push(...response.results));
        stream.on('end', () => resolve(results.sort((a, b) => a.correlationId.localeCompare(b.correlationId))));
        stream.on('error', reject);
        stream.write({
          items: cashiers.map((cashier, index) => ({
            correlationId: `mia-${txn + 1}-${index}`,
            request: { ...purchase('pos-1', ++txn, 'guest-1', 10), cashier },
          })),
        });
        stream.end();
      });
    try {
      // Wrong codes sent at once are all counted before any is compared: the last one locks.
      const guesses = await frame(Array.from({ length: cashier_code_attempts_max }, () => wrong));
      assert.deepEqual(
        guesses.map((r) => [r.statusCode, r.statusMessage]),
        guesses.map(() => [grpc.status.PERMISSION_DENIED, 'cashier code wrong']),
      );
      const [locked] = await frame([mia]);
      assert.equal(locked?.statusCode, grpc.status.PERMISSION_DENIED, `a locked cashier on the stream: ${locked?.statusMessage}`);
      assert.match(locked?.statusMessage ?? '', /cashier locked/);
      await refusedWith(
        grpc.status.PERMISSION_DENIED,
        'locked on the stream, so unary too',
        sell('pos-1', 'guest-1', 10, mia),
        /cashier locked/,
      );
      await call(north.admin.setTerminalCashier.bind(north.admin), { terminalId: 'pos-1', cashierId: 'mia', code: '', granted: true });
      const [sold] = await frame([mia]);
      assert.equal(sold?.reply?.outcome, Outcome.OUTCOME_APPROVED, `unlocked by the merchant: ${sold?.statusMessage}`);
    } finally {
      gateway.close();
    }
  });

  it('refuses every terminal method to a merchant admin of another merchant (PERMISSION_DENIED), changing nothing', async function () {
    const before = await terminalDump();
    const attempts: [string, Promise<unknown>][] = [
      ['get', getTerminal(south, 'pos-1')],
      ['disable', call(south.admin.setTerminalEnabled.bind(south.admin), { terminalId: 'pos-1', enabled: false, operatorId: '' })],
      [
        'parameters',
        call(south.admin.updateTerminalParameters.bind(south.admin), {
          terminalId: 'pos-1',
          parameters: parameters_v1,
          expectedVersion: 0n,
        }),
      ],
      [
        'cashier',
        call(south.admin.setTerminalCashier.bind(south.admin), { terminalId: 'pos-1', cashierId: 'mole', code: '1234', granted: true }),
      ],
      ['search of another merchant', search(south, { merchantId: 'bar-north' })],
      ['search of every merchant', search(south, {})],
      [
        'register for another merchant',
        call(south.admin.registerTerminal.bind(south.admin), {
          terminalId: 'pos-x',
          merchantId: 'bar-north',
          location: '',
          operatorId: '',
          serialNumber: '',
          parameters: undefined,
        }),
      ],
    ];
    for (const [what, attempt] of attempts) await refusedWith(grpc.status.PERMISSION_DENIED, what, attempt);
    assert.equal(await terminalDump(), before, 'nothing changed');
    assert.equal((await getTerminal(issuer, 'pos-1')).enabled, true);
  });

  it('refuses bad input with INVALID_ARGUMENT and changes nothing', async function () {
    const before = await terminalDump();
    const register = (changes: object) =>
      call(issuer.admin.registerTerminal.bind(issuer.admin), {
        terminalId: 'pos-bad',
        merchantId: 'bar-north',
        location: '',
        operatorId: '',
        serialNumber: '',
        parameters: undefined,
        ...changes,
      });
    await refusedWith(grpc.status.INVALID_ARGUMENT, 'serial with a space', register({ serialNumber: 'SN 1' }));
    await refusedWith(
      grpc.status.INVALID_ARGUMENT,
      'header too long',
      register({ parameters: { ...parameters_v1, receiptHeader: 'x'.repeat(513) } }),
    );
    await refusedWith(
      grpc.status.INVALID_ARGUMENT,
      'port out of range',
      register({ parameters: { ...parameters_v1, communication: { host: 'a', port: 70_000, timeoutMs: 0 } } }),
    );
    await refusedWith(grpc.status.INVALID_ARGUMENT, 'location too long', register({ location: 'y'.repeat(257) }));
    await refusedWith(
      grpc.status.INVALID_ARGUMENT,
      'parameters missing',
      call(issuer.admin.updateTerminalParameters.bind(issuer.admin), { terminalId: 'pos-1', parameters: undefined, expectedVersion: 0n }),
    );
    await refusedWith(grpc.status.INVALID_ARGUMENT, 'page size', search(issuer, { pageSize: 201 }));
    await refusedWith(grpc.status.INVALID_ARGUMENT, 'page token', search(issuer, { pageToken: 'not-a-token' }));
    await refusedWith(grpc.status.NOT_FOUND, 'unknown terminal', getTerminal(issuer, 'pos-none'));
    await refusedWith(grpc.status.INVALID_ARGUMENT, 'cashier code', sell('pos-1', 'guest-1', 10, { cashierId: 'anna', code: '12' }));
    assert.equal(await terminalDump(), before);
  });

  it('searches by merchant, status, serial and location text, a bounded page at a time', async function () {
    for (let i = 0; i < 23; i++) {
      const merchantId = i % 2 === 0 ? 'bar-north' : 'bar-south';
      await call(issuer.admin.registerTerminal.bind(issuer.admin), {
        terminalId: `s-${String(i).padStart(2, '0')}`,
        merchantId,
        location: i % 3 === 0 ? `Main Stage ${i}` : `Camping ${i}`,
        operatorId: '',
        serialNumber: `SER-${i}`,
        parameters: undefined,
      });
    }
    await call(issuer.admin.setTerminalEnabled.bind(issuer.admin), { terminalId: 's-04', enabled: false, operatorId: '' });
    const all = async (client: TaplineClient, request: Partial<SearchTerminalsRequest>): Promise<string[]> => {
      const ids: string[] = [];
      let pageToken = '';
      for (let pages = 0; pages < 50; pages++) {
        const page = await search(client, { ...request, pageSize: 5, pageToken });
        assert.ok(page.terminals.length <= 5 + 1000, 'a page is bounded');
        ids.push(...page.terminals.map((t) => t.terminalId));
        if (page.nextPageToken === '') return ids.sort();
        pageToken = page.nextPageToken;
      }
      throw new Error('the listing did not end within 50 pages');
    };
    const north_ids = [...Array(23).keys()].filter((i) => i % 2 === 0).map((i) => `s-${String(i).padStart(2, '0')}`);
    assert.deepEqual(await all(north, { merchantId: 'bar-north' }), ['pos-1', ...north_ids].sort());
    assert.deepEqual(await all(issuer, { merchantId: 'bar-north', status: TerminalStatusFilter.TERMINAL_STATUS_FILTER_DISABLED }), [
      's-04',
    ]);
    assert.deepEqual(await all(issuer, { serialNumber: 'SER-7' }), ['s-07']);
    assert.deepEqual(await all(issuer, { locationContains: 'main STAGE' }), [
      's-00',
      's-03',
      's-06',
      's-09',
      's-12',
      's-15',
      's-18',
      's-21',
    ]);
    assert.equal((await all(issuer, {})).length, 24);
  });

  it("reports a terminal's history and statistics that add up to the transactions sent", async function () {
    await call(issuer.admin.registerTerminal.bind(issuer.admin), {
      terminalId: 'pos-r',
      merchantId: 'bar-north',
      location: 'Report bar',
      operatorId: '',
      serialNumber: 'SN-R',
      parameters: undefined,
    });
    await call(north.admin.setTerminalCashier.bind(north.admin), { terminalId: 'pos-r', cashierId: 'anna', code: '4321', granted: true });
    const anna = { cashierId: 'anna', code: '4321' };
    const sent = [
      { amount: 500, cashier: anna },
      { amount: 700, cashier: anna },
      { amount: 300, cashier: undefined },
      { amount: 5_000, cashier: anna, card: 'guest-poor' },
      { amount: 9_000, cashier: undefined, card: 'guest-poor' },
    ];
    const answers = [];
    for (const sale of sent) answers.push(await sell('pos-r', sale.card ?? 'guest-1', sale.amount, sale.cashier));
    assert.deepEqual(
      answers.map((a) => a.outcome),
      [Outcome.OUTCOME_APPROVED, Outcome.OUTCOME_APPROVED, Outcome.OUTCOME_APPROVED, Outcome.OUTCOME_DECLINED, Outcome.OUTCOME_DECLINED],
    );
    assert.equal(answers[3]?.declineReason, DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS);
    const path = (report: string) => `/reports/merchants/bar-north/terminals/pos-r/${report}?from=${today}&to=${today}`;
    let history: { entries?: Record<string, unknown>[] } = {};
    await waitFor(
      'the terminal history in ClickHouse',
      async () => {
        const reply = await reportsRequest(server.port, path('history'));
        if (reply.status !== 200) return false;
        history = JSON.parse(reply.body) as typeof history;
        return (history.entries?.length ?? 0) >= sent.length;
      },
      () => JSON.stringify(history),
      60_000,
    );
    const rows = history.entries ?? [];
    assert.deepEqual(
      rows.map((r) => [r['amount_minor'], r['requested_minor'], r['outcome'], r['cashier']]),
      [
        [500, 500, 'approved', 'anna'],
        [700, 700, 'approved', 'anna'],
        [300, 300, 'approved', ''],
        [0, 5_000, 'declined', 'anna'],
        [0, 9_000, 'declined', ''],
      ],
    );
    const statistics = JSON.parse((await reportsRequest(server.port, path('statistics'))).body) as Record<
      string,
      Record<string, unknown>[]
    >;
    assert.deepEqual(statistics['days'], [{ day: today, currency: 'EUR', sales: 3, sales_minor: 1_500, declines: 2 }]);
    assert.deepEqual(statistics['declines'], [{ reason: 'insufficient_funds', declines: 2 }]);
    assert.deepEqual(statistics['cashiers'], [
      { cashier: '', currency: 'EUR', sales: 1, sales_minor: 300 },
      { cashier: 'anna', currency: 'EUR', sales: 2, sales_minor: 1_200 },
    ]);
    // A merchant admin reads its own terminal's report, not another merchant's.
    const own = await reportsRequest(server.port, path('statistics'), { token: await testToken('merchant_admin', ['bar-north']) });
    assert.equal(own.status, 200);
    const other = await reportsRequest(server.port, path('statistics'), { token: await testToken('merchant_admin', ['bar-south']) });
    assert.equal(other.status, 403);
  });
});
