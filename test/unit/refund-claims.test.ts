// Proves the rules of holders' refund claims: an IBAN is normalised (spaces, case) and refused for
// its form, a non-SEPA country, a wrong length or wrong mod-97 check digits (each with its own
// reason, never echoing the IBAN); what is shown of it is masked; and the SEPA file of a paid run
// pays exactly the claims paid more than 0 (not the ones paid 0, rejected, still in payout or of
// another run), each to its holder's IBAN with its BIC when given, valid against the published
// pain.001.001.03 XSD (xmllint), and the same bytes every time.

import assert from 'node:assert/strict';
import { pain001OfCredits } from '../../services/reports/bank-files/pain001';
import { claimCashOutKey, claimView, runCredits } from '../../services/reports/refund-claims/http';
import { checkBic, checkIban, ibanRemainder, maskIban, normaliseIban } from '../../services/reports/refund-claims/iban';
import type { StoredClaim, StoredRun } from '../../services/reports/refund-claims/store';
import { pain001_xsd, validateXml } from '../support/xsd';

describe('refund claims: IBAN checks', function () {
  it('accepts valid IBANs of SEPA countries, normalising spaces and case', function () {
    assert.deepEqual(checkIban('NL91ABNA0417164300'), { ok: true, iban: 'NL91ABNA0417164300' });
    assert.deepEqual(checkIban(' nl91 abna 0417 1643 00 '), { ok: true, iban: 'NL91ABNA0417164300' });
    assert.deepEqual(checkIban('DE89\u00a03704 0044 0532 0130 00'), { ok: true, iban: 'DE89370400440532013000' });
    assert.deepEqual(checkIban('GB29 NWBK 6016 1331 9268 19'), { ok: true, iban: 'GB29NWBK60161331926819' });
    assert.deepEqual(checkIban('BE68539007547034'), { ok: true, iban: 'BE68539007547034' });
    assert.deepEqual(checkIban('NO9386011117947'), { ok: true, iban: 'NO9386011117947' });
    assert.deepEqual(checkIban('MT84MALT011000012345MTLCAST001S'), { ok: true, iban: 'MT84MALT011000012345MTLCAST001S' });
  });

  it('refuses wrong check digits, even a single changed digit or two swapped ones', function () {
    assert.deepEqual(checkIban('NL92ABNA0417164300'), { ok: false, problem: 'checksum' });
    assert.deepEqual(checkIban('NL91ABNA0417164301'), { ok: false, problem: 'checksum' });
    assert.deepEqual(checkIban('NL91ABNA0417163400'), { ok: false, problem: 'checksum' });
    assert.deepEqual(checkIban('DE89370400440532013001'), { ok: false, problem: 'checksum' });
  });

  it('refuses countries outside SEPA, wrong lengths and malformed text', function () {
    assert.deepEqual(checkIban('KZ86125KZT5004100100'), { ok: false, problem: 'country' }); // a valid Kazakh IBAN
    assert.equal(ibanRemainder('KZ86125KZT5004100100'), 1);
    assert.deepEqual(checkIban('BR1800360305000010009795493C1'), { ok: false, problem: 'country' });
    assert.deepEqual(checkIban('NL91ABNA041716430'), { ok: false, problem: 'length' });
    assert.deepEqual(checkIban('NL91ABNA04171643000'), { ok: false, problem: 'length' });
    for (const bad of [
      '',
      'NL',
      '91NLABNA0417164300',
      'NL9XABNA0417164300',
      'NL91-ABNA-0417-1643-00',
      'NL91ABNA0417164300<',
      'ÑL91ABNA0417164300',
    ])
      assert.deepEqual(checkIban(bad), { ok: false, problem: 'format' }, bad);
  });

  it('checks BICs of 8 or 11 characters and masks IBANs to country and last four', function () {
    assert.equal(checkBic('abnanl2a'), 'ABNANL2A');
    assert.equal(checkBic('DEUT DE FF 500'), 'DEUTDEFF500');
    assert.equal(checkBic('ABNANL2'), undefined);
    assert.equal(checkBic('ABNANL2AX'), undefined);
    assert.equal(checkBic('1BNANL2A'), undefined);
    assert.equal(normaliseIban(' de89 3704 '), 'DE893704');
    assert.equal(maskIban('NL91ABNA0417164300'), 'NL•• … 4300');
    assert.ok(!maskIban('NL91ABNA0417164300').includes('ABNA0417'));
  });
});

const run: StoredRun = {
  id: 'fest.refund.1',
  program: 'fest',
  state: 'paid',
  cards: ['c-1', 'c-2', 'c-3', 'c-4', 'c-5'],
  proposed_by: 'staff:ida',
  proposed_at_ms: Date.UTC(2026, 6, 1, 8),
  approved_by: 'staff:bob',
  approved_at_ms: Date.UTC(2026, 6, 1, 9, 15),
};

