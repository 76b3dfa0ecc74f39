// The fleet manager's and the organizer's portal pages end to end, in headless Chromium against a
// real node, Redis, the reports service (with its settlement store), the streamer and ClickHouse.
// A fleet manager lists the fleet's cards and vehicles, sets fleet-wide limits and a card's
// product groups (a terminal then declines what they exclude), approves and rejects flagged
// transactions (the rejected one's card is then declined), and downloads the fleet's statement
// and invoice through the portal. The organizer sees sales per minute and declines by reason; an
// auditor reads the audit log filtered and paged; an issuer proposes a settlement batch, which
// stays held until a settlement approver (another person) approves it: its proposer is refused,
// by the portal and by the reports service. Every new route with a fleet in its path refuses
// another fleet (403, nothing changed). axe-core finds no serious or critical violation on each
// new page; each is saved as a screenshot (.test-artifacts/portal).

import assert from 'node:assert/strict';
import type { Browser, Page } from 'puppeteer-core';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { FleetCardStatus, PriceFormula } from '../../gen/tapline/v1/fleet';
import { CardAction } from '../../gen/tapline/v1/cards';
import { purchase, type TaplineClient } from '../../tools/client/tapline-client';
import { programConfig, type CardClient } from '../../tools/client/card-client';
import { fleetPurchase, type FleetClient, type FleetLine } from '../../tools/client/fleet-client';
import type { RedisSettlementStore } from '../../services/reports/settlement-store';
import { PortalIssuer } from '../../services/portal/issuer';
import type { DemoUser, PortalFiles } from '../../tools/devenv/portal';
import { reportsRequest, test_shard_count, testToken } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';
import { shardOf } from '../../actors/sharding/shard-key';
import { fleetKey } from '../../services/authorizer/store/keys';
import type { TestPortal } from '../support/portal';
import { startPortalStack, type PortalStack } from '../support/portal-stack';
import { checkPage, openPage, pageText as text, signInStaff, submit } from '../support/browser';

const users: readonly DemoUser[] = [
  { username: 'haul-manager', password: 'fleet-pass-1', role: 'fleet_manager', scope: ['haul'] },
  { username: 'organizer', password: 'organizer-pass-1', role: 'issuer_admin', scope: ['*'] },
  { username: 'auditor', password: 'auditor-pass-1', role: 'auditor', scope: ['*'] },
  { username: 'approver', password: 'approver-pass-1', role: 'settlement_approver', scope: ['*'] },
];
const diesel = (amountMinor: number): FleetLine => ({ code: 'diesel', group: 'diesel', qtyMilli: 40_000, unitMinor: 0, amountMinor });
const today = (): string => new Date().toISOString().slice(0, 10);
/** A settlement period is computed once it is over: yesterday's daily period is. */
const yesterday = (): string => new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const month = (): string => `from=${today().slice(0, 8)}01&to=${today()}`;
/** How long the streamer may take to bring a document to ClickHouse under a loaded machine. */
const streamed_ms = 30_000;

