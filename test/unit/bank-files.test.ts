// Proves the bank file writers: the SEPA credit transfer file (pain.001.001.03) of a batch is
// valid against the published ISO 20022 XSD (checked by xmllint, an independent validator), pays
// exactly the batch's EUR credits (the merchant's net and the deployer's share) with the right
// control sum, leaves debits and other currencies to the CSV, and is the same bytes every time;
// a file missing a required element fails the same validation (the check can fail). The CSV
// carries a deployer line per currency with a share.

import assert from 'node:assert/strict';
import { pain001, sepaCredits } from '../../services/reports/bank-files/pain001';
import { bank_file_writers, bankFileWriter } from '../../services/reports/bank-files/writers';
import type { BankFileInput, SettlementLine } from '../../services/reports/settlement-rules';
import { pain001_xsd, validateXml } from '../support/xsd';

const zero: Omit<SettlementLine, 'currency' | 'net_minor' | 'deployer_share_minor'> = {
  purchases: 3,
  gross_minor: 0,
  reversals: 0,
  reversals_minor: 0,
  refunds: 0,
  refunds_minor: 0,
  fees_minor: 0,
  top_ups: 0,
  top_ups_minor: 0,
  top_up_commission_minor: 0,
};

const input: BankFileInput = {
  batch_id: 'kiosk-7.daily.2026-03-14',
  payee_name: 'Kiosk Seven & Sons',
  payee_iban: 'DE89370400440532013000',
  period: { from: '2026-03-14', to: '2026-03-14' },
  lines: [
    { ...zero, currency: 'CHF', net_minor: 9_950, deployer_share_minor: 12 },
    { ...zero, currency: 'EUR', net_minor: 123_456, deployer_share_minor: 789 },
    { ...zero, currency: 'GBP', net_minor: -500, deployer_share_minor: 0 },
  ],
  deployer: { id: 'vendco', payee_name: 'VendCo BV', payee_iban: 'NL91ABNA0417164300' },
};
const debtor = { name: 'Festival Payments GmbH', iban: 'DE02120300000000202051', bic: 'BYLADEM1001' };
const approved_at_ms = Date.UTC(2026, 2, 15, 9, 30, 0);

describe('bank file writers (pain.001 against the published XSD, CSV)', function () {
  it('writes a pain.001.001.03 the published XSD accepts, paying exactly the EUR credits', function () {
    const xml = pain001({ ...input, debtor, approved_at_ms });
    assert.ok(xml !== undefined);
    const result = validateXml(xml, pain001_xsd);
    assert.ok(result.valid, result.output);
    assert.deepEqual(
      [...xml.matchAll(/<InstdAmt Ccy="EUR">([0-9.]+)<\/InstdAmt>/g)].map((m) => m[1]),
      ['1234.56', '7.89'],
    );
    assert.equal((xml.match(/<CtrlSum>1242\.45<\/CtrlSum>/g) ?? []).length, 2, 'group and payment control sums');
    assert.equal((xml.match(/<NbOfTxs>2<\/NbOfTxs>/g) ?? []).length, 2);
    assert.ok(xml.includes('<Nm>Kiosk Seven &amp; Sons</Nm>'), 'names are escaped');
    assert.ok(xml.includes('<IBAN>NL91ABNA0417164300</IBAN>'), 'the deployer is paid its share');
    assert.ok(!xml.includes('CHF') && !xml.includes('GBP'), 'other currencies stay in the CSV');
    assert.ok(xml.includes('<ReqdExctnDt>2026-03-15</ReqdExctnDt>') && xml.includes('<CreDtTm>2026-03-15T09:30:00</CreDtTm>'));
    assert.equal(pain001({ ...input, debtor, approved_at_ms }), xml, 'the same bytes every time');
  });

  it('a file missing a required element fails the same validation', function () {
    const xml = pain001({ ...input, debtor, approved_at_ms }) ?? '';
    const broken = xml.replace(/\s*<ReqdExctnDt>[^<]*<\/ReqdExctnDt>/, '');
    assert.notEqual(broken, xml);
    const result = validateXml(broken, pain001_xsd);
    assert.equal(result.valid, false);
    assert.match(result.output, /ReqdExctnDt|Dbtr/);
  });

  it('has no SEPA file for a batch without EUR credits, and refuses one without a debtor', function () {
    const noEuro = { ...input, lines: input.lines.filter((line) => line.currency !== 'EUR') };
    assert.deepEqual(sepaCredits(noEuro), []);
    assert.equal(pain001({ ...noEuro, debtor, approved_at_ms }), undefined);
    const writer = bankFileWriter('pain.001');
    assert.deepEqual(writer?.write(input, { debtor: undefined, approved_at_ms })?.ok, false);
    assert.deepEqual(writer?.write(noEuro, { debtor, approved_at_ms })?.ok, false);
  });

  it('the CSV writer keeps the documented layout, with the deployer line after each currency it has a share in', function () {
    assert.deepEqual(
      bank_file_writers.map((writer) => writer.format),
      ['csv', 'pain.001'],
    );
    const csv = bankFileWriter('csv')?.write(input, { debtor: undefined, approved_at_ms });
    assert.ok(csv?.ok === true);
    assert.deepEqual(csv.body.split('\r\n').slice(1, -1), [
      'kiosk-7.daily.2026-03-14,1,credit,Kiosk Seven & Sons,DE89370400440532013000,CHF,99.50,9950,TAPLINE kiosk-7.daily.2026-03-14 CHF,2026-03-14,2026-03-14',
      'kiosk-7.daily.2026-03-14,2,credit,VendCo BV,NL91ABNA0417164300,CHF,0.12,12,TAPLINE kiosk-7.daily.2026-03-14 CHF DEPLOYER vendco,2026-03-14,2026-03-14',
      'kiosk-7.daily.2026-03-14,3,credit,Kiosk Seven & Sons,DE89370400440532013000,EUR,1234.56,123456,TAPLINE kiosk-7.daily.2026-03-14 EUR,2026-03-14,2026-03-14',
      'kiosk-7.daily.2026-03-14,4,credit,VendCo BV,NL91ABNA0417164300,EUR,7.89,789,TAPLINE kiosk-7.daily.2026-03-14 EUR DEPLOYER vendco,2026-03-14,2026-03-14',
      'kiosk-7.daily.2026-03-14,5,debit,Kiosk Seven & Sons,DE89370400440532013000,GBP,5.00,500,TAPLINE kiosk-7.daily.2026-03-14 GBP,2026-03-14,2026-03-14',
    ]);
  });
});
