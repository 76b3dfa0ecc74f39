// The fleet account's postpaid cycle, as pure functions over its billing state: spend accrues in
// the open cycle, closing the cycle turns what accrued into an invoice (due after the account's
// payment terms), a payment settles open invoices oldest first, and an account with an invoice
// unpaid too long past its due date is restricted (its cards are declined) until it is paid.
//
// What the account owes is one number, its balance (<= 0 while it owes; fleet/rules.ts): every
// approved purchase lowers it by the invoiced amount, a reversal or refund raises it, a payment
// raises it. The billing state splits that debt without storing it twice:
//
//   owed = -balance = uninvoiced spend + sum of the open invoices' outstanding amounts
//
// so the uninvoiced spend is derived (-balance - outstanding), and the available credit is
// limit + balance - held = limit - unpaid invoiced - uninvoiced - held. Closing a cycle moves
// spend from "uninvoiced" to "invoiced" and leaves the balance alone; a payment lowers both the
// outstanding amounts and the debt by the same amount. The property test of the cycle
// (test/unit/fleet-billing.test.ts) holds these identities over random fill-ups, payments and
// closes.
//
// A cycle whose reversals and refunds outweigh its spend closes with a negative total: a credit
// note. Its credit settles older open invoices at once (oldest first); what is left stays open as
// a negative outstanding amount that the next invoice absorbs when it is issued. So after every
// close the open items all owe (> 0) or are all credit (<= 0), never a mix, and a payment only
// ever pays invoices that owe.

/** Terms count days of 24 hours from the instant an invoice is issued (not calendar days of a zone). */
const day_ms = 86_400_000;

export interface BillingTerms {
  /** An invoice is due this many days after it is issued. */
  readonly payment_terms_days: number;
  /**
   * The account's cards are declined (ACCOUNT_OVERDUE) once an invoice is still unpaid this many
   * days after its due date (0 = from the due instant on); absent = never restricted.
   */
  readonly block_after_overdue_days?: number;
}

/** An invoice that is not fully settled (paid invoices leave the state; their documents stay in ClickHouse). */
export interface OpenInvoice {
  /** The cycle it invoices (its number: "<fleet>-<cycle>"). */
  readonly cycle: number;
  /** The invoice total: the cycle's spend net of its reversals and refunds (< 0 = a credit note). */
  readonly amountMinor: number;
  /** What is still owed on it (> 0), or credit not yet used (< 0). Never 0 in the state. */
  readonly outstandingMinor: number;
  readonly issuedAtMs: number;
  readonly dueAtMs: number;
}

export interface FleetBilling {
  /** The open cycle: spend accrues to it until it is closed. 1 for a new account. */
  readonly cycle: number;
  readonly cycleOpenedAtMs: number;
  readonly terms: BillingTerms;
  /** Oldest first; at most open_invoices_max. */
  readonly invoices: readonly OpenInvoice[];
}

/** Payment terms of an account nobody set terms for: 30 days, never restricted. */
export const default_billing_terms: BillingTerms = Object.freeze({ payment_terms_days: 30 });

/** Longest payment terms and overdue grace accepted (a year): longer is no postpaid agreement. */
export const billing_days_max = 366;

/**
 * Open invoices an account may have: ten years of monthly cycles. Past it a close is refused (an
 * account that has not paid for ten years needs an operator, not an eleventh year of invoices).
 */
export const open_invoices_max = 120;

export function newBilling(openedAtMs: number): FleetBilling {
  return { cycle: 1, cycleOpenedAtMs: openedAtMs, terms: default_billing_terms, invoices: [] };
}

/** Sum of the open invoices' outstanding amounts (credit counts negative). */
export function outstandingMinor(billing: FleetBilling): number {
  let total = 0;
  for (const invoice of billing.invoices) total += invoice.outstandingMinor;
  return total;
}

/** What accrued in the open cycle: the debt not yet on an invoice (negative when it is a credit). */
export function uninvoicedMinor(balanceMinor: number, billing: FleetBilling): number {
  // Written from 0 so that no debt is 0, never -0.
  return 0 - balanceMinor - outstandingMinor(billing);
}

/** The invoice that closing `billing`'s cycle at `nowMs` issues, for `amountMinor`. */
function invoiceOf(billing: FleetBilling, amountMinor: number, nowMs: number): OpenInvoice {
  return {
    cycle: billing.cycle,
    amountMinor,
    outstandingMinor: amountMinor,
    issuedAtMs: nowMs,
    dueAtMs: nowMs + billing.terms.payment_terms_days * day_ms,
  };
}

/**
 * Lets credit (negative outstanding) settle what is owed, oldest first on both sides, and drops
 * every item that reaches 0. The result owes throughout or is credit throughout. Returns how much
 * credit was applied to each invoice that owed (by cycle), in order.
 */
