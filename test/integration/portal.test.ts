// The portal end to end, in headless Chromium against a real node, Redis, the reports service, the
// streamer and ClickHouse: each role signs in and does its main task, and what the task changed is
// then seen where it matters (a terminal declines the lost card, a fill-up above the new limit is
// declined, the disabled terminal is refused, the organizer's live statistics show the new sale).
// A principal that edits the URL to another card, fleet or merchant gets 403 and none of its data;
// a form posted without the session's CSRF token changes nothing. axe-core finds no serious or
// critical accessibility violation on any main page, and each main page is saved as a screenshot
// (.test-artifacts/portal, git-ignored; docs/screenshots holds a committed copy).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Browser, Page } from 'puppeteer-core';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { PriceFormula } from '../../gen/tapline/v1/fleet';
import { purchase, type TaplineClient } from '../../tools/client/tapline-client';
import { programConfig, type CardClient } from '../../tools/client/card-client';
import { fleetPurchase, type FleetClient, type FleetLine } from '../../tools/client/fleet-client';
import type { DemoUser } from '../../tools/devenv/portal';
import { portal_rules } from '../../services/common/auth/policy';
import { screenshotDir, type TestPortal } from '../support/portal';
import { startPortalStack, type PortalStack } from '../support/portal-stack';
import { checkPage, openPage, pageText as text, signInStaff, submit } from '../support/browser';

const users: readonly DemoUser[] = [
  { username: 'haul-manager', password: 'fleet-pass-1', role: 'fleet_manager', scope: ['haul'] },
  { username: 'bar-manager', password: 'merchant-pass-1', role: 'merchant_admin', scope: ['bar-1'] },
  { username: 'organizer', password: 'organizer-pass-1', role: 'issuer_admin', scope: ['*'] },
];
const holder_pin = '2468';
const diesel = (amountMinor: number): FleetLine => ({ code: 'diesel', group: 'diesel', qtyMilli: 40_000, unitMinor: 0, amountMinor });
const refusedWith = (code: grpc.status) => (error: grpc.ServiceError) => error.code === code;

