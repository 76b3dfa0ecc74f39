// The fleet account statement: GET /reports/fleets/<fleet>/statement?from=&to=. What the account
// was invoiced and what it paid in the period, with the running balance of its invoices, the
// invoices still open at the end (with the days each is past due), and the spend not invoiced yet.
//
// The statement replays the account's own billing rules (actors/fleet/billing.ts) over its
// documents, so it allocates exactly as the account did: invoices (fleet_invoice documents, with
// the credit of a credit note settling older invoices at once) and payments (fleet_payment
// transactions, oldest invoice first) in the order the account applied them. That order is known
// without trusting clocks: a payment carries the cycle that was open when it was made, so it came
// after the invoice of the cycle before and before the invoice of its own cycle.

import {
  applyPayment,
  default_billing_terms,
  invoiceNumber,
  netOpenItems,
  type FleetBilling,
  type OpenInvoice,
} from '../../actors/fleet/billing';
import { ReportNotReadyError } from './errors';
import type { DateRange } from './params';
import { fleet_statement_invoices_max, fleetInvoicesSql, fleetPaymentsSql, fleetUnbilledSql } from './queries';
import { bounded, int, text, type Report, type ReportContext, type ReportRow } from './reports';

const day_ms = 86_400_000;

export interface StatementInvoice {
  readonly cycle: number;
  readonly number: string;
  readonly currency: string;
  readonly amount_minor: number;
  readonly at_ms: number;
  readonly due_at_ms: number;
}

export interface StatementPayment {
  readonly id: string;
  /** The cycle open when the account applied it. */
  readonly cycle: number;
  readonly reference: string;
  readonly amount_minor: number;
  readonly at_ms: number;
}

export interface StatementEntry {
  readonly at_ms: number;
  readonly type: 'invoice' | 'credit_note' | 'payment';
  readonly reference: string;
  readonly debit_minor: number;
  readonly credit_minor: number;
  /** What the invoices owe after this entry (credit negative). */
  readonly balance_minor: number;
}

export interface Statement {
  readonly opening_minor: number;
  readonly entries: readonly StatementEntry[];
  readonly closing_minor: number;
  /** Open at the end of the period, oldest first. */
  readonly open: readonly OpenInvoice[];
}

type Event =
  { readonly kind: 'invoice'; readonly invoice: StatementInvoice } | { readonly kind: 'payment'; readonly payment: StatementPayment };

/** The order the account applied its events in: invoice N closed cycle N; a payment of cycle c came after invoice c - 1. */
function orderKey(event: Event): [number, number, number, string] {
  return event.kind === 'invoice'
    ? [event.invoice.cycle + 1, 0, event.invoice.at_ms, '']
    : [event.payment.cycle, 1, event.payment.at_ms, event.payment.id];
}

