// Proves the pure rules of notices and webhooks: which notice kinds an event causes (the low-balance
// notice only on the crossing, for every start balance and amount: a seeded property), that consent
// and the kinds asked for decide every channel, the template fallback order and rendering, delivery
// ids derived from event and recipient only, and the receiver's signature check refusing a changed
// body, another secret, an old timestamp and a missing header.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { RelayEvent } from '../../services/events/events';
import { eventName, matchesPattern } from '../../services/events/events';
import { noticeKindsOf, planNotices, type CardContact, type OperatorSubscription } from '../../services/events/notices/rules';
import { chooseTemplate, default_templates, renderText, type NoticeTemplate } from '../../services/events/notices/templates';
import { deliveryId, planDeliveries } from '../../services/events/planner';
import { newWebhookSecret, signWebhook, verifyWebhook, webhookHeaders } from '../../services/events/webhook-signature';
import { announceSeed, assertProperty } from './fast-check-seed';

const event = (fields: Partial<RelayEvent>): RelayEvent => ({
  event_id: 'n1-1',
  type: 'transaction',
  kind: 'purchase',
  outcome: 'approved',
  reason: '',
  card: 'card-0042',
  program: 'fest',
  terminal: 'bar-1',
  merchant: 'bar',
  fleet: '',
  currency: 'EUR',
  amount_minor: 450,
  balance_after_minor: 1_550,
  status: '',
  previous: '',
  action: '',
  source: '',
  original: '',
  at_ms: 1_796_000_000_000,
  stream_ms: 1_796_000_000_005,
  ...fields,
});

const contact: CardContact = {
  card: 'card-0042',
  email: 'ada@example.org',
  phone: '+4915112345678',
  language: 'de',
  consent: { email: true, sms: false },
  notices: ['transaction', 'low_balance', 'card_blocked'],
  low_balance_minor: 1_000,
  consent_by: 'ops',
  consent_at_ms: 0,
};

