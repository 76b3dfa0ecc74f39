// The fleet invoice reports: per fleet account and period (any cycle), or per closed billing cycle
// (the invoice the account issued, checked against its documents), every invoiced transaction
// (vehicle, driver, odometer, pump and invoiced totals), every line item (product, quantity, pump
// and invoiced prices), totals and fuel consumption per vehicle (fleet-rules.ts), totals per
// currency. fleet-documents.ts renders them as PDF.

import type { DateRange } from './params';
import { ReportNotFoundError, ReportNotReadyError } from './errors';
import { fleetInvoicesSql, fleetLinesSql, fleetTransactionsSql, type FleetSelection } from './queries';
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
  'points_redeemed',
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

/** The transactions, lines, vehicles and totals of an invoice's documents, and its signed total per currency. */
async function invoiceSections(
  context: ReportContext,
  fleet: string,
  selection: FleetSelection,
): Promise<{ sections: Report['sections']; totals: Map<string, { transactions: number; pump_minor: number; invoiced_minor: number }> }> {
  const [transactionRows, lineRows] = await Promise.all([
    bounded(context, fleetTransactionsSql(context.database, fleet, selection)),
    bounded(context, fleetLinesSql(context.database, fleet, selection)),
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
      {
        terminal: text(row, 'terminal'),
        discount_minor: int(row, 'discount_minor'),
        line_count: int(row, 'line_count'),
        points_redeemed: int(row, 'points_redeemed'),
      },
    ]),
  );
  const vehicles = vehicleTotals(transactions, fuel);
  const totals = totalsByCurrency(transactions);
  return {
    totals,
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
          points_redeemed: extra.get(t.id)?.points_redeemed ?? 0,
          line_count: extra.get(t.id)?.line_count ?? 0,
          fuel_milli: fuel.get(t.id) ?? 0,
        })),
      },
      lines: { columns: line_columns, rows: lines },
      vehicles: { columns: vehicle_columns, rows: vehicles.map((v) => ({ ...v })) },
      totals: {
        columns: ['currency', 'transactions', 'pump_minor', 'invoiced_minor'],
        rows: [...totals.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([currency, total]) => ({ currency, ...total })),
      },
    },
  };
}

/** Every invoiced document of a fleet in a date range (any cycle): GET /reports/fleets/<fleet>/invoice. */
export async function fleetInvoiceReport(context: ReportContext, fleet: string, range: DateRange): Promise<Report> {
  const { sections } = await invoiceSections(context, fleet, { from_ms: range.from_ms, until_ms: range.until_ms });
  return { report: 'fleet_invoice', parameters: { fleet, from: range.from, to: range.to }, sections };
}

const invoice_columns = [
  'number',
  'fleet',
  'cycle',
  'currency',
  'period_from',
  'period_until',
  'issued_at',
  'due_at',
  'amount_minor',
  'applied_minor',
  'transactions',
  'pump_minor',
];

/**
 * The invoice of one closed billing cycle: GET /reports/fleets/<fleet>/invoices/<cycle>. Its
 * documents are exactly those that carry the cycle (whatever the clocks of the nodes that wrote
 * them said), and their total must equal the invoice's: the account computed the invoice from the
 * same documents, so a difference means ClickHouse does not have them all yet (the streamer is
 * behind), answered 503 to retry rather than an invoice that does not add up. 404 when the cycle
 * is not closed (no fleet_invoice document).
 */
export async function fleetCycleInvoiceReport(context: ReportContext, fleet: string, cycle: number): Promise<Report> {
  const [invoiceRows, { sections, totals }] = await Promise.all([
    bounded(context, fleetInvoicesSql(context.database, fleet, { cycle })),
    invoiceSections(context, fleet, { cycle }),
  ]);
  const row = invoiceRows[0];
  if (row === undefined)
    throw new ReportNotFoundError('no invoice for this cycle (not closed, or not in ClickHouse yet)', { fleet, cycle });
  const currency = text(row, 'currency');
  const amount = int(row, 'amount_minor');
  const documents = totals.get(currency) ?? { transactions: 0, pump_minor: 0, invoiced_minor: 0 };
  if (documents.invoiced_minor !== amount || totals.size > (documents.transactions > 0 ? 1 : 0))
    throw new ReportNotReadyError("the cycle's documents do not add up to the invoice yet; retry", { fleet, cycle });
  const invoice = {
    number: text(row, 'number'),
    fleet,
    cycle,
    currency,
    period_from: new Date(int(row, 'opened_at_ms')).toISOString(),
    period_until: new Date(int(row, 'at_ms')).toISOString(),
    issued_at: new Date(int(row, 'at_ms')).toISOString(),
    due_at: new Date(int(row, 'due_at_ms')).toISOString(),
    amount_minor: amount,
    applied_minor: int(row, 'applied_minor'),
    transactions: documents.transactions,
    pump_minor: documents.pump_minor,
  };
  return {
    report: 'fleet_cycle_invoice',
    parameters: { fleet, cycle: String(cycle) },
    sections: { invoice: { columns: invoice_columns, rows: [invoice], single: true }, ...sections },
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
