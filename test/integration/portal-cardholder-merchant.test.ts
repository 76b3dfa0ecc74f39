// The portal's cardholder pages end to end, in headless Chromium against a real node (with the
// Mollie integration, talking to a local server that implements Mollie's contract and plays its
// checkout), Redis, the reports service, the streamer and ClickHouse:
//   - signing in checks the PIN with VerifyPin: a right PIN writes nothing on the card, wrong ones
//     are counted with the tills' and lock the card at the program's maximum;
//   - a top-up: the holder starts it on the card page, pays at the PSP's checkout, the PSP's webhook
//     reaches the node, and the card page the PSP returns the holder to shows the new balance;
//   - a receipt per transaction, linked from the history: merchant, terminal, time, amount, balance
//     after, in the session's language.
// And the merchant's pages: its terminals listed with their status and a switch per row (a disabled
// terminal is then refused by the node), the portal accounts that may act for it, and its
// settlement statements with their payout state as the settlement approvers move them.
// URL tampering: another card's top-up or receipt is 403, another card's transaction under the own
// card is 404; another merchant's terminals, managers and settlement are 403, and switching another
// merchant's terminal through the own list is refused by the node (403) and changes nothing. axe-core finds no serious or critical violation on each new page; each is saved as
// a screenshot (.test-artifacts/portal, git-ignored; docs/screenshots holds a committed copy).

import assert from 'node:assert/strict';
import type { Browser, Page } from 'puppeteer-core';
import { Outcome, type LineItem } from '../../gen/tapline/v1/types';
import { purchase, type TaplineClient } from '../../tools/client/tapline-client';
import { programConfig, type CardClient } from '../../tools/client/card-client';
import { mollie_integration } from '../../services/authorizer/psp/mollie';
import type { DemoUser } from '../../tools/devenv/portal';
import { reportsRequest, testToken, waitFor } from '../support/harness';
import { MollieApiFake } from '../support/mollie-api';
import { connectInspector, type Inspector } from '../support/redis-inspect';
import * as grpc from '@grpc/grpc-js';
import { freePort, type TestPortal } from '../support/portal';
import { formatDate, formatDay } from '../../services/portal/i18n';
import { startPortalStack, type PortalStack } from '../support/portal-stack';
import { checkPage, openPage, signInStaff, submit } from '../support/browser';

const users: readonly DemoUser[] = [
  { username: 'bar-manager', password: 'merchant-pass-1', role: 'merchant_admin', scope: ['bar-1'] },
  { username: 'bar-deputy', password: 'merchant-pass-2', role: 'merchant_admin', scope: ['bar-2', 'bar-1'] },
  { username: 'other-manager', password: 'merchant-pass-3', role: 'merchant_admin', scope: ['bar-2'] },
  { username: 'kiosk-manager', password: 'merchant-pass-4', role: 'merchant_admin', scope: ['kiosk-9'] },
];
const holder_pin = '2468';
/** A sale of 3.40 with its basket: two beers at 1.20 and half a bag of chips at 2.00. */
const basket: LineItem[] = [
  { productCode: 'BEER-05', productGroup: 'drinks', quantityMilli: 2_000n, unitPriceMinor: 120n, amountMinor: 240n },
  { productCode: 'CHIPS', productGroup: 'food', quantityMilli: 500n, unitPriceMinor: 200n, amountMinor: 100n },
];
const mollie_key = 'test_portalMollieKey0123456789ab';