describe('notice and webhook rules (pure)', function () {
  before(() => announceSeed('notice rules'));

  it('raises the low-balance notice exactly when a spend crosses the threshold (property)', function () {
    assertProperty(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 50_000 }),
        (after, amount, threshold) => {
          const kinds = noticeKindsOf(event({ amount_minor: amount, balance_after_minor: after }), threshold);
          const crossed = after < threshold && after + amount >= threshold;
          assert.equal(kinds.includes('low_balance'), crossed);
          assert.ok(kinds.includes('transaction'));
        },
      ),
      500,
    );
  });

  it('maps kinds and statuses to notices; declines and other kinds cause none', function () {
    assert.deepEqual(noticeKindsOf(event({ kind: 'top_up' }), 0), ['top_up']);
    assert.deepEqual(noticeKindsOf(event({ kind: 'refund' }), 0), ['refund_paid']);
    assert.deepEqual(noticeKindsOf(event({ kind: 'cash_out' }), 0), ['refund_paid']);
    assert.deepEqual(noticeKindsOf(event({ outcome: 'declined' }), 0), []);
    assert.deepEqual(noticeKindsOf(event({ kind: 'pre_authorization' }), 0), []);
    assert.deepEqual(noticeKindsOf(event({ type: 'card_status_changed', status: 'lost' }), 0), ['card_blocked']);
    assert.deepEqual(noticeKindsOf(event({ type: 'card_status_changed', status: 'frozen' }), 0), []);
  });

  it('sends only on consented channels and asked-for kinds; operators by program, never low balance', function () {
    const crossing = event({ amount_minor: 600, balance_after_minor: 900 });
    const planned = planNotices(crossing, contact, [], () => undefined);
    assert.deepEqual(
      planned.map((p) => `${p.channel}:${p.notice}:${p.target}`),
      ['email:transaction:ada@example.org', 'email:low_balance:ada@example.org'],
    );
    assert.deepEqual(
      planNotices(crossing, { ...contact, consent: { email: false, sms: false } }, [], () => undefined),
      [],
    );
    assert.deepEqual(
      planNotices(crossing, { ...contact, card: 'other' }, [], () => undefined),
      [],
      'a contact of another card is never used',
    );
    const operator: OperatorSubscription = {
      operator: 'anna',
      email: 'anna@example.org',
      language: 'en',
      consent: { email: true, sms: true },
      notices: ['card_blocked', 'transaction', 'low_balance'],
      programs: ['other-program'],
      updated_by: 'ops',
      updated_at_ms: 0,
    };
    assert.deepEqual(
      planNotices(crossing, undefined, [operator], () => undefined),
      [],
      'another program',
    );
    assert.deepEqual(
      planNotices(crossing, undefined, [{ ...operator, programs: ['*'] }], () => undefined).map((p) => p.notice),
      ['transaction'],
    );
  });

  it('chooses the program template in the language, then English, then the default program, then the built-in one', function () {
    const mine: NoticeTemplate = { email_subject: 'fest de', email_text: 'x', sms_text: 'x' };
    const stored = new Map<string, NoticeTemplate>([
      ['fest|transaction|de', mine],
      ['*|transaction|en', { ...mine, email_subject: 'star en' }],
    ]);
    const lookup = (program: string, kind: string, language: string): NoticeTemplate | undefined =>
      stored.get(`${program}|${kind}|${language}`);
    assert.equal(chooseTemplate('transaction', 'fest', 'de', lookup).email_subject, 'fest de');
    assert.equal(chooseTemplate('transaction', 'fest', 'fr', lookup).email_subject, 'star en');
    assert.equal(chooseTemplate('top_up', 'fest', 'de', lookup), default_templates.top_up);
    const text = renderText(default_templates.transaction.sms_text, {
      card: '…0042',
      program: 'fest',
      merchant: 'bar',
      amount: '4.50',
      balance: '15.50',
      currency: 'EUR',
      status: '',
      kind: 'purchase',
    });
    assert.equal(text, 'Card …0042: paid 4.50 EUR at bar. Balance 15.50 EUR.');
  });

  it('derives delivery ids from event and recipient only, and matches webhook patterns by name', function () {
    assert.equal(deliveryId('e1', 'email', 'a@b.c', 'top_up'), deliveryId('e1', 'email', 'a@b.c', 'top_up'));
    assert.notEqual(deliveryId('e1', 'email', 'a@b.c', 'top_up'), deliveryId('e2', 'email', 'a@b.c', 'top_up'));
    assert.equal(eventName(event({})), 'transaction.purchase');
    assert.equal(eventName(event({ type: 'card_status_changed' })), 'card.status_changed');
    assert.ok(matchesPattern('transaction.top_up', 'transaction.*') && matchesPattern('card.issued', '*'));
    assert.ok(!matchesPattern('card.issued', 'transaction.*') && !matchesPattern('transaction.purchase', 'transaction.top_up'));
    const endpoint = {
      id: 'acc',
      url: 'https://x',
      events: ['transaction.*'],
      enabled: true,
      description: '',
      secret: 'whsec_',
      updated_by: '',
      updated_at_ms: 0,
    };
    const context = { endpoints: [endpoint], operators: [], contactOf: () => undefined, templates: () => undefined };
    const first = planDeliveries(event({}), context);
    assert.deepEqual(planDeliveries(event({}), context), first, 'planning twice plans the same deliveries');
    assert.deepEqual(planDeliveries(event({}), { ...context, endpoints: [{ ...endpoint, enabled: false }] }), []);
  });

  it('verifies a signed delivery and refuses a changed body, another secret, an old timestamp or a missing header', function () {
    const secret = newWebhookSecret();
    const body = '{"type":"transaction.purchase"}';
    const headers = webhookHeaders(secret, 'd-1', 1_796_000_000, body);
    assert.deepEqual(verifyWebhook(secret, headers, body, 1_796_000_010), { ok: true, id: 'd-1' });
    assert.equal(verifyWebhook(secret, headers, body.replace('purchase', 'top_up'), 1_796_000_010).ok, false);
    assert.equal(verifyWebhook(newWebhookSecret(), headers, body, 1_796_000_010).ok, false);
    assert.equal(verifyWebhook(secret, headers, body, 1_796_000_000 + 301).ok, false);
    assert.equal(verifyWebhook(secret, { ...headers, 'webhook-id': undefined }, body, 1_796_000_010).ok, false);
    const rotated = { ...headers, 'webhook-signature': `v1,AAAA ${signWebhook(secret, 'd-1', 1_796_000_000, body)}` };
    assert.equal(verifyWebhook(secret, rotated, body, 1_796_000_010).ok, true, 'one valid signature among several is enough');
  });
});
