// Proves what the portal's pages rely on when they show things: money from integer minor units is
// formatted exactly (no float on the way, beyond 2^53 too) and per locale, every value put into a
// page is escaped, a staff password is checked against its scrypt hash, and sessions rotate their id
// on sign-in and forget an idle one.

import assert from 'node:assert/strict';
import { decimalOf, formatMoney, localeOf, t } from '../../services/portal/i18n';
import { html } from '../../services/portal/html';
import { hashPassword, StaffDirectory } from '../../services/portal/users';
import { csrfMatches, SessionStore } from '../../services/portal/sessions';

describe('portal rendering: money, locales, escaping, passwords, sessions', () => {
  it('formats minor units exactly, per locale, negative and beyond 2^53', () => {
    assert.equal(decimalOf(5n, 2), '0.05');
    assert.equal(decimalOf(-123450n, 2), '-1234.50');
    assert.equal(decimalOf(7n, 0), '7');
    assert.equal(formatMoney('en', 5_000, 'EUR'), '€50.00');
    assert.equal(formatMoney('nl', 5_000, 'EUR').replace(/\s/g, ' '), '€ 50,00');
    assert.equal(formatMoney('en', 900_719_925_474_099_3n, 'EUR'), '€90,071,992,547,409.93', 'no float rounding past 2^53');
    assert.equal(formatMoney('en', 1_234, 'JPY'), 'JP¥1,234', 'a currency without minor digits');
  });

  it('picks the first supported language a browser asks for, English otherwise, and fills placeholders', () => {
    assert.equal(localeOf('de-DE,nl;q=0.8,en;q=0.5'), 'nl');
    assert.equal(localeOf('fr'), 'en');
    assert.equal(localeOf(undefined), 'en');
    assert.equal(t('nl', 'card.title', { id: 'c-1' }), 'Kaart c-1');
  });

  it('escapes every value put into a page, and nests markup made by html unescaped', () => {
    const name = '<script>alert("x")</script>&\'';
    assert.equal(
      html`<p title="${name}">${name}</p>`.text,
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</p>',
    );
    assert.equal(
      html`<ul>
        ${['a<', 'b'].map((item) => html`<li>${item}</li>`)}
      </ul>`.text.replace(/\s+/g, ''),
      '<ul><li>a&lt;</li><li>b</li></ul>',
    );
  });

  it('checks a staff password against its scrypt hash; unknown users and wrong passwords alike are refused', async function () {
    this.timeout(10_000);
    const directory = new StaffDirectory([
      { username: 'ann', password_hash: await hashPassword('right one'), role: 'analyst', scope: ['*'] },
    ]);
    assert.equal((await directory.verify('ann', 'right one'))?.role, 'analyst');
    assert.equal(await directory.verify('ann', 'wrong one'), undefined);
    assert.equal(await directory.verify('bob', 'right one'), undefined);
    assert.equal(await directory.verify('ann', 'x'.repeat(257)), undefined, 'too long: refused unhashed');
  });

  it('rotates the session id and CSRF token on sign-in, forgets idle sessions and keeps their number bounded', () => {
    const store = new SessionStore(1_000, 2);
    const anonymous = store.open('en', 0);
    const signed = store.signIn(anonymous, { subject: 'card:c-1', display: 'c-1', grant: { role: 'cardholder', scope: ['c-1'] } }, 10);
    assert.notEqual(signed.id, anonymous.id);
    assert.notEqual(signed.csrf, anonymous.csrf);
    assert.equal(store.get(anonymous.id, 20), undefined, 'the anonymous id no longer works');
    assert.equal(store.get(signed.id, 500)?.principal?.subject, 'card:c-1');
    assert.ok(csrfMatches(signed, signed.csrf) && !csrfMatches(signed, anonymous.csrf) && !csrfMatches(signed, undefined));
    assert.equal(store.get(signed.id, 1_501 + 500), undefined, 'idle longer than the limit');
    const [a, b, c] = [store.open('en', 0), store.open('en', 0), store.open('en', 0)];
    assert.equal(store.get(a.id, 1), undefined, 'the oldest is dropped beyond the bound');
    assert.ok(store.get(b.id, 1) !== undefined && store.get(c.id, 1) !== undefined);
  });
});