describe('portal: cardholder and merchant pages end to end in headless Chromium', function () {
  this.timeout(120_000);
  let stack: PortalStack;
  let mollie: MollieApiFake;
  let portal: TestPortal;
  let browser: Browser;
  let client: TaplineClient;
  let cards: CardClient;
  let inspect: Inspector;
  let txn = 1;

  before(async function () {
    mollie = new MollieApiFake(mollie_key, true);
    const mollieUrl = await mollie.start();
    const portalPort = await freePort();
    stack = await startPortalStack({
      name: 'portal-holder',
      users,
      nodeEnv: {
        TAPLINE_PIN_SECRET: 'portal-holder-pin-secret-0123',
        TAPLINE_PSP_PROVIDER: 'mollie',
        TAPLINE_MOLLIE_API_KEY: mollie_key,
        TAPLINE_MOLLIE_API_URL: mollieUrl,
        TAPLINE_PSP_WEBHOOK_URL: 'https://pay.example.test/psp/mollie/webhook',
        // After paying, the PSP sends the holder back to the portal.
        TAPLINE_PSP_REDIRECT_URL: `https://localhost:${portalPort}/top-up/return`,
        TAPLINE_PSP_WEBHOOK_PORT: '0',
      },
      psp: mollie_integration,
      portalPort,
    });
    ({ portal, browser, client, cards } = stack);
    mollie.webhookVia = `http://127.0.0.1:${stack.node.pspWebhookPort ?? 0}`;
    inspect = await connectInspector(stack.redis.url);
    await seed();
  });

  after(async function () {
    await inspect?.close();
    await stack?.stop();
    await mollie?.stop();
  });

  async function seed(): Promise<void> {
    for (const [terminal, merchant] of [
      ['pos-1', 'bar-1'],
      ['pos-3', 'bar-1'],
      ['pos-2', 'bar-2'],
    ] as const)
      await client.registerTerminal(terminal, merchant);
    await cards.defineProgram('fest', programConfig({ pinRequired: true, pinAttemptsMax: 3 }));
    for (const cardId of ['c-100', 'c-200', 'c-300'])
      await cards.issue({
        cardId,
        params: { initialBalance: { amountMinor: 5_000n, currency: 'EUR' }, programId: 'fest', deposit: undefined, expiresAtUnixMs: 0n },
        holder: undefined,
        pin: holder_pin,
        operatorId: 'ops',
      });
  }

  async function cardLogin(page: Page, cardId: string, pin: string): Promise<number> {
    await page.goto(`${portal.url}/login`);
    await page.type('#card', cardId);
    await page.type('#pin', pin);
    return submit(page, '#card-login');
  }

  const textOf = (page: Page, selector: string): Promise<string> => page.$eval(selector, (e) => e.textContent?.trim() ?? '');
  /** The receipt's line items as shown: product, quantity, unit price, amount (spaces normalised). */
  const receiptLines = async (page: Page): Promise<string[][]> =>
    (await page.evaluate(
      `[...document.querySelectorAll('#receipt-lines tbody tr')].map((row) =>
        [...row.children].map((cell) => cell.textContent.trim().replace(/\\s+/g, ' ')))`,
    )) as string[][];

  /** POSTs a form of the portal from the page, with the session's CSRF token: the status it gets. */
  async function postForm(page: Page, path: string, fields: Record<string, string>): Promise<number> {
    return page.evaluate(
      async (target, values) => {
        const field = (globalThis as unknown as { document: { querySelector: (s: string) => { value: string } | null } }).document;
        const csrf = field.querySelector('input[name="_csrf"]')?.value ?? '';
        const body = new URLSearchParams({ ...values, _csrf: csrf }).toString();
        return (await fetch(target, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })).status;
      },
      path,
      fields,
    );
  }

  const newPage = (): Promise<Page> => openPage(browser);
  const staffLogin = (page: Page, username: string, password: string): Promise<void> => signInStaff(page, portal.url, username, password);

  it('signs a cardholder in with VerifyPin: a right PIN writes nothing, wrong ones count and lock the card', async () => {
    const page = await newPage();
    // The streamer takes and trims the outbox entries of the setup: once it has, Redis holds still.
    let before = '';
    await waitFor(
      "the streamer took the setup's outbox entries",
      async () => !(before = await inspect.snapshot()).includes(':outbox=[['),
      () => 'outbox entries left',
    );
    assert.equal(await cardLogin(page, 'c-100', holder_pin), 200);
    assert.equal(new URL(page.url()).pathname, '/cards/c-100');
    assert.equal(await inspect.snapshot(), before, 'signing in changed nothing in Redis');
    for (const pin of ['1111', '2222']) assert.equal(await cardLogin(page, 'c-300', pin), 401, `wrong PIN ${pin}`);
    assert.equal(
      (await client.authorize({ ...purchase('pos-1', txn++, 'c-300', 100), pin: '3333' })).outcome,
      Outcome.OUTCOME_DECLINED,
      'a wrong PIN at a till: the third wrong attempt',
    );
    assert.equal(await cardLogin(page, 'c-300', holder_pin), 401, 'the sign-ins counted: the PIN is locked');
    await page.browserContext().close();
  });

  it('tops a card up through the PSP: the holder pays at the checkout and the card page shows the new balance', async () => {
    const page = await newPage();
    assert.equal(await cardLogin(page, 'c-100', holder_pin), 200);
    assert.match(await textOf(page, '[data-test="balance"]'), /€\s?50\.00/);
    await page.type('#top-up-amount', '12.50');
    assert.equal(await submit(page, '#top-up'), 200);
    await checkPage(page, 'cardholder-top-up');
    assert.match(await textOf(page, '#pay'), /€\s?12\.50/);
    assert.match(await textOf(page, '[data-test="balance"]').catch(() => ''), /^$/, 'the top-up page shows no balance');
    assert.equal((await cards.getCard('c-100')).card?.balance?.amountMinor, 5_000n, 'starting a top-up moves nothing');
    assert.equal(await submit(page, '#pay'), 200, "the PSP's checkout");
    assert.match(await page.$eval('h1', (e) => e.textContent ?? ''), /EUR 12\.50/);
    assert.equal(await submit(page, '#psp-pay'), 200, 'paid: the PSP returns the holder to the portal');
    assert.equal(new URL(page.url()).pathname, '/top-up/return');
    await checkPage(page, 'cardholder-top-up-return');
    assert.equal(await submit(page, '#back-to-card'), 200);
    assert.equal(new URL(page.url()).pathname, '/cards/c-100', 'still signed in after the trip to the PSP');
    assert.match(await textOf(page, '[data-test="balance"]'), /€\s?62\.50/, 'the new balance after the webhook');
    const tampered = await postForm(page, '/cards/c-200/top-up', { amount: '5' });
    assert.equal(tampered, 403, "another card's top-up");
    assert.equal(mollie.created.length, 1, 'no payment was started for the other card');
    await page.browserContext().close();
  });

  it('shows a receipt of each transaction from the history with its line items, in the session language; another card’s receipt is 403 or 404', async () => {
    const sale = await client.authorize({ ...purchase('pos-1', txn++, 'c-200', 340), pin: holder_pin, lineItems: basket });
    assert.equal(sale.outcome, Outcome.OUTCOME_APPROVED);
    const page = await newPage();
    assert.equal(await cardLogin(page, 'c-200', holder_pin), 200);
    const link = `a[href="/cards/c-200/receipts/${sale.transactionId}"]`;
    const deadline = Date.now() + 30_000;
    while ((await page.$(link)) === null) {
      if (Date.now() > deadline) assert.fail(`the history shows no receipt link of ${sale.transactionId} within 30 s`);
      await page.waitForNetworkIdle({ idleTime: 200 });
      await page.reload();
    }
    assert.equal(await submit(page, link), 200);
    assert.equal(await textOf(page, '[data-test="receipt-merchant"]'), 'bar-1');
    assert.equal(await textOf(page, '[data-test="receipt-terminal"]'), 'pos-1');
    assert.match(await textOf(page, '[data-test="receipt-amount"]'), /€\s?3\.40/);
    assert.match(await textOf(page, '[data-test="receipt-balance"]'), /€\s?46\.60/);
    assert.deepEqual(await receiptLines(page), [
      ['BEER-05', '2', '€1.20', '€2.40'],
      ['CHIPS', '0.5', '€2.00', '€1.00'],
    ]);
    await checkPage(page, 'cardholder-receipt');
    assert.equal(await submit(page, 'a[lang="nl"]'), 200);
    assert.match(await textOf(page, '[data-test="receipt-balance"]'), /€\s?46,60/, 'Dutch money format');
    assert.deepEqual(await receiptLines(page), [
      ['BEER-05', '2', '€ 1,20', '€ 2,40'],
      ['CHIPS', '0,5', '€ 2,00', '€ 1,00'],
    ]);
    assert.match(await page.$eval('main', (e) => e.textContent ?? ''), /Saldo na afloop/);
    const receipt = `/receipts/${encodeURIComponent(sale.transactionId)}`;
    assert.equal((await page.goto(`${portal.url}/cards/c-100${receipt}`))?.status(), 403, "another card's receipt");
    await cardLogin(page, 'c-100', holder_pin);
    assert.equal((await page.goto(`${portal.url}/cards/c-100${receipt}`))?.status(), 404, "another card's transaction under the own card");
    assert.ok(!(await page.$eval('body', (e) => e.textContent ?? '')).includes('bar-1'), 'none of its data');
    await page.browserContext().close();
    // The reports service serves a transaction's lines only under its own card or merchant.
    const lines = async (path: string, role: string, scope: string): Promise<{ status: number; body: string }> => {
      const answer = await reportsRequest(stack.reports.port, path, { token: await testToken(role, [scope]) });
      return { status: answer.status, body: answer.body };
    };
    const id = encodeURIComponent(sale.transactionId);
    const own = await lines(`/reports/cards/c-200/transactions/${id}/lines`, 'cardholder', 'c-200');
    assert.equal(own.status, 200);
    assert.match(own.body, /BEER-05/);
    for (const [path, role, scope, status] of [
      [`/reports/cards/c-100/transactions/${id}/lines`, 'cardholder', 'c-100', 404],
      [`/reports/cards/c-200/transactions/${id}/lines`, 'cardholder', 'c-100', 403],
      [`/reports/merchants/bar-2/transactions/${id}/lines`, 'merchant_admin', 'bar-2', 404],
      [`/reports/merchants/bar-1/transactions/${id}/lines`, 'merchant_admin', 'bar-2', 403],
    ] as const) {
      const refused = await lines(path, role, scope);
      assert.equal(refused.status, status, `${path} as ${role} of ${scope}`);
      assert.ok(!refused.body.includes('BEER-05'), `${path}: none of the lines`);
    }
    const merchant = await lines(`/reports/merchants/bar-1/transactions/${id}/lines`, 'merchant_admin', 'bar-1');
    assert.deepEqual([merchant.status, (merchant.body.match(/BEER-05|CHIPS/g) ?? []).length], [200, 2], 'its merchant reads both lines');
  });

  const sells = async (terminal: string): Promise<boolean> => {
    const sale = client.authorize({ ...purchase(terminal, txn++, 'c-200', 10), pin: holder_pin });
    return sale.then(
      (answer) => answer.outcome === Outcome.OUTCOME_APPROVED,
      (error: grpc.ServiceError) => {
        assert.equal(error.code, grpc.status.FAILED_PRECONDITION, `${terminal}: ${error.message}`);
        return false;
      },
    );
  };

  it('a merchant sees its sales this month per day, terminal and product, in the session language', async () => {
    await client.registerTerminal('pos-9', 'kiosk-9');
    await client.registerTerminal('pos-10', 'kiosk-9');
    // Two sales at pos-9 (3.40 with two beers and half a bag of chips, then 1.20 with one beer), one at pos-10 without a basket.
    const sales = [
      await client.authorize({ ...purchase('pos-9', txn++, 'c-200', 340), pin: holder_pin, lineItems: basket }),
      await client.authorize({
        ...purchase('pos-9', txn++, 'c-200', 120),
        pin: holder_pin,
        lineItems: [{ productCode: 'BEER-05', productGroup: 'drinks', quantityMilli: 1_000n, unitPriceMinor: 120n, amountMinor: 120n }],
      }),
      await client.authorize({ ...purchase('pos-10', txn++, 'c-200', 500), pin: holder_pin }),
    ];
    assert.deepEqual(
      sales.map((sale) => sale.outcome),
      [Outcome.OUTCOME_APPROVED, Outcome.OUTCOME_APPROVED, Outcome.OUTCOME_APPROVED],
    );
    const page = await newPage();
    await staffLogin(page, 'kiosk-manager', 'merchant-pass-4');
    assert.equal(new URL(page.url()).pathname, '/merchants/kiosk-9');
    // The figures come from ClickHouse: the streamer brings the sales there.
    const rowsOf = (table: string): Promise<string[][]> =>
      page.$$eval(`[data-test="${table}"] tbody tr`, (rows) =>
        rows.map((row) => [...row.querySelectorAll('td')].map((cell) => (cell.textContent ?? '').trim().replace(/\s+/g, ' '))),
      );
    const deadline = Date.now() + 30_000;
    const arrived = async (): Promise<boolean> =>
      (await rowsOf('sales-days'))[0]?.[1] === '3' && (await rowsOf('sales-products')).map((row) => row[1]).join() === '3,0.5';
    while (!(await arrived())) {
      if (Date.now() > deadline)
        assert.fail(`the sales did not reach the merchant page within 30 s: ${JSON.stringify(await rowsOf('sales-products'))}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
      await page.reload();
    }
    const today = formatDay('en', new Date().toISOString().slice(0, 10));
    assert.deepEqual(await rowsOf('sales-days'), [[today, '3', '€9.60', '€0.00']]);
    assert.deepEqual(await rowsOf('sales-terminals'), [
      ['pos-10', '1', '€5.00', '€0.00'],
      ['pos-9', '2', '€4.60', '€0.00'],
    ]);
    assert.deepEqual(await rowsOf('sales-products'), [
      ['BEER-05', '3', '€3.60'],
      ['CHIPS', '0.5', '€1.00'],
    ]);
    await checkPage(page, 'merchant');
    assert.equal(await submit(page, 'a[lang="nl"]'), 200);
    assert.deepEqual(await rowsOf('sales-products'), [
      ['BEER-05', '3', '€ 3,60'],
      ['CHIPS', '0,5', '€ 1,00'],
    ]);
    assert.deepEqual(await rowsOf('sales-days'), [[formatDay('nl', new Date().toISOString().slice(0, 10)), '3', '€ 9,60', '€ 0,00']]);
    // Another merchant's sales are not this manager's.
    const other = await reportsRequest(stack.reports.port, `/reports/merchants/bar-1/sales?from=2026-01-01&to=2026-12-31`, {
      token: await testToken('merchant_admin', ['kiosk-9']),
    });
    assert.equal(other.status, 403, "another merchant's sales");
  });

  it("a merchant lists its terminals with their status and switches one off and on from its row; another merchant's are refused", async () => {
    const page = await newPage();
    await staffLogin(page, 'bar-manager', 'merchant-pass-1');
    assert.equal(await submit(page, '#terminal-list'), 200);
    const listed = await page.$$eval('tr[data-terminal]', (rows) => rows.map((row) => row.getAttribute('data-terminal')));
    assert.deepEqual(listed, ['pos-1', 'pos-3'], "its own terminals, not another merchant's");
    await checkPage(page, 'merchant-terminals');
    assert.equal(await sells('pos-3'), true);
    assert.equal(await submit(page, 'button[data-switch="pos-3"]'), 200);
    assert.equal(await textOf(page, 'tr[data-terminal="pos-3"] [data-test="terminal-status"]'), 'disabled');
    assert.equal(await sells('pos-3'), false, 'the node refuses the disabled terminal');
    assert.equal(await submit(page, 'button[data-switch="pos-3"]'), 200);
    assert.equal(await textOf(page, 'tr[data-terminal="pos-3"] [data-test="terminal-status"]'), 'enabled');
    assert.equal(await sells('pos-3'), true);
    assert.equal(await postForm(page, '/merchants/bar-1/terminals/switch', { terminal: 'pos-2', enabled: '0' }), 403, 'the node refuses');
    assert.equal(await postForm(page, '/merchants/bar-2/terminals/switch', { terminal: 'pos-2', enabled: '0' }), 403);
    assert.equal(await sells('pos-2'), true, 'the other merchant’s terminal still sells');
    assert.equal((await page.goto(`${portal.url}/merchants/bar-2/terminals`))?.status(), 403);
    assert.ok(!(await page.$eval('body', (e) => e.textContent ?? '')).includes('pos-2'), 'none of its data');
    await page.browserContext().close();
  });

  it('a merchant sees when each terminal last made a transaction, in the session language; one never used says so', async () => {
    await client.registerTerminal('pos-4', 'bar-1');
    const before = Date.now();
    assert.equal(await sells('pos-3'), true);
    // The time shown is the terminal's latest transaction in ClickHouse (the streamer brings it there).
    const lastSeen = async (): Promise<number> => {
      const answer = await reportsRequest(stack.reports.port, '/reports/merchants/bar-1/terminals', {
        token: await testToken('merchant_admin', ['bar-1']),
      });
      assert.equal(answer.status, 200);
      const rows = (JSON.parse(answer.body) as { terminals: { terminal: string; last_at_ms: number }[] }).terminals;
      return rows.find((row) => row.terminal === 'pos-3')?.last_at_ms ?? 0;
    };
    const deadline = Date.now() + 30_000;
    let at = await lastSeen();
    while (at < before) {
      if (Date.now() > deadline) assert.fail('the sale at pos-3 did not reach the last-seen report within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 250));
      at = await lastSeen();
    }
    const page = await newPage();
    await staffLogin(page, 'bar-manager', 'merchant-pass-1');
    await page.goto(`${portal.url}/merchants/bar-1/terminals`);
    const seen = (terminal: string): Promise<string> => textOf(page, `tr[data-terminal="${terminal}"] [data-test="terminal-last-seen"]`);
    assert.equal(await seen('pos-3'), formatDate('en', at));
    assert.equal(await seen('pos-4'), 'none yet');
    await checkPage(page, 'merchant-terminals');
    assert.equal(await submit(page, 'a[lang="nl"]'), 200);
    assert.equal(await seen('pos-3'), formatDate('nl', at), 'Dutch date format');
    assert.equal(await seen('pos-4'), 'nog geen');
    await page.browserContext().close();
    const other = await reportsRequest(stack.reports.port, '/reports/merchants/bar-1/terminals', {
      token: await testToken('merchant_admin', ['bar-2']),
    });
    assert.equal(other.status, 403, "another merchant's terminals");
    assert.ok(!other.body.includes('pos-3'));
  });

  it('a merchant sees who may act for it; another merchant’s managers are refused', async () => {
    const page = await newPage();
    await staffLogin(page, 'bar-manager', 'merchant-pass-1');
    await page.goto(`${portal.url}/merchants/bar-1/managers`);
    const managers = await page.$$eval('[data-test="managers"] li', (items) => items.map((item) => item.textContent?.trim()));
    assert.deepEqual(managers, ['bar-deputy', 'bar-manager']);
    await checkPage(page, 'merchant-managers');
    assert.equal((await page.goto(`${portal.url}/merchants/bar-2/managers`))?.status(), 403);
    assert.ok(!(await page.$eval('body', (e) => e.textContent ?? '')).includes('other-manager'), 'none of its data');
    await page.browserContext().close();
  });

  /** A settlement request of the issuer's back office, as `who` with `role`. */
  async function backOffice(method: string, path: string, role: string, who: string, body: unknown = {}): Promise<void> {
    const token = await testToken(role, ['*'], who);
    const answer = await reportsRequest(stack.reports.port, path, {
      method,
      token,
      ...(method === 'GET' ? {} : { body: JSON.stringify(body) }),
    });
    assert.ok(answer.status >= 200 && answer.status < 300, `${method} ${path}: ${answer.status} ${answer.body}`);
  }

  it("a merchant follows its settlement statement from prepared to paid; another merchant's settlement is refused", async () => {
    const config = { cycle: 'daily', payee_name: 'Bar One BV', payee_iban: 'NL91ABNA0417164300', rates: [] };
    await backOffice('PUT', '/settlement/merchants/bar-1', 'issuer_admin', 'ops-1', config);
    await backOffice('POST', '/settlement/merchants/bar-1/payee/approve', 'settlement_approver', 'approver-1');
    // A batch covers a period that has ended: yesterday's.
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    await backOffice('POST', '/settlement/merchants/bar-1/batches', 'issuer_admin', 'ops-1', { date: day });
    const page = await newPage();
    await staffLogin(page, 'bar-manager', 'merchant-pass-1');
    await page.goto(`${portal.url}/merchants/bar-1/settlement`);
    const batch = `bar-1.daily.${day}`;
    assert.equal(await textOf(page, `tr[data-batch="${batch}"] [data-test="payout-state"]`), 'prepared, awaiting approval');
    await backOffice('POST', `/settlement/batches/${batch}/approve`, 'settlement_approver', 'approver-1');
    await backOffice('POST', `/settlement/batches/${batch}/settle`, 'issuer_admin', 'ops-1', { reference: 'bank-1' });
    await page.reload();
    assert.equal(await textOf(page, `tr[data-batch="${batch}"] [data-test="payout-state"]`), 'paid');
    await checkPage(page, 'merchant-settlement');
    assert.equal((await page.goto(`${portal.url}/merchants/bar-2/settlement`))?.status(), 403);
    await page.browserContext().close();
  });
});
