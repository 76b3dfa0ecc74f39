// The beer-tap report: what each tap poured against what was paid there, per UTC day, and per sale
// for taps that report each sale. Volumes in millilitres; the paid volume is the quantity of the
// sale's line items in the poured groups (queries.ts `poured_groups`, sold by the litre).
//
//   GET /reports/taps?from=YYYY-MM-DD&to=YYYY-MM-DD[&terminal=<id>]   sections: days, sales

import type { DateRange } from './params';
import { paidVolumeByKeySql, tapSalePoursSql, tapVolumesSql } from './queries';
import { bounded, int, text, type Report, type ReportContext } from './reports';

const day_ms = 86_400_000;

/** Difference in per mille of what was paid (null when nothing was paid): the tap's loss (> 0) or gift (< 0) rate. */
function permille(difference_ml: number, paid_ml: number): string | null {
  if (paid_ml <= 0) return null;
  const scaled = Math.round((difference_ml * 1000 * 10) / paid_ml);
  return (scaled / 10).toFixed(1);
}

export async function tapsReport(context: ReportContext, range: DateRange, terminal: string | undefined): Promise<Report> {
  const days = (await bounded(context, tapVolumesSql(context.database, range.from_ms, range.until_ms, terminal))).map((row) => {
    const paid = int(row, 'paid_ml');
    const poured = int(row, 'poured_ml');
    return {
      terminal: text(row, 'terminal'),
      day: new Date(int(row, 'day') * day_ms).toISOString().slice(0, 10),
      paid_ml: paid,
      poured_ml: poured,
      difference_ml: poured - paid,
      difference_permille: permille(poured - paid, paid),
      reports: int(row, 'reports'),
    };
  });
  const pours = await bounded(context, tapSalePoursSql(context.database, range.from_ms, range.until_ms, terminal));
  const keys = [...new Set(pours.map((row) => text(row, 'transaction')))];
  const paidBySale = new Map(
    (keys.length === 0 ? [] : await bounded(context, paidVolumeByKeySql(context.database, keys))).map((row) => [
      text(row, 'sale'),
      int(row, 'paid_ml'),
    ]),
  );
  const sales = pours.map((row) => {
    const sale = text(row, 'transaction');
    const paid = paidBySale.get(sale) ?? 0;
    const poured = int(row, 'poured_ml');
    return {
      terminal: text(row, 'terminal'),
      report: text(row, 'report'),
      sale,
      paid_ml: paid,
      poured_ml: poured,
      difference_ml: poured - paid,
    };
  });
  return {
    report: 'taps',
    parameters: { from: range.from, to: range.to, ...(terminal === undefined ? {} : { terminal }) },
    sections: {
      days: { columns: ['terminal', 'day', 'paid_ml', 'poured_ml', 'difference_ml', 'difference_permille', 'reports'], rows: days },
      sales: { columns: ['terminal', 'report', 'sale', 'paid_ml', 'poured_ml', 'difference_ml'], rows: sales },
    },
  };
}