export function netOpenItems(invoices: readonly OpenInvoice[]): {
  invoices: OpenInvoice[];
  applied: { cycle: number; amountMinor: number }[];
} {
  const items = invoices.map((invoice) => ({ ...invoice }));
  const applied: { cycle: number; amountMinor: number }[] = [];
  for (const credit of items) {
    if (credit.outstandingMinor >= 0) continue;
    for (const owing of items) {
      if (credit.outstandingMinor === 0) break;
      if (owing.outstandingMinor <= 0) continue;
      const amount = Math.min(owing.outstandingMinor, -credit.outstandingMinor);
      owing.outstandingMinor -= amount;
      credit.outstandingMinor += amount;
      applied.push({ cycle: owing.cycle, amountMinor: amount });
    }
  }
  return { invoices: items.filter((invoice) => invoice.outstandingMinor !== 0), applied };
}

export type CloseDecision =
  | {
      readonly kind: 'closed';
      readonly billing: FleetBilling;
      readonly invoice: OpenInvoice;
      /** Credit of this or an older credit note applied to invoices that owed. */
      readonly applied: readonly { readonly cycle: number; readonly amountMinor: number }[];
    }
  | { readonly kind: 'already_closed' }
  | { readonly kind: 'refused'; readonly message: string };

/**
 * Closes cycle `cycle` at `nowMs`: what accrued becomes its invoice, and the next cycle opens.
 * Closing a cycle that is already closed is `already_closed` (a retried close changes nothing);
 * closing one that is not open yet is refused, as is a close that would keep more than
 * open_invoices_max invoices open.
 */
export function closeCycle(balanceMinor: number, billing: FleetBilling, cycle: number, nowMs: number): CloseDecision {
  if (cycle < billing.cycle) return { kind: 'already_closed' };
  if (cycle > billing.cycle) return { kind: 'refused', message: `cycle ${cycle} is not open (the open cycle is ${billing.cycle})` };
  const invoice = invoiceOf(billing, uninvoicedMinor(balanceMinor, billing), nowMs);
  const netted = netOpenItems([...billing.invoices, invoice]);
  if (netted.invoices.length > open_invoices_max)
    return { kind: 'refused', message: `the account has ${open_invoices_max} open invoices: record payments first` };
  return {
    kind: 'closed',
    billing: { ...billing, cycle: billing.cycle + 1, cycleOpenedAtMs: nowMs, invoices: netted.invoices },
    invoice,
    applied: netted.applied,
  };
}

export type PaymentDecision =
  | {
      readonly kind: 'applied';
      readonly billing: FleetBilling;
      /** What the payment settled, invoice by invoice, oldest first. */
      readonly allocations: readonly { readonly cycle: number; readonly amountMinor: number }[];
    }
  | { readonly kind: 'refused'; readonly message: string };

/**
 * Applies a payment to the open invoices that owe, oldest first. A payment pays invoices: one
 * larger than what the open invoices owe is refused (spend not invoiced yet is not payable yet,
 * and an overpayment is money to return, not credit to keep).
 */
export function applyPayment(billing: FleetBilling, amountMinor: number): PaymentDecision {
  if (!Number.isSafeInteger(amountMinor) || amountMinor <= 0) return { kind: 'refused', message: 'a payment is a positive amount' };
  let owed = 0;
  for (const invoice of billing.invoices) if (invoice.outstandingMinor > 0) owed += invoice.outstandingMinor;
  if (amountMinor > owed) return { kind: 'refused', message: `the payment (${amountMinor}) is more than the open invoices owe (${owed})` };
  let left = amountMinor;
  const allocations: { cycle: number; amountMinor: number }[] = [];
  const invoices: OpenInvoice[] = [];
  for (const invoice of billing.invoices) {
    const amount = invoice.outstandingMinor > 0 ? Math.min(left, invoice.outstandingMinor) : 0;
    left -= amount;
    if (amount > 0) allocations.push({ cycle: invoice.cycle, amountMinor: amount });
    if (invoice.outstandingMinor - amount !== 0) invoices.push({ ...invoice, outstandingMinor: invoice.outstandingMinor - amount });
  }
  return { kind: 'applied', billing: { ...billing, invoices }, allocations };
}

/**
 * The oldest invoice that keeps the account restricted at `nowMs`: one that still owes and whose
 * due date is at least block_after_overdue_days behind. Undefined when the account is free to buy.
 */
export function overdueInvoice(billing: FleetBilling, nowMs: number): OpenInvoice | undefined {
  const grace = billing.terms.block_after_overdue_days;
  if (grace === undefined) return undefined;
  return billing.invoices.find((invoice) => invoice.outstandingMinor > 0 && nowMs >= invoice.dueAtMs + grace * day_ms);
}

/** The invoice number printed on documents: the fleet and the cycle it invoices. */
export function invoiceNumber(fleetId: string, cycle: number): string {
  return `${fleetId}-${cycle}`;
}
