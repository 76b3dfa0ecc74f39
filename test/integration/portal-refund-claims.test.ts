// Holders' refund claims to a bank account end to end, in headless Chromium against a real node,
// Redis, ClickHouse (the reports service's store of reports), the reports service and the portal:
//   - a holder cannot claim before the program's refund window opens, nor with an IBAN whose check
//     digits are wrong: the page says why and nothing is written in Redis;
//   - a holder claims with an IBAN typed with spaces and in lower case: the claim is stored, the page
//     shows it received with the IBAN masked, in English and in Dutch;
//   - URL tampering: another card's claim page and form are 403 in the portal, and the reports
//     service refuses the holder's token for another card (403); nothing is written;
//   - an issuer proposes a payout run; the same person is refused approval by the portal (role) and,
//     holding a settlement approver's token, by the reports service (four eyes); the card is
//     untouched; a settlement approver approves: the card is cashed out (balance + deposit), its
//     balance is 0 and it is closed, the claim shows paid with the exact amount, the run's SEPA file
//     pays exactly that to the holder's IBAN and is valid against the published XSD; approving
//     again pays nothing twice; the audit records name the proposer and the approver;
//   - axe-core finds no serious or critical violation on the new pages (screenshots saved).

import assert from 'node:assert/strict';
import type { Browser, Page } from 'puppeteer-core';
import { CardStatus } from '../../gen/tapline/v1/types';
import { type CardClient, programConfig } from '../../tools/client/card-client';
import type { ReportsServer } from '../../services/reports/server';
import type { RedisRefundClaimStore } from '../../services/reports/refund-claims/store';
import { settlement_outbox_key } from '../../services/authorizer/store/keys';
import { PortalIssuer } from '../../services/portal/issuer';
import { portal_rules } from '../../services/common/auth/policy';
import type { DemoUser, PortalFiles } from '../../tools/devenv/portal';
import { reportsRequest } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';
import type { TestPortal } from '../support/portal';
import { startPortalStack, type PortalStack } from '../support/portal-stack';
import { checkPage, openPage, pageText, signInStaff, submit } from '../support/browser';
import { pain001_xsd, validateXml } from '../support/xsd';

const users: readonly DemoUser[] = [
  { username: 'ida', password: 'issuer-pass-1', role: 'issuer_admin', scope: ['*'] },
  { username: 'bob', password: 'approver-pass-1', role: 'settlement_approver', scope: ['*'] },
];
const holder_pin = '1357';
const debtor = { name: 'Festival Payments GmbH', iban: 'DE02120300000000202051', bic: 'BYLADEM1001' };

