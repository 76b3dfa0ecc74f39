// Proves notices and webhooks end to end, with every piece real: an authorizer node over gRPC,
// Redis, the streamer into ClickHouse 18.16, the event relay and delivery worker of the reports
// process, a local SMTP server (the e-mails are delivered and read back from it), a local HTTP
// server implementing Twilio's documented Messages API, and a webhook receiver that verifies each
// delivery's signature with the documented receiver helper.
//
// What users rely on: each event reaches each subscribed endpoint once (a retry after a receiver
// failure carries the same webhook-id); cardholder notices follow consent, the notice kinds asked
// for, the low-balance threshold (once per crossing) and the program's template in the holder's
// language; operators get what they subscribed to; a failed SMTP or SMS attempt is retried and
// delivered once; a second relay process continues where the first stopped and announces nothing
// twice, and a relay without the lease writes nothing; bad configuration is refused naming the
// field and changes nothing.

import { singleRedis } from '../../services/common/redis-target';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { CardStatus } from '../../gen/tapline/v1/types';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { createLogger } from '../../services/common/logger';
import { EventRelay } from '../../services/events/relay';
import { EventsStore, keys } from '../../services/events/store';
import { startBackOffice, type BackOffice } from '../../services/reports/back-office';
import type { CardStateReader } from '../../services/reports/card-states';
import { ClickHouseRunner } from '../../services/reports/clickhouse-runner';
import { loadReportsConfig } from '../../services/reports/config';
import { ReportsMetrics } from '../../services/reports/metrics';
import { ReportsServer } from '../../services/reports/server';
import { RedisSettlementStore } from '../../services/reports/settlement-store';
import { loadStreamerConfig } from '../../services/streamer/config';
import { migrate } from '../../services/streamer/schema/migrate';
import { Streamer } from '../../services/streamer/streamer';
import { CardClient } from '../../tools/client/card-client';
import { purchase, TaplineClient } from '../../tools/client/tapline-client';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import type { RedisInstance } from '../../tools/devenv/redis';
import {
  accessTo,
  defaultRoleOf,
  endpointsOf,
  reportsProcessEnv,
  reportsRequest,
  reportsSecurity,
  startInProcessNode,
  startTestRedis,
  testDataDir,
  testToken,
  waitFor,
} from '../support/harness';
import { startSmsPeer, startSmtpPeer, startWebhookPeer, type SmsPeer, type SmtpPeer, type WebhookPeer } from '../support/notice-peers';
import { streamerEnv } from '../support/outbox-fixtures';

const database = 'notices_it';
const logger = createLogger('notices-test', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn');

const no_card_states: CardStateReader = {
  allBalances: () => Promise.reject(new Error('not read here')),
  card: () => Promise.reject(new Error('not read here')),
  close: () => undefined,
};

interface Answer {
  readonly status: number;
  readonly body: string;
}

/**
 * One HTTPS request as principal `operator` (its token's subject) with the first role the route's
 * rule allows; null sends no token.
 */
async function send(port: number, method: string, path: string, body?: unknown, operator: string | null = 'ops-1'): Promise<Answer> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const token = operator === null ? null : await testToken(defaultRoleOf(method, path), ['*'], operator);
  const reply = await reportsRequest(port, path, { method, token, ...(payload === undefined ? {} : { body: payload }) });
  return { status: reply.status, body: reply.body };
}

