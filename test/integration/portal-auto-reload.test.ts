// The cardholder's auto-reload end to end, in headless Chromium against a real node (with the Mollie
// integration, talking to a local server that implements Mollie's contract, plays its checkout and,
// like Mollie, leaves a mandate once a first payment is paid), Redis, the reports service, the
// streamer and ClickHouse:
//   - the holder chooses threshold and reload amount and pays a first top-up at the checkout; the
//     node credits it and stores the auto-reload with the mandate the PSP created (the page shows it
//     by its last characters); amounts the program would refuse start nothing at the PSP;
//   - a sale at a terminal leaves the balance below the threshold: the node charges the mandate and
//     the card is reloaded (balance exact); switched off on the page, the next low balance charges
//     nothing;
//   - URL tampering: another card's auto-reload page, set-up and switch-off are 403 and change
//     nothing; a form without the CSRF token is 403.
// axe-core finds no serious or critical violation; the page is saved as a screenshot
// (.test-artifacts/portal, git-ignored; docs/screenshots holds a committed copy).

import assert from 'node:assert/strict';
import type { Browser, Page } from 'puppeteer-core';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { Outcome } from '../../gen/tapline/v1/types';
import { type TaplineClient, purchase } from '../../tools/client/tapline-client';
import { type CardClient, programConfig } from '../../tools/client/card-client';
import { mollie_integration } from '../../services/authorizer/psp/mollie';
import { waitFor } from '../support/harness';
import { MollieApiFake } from '../support/mollie-api';
import { freePort, type TestPortal } from '../support/portal';
import { startPortalStack, type PortalStack } from '../support/portal-stack';
import { checkPage, openPage, pageText, submit } from '../support/browser';

const holder_pin = '1357';
const mollie_key = 'test_portalAutoReloadKey012345ab';

