// Proves the pure settlement rules (services/reports/settlement-rules.ts): the fee of one
// transaction is fixed + amount × bp / 10 000 rounded half up, exactly, for every amount up to 2^53
// (checked against a decimal long-hand computation); a batch's lines add up (gross − reversals −
// refunds − fees = net) and its fees equal the per-transaction fees of the transactions behind the
// aggregates; periods are the UTC day, ISO week (Monday first) and calendar month, across month,
// leap-year and year ends; amounts print with their currency's exponent; the bank CSV has its
// documented layout; and every bad configuration is refused naming its field.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { amount_abs_max_minor } from '../../actors/money';
import { ParameterError } from '../../services/reports/errors';
import {
  bankTransferCsv,
  batchId,
  batch_id_pattern,
  decimalAmount,
  feeOf,
  parseMerchantConfig,
  periodOf,
  settlementLines,
  type AmountAggregate,
  type FeeRate,
} from '../../services/reports/settlement-rules';
import { announceSeed, assertProperty } from './fast-check-seed';

const day = (text: string): number => Date.parse(`${text}T00:00:00Z`);

describe('settlement rules', () => {
  before(() => announceSeed('settlement rules'));

  it('charges fixed + percentage rounded half up, at the rounding edges', () => {
    const rate = { percent_bp: 150, fixed_minor: 10 };
    assert.equal(feeOf(0, rate), 10);
    assert.equal(feeOf(1_000, rate), 25); // 15.00 + 10
    assert.equal(feeOf(33, rate), 10); // 0.495 → 0
    assert.equal(feeOf(34, rate), 11); // 0.51 → 1
    assert.equal(feeOf(100, { percent_bp: 50, fixed_minor: 0 }), 1); // 0.5 → 1 (half up)
    assert.equal(feeOf(99, { percent_bp: 50, fixed_minor: 0 }), 0); // 0.495 → 0
    assert.equal(feeOf(Number.MAX_SAFE_INTEGER, { percent_bp: 10_000, fixed_minor: 0 }), Number.MAX_SAFE_INTEGER);
    assert.throws(
      () => feeOf(Number.MAX_SAFE_INTEGER, { percent_bp: 10_000, fixed_minor: 1 }),
      /exceeds safe integers/,
      'a fee past 2^53 is refused, never rounded',
    );
    assert.equal(feeOf(12_345, undefined), 0, 'no rate, no fee');
    assert.throws(() => feeOf(-1, rate));
    assert.throws(() => feeOf(1.5, rate));
  });

  it('computes every fee exactly (property: long-hand decimal arithmetic agrees, fee is monotonic and bounded)', () => {
    // Every amount the system can hold (actors/money.ts bounds balances at 10^15).
    assertProperty(
      fc.property(
        fc.integer({ min: 0, max: amount_abs_max_minor }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (amount, bp, fixed) => {
          const fee = feeOf(amount, { percent_bp: bp, fixed_minor: fixed });
          // Long hand: amount × bp as a decimal string, then round at the 4th digit from the right.
          const product = (BigInt(amount) * BigInt(bp)).toString().padStart(5, '0');
          const quotient = BigInt(product.slice(0, -4));
          const rounded = Number(product.slice(-4, -3)) >= 5 ? quotient + 1n : quotient;
          assert.equal(BigInt(fee), rounded + BigInt(fixed));
          assert.ok(fee >= fixed && fee - fixed <= amount, 'a percentage fee never exceeds the amount');
          if (amount > 0) assert.ok(feeOf(amount - 1, { percent_bp: bp, fixed_minor: fixed }) <= fee, 'monotonic in the amount');
        },
      ),
      2_000,
    );
  });

  it('nets each currency: gross − reversals − refunds − fees − top-ups + commission, each the sum of its per-transaction parts; the deployer takes its share of the fees', () => {
    const kinds = ['purchase', 'completion', 'reverse', 'refund', 'top_up'] as const;
    const transaction = fc.record({
      currency: fc.constantFrom('EUR', 'CHF', 'JPY'),
      kind: fc.constantFrom(...kinds),
      amount: fc.integer({ min: 0, max: 10_000_000 }),
    });
    const rate = fc.record({ percent_bp: fc.integer({ min: 0, max: 10_000 }), fixed_minor: fc.integer({ min: 0, max: 1_000 }) });
    assertProperty(
      fc.property(
        fc.array(transaction, { maxLength: 200 }),
        rate,
        rate,
        rate,
        fc.integer({ min: 0, max: 10_000 }),
        (transactions, purchase, refund, topUp, share_bp) => {
          const rates: FeeRate[] = [
            { kind: 'purchase', ...purchase },
            { kind: 'refund', ...refund },
            { kind: 'top_up', ...topUp },
          ];
          // The aggregates the SQL returns: one row per (currency, kind, amount).
          const groups = new Map<string, AmountAggregate>();
          for (const t of transactions) {
            const key = `${t.currency}|${t.kind}|${t.amount}`;
            const delta = t.kind === 'reverse' || t.kind === 'refund' ? t.amount : t.kind === 'top_up' ? t.amount : -t.amount;
            const previous = groups.get(key);
            groups.set(key, {
              currency: t.currency,
              kind: t.kind,
              amount_minor: t.amount,
              count: (previous?.count ?? 0) + 1,
              delta_minor: (previous?.delta_minor ?? 0) + delta,
            });
          }
          const lines = settlementLines([...groups.values()], rates, share_bp);
          assert.deepEqual(
            lines.map((line) => line.currency),
            [...new Set(transactions.map((t) => t.currency))].sort(),
          );
          for (const line of lines) {
            const mine = transactions.filter((t) => t.currency === line.currency);
            const sum = (predicate: (kind: string) => boolean): number =>
              mine.filter((t) => predicate(t.kind)).reduce((total, t) => total + t.amount, 0);
            const fees = mine.reduce(
              (total, t) => total + (t.kind === 'purchase' ? feeOf(t.amount, purchase) : t.kind === 'refund' ? feeOf(t.amount, refund) : 0),
              0,
            );
            assert.equal(
              line.gross_minor,
              sum((kind) => kind === 'purchase' || kind === 'completion'),
            );
            assert.equal(
              line.reversals_minor,
              sum((kind) => kind === 'reverse'),
            );
            assert.equal(
              line.refunds_minor,
              sum((kind) => kind === 'refund'),
            );
            assert.equal(line.fees_minor, fees);
            assert.equal(
              line.top_ups_minor,
              sum((kind) => kind === 'top_up'),
            );
            assert.equal(line.top_ups, mine.filter((t) => t.kind === 'top_up').length);
            const commission = mine.filter((t) => t.kind === 'top_up').reduce((total, t) => total + feeOf(t.amount, topUp), 0);
            assert.equal(line.top_up_commission_minor, commission);
            assert.equal(
              line.net_minor +
                line.fees_minor +
                line.reversals_minor +
                line.refunds_minor +
                line.top_ups_minor -
                line.top_up_commission_minor,
              line.gross_minor,
            );
            // Long hand: the share rounded half up, from the exact product.
            const exact = BigInt(line.fees_minor) * BigInt(share_bp);
            const whole = exact / 10_000n;
            assert.equal(BigInt(line.deployer_share_minor), exact % 10_000n >= 5_000n ? whole + 1n : whole);
            assert.ok(line.deployer_share_minor <= line.fees_minor);
            assert.equal(line.purchases, mine.filter((t) => t.kind === 'purchase' || t.kind === 'completion').length);
          }
        },
      ),
      300,
    );
  });

  it('settles offline sales charged to cards as purchases and their voids as reversals, at the same rates', () => {
    const rates: FeeRate[] = [
      { kind: 'purchase', percent_bp: 200, fixed_minor: 5 },
      { kind: 'reverse', percent_bp: 0, fixed_minor: 3 },
    ];
    const online = settlementLines(
      [
        { currency: 'EUR', kind: 'purchase', amount_minor: 1_000, count: 3, delta_minor: 3_000 },
        { currency: 'EUR', kind: 'reverse', amount_minor: 1_000, count: 1, delta_minor: 1_000 },
      ],
      rates,
    );
    const offline = settlementLines(
      [
        { currency: 'EUR', kind: 'purchase', amount_minor: 1_000, count: 1, delta_minor: 1_000 },
        { currency: 'EUR', kind: 'offline_purchase', amount_minor: 1_000, count: 2, delta_minor: 2_000 },
        { currency: 'EUR', kind: 'offline_void', amount_minor: 1_000, count: 1, delta_minor: 1_000 },
      ],
      rates,
    );
    assert.deepEqual(offline, online);
  });

  it('cuts periods by UTC day, ISO week (Monday first) and calendar month', () => {
    const cases: [Parameters<typeof periodOf>[0], string, string, string][] = [
      ['daily', '2026-02-01', '2026-02-01', '2026-02-01'],
      ['weekly', '2026-02-01', '2026-01-26', '2026-02-01'], // a Sunday belongs to the week before
      ['weekly', '2026-01-26', '2026-01-26', '2026-02-01'], // a Monday starts its week
      ['weekly', '2026-01-01', '2025-12-29', '2026-01-04'], // across the year end
      ['monthly', '2026-01-31', '2026-01-01', '2026-01-31'],
      ['monthly', '2028-02-29', '2028-02-01', '2028-02-29'], // leap year
      ['monthly', '2026-12-15', '2026-12-01', '2026-12-31'],
    ];
    for (const [cycle, date, from, to] of cases) {
      const period = periodOf(cycle, day(date));
      assert.deepEqual([period.from, period.to], [from, to], `${cycle} ${date}`);
      assert.equal(period.from_ms, day(from));
      assert.equal(period.until_ms, day(to) + 86_400_000);
    }
    assertProperty(
      fc.property(fc.integer({ min: 0, max: 60_000 }), fc.constantFrom('daily', 'weekly', 'monthly' as const), (days, cycle) => {
        const start = day('2000-01-01') + days * 86_400_000;
        const period = periodOf(cycle, start);
        assert.ok(period.from_ms <= start && start < period.until_ms, 'the date is inside its period');
        assert.deepEqual(periodOf(cycle, period.from_ms), period, 'every day of a period names the same period');
        assert.deepEqual(periodOf(cycle, period.until_ms - 86_400_000), period);
        assert.equal(periodOf(cycle, period.until_ms).from_ms, period.until_ms, 'periods tile the calendar');
      }),
      500,
    );
    const id = batchId('bar-0.x', periodOf('weekly', day('2026-02-01')));
    assert.equal(id, 'bar-0.x.weekly.2026-01-26');
    assert.deepEqual(batch_id_pattern.exec(id)?.slice(1), ['bar-0.x', 'weekly', '2026-01-26']);
    assert.throws(() => periodOf('daily', day('2026-01-01') + 1));
  });

  it('prints amounts with the currency exponent, exactly', () => {
    assert.equal(decimalAmount(123_456, 'EUR'), '1234.56');
    assert.equal(decimalAmount(5, 'EUR'), '0.05');
    assert.equal(decimalAmount(-7, 'EUR'), '-0.07');
    assert.equal(decimalAmount(0, 'EUR'), '0.00');
    assert.equal(decimalAmount(1_500, 'JPY'), '1500');
    assert.equal(decimalAmount(1_234, 'BHD'), '1.234');
    assert.equal(decimalAmount(Number.MAX_SAFE_INTEGER, 'CHF'), '90071992547409.91');
    assertProperty(
      fc.property(
        fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
        fc.constantFrom('EUR', 'JPY', 'BHD'),
        (amount, currency) => {
          assert.equal(BigInt(decimalAmount(amount, currency).replace('.', '')), BigInt(amount), 'the digits are the minor units');
        },
      ),
      1_000,
    );
  });

  it('writes the documented bank-transfer layout: one line per currency with a non-zero net, credit or debit', () => {
    const line = {
      purchases: 1,
      gross_minor: 0,
      reversals: 0,
      reversals_minor: 0,
      refunds: 0,
      refunds_minor: 0,
      fees_minor: 0,
      top_ups: 0,
      top_ups_minor: 0,
      top_up_commission_minor: 0,
      deployer_share_minor: 0,
    };
    const csv = bankTransferCsv({
      batch_id: 'bar-0.daily.2026-01-31',
      payee_name: 'Bar Zero GmbH',
      payee_iban: 'DE89370400440532013000',
      period: { from: '2026-01-31', to: '2026-01-31' },
      lines: [
        { ...line, currency: 'CHF', net_minor: -250 },
        { ...line, currency: 'EUR', net_minor: 123_456 },
        { ...line, currency: 'JPY', net_minor: 0 },
      ],
    });
    assert.equal(
      csv,
      [
        'batch_id,line,direction,payee_name,payee_iban,currency,amount,amount_minor,reference,period_from,period_to',
        'bar-0.daily.2026-01-31,1,debit,Bar Zero GmbH,DE89370400440532013000,CHF,2.50,250,TAPLINE bar-0.daily.2026-01-31 CHF,2026-01-31,2026-01-31',
        'bar-0.daily.2026-01-31,2,credit,Bar Zero GmbH,DE89370400440532013000,EUR,1234.56,123456,TAPLINE bar-0.daily.2026-01-31 EUR,2026-01-31,2026-01-31',
        '',
      ].join('\r\n'),
    );
  });

  it('refuses every bad configuration naming the field, and hostile payee text', () => {
    const good = {
      cycle: 'daily',
      payee_name: 'Bar Zero',
      payee_iban: 'DE89370400440532013000',
      rates: [{ kind: 'purchase', percent_bp: 150, fixed_minor: 10 }],
    };
    assert.equal(parseMerchantConfig('bar-0', good, 'ops-1', 5).cycle, 'daily');
    const bad: [Record<string, unknown>, string][] = [
      [{ ...good, cycle: 'hourly' }, 'cycle'],
      [{ ...good, payee_name: 'Bar, Zero' }, 'payee_name'],
      [{ ...good, payee_name: 'Bar "Zero"' }, 'payee_name'],
      [{ ...good, payee_name: '=HYPERLINK("x")' }, 'payee_name'],
      [{ ...good, payee_name: '-1+1' }, 'payee_name'],
      [{ ...good, payee_name: 'line\nbreak' }, 'payee_name'],
      [{ ...good, payee_iban: "DE89'; DROP" }, 'payee_iban'],
      [{ ...good, rates: [{ kind: 'purchase', percent_bp: 10_001, fixed_minor: 0 }] }, 'rates.0.percent_bp'],
      [{ ...good, rates: [{ kind: 'purchase', percent_bp: 1.5, fixed_minor: 0 }] }, 'rates.0.percent_bp'],
      [{ ...good, rates: [{ kind: 'purchase', percent_bp: 1, fixed_minor: -1 }] }, 'rates.0.fixed_minor'],
      [{ ...good, rates: [{ kind: 'cash_out', percent_bp: 1, fixed_minor: 0 }] }, 'rates.0.kind'],
      [
        { ...good, deployer: { id: 'vendco', payee_name: 'VendCo', payee_iban: 'NL91ABNA0417164300', share_bp: 10_001 } },
        'deployer.share_bp',
      ],
      [{ ...good, deployer: { id: 'vend co', payee_name: 'VendCo', payee_iban: 'NL91ABNA0417164300', share_bp: 1 } }, 'deployer.id'],
      [{ ...good, deployer: { id: 'vendco', payee_name: '=cmd', payee_iban: 'NL91ABNA0417164300', share_bp: 1 } }, 'deployer.payee_name'],
      [{ ...good, rates: [good.rates[0], good.rates[0]] }, 'rates'],
      [{ ...good, colour: 'red' }, 'body'],
    ];
    for (const [body, field] of bad) {
      assert.throws(
        () => parseMerchantConfig('bar-0', body, 'ops-1', 5),
        (error: unknown) => error instanceof ParameterError && error.parameter === field,
        JSON.stringify(body).slice(0, 80),
      );
    }
    assert.throws(() => parseMerchantConfig('bar-0', 'text', 'ops-1', 5), ParameterError);
  });
});