describe('portal: fleet manager and organizer pages end to end in headless Chromium', function () {
  this.timeout(180_000);
  let stack: PortalStack;
  let inspect: Inspector;
  let store: RedisSettlementStore;
  let portal: TestPortal;
  let files: PortalFiles;
  let browser: Browser;
  let client: TaplineClient;
  let cards: CardClient;
  let fleet: FleetClient;
  let txn = 1;
  const flagged: string[] = [];

  before(async function () {
    stack = await startPortalStack({ name: 'portal-fo', users });
    ({ settlement: store, portal, files, browser, client, cards, fleet } = stack);
    inspect = await connectInspector(stack.redis.url);
    await seed();
  });

  after(async function () {
    await inspect?.close();
    await stack?.stop();
  });

  async function seedFleet(fleetId: string): Promise<void> {
    await fleet.createAccount({ fleetId, creditLimitMinor: 100_000, timeZone: 'Europe/Berlin' });
    await fleet.setPricing({
      fleetId,
      operatorId: 'ops',
      agreements: [
        {
          productCode: '',
          productGroup: 'diesel',
          formula: PriceFormula.PRICE_FORMULA_PUMP_MINUS_PERCENT,
          amountMilliMinor: 0n,
          percentBp: 0n,
        },
        {
          productCode: '',
          productGroup: 'shop',
          formula: PriceFormula.PRICE_FORMULA_PUMP_MINUS_PERCENT,
          amountMilliMinor: 0n,
          percentBp: 0n,
        },
      ],
    });
    for (const cardNo of ['1', '2'])
      await fleet.issueCard({ fleetId, cardNo, limits: undefined, productGroups: undefined, operatorId: 'ops' });
  }

  async function seed(): Promise<void> {
    for (const [terminal, merchant] of [
      ['pos-1', 'bar-1'],
      ['pump-1', 'station-1'],
    ] as const)
      await client.registerTerminal(terminal, merchant);
    // The event sells offline too, so its stopped cards go on the denylist terminals hold.
    await cards.defineProgram(
      'fest',
      programConfig({ offline: { txnMaxMinor: 2_000n, cardMaxMinor: 3_000n, debtThresholdMinor: 1_000n, cardCounter: false } }),
    );
    await cards.issue({
      cardId: 'c-100',
      params: { initialBalance: { amountMinor: 5_000n, currency: 'EUR' }, programId: 'fest', deposit: undefined, expiresAtUnixMs: 0n },
      holder: { name: 'Holder', idDocumentType: 0, idDocumentNumber: '', phone: '', email: '' },
      pin: '2468',
      operatorId: 'ops',
    });
    for (const fleetId of ['haul', 'other']) await seedFleet(fleetId);
    // Approvals above 25.00 are flagged for review (a soft risk rule), never declined below 900.00.
    await fleet.setPolicy({
      fleetId: 'haul',
      productGroups: undefined,
      // Every fill-up names its vehicle (the page shows what the pinpad asks for).
      prompts: { requireOdometer: false, requireDriver: false, requireVehicle: true, odometerJumpMaxKm: 0n },
      operatorId: 'ops',
      program: {
        allowedMerchants: [],
        blockedMerchants: [],
        allowedTerminals: [],
        blockedTerminals: [],
        restrictMerchants: false,
        restrictTerminals: false,
        velocity: [],
        risk: {
          softAmountMinor: 2_500n,
          hardAmountMinor: 90_000n,
          softVelocity: [],
          blockAfterDeclines: 100n,
          declineWindowMs: 1_000n,
          blockMs: 1n,
        },
        loyalty: undefined,
      },
    });
    const fill = async (cardNo: string, amount: number, vehicleId: string): Promise<string> => {
      const reply = await client.authorize(fleetPurchase('pump-1', txn++, `haul~${cardNo}`, [diesel(amount)], { vehicleId }));
      assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED, `seed fill-up of ${cardNo}`);
      return reply.transactionId;
    };
    await fill('1', 1_000, 'van-7');
    flagged.push(await fill('2', 3_000, 'truck-2'), await fill('2', 3_100, 'truck-2'));
  }

  /** Reloads `path` until `probe` holds on the page (what the streamer brings to ClickHouse arrives a little later). */
  async function reloadUntil(page: Page, path: string, what: string, probe: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + streamed_ms;
    for (;;) {
      await page.goto(`${portal.url}${path}`);
      if (await probe()) return;
      if (Date.now() > deadline)
        assert.fail(`${path}: expected ${what} within ${streamed_ms} ms; the page shows: ${(await text(page)).slice(0, 600)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** A same-origin fetch from the page, with the session's CSRF token when it posts a form. */
  async function fetchStatus(
    page: Page,
    path: string,
    form?: Record<string, string>,
  ): Promise<{ status: number; type: string; head: string }> {
    // Runs in the browser (the test compiles without the DOM's types, so it is handed over as source).
    const script = `(async () => {
      const fields = ${JSON.stringify(form ?? null)};
      const csrf = document.querySelector('input[name="_csrf"]')?.value ?? '';
      const init = fields === null ? {} : {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...fields, _csrf: csrf }).toString(),
        redirect: 'manual',
      };
      const response = await fetch(${JSON.stringify(path)}, init);
      const bytes = new Uint8Array(await response.arrayBuffer()).slice(0, 400);
      return { status: response.status, type: response.headers.get('content-type') ?? '', head: new TextDecoder().decode(bytes) };
    })()`;
    return (await page.evaluate(script)) as { status: number; type: string; head: string };
  }

  /** Whether a browser-side expression holds on the page. */
  const holds = async (page: Page, expression: string): Promise<boolean> => (await page.evaluate(expression)) === true;

  /** The prompt boxes of the fleet's cards page, ticked or not: odometer, driver, vehicle. */
  const promptsShown = async (page: Page): Promise<boolean[]> =>
    (await page.evaluate(`[...document.querySelectorAll('input[data-test^="prompt-"]')].map((box) => box.checked)`)) as boolean[];

  const newPage = (): Promise<Page> => openPage(browser);
  const staffLogin = (page: Page, username: string, password: string): Promise<void> => signInStaff(page, portal.url, username, password);

  it('a fleet manager sees every card with its status, limits and spend today, and the vehicles that fuelled', async () => {
    const page = await newPage();
    await staffLogin(page, 'haul-manager', 'fleet-pass-1');
    assert.equal(await submit(page, '#fleet-manage'), 200, 'the fleet page links its cards and vehicles');
    assert.equal(new URL(page.url()).pathname, '/fleets/haul/cards');
    await reloadUntil(page, '/fleets/haul/cards', 'both cards and vehicles van-7 and truck-2', () =>
      holds(
        page,
        `document.querySelectorAll('#fleet-cards tr[data-card]').length === 2 &&
          document.querySelector('tr[data-vehicle="van-7"]') !== null && document.querySelector('tr[data-vehicle="truck-2"]') !== null`,
      ),
    );
    const row = (cardNo: string, cell: string): Promise<string> =>
      page.$eval(`tr[data-card="${cardNo}"] [data-test="${cell}"]`, (element) => element.textContent?.trim() ?? '');
    assert.equal(await row('1', 'status'), 'active');
    assert.match(await row('2', 'spent-day'), /€\s?61\.00/, 'spent today: both fill-ups of card 2');
    assert.match(await page.$eval('tr[data-vehicle="truck-2"]', (e) => e.textContent ?? ''), /\b2\b/, 'truck-2 fuelled twice');
    assert.deepEqual(await promptsShown(page), [false, false, true], 'the pinpad asks for the vehicle only');
    await checkPage(page, 'fleet-cards');
    await page.browserContext().close();
  });

  it('a fleet manager sets fleet-wide limits and a card product groups, and terminals then decline what they exclude', async () => {
    const page = await newPage();
    await staffLogin(page, 'haul-manager', 'fleet-pass-1');
    await page.goto(`${portal.url}/fleets/haul/cards`);
    const within = await client.authorize(fleetPurchase('pump-1', txn++, 'haul~1', [diesel(2_000)], { vehicleId: 'van-7' }));
    assert.equal(within.outcome, Outcome.OUTCOME_APPROVED, 'a 20.00 fill-up sells before');
    await page.type('#account_per_txn', '15.00');
    assert.equal(await submit(page, '#save-account-limits'), 200);
    assert.match(await text(page), /fleet-wide limits are saved/);
    assert.equal(await page.$eval('#account_per_txn', (e) => e.getAttribute('value')), '15.00');
    assert.equal((await fleet.getAccount('haul')).account?.limits?.perTxnMinor, 1_500n, 'the node holds the new limit');
    const above = await client.authorize(fleetPurchase('pump-1', txn++, 'haul~1', [diesel(2_000)], { vehicleId: 'van-7' }));
    assert.deepEqual([above.outcome, above.declineReason], [Outcome.OUTCOME_DECLINED, DeclineReason.DECLINE_REASON_LIMIT_EXCEEDED]);
    await page.type('#groups_card_no', '1');
    await page.type('#groups', 'shop');
    assert.equal(await submit(page, '#save-groups'), 200);
    assert.equal(
      await page.$eval('tr[data-card="1"] [data-test="groups"]', (e) => e.textContent?.trim() ?? ''),
      'shop',
      'the list shows the card groups',
    );
    const fuel = await client.authorize(fleetPurchase('pump-1', txn++, 'haul~1', [diesel(1_000)], { vehicleId: 'van-7' }));
    assert.deepEqual([fuel.outcome, fuel.declineReason], [Outcome.OUTCOME_DECLINED, DeclineReason.DECLINE_REASON_PRODUCT_RESTRICTED]);
    // The card-limit form of the fleet page keeps the groups it does not show.
    await page.goto(`${portal.url}/fleets/haul?card=1`);
    await page.type('#daily', '90.00');
    assert.equal(await submit(page, '#save-limits'), 200);
    assert.deepEqual((await fleet.getCard('haul~1')).card?.productGroups?.allowed, ['shop']);
    await page.browserContext().close();
  });

  it('a fleet manager approves one flagged transaction and rejects another: the queue empties and the rejected card is declined', async () => {
    const page = await newPage();
    await staffLogin(page, 'haul-manager', 'fleet-pass-1');
    await page.goto(`${portal.url}/fleets/haul/cards`);
    const [approve, reject] = flagged as [string, string];
    assert.equal(await page.$$eval('#review-queue tr[data-review]', (rows) => rows.length), 2, 'both flagged fill-ups wait');
    await page.type(`[id="note-${approve}"]`, 'driver confirmed');
    assert.equal(await submit(page, `tr[data-review="${approve}"] button[value="approve"]`), 200);
    assert.match(await text(page), new RegExp(`Transaction ${approve} approved`));
    assert.equal(await submit(page, `tr[data-review="${reject}"] button[value="reject"]`), 200);
    assert.match(await text(page), /its card is blocked/);
    assert.equal((await fleet.listReviewQueue('haul')).entries.length, 0, 'the node queue is empty');
    assert.equal((await fleet.getCard('haul~2')).card?.status, FleetCardStatus.FLEET_CARD_STATUS_BLOCKED);
    const after = await client.authorize(fleetPurchase('pump-1', txn++, 'haul~2', [diesel(500)], { vehicleId: 'van-7' }));
    assert.equal(after.outcome, Outcome.OUTCOME_DECLINED, 'the rejected card is declined');
    assert.equal(await page.$('#review-queue'), null, 'the page shows an empty queue');
    await page.browserContext().close();
  });

  it("a fleet manager downloads the fleet's statement (PDF) and invoice (CSV) through the portal", async () => {
    const page = await newPage();
    await staffLogin(page, 'haul-manager', 'fleet-pass-1');
    await page.goto(`${portal.url}/fleets/haul/cards`);
    const statement = await page.$eval('a[data-document^="statement.pdf"]', (a) => a.getAttribute('href') ?? '');
    const pdf = await fetchStatus(page, statement);
    assert.deepEqual([pdf.status, pdf.type, pdf.head.slice(0, 5)], [200, 'application/pdf', '%PDF-']);
    const invoice = await page.$eval('a[data-document^="invoice.csv"]', (a) => a.getAttribute('href') ?? '');
    const csv = await fetchStatus(page, invoice);
    assert.equal(csv.status, 200);
    assert.match(csv.type, /^text\/csv/);
    assert.match(csv.head, /van-7/, 'the invoice lists the fill-ups');
    assert.equal((await fetchStatus(page, `/fleets/haul/documents/passwd.pdf?${month()}`)).status, 400, 'only the listed documents');
    await page.browserContext().close();
  });

  it('a fleet manager turns the odometer prompt on: a fill-up without a reading is declined, one with it approved; the rest of the policy stays', async () => {
    await fleet.issueCard({ fleetId: 'haul', cardNo: '3', limits: undefined, productGroups: undefined, operatorId: 'ops' });
    const stored = async (): Promise<Record<string, unknown>> => {
      const record = await inspect.client.hGetAll(fleetKey(shardOf('fleet', 'haul', test_shard_count), 'haul'));
      return JSON.parse(String(record['d'])) as Record<string, unknown>;
    };
    const before = await stored();
    const accountBefore = (await fleet.getAccount('haul')).account;
    const noReading = () => client.authorize(fleetPurchase('pump-1', txn++, 'haul~3', [diesel(1_000)], { vehicleId: 'van-9' }));
    assert.equal((await noReading()).outcome, Outcome.OUTCOME_APPROVED, 'a fill-up without a reading sells before');
    const page = await newPage();
    await staffLogin(page, 'haul-manager', 'fleet-pass-1');
    await page.goto(`${portal.url}/fleets/haul/cards`);
    await page.click('#require_odometer');
    assert.equal(await submit(page, '#save-prompts'), 200);
    assert.match(await text(page), /pinpad prompts are saved/);
    assert.deepEqual(await promptsShown(page), [true, false, true], 'odometer and vehicle are asked now');
    await checkPage(page, 'fleet-prompts');
    const declined = await noReading();
    assert.deepEqual(
      [declined.outcome, declined.declineReason, declined.declineRule],
      [Outcome.OUTCOME_DECLINED, DeclineReason.DECLINE_REASON_PROMPT_REQUIRED, 'prompt:odometer'],
    );
    const reading = await client.authorize(
      fleetPurchase('pump-1', txn++, 'haul~3', [diesel(1_000)], { vehicleId: 'van-9', odometerKm: 12_000 }),
    );
    assert.equal(reading.outcome, Outcome.OUTCOME_APPROVED, 'with a reading it sells');
    // Only the prompts changed: product groups, program rules (the soft risk rule), card policy and limits are as before.
    const after = await stored();
    for (const kept of ['program', 'allowedGroups', 'cardPolicy', 'limits', 'pricing'])
      assert.deepEqual(after[kept], before[kept], `${kept} is unchanged`);
    assert.deepEqual(after['prompts'], { ...(before['prompts'] as object), require_odometer: true });
    const accountAfter = (await fleet.getAccount('haul')).account;
    assert.deepEqual([accountAfter?.limits, accountAfter?.cardPolicy], [accountBefore?.limits, accountBefore?.cardPolicy]);
    await page.browserContext().close();
  });

  it('URL tampering: every new fleet route with another fleet in its path is 403 and changes nothing', async () => {
    const page = await newPage();
    await staffLogin(page, 'haul-manager', 'fleet-pass-1');
    const before = await fleet.getAccount('other');
    assert.equal((await page.goto(`${portal.url}/fleets/other/cards`))?.status(), 403);
    assert.ok(!(await text(page)).includes('other~'), 'no card of the other fleet is shown');
    await page.goto(`${portal.url}/fleets/haul/cards`);
    const refused = [
      await fetchStatus(page, `/fleets/other/documents/statement.pdf?${month()}`),
      await fetchStatus(page, '/fleets/other/limits', { account_per_txn: '1.00' }),
      await fetchStatus(page, '/fleets/other/card-groups', { card_no: '1', groups: 'shop' }),
      await fetchStatus(page, '/fleets/other/reviews', { transaction: 'x', decision: 'reject' }),
      await fetchStatus(page, '/fleets/other/prompts', { require_odometer: '1', require_driver: '1' }),
    ];
    assert.deepEqual(
      refused.map((answer) => answer.status),
      [403, 403, 403, 403, 403],
    );
    assert.deepEqual(await fleet.getAccount('other'), before, 'the other fleet is unchanged');
    assert.equal((await fleet.getCard('other~1')).card?.productGroups, undefined);
    await page.browserContext().close();
  });

  it('the organizer sees sales per minute and declines by reason of the event', async () => {
    assert.equal((await client.authorize(purchase('pos-1', txn++, 'c-100', 250))).outcome, Outcome.OUTCOME_APPROVED);
    const declined = await client.authorize(purchase('pos-1', txn++, 'c-100', 900_000));
    assert.equal(declined.declineReason, DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS);
    const page = await newPage();
    await staffLogin(page, 'organizer', 'organizer-pass-1');
    await reloadUntil(page, '/organizer?program=fest', 'a decline for insufficient funds and a minute with a sale', () =>
      holds(
        page,
        `document.querySelector('#declines-by-reason tr[data-reason="insufficient_funds"]') !== null &&
          document.querySelectorAll('#sales-per-minute [data-test="minute-sales"]').length > 0`,
      ),
    );
    assert.equal(await page.$eval('tr[data-reason="insufficient_funds"] [data-test="declines"]', (e) => e.textContent?.trim() ?? ''), '1');
    await checkPage(page, 'organizer-live');
    await page.browserContext().close();
  });

  it('an auditor reads the audit log filtered by person and paged', async () => {
    // Thirty operator actions of one principal, so that the log has more than one page.
    for (let n = 0; n < 15; n += 1)
      for (const status of [FleetCardStatus.FLEET_CARD_STATUS_FROZEN, FleetCardStatus.FLEET_CARD_STATUS_ACTIVE])
        await fleet.setCardStatus({ cardId: 'other~2', status, operatorId: 'ops', unblock: false });
    const page = await newPage();
    await staffLogin(page, 'auditor', 'auditor-pass-1');
    assert.equal(new URL(page.url()).pathname, '/organizer/audit');
    const pageLine = (): Promise<string> => page.$eval('[data-test="audit-page"]', (e) => e.textContent?.trim() ?? '').catch(() => '');
    await reloadUntil(page, '/organizer/audit', 'more than one page of records', async () => (await page.$('#audit-next')) !== null);
    assert.match(await pageLine(), /^Records 1–25 of \d+$/);
    const total = Number(/of (\d+)/.exec(await pageLine())?.[1]);
    assert.equal(await submit(page, '#audit-next'), 200);
    // Records still arriving from the streamer may grow the total between the two pages.
    const later = Number(/of (\d+)/.exec(await pageLine())?.[1]);
    assert.ok(later >= total, `the log only grows: ${later} after ${total}`);
    assert.equal(await pageLine(), `Records 26–${Math.min(50, later)} of ${later}`);
    assert.equal(await page.$$eval('#audit-records tbody tr', (rows) => rows.length), Math.min(25, later - 25));
    await page.goto(`${portal.url}/organizer/audit`);
    await page.type('#audit-principal', 'staff:haul-manager');
    assert.equal(await submit(page, '#audit-filter'), 200);
    const who = await page.$$eval('#audit-records tbody tr td:nth-child(2)', (cells) => cells.map((cell) => cell.textContent ?? ''));
    assert.ok(who.length > 0 && who.every((name) => name === 'staff:haul-manager'), `only the manager's records: ${who.join(', ')}`);
    await checkPage(page, 'audit-log');
    await page.browserContext().close();
    const manager = await newPage();
    await staffLogin(manager, 'haul-manager', 'fleet-pass-1');
    assert.equal((await manager.goto(`${portal.url}/organizer/audit`))?.status(), 403, 'a fleet manager reads no audit log');
    await manager.browserContext().close();
  });

  it('four eyes: an issuer proposes a settlement batch, its proposer cannot approve it, a second person does', async () => {
    const config = {
      cycle: 'daily',
      payee_name: 'Bar One',
      payee_iban: 'DE89370400440532013000',
      rates: [{ kind: 'purchase', percent_bp: 100, fixed_minor: 0 }],
    };
    const put = await reportsRequest(stack.reports.port, '/settlement/merchants/bar-1', {
      method: 'PUT',
      body: JSON.stringify(config),
      token: await testToken('issuer_admin', ['*'], 'setup-issuer'),
    });
    assert.equal(put.status, 202, put.body);
    const payee = await reportsRequest(stack.reports.port, '/settlement/merchants/bar-1/payee/approve', {
      method: 'POST',
      body: '{}',
      token: await testToken('settlement_approver', ['*'], 'setup-approver'),
    });
    assert.equal(payee.status, 200, payee.body);
    const page = await newPage();
    await staffLogin(page, 'organizer', 'organizer-pass-1');
    await page.goto(`${portal.url}/organizer/settlement?merchant=bar-1`);
    await page.type('#settlement-date', yesterday());
    assert.equal(await submit(page, '#propose-batch'), 200);
    const batch = `bar-1.daily.${yesterday()}`;
    const state = (p: Page): Promise<string> => p.$eval(`tr[data-batch="${batch}"] [data-test="batch-state"]`, (e) => e.textContent ?? '');
    assert.equal(await state(page), 'computed', 'the batch is held until approved');
    assert.match(await text(page), /held until a second person approves it/);
    const own = await fetchStatus(page, '/organizer/settlement/approve', { merchant: 'bar-1', batch });
    assert.equal(own.status, 403, 'the proposer cannot approve through the portal');
    // Even as a settlement approver, the same person is refused by the reports service itself.
    const issuer = await PortalIssuer.fromFile(files.signing_key_file, files.issuer, 'tapline', 300);
    const same = await issuer.mint('staff:organizer', { role: 'settlement_approver', scope: ['*'] }, Date.now());
    const direct = await reportsRequest(stack.reports.port, `/settlement/batches/${batch}/approve`, {
      method: 'POST',
      body: '{}',
      token: same,
    });
    assert.equal(direct.status, 403, direct.body);
    assert.equal((await store.batch(batch))?.state, 'computed', 'still held');
    await page.browserContext().close();
    const second = await newPage();
    await staffLogin(second, 'approver', 'approver-pass-1');
    assert.equal(new URL(second.url()).pathname, '/organizer/settlement');
    await second.type('#settlement-merchant', 'bar-1');
    assert.equal(await submit(second, '#show-batches'), 200);
    assert.equal(await state(second), 'computed');
    await checkPage(second, 'settlement-approval');
    assert.equal(await submit(second, `tr[data-batch="${batch}"] button`), 200);
    assert.equal(await state(second), 'approved');
    assert.equal(
      await second.$eval(`tr[data-batch="${batch}"] [data-test="batch-approver"]`, (e) => e.textContent ?? ''),
      'staff:approver',
    );
    assert.equal((await store.batch(batch))?.approved_by, 'staff:approver');
    await second.browserContext().close();
  });
  it('the issuer reads the denylist: a card reported lost is on it, with why, and the list version', async () => {
    await cards.changeState({
      cardId: 'c-100',
      action: CardAction.CARD_ACTION_REPORT_LOST,
      reason: 'lost at the gate',
      operatorId: '',
      approverId: '',
    });
    const page = await newPage();
    await staffLogin(page, 'organizer', 'organizer-pass-1');
    assert.equal(await submit(page, 'a[href="/organizer/denylist"]'), 200, 'the organizer page links the denylist');
    await reloadUntil(page, '/organizer/denylist', 'card c-100 on the list', async () => (await page.$('tr[data-card="c-100"]')) !== null);
    assert.equal(await page.$eval('tr[data-card="c-100"] [data-test="reason"]', (e) => e.textContent?.trim() ?? ''), 'lost');
    assert.ok(Number(await page.$eval('[data-test="denylist-version"]', (e) => e.textContent ?? '0')) > 0, 'the list has a version');
    assert.ok(
      !(await page.$$eval('#denylist tr[data-card]', (rows) => rows.map((row) => row.getAttribute('data-card')))).includes('haul~1'),
    );
    await checkPage(page, 'denylist');
    assert.equal((await page.goto(`${portal.url}/organizer/denylist?page=..%2Fetc`))?.status(), 400, 'a page token the node never issued');
    await page.browserContext().close();
    const manager = await newPage();
    await staffLogin(manager, 'haul-manager', 'fleet-pass-1');
    assert.equal((await manager.goto(`${portal.url}/organizer/denylist`))?.status(), 403, 'a fleet manager reads no denylist');
    await manager.browserContext().close();
  });
});