function claim(card: string, fields: Partial<StoredClaim>): StoredClaim {
  return {
    card,
    program: 'fest',
    currency: 'EUR',
    holder_name: `Holder ${card}`,
    iban: 'NL91ABNA0417164300',
    bic: '',
    submitted_at_ms: Date.UTC(2026, 5, 30),
    submitted_by: `card:${card}`,
    state: 'paid',
    n: 1,
    run: run.id,
    paid_minor: 0,
    transaction: '',
    reason: '',
    updated_at_ms: 0,
    ...fields,
  };
}

const claims: StoredClaim[] = [
  claim('c-1', { paid_minor: 4_250, holder_name: "Zoë D'Arcy & co", bic: 'ABNANL2A' }),
  claim('c-2', { paid_minor: 0 }),
  claim('c-3', { state: 'rejected', reason: 'card_blocked' }),
  claim('c-4', { paid_minor: 1, iban: 'DE89370400440532013000' }),
  claim('c-5', { paid_minor: 999, run: 'fest.refund.2' }),
  claim('c-6', { state: 'in_payout', paid_minor: 0 }),
];

const debtor = { name: 'Festival Payments GmbH', iban: 'DE02120300000000202051', bic: 'BYLADEM1001' };

describe('refund claims: the SEPA file of a run', function () {
  it('pays exactly the claims of the run paid more than 0, valid against the published XSD', function () {
    const credits = runCredits(run, claims);
    assert.deepEqual(
      credits.map((credit) => [credit.payee_iban, credit.amount_minor, credit.payee_bic]),
      [
        ['NL91ABNA0417164300', 4_250, 'ABNANL2A'],
        ['DE89370400440532013000', 1, ''],
      ],
    );
    const xml = pain001OfCredits({ file_id: `refund-run:${run.id}`, debtor, created_at_ms: run.approved_at_ms, credits });
    const result = validateXml(xml, pain001_xsd);
    assert.ok(result.valid, result.output);
    assert.equal((xml.match(/<CdtTrfTxInf>/g) ?? []).length, 2);
    assert.equal((xml.match(/<NbOfTxs>2<\/NbOfTxs>/g) ?? []).length, 2);
    assert.equal((xml.match(/<CtrlSum>42\.51<\/CtrlSum>/g) ?? []).length, 2);
    assert.ok(xml.includes('<InstdAmt Ccy="EUR">42.50</InstdAmt>'));
    assert.ok(xml.includes('<InstdAmt Ccy="EUR">0.01</InstdAmt>'));
    assert.ok(xml.includes('<CdtrAgt><FinInstnId><BIC>ABNANL2A</BIC></FinInstnId></CdtrAgt>'));
    assert.ok(xml.includes('<Nm>Zoë D&apos;Arcy &amp; co</Nm>'));
    assert.ok(xml.includes('<IBAN>NL91ABNA0417164300</IBAN>'));
    assert.ok(xml.includes('<Ustrd>TAPLINE REFUND c-1</Ustrd>'));
    assert.ok(xml.includes('<ReqdExctnDt>2026-07-01</ReqdExctnDt>'));
    assert.equal(pain001OfCredits({ file_id: `refund-run:${run.id}`, debtor, created_at_ms: run.approved_at_ms, credits }), xml);
  });

  it('a file whose credit lost its amount fails the same validation', function () {
    const xml = pain001OfCredits({ file_id: 'x', debtor, created_at_ms: run.approved_at_ms, credits: runCredits(run, claims) });
    const broken = xml.replace('<Amt><InstdAmt Ccy="EUR">0.01</InstdAmt></Amt>', '');
    assert.notEqual(broken, xml);
    assert.equal(validateXml(broken, pain001_xsd).valid, false);
  });

  it('refuses to write a file without credits or with a credit that is not a EUR amount above 0', function () {
    assert.throws(() => pain001OfCredits({ file_id: 'x', debtor, created_at_ms: 0, credits: [] }));
    const [first] = runCredits(run, claims);
    assert.ok(first !== undefined);
    assert.throws(() => pain001OfCredits({ file_id: 'x', debtor, created_at_ms: 0, credits: [{ ...first, currency: 'GBP' }] }));
    assert.throws(() => pain001OfCredits({ file_id: 'x', debtor, created_at_ms: 0, credits: [{ ...first, amount_minor: 0 }] }));
  });

  it('shows a claim with its IBAN masked, and derives one cash-out key per claim', function () {
    const view = claimView(claims[0] as StoredClaim);
    assert.equal(view['iban'], 'NL•• … 4300');
    assert.ok(!JSON.stringify(view).includes('NL91ABNA0417164300'));
    assert.equal(claimCashOutKey({ card: 'c-1', n: 1 }), 'refund-claim:c-1:1');
    assert.notEqual(claimCashOutKey({ card: 'c-1', n: 2 }), claimCashOutKey({ card: 'c-1', n: 1 }));
  });
});