describe('portal: refund claims to a bank account, paid under four eyes (headless Chromium)', function () {
  this.timeout(120_000);
  let stack: PortalStack;
  let reports: ReportsServer;
  let portal: TestPortal;
  let browser: Browser;
  let cards: CardClient;
  let inspect: Inspector;
  let store: RedisRefundClaimStore;
  let files: PortalFiles;

  before(async function () {
    // No streamer: the tests compare whole Redis snapshots ("nothing written") and read the audit
    // records from the outbox, which a streamer would take and trim meanwhile.
    stack = await startPortalStack({ name: 'portal-refund', users, refundClaims: { debtor }, streamer: false });
    ({ reports, portal, browser, cards, files } = stack);
    store = stack.refundClaims as RedisRefundClaimStore;
    inspect = await connectInspector(stack.redis.url);
    await cards.defineProgram('fest', programConfig({ pinRequired: true, pinAttemptsMax: 3 }));
    for (const [cardId, balance, deposit] of [
      ['h-1', 5_000n, 250n],
      ['h-2', 5_000n, 250n],
      ['h-3', 0n, 0n],
    ] as const)
      await cards.issue({
        cardId,
        params: {
          initialBalance: { amountMinor: balance, currency: 'EUR' },
          programId: 'fest',
          deposit: { amountMinor: deposit, currency: 'EUR' },
          expiresAtUnixMs: 0n,
        },
        holder: undefined,
        pin: holder_pin,
        operatorId: 'ops',
      });
  });

  after(async function () {
    await inspect?.close();
    await stack?.stop();
  });

  async function cardLogin(page: Page, cardId: string): Promise<number> {
    await page.goto(`${portal.url}/login`);
    await page.type('#card', cardId);
    await page.type('#pin', holder_pin);
    return submit(page, '#card-login');
  }

  const textOf = (page: Page, selector: string): Promise<string> => page.$eval(selector, (e) => e.textContent?.trim() ?? '');

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

  async function fillClaim(page: Page, name: string, iban: string): Promise<number> {
    await page.type('#refund-name', name);
    await page.type('#refund-iban', iban);
    return submit(page, '#refund-submit');
  }

  async function mint(subject: string, role: string, scope: string[]): Promise<string> {
    const issuer = await PortalIssuer.fromFile(files.signing_key_file, files.issuer, 'tapline', 300);
    return issuer.mint(subject, { role, scope }, Date.now());
  }

  it('refuses a claim before the refund window and with wrong check digits (nothing written), then takes one and shows it masked', async () => {
    const page = await openPage(browser);
    assert.equal(await cardLogin(page, 'h-1'), 200);
    // The card page leads the holder there.
    assert.equal(await submit(page, '#refund-link'), 200);
    assert.equal(new URL(page.url()).pathname, '/cards/h-1/refund');
    assert.match(await textOf(page, '[data-test="claim-state"]'), /not asked for a refund/);
    const before = await inspect.snapshot();
    assert.equal(await fillClaim(page, 'Ann Holder', 'NL91ABNA0417164300'), 409, 'refunds are not open yet');
    assert.match(await textOf(page, '[data-test="refund-problem"]'), /cannot be asked for this card now/);
    const window = await reportsRequest(reports.port, '/refund-claims/programs/fest', {
      method: 'PUT',
      body: JSON.stringify({ opens: '2020-01-01T00:00:00Z' }),
      token: await mint('staff:ida', 'issuer_admin', ['*']),
    });
    assert.equal(window.status, 200, window.body);
    const opened = await inspect.snapshot();
    assert.notEqual(opened, before);
    assert.equal(await fillClaim(page, 'Ann Holder', 'NL92ABNA0417164300'), 400, 'wrong check digits');
    assert.match(await textOf(page, '[data-test="refund-problem"]'), /not valid/);
    assert.equal(await fillClaim(page, 'Ann Holder', 'US64SVBKUS6S3300958879'), 400, 'not a SEPA country');
    assert.equal(await inspect.snapshot(), opened, 'refused claims wrote nothing');
    assert.equal(await store.claim('h-1'), undefined);
    assert.equal(await fillClaim(page, 'Ann Holder', 'nl91 abna 0417 1643 00'), 200);
    assert.match(await textOf(page, '[data-test="claim-state"]'), /received, awaiting payout/);
    assert.equal(await textOf(page, '[data-test="claim-iban"]'), 'NL•• … 4300');
    assert.ok(!(await pageText(page)).includes('ABNA0417164300'), 'the IBAN is never shown whole');
    const stored = await store.claim('h-1');
    assert.equal(stored?.iban, 'NL91ABNA0417164300', 'stored normalised');
    assert.equal(stored?.state, 'submitted');
    await checkPage(page, 'cardholder-refund');
    await page.setViewport({ width: 390, height: 844 });
    await page.reload();
    await checkPage(page, 'cardholder-refund-phone');
    const overflow = await page.evaluate(() => {
      const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document;
      return root.documentElement.scrollWidth - root.documentElement.clientWidth;
    });
    assert.ok(overflow <= 0, 'no sideways scrolling on a phone');
    await page.setViewport({ width: 1200, height: 900 });
    assert.equal(await submit(page, 'a[lang="nl"]'), 200);
    assert.match(await textOf(page, '[data-test="claim-state"]'), /ontvangen, wacht op uitbetaling/);
    await page.browserContext().close();
  });

  it('serves every portal route with a rule, the refund pages included, and no rule without a route', () => {
    assert.deepEqual(portal.server.route_rules, Object.keys(portal_rules).sort());
  });

  it("refuses another card's claim page and form (URL tampering) and writes nothing", async () => {
    const page = await openPage(browser);
    assert.equal(await cardLogin(page, 'h-1'), 200);
    await page.goto(`${portal.url}/cards/h-1/refund`);
    const before = await inspect.snapshot();
    assert.equal((await page.goto(`${portal.url}/cards/h-2/refund`))?.status(), 403);
    await page.goto(`${portal.url}/cards/h-1/refund`);
    assert.equal(await postForm(page, '/cards/h-2/refund', { holder_name: 'Mallory', iban: 'DE89370400440532013000' }), 403);
    const token = await mint('card:h-1', 'cardholder', ['h-1']);
    const direct = await reportsRequest(reports.port, '/refund-claims/cards/h-2', {
      method: 'PUT',
      body: JSON.stringify({ holder_name: 'Mallory', iban: 'DE89370400440532013000' }),
      token,
    });
    assert.equal(direct.status, 403, direct.body);
    assert.equal((await reportsRequest(reports.port, '/refund-claims/cards/h-2', { token })).status, 403);
    assert.equal(await postForm(page, '/cards/h-1/refund', { holder_name: 'Ann Holder', iban: 'DE89370400440532013000' }), 200);
    assert.equal(await store.claim('h-2'), undefined);
    // The holder's own form without the CSRF token is refused too.
    const forged = await page.evaluate(
      async () =>
        (
          await fetch('/cards/h-1/refund', {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: 'holder_name=X&iban=DE89370400440532013000',
          })
        ).status,
    );
    assert.equal(forged, 403);
    // Bad input to the API itself: refused naming the field, nothing written.
    const unchanged = await inspect.snapshot();
    for (const body of [
      '{not json',
      JSON.stringify({ holder_name: 'Ann', iban: 'NL91ABNA0417164300', admin: 'yes' }),
      JSON.stringify({ holder_name: 'Ann', iban: 4 }),
      JSON.stringify({ holder_name: '<script>', iban: 'NL91ABNA0417164300' }),
      JSON.stringify({ holder_name: 'Ann', iban: 'NL91ABNA0417164300', bic: 'NOPE' }),
    ])
      assert.equal((await reportsRequest(reports.port, '/refund-claims/cards/h-1', { method: 'PUT', body, token })).status, 400, body);
    assert.equal(await inspect.snapshot(), unchanged, 'bad input wrote nothing');
    const after = await inspect.snapshot();
    assert.notEqual(after, before, "the holder's own replacement of its bank details was written");
    const claim = await store.claim('h-1');
    assert.equal(claim?.iban, 'DE89370400440532013000', 'a submitted claim takes new bank details');
    assert.equal(claim?.n, 1, 'still the same claim');
    await page.browserContext().close();
  });

  it('pays a proposed run only once a second person approves it: the card is cashed out and the claim shows the exact amount', async () => {
    const ida = await openPage(browser);
    await signInStaff(ida, portal.url, 'ida', 'issuer-pass-1');
    assert.equal((await ida.goto(`${portal.url}/organizer/refunds?program=fest`))?.status(), 200);
    assert.match(await textOf(ida, 'tr[data-card="h-1"] [data-test="state"]'), /received/);
    assert.equal(await submit(ida, '#propose-run'), 200);
    const run = 'fest.refund.1';
    assert.match(await textOf(ida, `tr[data-run="${run}"] [data-test="state"]`), /proposed, awaiting approval/);
    assert.equal(
      await postForm(ida, '/organizer/refunds/approve', { program: 'fest', run }),
      403,
      'the proposer cannot approve in the portal',
    );
    const same = await reportsRequest(reports.port, `/refund-claims/runs/${run}/approve`, {
      method: 'POST',
      body: '{}',
      token: await mint('staff:ida', 'settlement_approver', ['*']),
    });
    assert.equal(same.status, 403, 'nor as a settlement approver: the reports service compares people');
    assert.equal((await store.run(run))?.state, 'proposed');
    assert.equal((await cards.getCard('h-1')).card?.balance?.amountMinor, 5_000n, 'nothing paid yet');
    assert.equal(await fillClaimAs('h-3', { holder_name: 'Empty Card', iban: 'BE68539007547034' }), 201, 'claimed after the proposal');
    assert.equal(
      await fillClaimAs('h-1', { holder_name: 'Ann Holder', iban: 'NL91ABNA0417164300' }),
      409,
      'a claim in payout keeps its bank details',
    );
    await ida.browserContext().close();

    const bob = await openPage(browser);
    await signInStaff(bob, portal.url, 'bob', 'approver-pass-1');
    assert.equal((await bob.goto(`${portal.url}/organizer/refunds?program=fest`))?.status(), 200);
    await checkPage(bob, 'organizer-refunds');
    assert.equal(await submit(bob, `tr[data-run="${run}"] .approve-run`), 200);
    assert.match(await textOf(bob, `tr[data-run="${run}"] [data-test="state"]`), /^paid$/);
    assert.match(await textOf(bob, 'tr[data-card="h-1"] [data-test="paid"]'), /€\s?52\.50/, 'balance + deposit');
    const card = (await cards.getCard('h-1')).card;
    assert.equal(card?.balance?.amountMinor, 0n);
    assert.equal(card?.status, CardStatus.CARD_STATUS_CLOSED);
    const claim = await reportsRequest(reports.port, '/refund-claims/cards/h-1', { token: await mint('card:h-1', 'cardholder', ['h-1']) });
    assert.equal(claim.status, 200);
    assert.deepEqual(
      (({ state, paid_minor, iban }) => ({ state, paid_minor, iban }))(JSON.parse(claim.body) as Record<string, unknown>),
      { state: 'paid', paid_minor: 5_250, iban: 'DE•• … 3000' },
      'the holder sees it paid with the exact amount',
    );
    assert.equal((await cards.getCard('h-2')).card?.balance?.amountMinor, 5_000n, 'a card without a claim is not paid');
    assert.equal((await store.claim('h-3'))?.state, 'submitted', 'a claim made after the proposal waits for the next run');

    // A card with nothing left: its claim is paid 0 and closes as such; the next run pays only it.
    const next = await reportsRequest(reports.port, '/refund-claims/programs/fest/runs', {
      method: 'POST',
      body: '{}',
      token: await mint('staff:ida', 'issuer_admin', ['*']),
    });
    assert.equal(next.status, 201, next.body);
    const second = (JSON.parse(next.body) as { id: string }).id;
    const paidZero = await reportsRequest(reports.port, `/refund-claims/runs/${second}/approve`, {
      method: 'POST',
      body: '{}',
      token: await mint('staff:bob', 'settlement_approver', ['*']),
    });
    assert.equal(paidZero.status, 200, paidZero.body);
    const empty = await store.claim('h-3');
    assert.deepEqual([empty?.state, empty?.paid_minor], ['paid', 0]);
    assert.equal((await cards.getCard('h-3')).card?.status, CardStatus.CARD_STATUS_CLOSED);
    const noFile = await reportsRequest(reports.port, `/refund-claims/runs/${second}/pain.001`, {
      token: await mint('staff:bob', 'settlement_approver', ['*']),
    });
    assert.equal(noFile.status, 409, 'a run that paid nothing has no transfer file');

    const file = await bob.evaluate(async (path) => {
      const response = await fetch(path);
      return { status: response.status, body: await response.text() };
    }, `/organizer/refunds/runs/${run}/pain.001`);
    assert.equal(file.status, 200);
    const valid = validateXml(file.body, pain001_xsd);
    assert.ok(valid.valid, valid.output);
    assert.ok(file.body.includes('<IBAN>DE89370400440532013000</IBAN>'));
    assert.ok(file.body.includes('<InstdAmt Ccy="EUR">52.50</InstdAmt>'));
    assert.equal((file.body.match(/<CdtTrfTxInf>/g) ?? []).length, 1);

    const again = await reportsRequest(reports.port, `/refund-claims/runs/${run}/approve`, {
      method: 'POST',
      body: '{}',
      token: await mint('staff:bob', 'settlement_approver', ['*']),
    });
    assert.equal(again.status, 200);
    assert.equal((JSON.parse(again.body) as { paid_minor: number }).paid_minor, 5_250, 'approving again pays nothing twice');
    assert.equal((await store.claim('h-1'))?.paid_minor, 5_250);

    const audit = await inspect.client.sendCommand<[string, string[]][]>(['XRANGE', settlement_outbox_key, '-', '+']);
    const records = audit.map(([, fields]) => JSON.parse(fields[1] ?? '{}') as { principal: string; subject: string; after: string });
    assert.ok(records.some((r) => r.principal === 'staff:ida' && r.subject === `refund-run:${run}` && r.after.includes('proposed')));
    assert.ok(records.some((r) => r.principal === 'staff:bob' && r.subject === `refund-run:${run}` && r.after.includes('approved')));
    assert.ok(
      !JSON.stringify(records).includes('ABNA0417164300') && !JSON.stringify(records).includes('370400440532013000'),
      'no IBAN in the audit',
    );
    await bob.browserContext().close();
  });

  async function fillClaimAs(cardId: string, body: Record<string, string>): Promise<number> {
    const reply = await reportsRequest(reports.port, `/refund-claims/cards/${cardId}`, {
      method: 'PUT',
      body: JSON.stringify(body),
      token: await mint(`card:${cardId}`, 'cardholder', [cardId]),
    });
    return reply.status;
  }
});