describe('portal: a cardholder sets up auto-reload through the PSP’s first payment, in headless Chromium', function () {
  this.timeout(120_000);
  let stack: PortalStack;
  let mollie: MollieApiFake;
  let node: AuthorizerNode;
  let portal: TestPortal;
  let browser: Browser;
  let client: TaplineClient;
  let cards: CardClient;
  let txn = 1;

  before(async function () {
    mollie = new MollieApiFake(mollie_key, true);
    const mollieUrl = await mollie.start();
    const portalPort = await freePort();
    stack = await startPortalStack({
      name: 'portal-auto-reload',
      users: [],
      nodeEnv: {
        TAPLINE_PSP_PROVIDER: 'mollie',
        TAPLINE_MOLLIE_API_KEY: mollie_key,
        TAPLINE_MOLLIE_API_URL: mollieUrl,
        TAPLINE_PSP_WEBHOOK_URL: 'https://pay.example.test/psp/mollie/webhook',
        TAPLINE_PSP_REDIRECT_URL: `https://localhost:${portalPort}/top-up/return`,
        TAPLINE_PSP_WEBHOOK_PORT: '0',
      },
      psp: mollie_integration,
      portalPort,
    });
    ({ node, portal, browser, client, cards } = stack);
    mollie.webhookVia = `http://127.0.0.1:${node.pspWebhookPort ?? 0}`;
    await client.registerTerminal('ar-pos', 'ar-bar');
    // Top-ups up to € 100, balances up to € 200.
    await cards.defineProgram('fest', programConfig({ pinRequired: true, maxTopUpMinor: 10_000n, maxBalanceMinor: 20_000n }));
    for (const cardId of ['c-ar', 'c-other'])
      await cards.issue({
        cardId,
        params: { initialBalance: { amountMinor: 5_000n, currency: 'EUR' }, programId: 'fest', deposit: undefined, expiresAtUnixMs: 0n },
        holder: undefined,
        pin: holder_pin,
        operatorId: 'ops',
      });
    // The other card's auto-reload, set by the desk: tampering must leave it as it is.
    await cards.setAutoReload('c-other', 1_000, 2_000, 'cst_desk.mdt_other');
  });

  after(async function () {
    await stack?.stop();
    await mollie?.stop();
  });

  async function cardLogin(page: Page, cardId: string): Promise<void> {
    await page.goto(`${portal.url}/login`);
    await page.type('#card', cardId);
    await page.type('#pin', holder_pin);
    assert.equal(await submit(page, '#card-login'), 200);
  }

  const textOf = (page: Page, selector: string): Promise<string> => page.$eval(selector, (e) => e.textContent?.trim() ?? '');
  const balanceOf = async (cardId: string): Promise<bigint> => (await cards.getCard(cardId)).card?.balance?.amountMinor ?? -1n;

  /** POSTs a form of the portal from the page (with the session's CSRF token unless `csrf` is false): the status it gets. */
  async function postForm(page: Page, path: string, fields: Record<string, string>, csrf = true): Promise<number> {
    return page.evaluate(
      async (target, values, withToken) => {
        const field = (globalThis as unknown as { document: { querySelector: (s: string) => { value: string } | null } }).document;
        const token: Record<string, string> = withToken ? { _csrf: field.querySelector('input[name="_csrf"]')?.value ?? '' } : {};
        const body = new URLSearchParams({ ...values, ...token }).toString();
        return (await fetch(target, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })).status;
      },
      path,
      fields,
      csrf,
    );
  }

  async function setUp(page: Page, threshold: string, amount: string, first: string): Promise<number> {
    for (const [selector, value] of [
      ['#auto-reload-threshold', threshold],
      ['#auto-reload-amount', amount],
      ['#auto-reload-first', first],
    ] as const) {
      await page.$eval(selector, (e) => ((e as unknown as { value: string }).value = ''));
      await page.type(selector, value);
    }
    return submit(page, '#auto-reload-setup');
  }

  it('sets up auto-reload by paying a first top-up; a low balance is then reloaded from the mandate, until it is switched off', async () => {
    const page = await openPage(browser);
    await cardLogin(page, 'c-ar');
    assert.ok((await page.$('[data-test="auto-reload-off"]')) !== null, 'the card page says auto-reload is off');
    assert.equal(await submit(page, '#auto-reload-link'), 200);
    assert.equal(new URL(page.url()).pathname, '/cards/c-ar/auto-reload');

    // Threshold + reload above the program's balance maximum: refused before anything is paid.
    assert.equal(await setUp(page, '150', '60', '5'), 409);
    assert.equal(mollie.created.length, 0, 'nothing started at the PSP');
    await page.goBack();

    assert.equal(await setUp(page, '10', '20', '5'), 200);
    assert.match(await textOf(page, '#pay'), /€\s?5\.00/);
    assert.equal((await cards.getCard('c-ar')).card?.autoReload, undefined, 'nothing stored before the PSP reports the payment');
    assert.equal(await submit(page, '#pay'), 200, "the PSP's checkout");
    assert.equal(await submit(page, '#psp-pay'), 200, 'paid: the PSP returns the holder to the portal');
    const [first] = mollie.created;
    assert.equal(first?.sequenceType, 'first');
    const mandateId = first?.mandateId ?? '';
    assert.match(mandateId, /^mdt_/, 'the paid first payment left a mandate at the PSP');
    assert.equal(await submit(page, '#back-to-card'), 200);
    assert.match(await textOf(page, '[data-test="balance"]'), /€\s?55\.00/, 'the first payment is on the card');

    assert.equal(await submit(page, '#auto-reload-link'), 200);
    assert.match(await textOf(page, '[data-test="auto-reload-threshold"]'), /€\s?10\.00/);
    assert.match(await textOf(page, '[data-test="auto-reload-amount"]'), /€\s?20\.00/);
    assert.equal(await textOf(page, '[data-test="auto-reload-mandate"]'), `Payment mandate ending …${mandateId.slice(-4)}`);
    assert.ok(!(await pageText(page)).includes(first?.customerId ?? 'cst_'), 'the mandate reference itself is not shown');
    await checkPage(page, 'cardholder-auto-reload');
    assert.equal(await submit(page, 'a[lang="nl"]'), 200);
    assert.match(await textOf(page, '[data-test="auto-reload-amount"]'), /€\s?20,00/, 'Dutch money format');
    assert.match(await textOf(page, 'h1'), /Automatisch opwaarderen/);
    await checkPage(page, 'cardholder-auto-reload-nl');
    assert.equal(await submit(page, 'a[lang="en"]'), 200);

    // A sale leaves € 5.00 available, below the threshold: the node charges the mandate.
    assert.equal(
      (await client.authorize({ ...purchase('ar-pos', txn++, 'c-ar', 5_000), pin: holder_pin })).outcome,
      Outcome.OUTCOME_APPROVED,
    );
    await waitFor(
      'the node charges the mandate',
      () => mollie.created.length === 2,
      () => `${mollie.created.length} payments`,
    );
    const charge = mollie.created[1];
    assert.deepEqual([charge?.sequenceType, charge?.customerId, charge?.mandateId], ['recurring', first?.customerId, mandateId]);
    assert.equal(await mollie.settle(charge?.id ?? '', 'paid', mollie.webhookVia), 200);
    assert.equal(await balanceOf('c-ar'), 2_500n, '€ 55.00 − € 50.00 + the reload of € 20.00');

    // Switched off: the next low balance charges nothing.
    assert.equal(await submit(page, '#auto-reload-off'), 200);
    assert.equal(new URL(page.url()).pathname, '/cards/c-ar/auto-reload');
    assert.ok((await page.$('[data-test="auto-reload-off"]')) !== null, 'the page says auto-reload is off');
    assert.equal((await cards.getCard('c-ar')).card?.autoReload, undefined);
    assert.equal(
      (await client.authorize({ ...purchase('ar-pos', txn++, 'c-ar', 2_000), pin: holder_pin })).outcome,
      Outcome.OUTCOME_APPROVED,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(mollie.created.length, 2, 'no charge once switched off');
    assert.equal(await balanceOf('c-ar'), 500n);
    await page.browserContext().close();
  });

  it("refuses another card's auto-reload page, set-up and switch-off (URL tampering) and a form without the CSRF token", async () => {
    const page = await openPage(browser);
    await cardLogin(page, 'c-ar');
    const created = mollie.created.length;
    const response = await page.goto(`${portal.url}/cards/c-other/auto-reload`);
    assert.equal(response?.status(), 403, "another card's auto-reload page");
    assert.ok(!(await pageText(page)).includes('mandate ending'), 'none of its auto-reload');
    await page.goto(`${portal.url}/cards/c-ar/auto-reload`);
    assert.equal(await postForm(page, '/cards/c-other/auto-reload', { threshold: '10', amount: '20', first: '5' }), 403);
    assert.equal(await postForm(page, '/cards/c-other/auto-reload/off', {}), 403);
    assert.equal(
      await postForm(page, '/cards/c-ar/auto-reload', { threshold: '10', amount: '20', first: '5' }, false),
      403,
      'no CSRF token',
    );
    assert.equal(mollie.created.length, created, 'no payment was started');
    const other = (await cards.getCard('c-other')).card?.autoReload;
    assert.deepEqual([other?.threshold?.amountMinor, other?.amount?.amountMinor, other?.mandateEnding], [1_000n, 2_000n, 'ther']);
    await page.browserContext().close();
  });
});