function reportsEnv(
  redisUrl: string,
  clickhouseUrl: string,
  smtp: SmtpPeer,
  sms: SmsPeer,
  holder: string,
  security: Record<string, string>,
): Record<string, string> {
  return {
    // HTTPS, the test issuer's tokens and the service's own token (the test credentials).
    ...security,
    TAPLINE_REDIS_URL: redisUrl,
    TAPLINE_CLICKHOUSE_URL: clickhouseUrl,
    TAPLINE_CLICKHOUSE_DATABASE: database,
    TAPLINE_SHARD_COUNT: '64',
    TAPLINE_NODE_ID: holder,
    TAPLINE_EVENTS_POLL_MS: '100',
    TAPLINE_EVENTS_LEASE_TTL_MS: '2000',
    TAPLINE_DELIVERY_POLL_MS: '100',
    TAPLINE_DELIVERY_BACKOFF_INITIAL_MS: '200',
    TAPLINE_DELIVERY_BACKOFF_MAX_MS: '1000',
    TAPLINE_DELIVERY_TIMEOUT_MS: '3000',
    TAPLINE_DELIVERY_IN_FLIGHT_MS: '10000',
    TAPLINE_SMTP_HOST: '127.0.0.1',
    TAPLINE_SMTP_PORT: String(smtp.port),
    TAPLINE_SMTP_REQUIRE_TLS: '0',
    TAPLINE_SMTP_FROM: 'Tapline <notices@tapline.test>',
    TAPLINE_SMTP_MESSAGE_ID_DOMAIN: 'tapline.test',
    TAPLINE_SMS_BASE_URL: sms.baseUrl,
    TAPLINE_SMS_ACCOUNT_SID: sms.accountSid,
    TAPLINE_SMS_AUTH_TOKEN: sms.authToken,
    TAPLINE_SMS_FROM: '+31600000000',
    TAPLINE_SETTLEMENT_SCHEDULER_ENABLED: '0',
  };
}