describe('portal: every role end to end in headless Chromium', function () {
  this.timeout(120_000);
  let stack: PortalStack;
  let portal: TestPortal;
  let browser: Browser;
  let client: TaplineClient;
  let cards: CardClient;
  let fleet: FleetClient;
  let txn = 1;

  before(async function () {
    stack = await startPortalStack({ name: 'portal', users });
    ({ portal, browser, client, cards, fleet } = stack);
    await seed();
  });

  after(() => stack?.stop());

  async function seed(): Promise<void> {
    for (const [terminal, merchant] of [
      ['pos-1', 'bar-1'],
      ['pos-3', 'bar-1'],
      ['pos-2', 'bar-2'],
      ['pump-1', 'station-1'],
    ] as const)
      await client.registerTerminal(terminal, merchant);
    await cards.defineProgram('fest', programConfig());
    for (const cardId of ['c-100', 'c-200'])
      await cards.issue({
        cardId,
        params: { initialBalance: { amountMinor: 5_000n, currency: 'EUR' }, programId: 'fest', deposit: undefined, expiresAtUnixMs: 0n },
        holder: { name: `Holder ${cardId}`, idDocumentType: 0, idDocumentNumber: '', phone: '', email: '' },
        pin: holder_pin,
        operatorId: 'ops',
      });
    for (const fleetId of ['haul', 'other']) {
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
        ],
      });
      await fleet.issueCard({ fleetId, cardNo: '1', limits: undefined, productGroups: undefined, operatorId: 'ops' });
    }
  }

  const newPage = (): Promise<Page> => openPage(browser);
  const staffLogin = (page: Page, username: string, password: string): Promise<void> => signInStaff(page, portal.url, username, password);

  it('serves every route under a rule of the access table, and every portal rule names a route it serves', () => {
    assert.deepEqual(portal.server.route_rules, Object.keys(portal_rules).sort());
  });

  it('a cardholder signs in with card number and PIN, reports the card lost, and a terminal then declines it', async () => {
    const page = await newPage();
    await page.goto(`${portal.url}/login`);
    await checkPage(page, 'login');
    await page.type('#card', 'c-100');
    await page.type('#pin', '1111');
    assert.equal(await submit(page, '#card-login'), 401, 'a wrong PIN does not sign in');
    await page.type('#card', 'c-100');
    await page.type('#pin', holder_pin);
    assert.equal(await submit(page, '#card-login'), 200);
    assert.equal(new URL(page.url()).pathname, '/cards/c-100');
    assert.match(await page.$eval('[data-test="balance"]', (e) => e.textContent ?? ''), /€\s?50\.00/);
    await checkPage(page, 'cardholder');
    assert.equal(
      (await client.authorize(purchase('pos-1', txn++, 'c-100', 100))).outcome,
      Outcome.OUTCOME_APPROVED,
      'the card sells before',
    );
    assert.equal(await submit(page, '#report-lost'), 200);
    assert.match(await page.$eval('[data-test="status"]', (e) => e.textContent ?? ''), /reported lost/);
    const after = await client.authorize(purchase('pos-1', txn++, 'c-100', 100));
    assert.equal(after.outcome, Outcome.OUTCOME_DECLINED, 'a terminal declines the lost card');
    await page.browserContext().close();
  });

  it('a cardholder who edits the URL to another card gets 403 and none of its data; its own page in Dutch', async () => {
    const page = await newPage();
    await page.goto(`${portal.url}/login`);
    await page.type('#card', 'c-200');
    await page.type('#pin', holder_pin);
    assert.equal(await submit(page, '#card-login'), 200);
    const response = await page.goto(`${portal.url}/cards/c-100`);
    assert.equal(response?.status(), 403);
    const body = await text(page);
    assert.ok(!body.includes('c-100') && (await page.$('[data-test="balance"]')) === null, `no data of the other card: ${body}`);
    const stop = await page.evaluate(
      async () =>
        (await fetch('/cards/c-100/freeze', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' }))
          .status,
    );
    assert.equal(stop, 403, 'a form without the CSRF token (and for another card) is refused');
    assert.equal((await cards.getCard('c-200')).card?.status, 1, 'the own card is untouched');
    await page.goto(`${portal.url}/cards/c-200`);
    assert.equal(await submit(page, 'a[lang="nl"]'), 200, 'the language switch comes back to the page');
    assert.equal(await page.$eval('html', (root) => root.getAttribute('lang')), 'nl');
    assert.match(await text(page), /Saldo/);
    assert.match(await page.$eval('[data-test="balance"]', (e) => e.textContent ?? ''), /€\s?50,00/, 'Dutch money format');
    await page.screenshot({ path: join(screenshotDir(), 'cardholder-nl.png'), fullPage: true });
    await page.browserContext().close();
  });

  it('a fleet manager lowers a card limit and the next fill-up above it is declined, then blocks the card; another fleet is 403', async () => {
    for (const vehicleId of ['van-7', 'truck-2'])
      assert.equal(
        (await client.authorize(fleetPurchase('pump-1', txn++, 'haul~1', [diesel(vehicleId === 'van-7' ? 3_000 : 1_800)], { vehicleId })))
          .outcome,
        Outcome.OUTCOME_APPROVED,
      );
    const page = await newPage();
    await staffLogin(page, 'haul-manager', 'fleet-pass-1');
    assert.equal(new URL(page.url()).pathname, '/fleets/haul');
    await page.type('#card_no', '1');
    await page.type('#per_txn', '20.00');
    assert.equal(await submit(page, '#save-limits'), 200);
    assert.match(await page.$eval('[data-test="per-txn"]', (e) => e.textContent ?? ''), /€\s?20\.00/);
    await checkPage(page, 'fleet-manager');
    const next = await client.authorize(fleetPurchase('pump-1', txn++, 'haul~1', [diesel(3_000)]));
    assert.deepEqual([next.outcome, next.declineReason], [Outcome.OUTCOME_DECLINED, DeclineReason.DECLINE_REASON_LIMIT_EXCEEDED]);
    assert.equal(await submit(page, '#block-card'), 200);
    assert.match(await page.$eval('[data-test="fleet-card-status"]', (e) => e.textContent ?? ''), /blocked/);
    const blocked = await client.authorize(fleetPurchase('pump-1', txn++, 'haul~1', [diesel(1_000)]));
    assert.equal(blocked.outcome, Outcome.OUTCOME_DECLINED, 'a blocked card is declined even within its limit');
    const other = await page.goto(`${portal.url}/fleets/other?card=1`);
    assert.equal(other?.status(), 403);
    assert.ok(!(await text(page)).includes('other~1'), 'no data of the other fleet');
    await page.browserContext().close();
  });

  it('a merchant disables its terminal, which is then refused; another merchant and its terminals are 403', async () => {
    assert.equal((await client.authorize(purchase('pos-3', txn++, 'c-200', 100))).outcome, Outcome.OUTCOME_APPROVED);
    const page = await newPage();
    await staffLogin(page, 'bar-manager', 'merchant-pass-1');
    assert.equal(new URL(page.url()).pathname, '/merchants/bar-1');
    await page.type('#terminal', 'pos-3');
    assert.equal(await submit(page, '#disable-terminal'), 200);
    assert.match(await text(page), /pos-3 is now disabled/);
    await checkPage(page, 'merchant');
    await assert.rejects(client.authorize(purchase('pos-3', txn++, 'c-200', 100)), refusedWith(grpc.status.FAILED_PRECONDITION));
    assert.equal((await page.goto(`${portal.url}/merchants/bar-2`))?.status(), 403);
    await page.goto(`${portal.url}/merchants/bar-1`);
    await page.type('#terminal', 'pos-2');
    assert.equal(await submit(page, '#disable-terminal'), 403, "another merchant's terminal through its own page");
    assert.equal((await client.authorize(purchase('pos-2', txn++, 'c-200', 100))).outcome, Outcome.OUTCOME_APPROVED, 'pos-2 still sells');
    await page.browserContext().close();
  });

  it('the organizer sees a sale appear in the live event statistics', async () => {
    const page = await newPage();
    await staffLogin(page, 'organizer', 'organizer-pass-1');
    assert.equal(new URL(page.url()).pathname, '/organizer');
    const sales = (): Promise<string> => page.$eval('[data-stat="sales"]', (e) => e.textContent ?? '');
    const before = await sales();
    assert.equal((await client.authorize(purchase('pos-1', txn++, 'c-200', 250))).outcome, Outcome.OUTCOME_APPROVED);
    const expected = String(Number(before) + 1);
    await page
      .waitForFunction(`document.querySelector('[data-stat="sales"]')?.textContent === ${JSON.stringify(expected)}`, {
        timeout: 30_000,
        polling: 200,
      })
      .catch(async () => assert.fail(`live statistics: expected sales ${expected}, still seen ${await sales()}`));
    await checkPage(page, 'organizer');
    await page.setViewport({ width: 390, height: 844 });
    await page.screenshot({ path: join(screenshotDir(), 'organizer-phone.png'), fullPage: true });
    await page.browserContext().close();
  });
});
