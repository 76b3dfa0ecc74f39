// The fleet invoice report: per fleet account and period, every invoiced transaction (vehicle,
// driver, odometer, pump and invoiced totals), every line item (product, quantity, pump and
// invoiced prices), totals and fuel consumption per vehicle (fleet-rules.ts), totals per currency.

import type { DateRange } from './params';
import { fleetLinesSql, fleetTransactionsSql } from './queries';
import { bounded, int, text, type Report, type ReportContext } from './reports';
import { fuelByTransaction, invoice_kind_sign, vehicleTotals, type InvoiceTransaction } from './fleet-rules';

const transaction_columns = [
  'at',
  'id',
  'kind',
  'card',
  'vehicle',
  'driver',
  'odometer',
  'merchant',
  'terminal',
  'currency',
  'pump_minor',
  'invoiced_minor',
  'discount_minor',
  'line_count',
  'fuel_milli',
];
const line_columns = [
  'at',
  'id',
  'line_no',
  'kind',
  'vehicle',
  'driver',
  'code',
  'product_group',
  'currency',
  'qty_milli',
  'pump_unit_minor',
  'unit_minor',
  'amount_minor',
  'invoiced_minor',
];
const vehicle_columns = [
  'vehicle',
  'currency',
  'transactions',
  'pump_minor',
  'invoiced_minor',
  'fuel_milli',
  'readings',
  'first_odometer',
  'last_odometer',
  'distance_km',
  'consumption_milli',
  'litres_per_100km',
];

export async function fleetInvoiceReport(context: ReportContext, fleet: string, range: DateRange): Promise<Report> {
  const [transactionRows, lineRows] = await Promise.all([
    bounded(context, fleetTransactionsSql(context.database, fleet, range.from_ms, range.until_ms)),
    bounded(context, fleetLinesSql(context.database, fleet, range.from_ms, range.until_ms)),
  ]);
  const lines = lineRows.map(invoiceLine);
  const fuel = fuelByTransaction(lines);
  const transactions: InvoiceTransaction[] = transactionRows.map((row) => ({
    id: text(row, 'id'),
    at_ms: int(row, 'at_ms'),
    kind: text(row, 'kind'),
    card: text(row, 'card'),
    vehicle: text(row, 'vehicle'),
    driver: text(row, 'driver'),
    odometer: int(row, 'odometer'),
    merchant: text(row, 'merchant'),
    currency: text(row, 'currency'),
    pump_minor: int(row, 'pump_minor'),
    invoiced_minor: int(row, 'invoiced_minor'),
  }));
  const extra = new Map(
    transactionRows.map((row) => [
      text(row, 'id'),
      { terminal: text(row, 'terminal'), discount_minor: int(row, 'discount_minor'), line_count: int(row, 'line_count') },
    ]),
  );
  const vehicles = vehicleTotals(transactions, fuel);
  const currencies = totalsByCurrency(transactions);
  return {
    report: 'fleet_invoice',
    parameters: { fleet, from: range.from, to: range.to },
    sections: {
      transactions: {
        columns: transaction_columns,
        rows: transactions.map((t) => ({
          at: new Date(t.at_ms).toISOString(),
          id: t.id,
          kind: t.kind,
          card: t.card,
          vehicle: t.vehicle,
          driver: t.driver,
          odometer: t.odometer,
          merchant: t.merchant,
          terminal: extra.get(t.id)?.terminal ?? '',
          currency: t.currency,
          pump_minor: t.pump_minor,
          invoiced_minor: t.invoiced_minor,
          discount_minor: extra.get(t.id)?.discount_minor ?? 0,
          line_count: extra.get(t.id)?.line_count ?? 0,
          fuel_milli: fuel.get(t.id) ?? 0,
        })),
      },
      lines: { columns: line_columns, rows: lines },
      vehicles: { columns: vehicle_columns, rows: vehicles.map((v) => ({ ...v })) },
      totals: {
        columns: ['currency', 'transactions', 'pump_minor', 'invoiced_minor'],
        rows: [...currencies.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([currency, total]) => ({ currency, ...total })),
      },
    },
  };
}

/** One line item of the invoice, from its ClickHouse row. */
function invoiceLine(row: Readonly<Record<string, unknown>>) {
  return {
    at: new Date(int(row, 'at_ms')).toISOString(),
    id: text(row, 'id'),
    line_no: int(row, 'line_no'),
    kind: text(row, 'kind'),
    vehicle: text(row, 'vehicle'),
    driver: text(row, 'driver'),
    code: text(row, 'code'),
    product_group: text(row, 'product_group'),
    currency: text(row, 'currency'),
    qty_milli: int(row, 'qty_milli'),
    pump_unit_minor: int(row, 'pump_unit_minor'),
    unit_minor: int(row, 'unit_minor'),
    amount_minor: int(row, 'amount_minor'),
    invoiced_minor: int(row, 'invoiced_minor'),
  };
}

/** Transactions, pump and invoiced amounts per currency (reversals count negative). */
function totalsByCurrency(
  transactions: readonly InvoiceTransaction[],
): Map<string, { transactions: number; pump_minor: number; invoiced_minor: number }> {
  const currencies = new Map<string, { transactions: number; pump_minor: number; invoiced_minor: number }>();
  for (const t of transactions) {
    const sign = invoice_kind_sign[t.kind] ?? 0;
    const total = currencies.get(t.currency) ?? { transactions: 0, pump_minor: 0, invoiced_minor: 0 };
    currencies.set(t.currency, {
      transactions: total.transactions + 1,
      pump_minor: total.pump_minor + sign * t.pump_minor,
      invoiced_minor: total.invoiced_minor + sign * t.invoiced_minor,
    });
  }
  return currencies;
}