describe('notices and webhooks (real node, Redis, streamer, ClickHouse 18.16, SMTP, SMS and webhook peers)', function () {
  this.timeout(180_000);
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let streamer: Streamer;
  let runner: ClickHouseRunner;
  let settlement: RedisSettlementStore;
  let backOffice: BackOffice;
  let server: ReportsServer;
  let smtp: SmtpPeer;
  let sms: SmsPeer;
  let hooks: WebhookPeer;
  let port = 0;
  let txn = 1;

  const startReports = async (holder: string): Promise<void> => {
    const metrics = new ReportsMetrics(false);
    backOffice = await startBackOffice(
      loadReportsConfig(reportsEnv(redis.url, clickhouse.url, smtp, sms, holder, await reportsProcessEnv(endpointsOf(node).operator))),
      runner.query,
      settlement,
      logger,
      Date.now,
      metrics,
    );
    server = await ReportsServer.start(
      { query: runner.query, database, cards: no_card_states, settlement, events: backOffice.events },
      0,
      logger,
      await reportsSecurity(),
      metrics,
    );
    port = server.port;
  };
  const stopReports = async (): Promise<void> => {
    await server?.stop(1_000);
    await backOffice?.stop();
  };

  before(async function () {
    [redis, clickhouse, smtp, sms, hooks] = await Promise.all([
      startTestRedis('notices-it'),
      startClickHouse({ dataDir: testDataDir('notices-it-ch') }),
      startSmtpPeer(),
      startSmsPeer(),
      startWebhookPeer(),
    ]);
    await migrate(clickhouse.url, database);
    node = await startInProcessNode(redis.url);
    client = new TaplineClient(await accessTo(node));
    await client.registerTerminal('bar-1', 'bar');
    streamer = await Streamer.start(loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database)), logger);
    runner = new ClickHouseRunner(clickhouse.url, database, 20_000);
    settlement = await RedisSettlementStore.connect(singleRedis(redis.url));
    await startReports('reports-a');
    // The relay announces what is committed after its first start: wait until it has started.
    let status = '';
    await waitFor(
      'relay started at the outbox horizon',
      async () => {
        status = (await send(port, 'GET', '/events/status')).body;
        return (JSON.parse(status) as { relay: { cursor: unknown } }).relay.cursor !== null;
      },
      () => status,
      15_000,
      100,
    );
  });

  after(async function () {
    await stopReports();
    await streamer?.stop();
    client?.close();
    await node?.shutdown();
    await Promise.all([runner?.close(), settlement?.close(), smtp?.stop(), sms?.stop(), hooks?.stop()]);
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  it('sends each subscribed event to the endpoint once, signed; a receiver failure is retried under the same webhook-id', async function () {
    const created = await send(port, 'PUT', '/webhooks/endpoints/accounting', {
      url: hooks.url,
      events: ['transaction.*', 'card.status_changed'],
      description: 'accounting bridge',
    });
    assert.equal(created.status, 201, created.body);
    hooks.secret = (JSON.parse(created.body) as { secret: string }).secret;
    assert.match(hooks.secret, /^whsec_/);
    const listed = await send(port, 'GET', '/webhooks/endpoints');
    assert.ok(!listed.body.includes(hooks.secret), 'the secret is never listed');
    hooks.failNext(1);
    await client.issueCard('wh-1', 5_000);
    await client.topUp('wh-1', 1_000, { terminalId: 'bar-1', txn: txn++ });
    await client.authorize(purchase('bar-1', txn++, 'wh-1', 4_500));
    await client.authorize(purchase('bar-1', txn++, 'wh-1', 2_000)); // declined: 1,500 left
    await client.setCardStatus('wh-1', CardStatus.CARD_STATUS_BLOCKED);
    await waitFor(
      'four webhooks received',
      () => hooks.received.length >= 4,
      () => JSON.stringify(hooks.received),
      30_000,
      100,
    );
    const types = hooks.received.map((r) => `${r.type}:${String(r.data['outcome'] ?? r.data['status'])}`);
    assert.deepEqual(types.sort(), [
      'card.status_changed:blocked',
      'transaction.purchase:approved',
      'transaction.purchase:declined',
      'transaction.top_up:approved',
    ]);
    assert.equal(new Set(hooks.received.map((r) => r.id)).size, 4, 'each event once');
    assert.deepEqual(hooks.unverified, []);
    const approved = hooks.received.find((r) => r.type === 'transaction.purchase' && r.data['outcome'] === 'approved');
    assert.deepEqual(
      [approved?.data['amount_minor'], approved?.data['balance_after_minor'], approved?.data['card']],
      [4_500, 1_500, 'wh-1'],
    );
    const history = JSON.parse((await send(port, 'GET', '/webhooks/endpoints/accounting/deliveries')).body) as {
      deliveries: { state: string; attempts: number; tries: { ok: boolean }[] }[];
    };
    assert.equal(history.deliveries.length, 4);
    assert.ok(history.deliveries.every((d) => d.state === 'sent'));
    assert.equal(history.deliveries.filter((d) => d.attempts === 2 && d.tries[0]?.ok === false).length, 1, 'one retried after the 500');
    await send(port, 'DELETE', '/webhooks/endpoints/accounting');
  });

  it('notifies the holder by e-mail and SMS as consented, in their language, and the operator of a block; each once', async function () {
    const template = {
      email_subject: 'Karte {{card}}: Zahlung {{amount}} {{currency}}',
      email_text: 'Zahlung von {{amount}} {{currency}} bei {{merchant}}. Guthaben {{balance}} {{currency}}.',
      sms_text: 'Karte {{card}}: {{amount}} {{currency}} bezahlt.',
    };
    assert.equal((await send(port, 'PUT', '/notices/templates/test/transaction/de', template)).status, 200);
    const contact = {
      email: 'ada@example.org',
      phone: '+4915112345678',
      language: 'de',
      consent: { email: true, sms: true },
      notices: ['transaction', 'top_up', 'low_balance', 'card_blocked'],
      low_balance_minor: 1_000,
    };
    assert.equal((await send(port, 'PUT', '/notices/cards/nt-holder', contact)).status, 200);
    const noConsent = { ...contact, email: 'bob@example.org', phone: '+4915100000000', consent: { email: false, sms: false } };
    assert.equal((await send(port, 'PUT', '/notices/cards/nt-quiet', noConsent)).status, 200);
    const operator = { email: 'ops@example.org', consent: { email: true, sms: false }, notices: ['card_blocked'], programs: ['*'] };
    assert.equal((await send(port, 'PUT', '/notices/operators/ops-anna', operator)).status, 200);
    smtp.failNext(1);
    sms.failNext(1);
    await client.issueCard('nt-holder', 2_000);
    await client.issueCard('nt-quiet', 2_000);
    await client.topUp('nt-holder', 500, { terminalId: 'bar-1', txn: txn++ });
    await client.authorize(purchase('bar-1', txn++, 'nt-holder', 1_800)); // 700 left: crosses 1,000
    await client.authorize(purchase('bar-1', txn++, 'nt-holder', 100)); // 600: no second low-balance notice
    await client.authorize(purchase('bar-1', txn++, 'nt-quiet', 100));
    await client.setCardStatus('nt-holder', CardStatus.CARD_STATUS_BLOCKED);
    await waitFor(
      '6 e-mails and 5 SMS',
      () => smtp.messages.length >= 6 && sms.messages.length >= 5,
      () => `${smtp.messages.length} e-mails, ${sms.messages.length} SMS`,
      30_000,
      100,
    );
    const subjects = smtp.messages
      .map((m) => `${m.to === undefined ? '' : (Array.isArray(m.to) ? m.to[0] : m.to)?.text}|${m.subject ?? ''}`)
      .sort();
    assert.deepEqual(subjects, [
      'ada@example.org|Card …lder is blocked',
      'ada@example.org|Card …lder: low balance',
      'ada@example.org|Card …lder: top-up of 5.00 EUR',
      'ada@example.org|Karte …lder: Zahlung 1.00 EUR',
      'ada@example.org|Karte …lder: Zahlung 18.00 EUR',
      'ops@example.org|Card …lder is blocked',
    ]);
    const payment = smtp.messages.find((m) => m.subject === 'Karte …lder: Zahlung 18.00 EUR');
    assert.equal(payment?.text?.trim(), 'Zahlung von 18.00 EUR bei bar. Guthaben 7.00 EUR.');
    assert.match(payment?.messageId ?? '', /^<[0-9a-f]{32}@tapline\.test>$/);
    assert.equal(new Set(smtp.messages.map((m) => m.messageId)).size, 6, 'each e-mail once');
    assert.deepEqual(
      sms.messages.map((m) => m.to),
      Array(5).fill('+4915112345678'),
    );
    assert.ok(sms.messages.some((m) => m.body === 'Karte …lder: 18.00 EUR bezahlt.'));
    assert.equal(sms.refused, 0);
    const history = JSON.parse((await send(port, 'GET', '/notices/cards/nt-holder/deliveries')).body) as {
      deliveries: { state: string; channel: string; provider_ref: string }[];
    };
    assert.equal(history.deliveries.length, 10);
    assert.ok(
      history.deliveries.every((d) => d.state === 'sent' && d.provider_ref !== ''),
      JSON.stringify(history.deliveries),
    );
    assert.deepEqual(JSON.parse((await send(port, 'GET', '/notices/cards/nt-quiet/deliveries')).body), {
      scope: 'card:nt-quiet',
      deliveries: [],
    });
  });

  it('a second relay continues where the first stopped and announces nothing twice; a relay without the lease writes nothing', async function () {
    const redisClient = createClient({ url: redis.url });
    await redisClient.connect();
    try {
      const store = new EventsStore(redisClient);
      const intruder = new EventRelay(
        redisClient,
        store,
        runner.query,
        {
          database,
          shard_count: 64,
          page_events_max: 100,
          poll_interval_ms: 100,
          lease_ttl_ms: 2_000,
          log_entries_max: 100,
          holder: 'intruder',
        },
        logger,
      );
      const cursorBefore = await redisClient.get(keys.cursor);
      assert.deepEqual((await intruder.step()).held, false, 'the running relay holds the lease');
      assert.equal(await redisClient.get(keys.cursor), cursorBefore);
      const mails = smtp.messages.length;
      await stopReports();
      await startReports('reports-b');
      await client.issueCard('nt-next', 1_000);
      assert.equal(
        (
          await send(port, 'PUT', '/notices/cards/nt-next', {
            email: 'cy@example.org',
            language: 'en',
            consent: { email: true, sms: false },
            notices: ['top_up'],
          })
        ).status,
        200,
      );
      await client.topUp('nt-next', 250, { terminalId: 'bar-1', txn: txn++ });
      await waitFor(
        'one more e-mail',
        () => smtp.messages.length >= mails + 1,
        () => `${smtp.messages.length - mails} new`,
        30_000,
        100,
      );
      const status = JSON.parse((await send(port, 'GET', '/events/status')).body) as { pending_deliveries: number };
      assert.equal(status.pending_deliveries, 0);
      assert.equal(smtp.messages.length, mails + 1, 'nothing announced twice after the restart');
      assert.equal(smtp.messages[smtp.messages.length - 1]?.subject, 'Card …next: top-up of 2.50 EUR');
    } finally {
      await redisClient.close();
    }
  });

  it("a cancelled issuance ends its holder's contact: the card issued again notifies only its next holder", async function () {
    const cards = new CardClient(await accessTo(node));
    try {
      const contact = (email: string) => ({ email, language: 'en', consent: { email: true, sms: false }, notices: ['top_up'] });
      await client.issueCard('nt-stock', 1_000);
      assert.equal((await send(port, 'PUT', '/notices/cards/nt-stock', contact('first@example.org'))).status, 200);
      // Handed back before it was used (a card that moved money is returned, not cancelled).
      await cards.cancelIssuance('nt-stock', 'handed back at the desk');
      // A webhook of the card's top-ups shows when the relay has planned each one.
      const watch = await send(port, 'PUT', '/webhooks/endpoints/stock-watch', { url: hooks.url, events: ['transaction.top_up'] });
      hooks.secret = (JSON.parse(watch.body) as { secret: string }).secret;
      await client.issueCard('nt-stock', 500);
      await client.topUp('nt-stock', 200, { terminalId: 'bar-1', txn: txn++ });
      await waitFor(
        'the top-up after the cancellation planned',
        () => hooks.received.some((r) => r.data['card'] === 'nt-stock' && r.data['amount_minor'] === 200),
        () => JSON.stringify(hooks.received.slice(-3)),
        30_000,
        100,
      );
      const seen = (await send(port, 'GET', '/notices/cards/nt-stock')).body;
      assert.ok(!seen.includes('first@'), `the first holder's contact is erased: ${seen}`);
      assert.equal((await send(port, 'PUT', '/notices/cards/nt-stock', contact('second@example.org'))).status, 200);
      await client.topUp('nt-stock', 300, { terminalId: 'bar-1', txn: txn++ });
      const to = (address: string) =>
        smtp.messages.filter((m) => (m.to === undefined ? '' : (Array.isArray(m.to) ? m.to[0] : m.to)?.text) === address);
      await waitFor(
        "the next holder's e-mail",
        () => to('second@example.org').length >= 1,
        () => `${to('second@example.org').length} e-mails to the next holder`,
        30_000,
        100,
      );
      assert.deepEqual(to('first@example.org'), [], "the first holder hears nothing of the card's next life");
      assert.deepEqual(
        to('second@example.org').map((m) => m.subject),
        ['Card …tock: top-up of 3.00 EUR'],
      );
      const history = JSON.parse((await send(port, 'GET', '/notices/cards/nt-stock/deliveries')).body) as { deliveries: unknown[] };
      assert.equal(history.deliveries.length, 1, 'the top-up between the cancellation and the new contact notified nobody');
    } finally {
      await send(port, 'DELETE', '/webhooks/endpoints/stock-watch');
      cards.close();
    }
  });

  it("measures the relay's progress, the delivery queue and every attempt by channel and result (/metrics)", async function () {
    const scrape = async (): Promise<Map<string, number>> => {
      const text = (await send(port, 'GET', '/metrics')).body;
      const values = new Map<string, number>();
      for (const line of text.split('\n'))
        if (line.startsWith('tapline_events_'))
          values.set(line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1)));
      return values;
    };
    const sent = 'tapline_events_delivery_attempts_total{channel="webhook",result="sent"}';
    const retried = 'tapline_events_delivery_attempts_total{channel="webhook",result="retry"}';
    const before = await scrape();
    const created = await send(port, 'PUT', '/webhooks/endpoints/metered', { url: hooks.url, events: ['card.issued'] });
    hooks.secret = (JSON.parse(created.body) as { secret: string }).secret;
    const received = hooks.received.length;
    hooks.failNext(1);
    await client.issueCard('nt-metered', 100);
    await waitFor(
      'the webhook delivered after one retry',
      () => hooks.received.length > received,
      () => `${hooks.received.length - received} received`,
      30_000,
      100,
    );
    let after = await scrape();
    await waitFor(
      'the attempts counted',
      async () => (after = await scrape()).get(sent) === (before.get(sent) ?? 0) + 1,
      () => JSON.stringify([...after]),
      10_000,
      100,
    );
    assert.equal(after.get(retried), (before.get(retried) ?? 0) + 1, 'the receiver failure was counted as a retry');
    assert.equal(after.get('tapline_events_deliveries_pending'), 0);
    const lastStep = after.get('tapline_events_relay_last_step_timestamp_seconds') ?? 0;
    assert.ok(Date.now() / 1000 - lastStep < 10, `the relay stepped ${Date.now() / 1000 - lastStep} s ago`);
    assert.ok((after.get('tapline_events_relay_lag_seconds') ?? -1) >= 0);
    await send(port, 'DELETE', '/webhooks/endpoints/metered');
  });

  it('refuses bad configuration naming the field, and stores nothing', async function () {
    const redisClient = createClient({ url: redis.url });
    await redisClient.connect();
    try {
      const watched = [keys.contact('nt-bad'), keys.template('test', 'top_up', 'en'), keys.endpoint('bad'), keys.operator('ops-bad')];
      const before = await Promise.all(watched.map((key) => redisClient.get(key)));
      const contact = { email: 'x@example.org', language: 'en', consent: { email: true, sms: false }, notices: ['top_up'] };
      const bad: [string, string, unknown, string | null, string][] = [
        ['PUT', '/notices/cards/nt-bad', { ...contact, email: 'not an address' }, 'ops-1', 'email'],
        ['PUT', '/notices/cards/nt-bad', { ...contact, phone: '0612' }, 'ops-1', 'phone'],
        ['PUT', '/notices/cards/nt-bad', { ...contact, notices: ['spam'] }, 'ops-1', 'notices.0'],
        ['PUT', '/notices/cards/nt-bad', { ...contact, consent: { email: 'yes', sms: false } }, 'ops-1', 'consent.email'],
        ['PUT', "/notices/cards/nt'bad", contact, 'ops-1', 'cardId'],
        [
          'PUT',
          '/notices/templates/test/top_up/en',
          { email_subject: 'Hi {{pin}}', email_text: 'x', sms_text: 'x' },
          'ops-1',
          'email_subject',
        ],
        ['PUT', '/notices/templates/test/top_up/english', { email_subject: 'x', email_text: 'x', sms_text: 'x' }, 'ops-1', 'language'],
        ['PUT', '/notices/templates/test/marketing/en', { email_subject: 'x', email_text: 'x', sms_text: 'x' }, 'ops-1', 'kind'],
        ['PUT', '/webhooks/endpoints/bad', { url: 'ftp://example.org/x', events: ['transaction.*'] }, 'ops-1', 'url'],
        ['PUT', '/webhooks/endpoints/bad', { url: 'https://example.org/x', events: ['Transaction'] }, 'ops-1', 'events.0'],
        ['PUT', '/notices/operators/ops-bad', { ...contact, programs: [] }, 'ops-1', 'programs'],
        ['POST', '/deliveries/xyz/retry', {}, 'ops-1', 'deliveryId'],
      ];
      for (const [method, path, body, operator, field] of bad) {
        const answer = await send(port, method, path, body, operator);
        assert.equal(answer.status, 400, `${method} ${path}: ${answer.body}`);
        assert.equal((JSON.parse(answer.body) as { error: { parameter: string } }).error.parameter, field, `${method} ${path}`);
      }
      assert.equal((await send(port, 'GET', '/notices/cards/nobody')).status, 404);
      assert.equal((await send(port, 'PUT', '/notices/cards/nt-bad', contact, null)).status, 401, 'no token, no change');
      assert.deepEqual(await Promise.all(watched.map((key) => redisClient.get(key))), before, 'refused requests stored nothing');
    } finally {
      await redisClient.close();
    }
  });
});