function compareEvents(a: Event, b: Event): number {
  const [x, y] = [orderKey(a), orderKey(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  return x[3] < y[3] ? -1 : x[3] > y[3] ? 1 : 0;
}

/**
 * Replays invoices and payments up to `until_ms` through the account's billing rules; entries from
 * `from_ms` on are the statement's. A payment the rules would refuse means documents are missing
 * (ClickHouse is behind the authorizer): ReportNotReadyError.
 */
export function replayStatement(
  invoices: readonly StatementInvoice[],
  payments: readonly StatementPayment[],
  from_ms: number,
  until_ms: number,
): Statement {
  const events: Event[] = [
    ...invoices.map((invoice) => ({ kind: 'invoice' as const, invoice })),
    ...payments.map((payment) => ({ kind: 'payment' as const, payment })),
  ].sort(compareEvents);
  let billing: FleetBilling = { cycle: 0, cycleOpenedAtMs: 0, terms: default_billing_terms, invoices: [] };
  let balance = 0;
  let opening = 0;
  const entries: StatementEntry[] = [];
  for (const event of events) {
    const at = event.kind === 'invoice' ? event.invoice.at_ms : event.payment.at_ms;
    if (at >= until_ms) continue;
    if (event.kind === 'invoice') {
      const { invoice } = event;
      const open: OpenInvoice = {
        cycle: invoice.cycle,
        amountMinor: invoice.amount_minor,
        outstandingMinor: invoice.amount_minor,
        issuedAtMs: invoice.at_ms,
        dueAtMs: invoice.due_at_ms,
      };
      billing = { ...billing, invoices: netOpenItems([...billing.invoices, open]).invoices };
      balance += invoice.amount_minor;
    } else {
      const applied = applyPayment(billing, event.payment.amount_minor);
      if (applied.kind === 'refused')
        throw new ReportNotReadyError('the statement documents are not all in ClickHouse yet; retry', { payment: event.payment.id });
      billing = applied.billing;
      balance -= event.payment.amount_minor;
    }
    if (at < from_ms) {
      opening = balance;
      continue;
    }
    entries.push(entryOf(event, balance));
  }
  return { opening_minor: opening, entries, closing_minor: balance, open: billing.invoices };
}

function entryOf(event: Event, balance_minor: number): StatementEntry {
  if (event.kind === 'payment') {
    const { payment } = event;
    return {
      at_ms: payment.at_ms,
      type: 'payment',
      reference: payment.reference,
      debit_minor: 0,
      credit_minor: payment.amount_minor,
      balance_minor,
    };
  }
  const { invoice } = event;
  const credit = invoice.amount_minor < 0;
  return {
    at_ms: invoice.at_ms,
    type: credit ? 'credit_note' : 'invoice',
    reference: invoice.number,
    debit_minor: credit ? 0 : invoice.amount_minor,
    credit_minor: credit ? -invoice.amount_minor : 0,
    balance_minor,
  };
}

/** Whole days an open invoice is past its due date at `at_ms` (0 when not due yet or not owing). */
export function daysOverdue(invoice: OpenInvoice, at_ms: number): number {
  return invoice.outstandingMinor > 0 && at_ms > invoice.dueAtMs ? Math.floor((at_ms - invoice.dueAtMs) / day_ms) : 0;
}

/** The payment's own reference, from its idempotency key (k:fleet-payment:<fleet>:<reference>). */
function paymentReference(key: string, fleet: string): string {
  const prefix = `k:fleet-payment:${fleet}:`;
  return key.startsWith(prefix) ? key.slice(prefix.length) : key;
}

export async function fleetStatementReport(context: ReportContext, fleet: string, range: DateRange): Promise<Report> {
  const [invoiceRows, paymentRows] = await Promise.all([
    bounded(context, fleetInvoicesSql(context.database, fleet, { until_ms: range.until_ms }), fleet_statement_invoices_max),
    bounded(context, fleetPaymentsSql(context.database, fleet, range.until_ms)),
  ]);
  const invoices: StatementInvoice[] = invoiceRows.map((row) => ({
    cycle: int(row, 'cycle'),
    number: text(row, 'number'),
    currency: text(row, 'currency'),
    amount_minor: int(row, 'amount_minor'),
    at_ms: int(row, 'at_ms'),
    due_at_ms: int(row, 'due_at_ms'),
  }));
  const payments: StatementPayment[] = paymentRows.map((row) => ({
    id: text(row, 'id'),
    cycle: int(row, 'cycle'),
    reference: paymentReference(text(row, 'idempotency_key'), fleet),
    amount_minor: int(row, 'amount_minor'),
    at_ms: int(row, 'at_ms'),
  }));
  const lastCycle = invoices.reduce((max, invoice) => Math.max(max, invoice.cycle), 0);
  const [unbilledRow] = await bounded(context, fleetUnbilledSql(context.database, fleet, lastCycle, range.until_ms));
  const statement = replayStatement(invoices, payments, range.from_ms, range.until_ms);
  const currency = invoices[0]?.currency ?? text(paymentRows[0] ?? { currency: '' }, 'currency');
  const entries = statement.entries;
  const overdue = statement.open.filter((invoice) => daysOverdue(invoice, range.until_ms) > 0);
  const summary: ReportRow = {
    fleet,
    currency,
    from: range.from,
    to: range.to,
    opening_minor: statement.opening_minor,
    invoiced_minor: entries.reduce((sum, entry) => sum + entry.debit_minor - (entry.type === 'credit_note' ? entry.credit_minor : 0), 0),
    paid_minor: entries.reduce((sum, entry) => sum + (entry.type === 'payment' ? entry.credit_minor : 0), 0),
    closing_minor: statement.closing_minor,
    overdue_minor: overdue.reduce((sum, invoice) => sum + invoice.outstandingMinor, 0),
    unbilled_minor: unbilledRow === undefined ? 0 : int(unbilledRow, 'unbilled_minor'),
  };
  return {
    report: 'fleet_statement',
    parameters: { fleet, from: range.from, to: range.to },
    sections: {
      summary: { columns: Object.keys(summary), rows: [summary], single: true },
      entries: {
        columns: ['at', 'type', 'reference', 'debit_minor', 'credit_minor', 'balance_minor'],
        rows: entries.map((entry) => ({
          at: new Date(entry.at_ms).toISOString(),
          type: entry.type,
          reference: entry.reference,
          debit_minor: entry.debit_minor,
          credit_minor: entry.credit_minor,
          balance_minor: entry.balance_minor,
        })),
      },
      open_items: {
        columns: ['number', 'issued_at', 'due_at', 'amount_minor', 'outstanding_minor', 'days_overdue'],
        rows: statement.open.map((invoice) => ({
          number: invoiceNumber(fleet, invoice.cycle),
          issued_at: new Date(invoice.issuedAtMs).toISOString(),
          due_at: new Date(invoice.dueAtMs).toISOString(),
          amount_minor: invoice.amountMinor,
          outstanding_minor: invoice.outstandingMinor,
          days_overdue: daysOverdue(invoice, range.until_ms),
        })),
      },
    },
  };
}
