// The fleet documents as PDF: the invoice of a billing cycle and the account statement, rendered
// from the same reports the JSON and CSV answers carry (fleet-invoice.ts, fleet-statement.ts), so
// the three formats never disagree. PDFKit (pinned in package.json) lays out text with its
// built-in Helvetica; amounts are printed from integer minor units with the currency's exponent
// (no floating point), quantities from thousandths.
//
// A document is reproducible: its metadata dates are the invoice's issue instant or the
// statement's end, never the time it was rendered.

import PDFDocument from 'pdfkit';
import { currency_exponents } from '../../actors/money';
import type { Cell, Report, ReportRow } from './reports';

/** A document longer than this many pages is cut (with a note): the CSV has every row. */
export const pdf_pages_max = 500;

const page_margin_pt = 40;
const font_size_pt = 8;
const row_height_pt = 12;

/** Integer minor units as a decimal text with the currency's exponent: -12345 EUR -> "-123.45". */
export function formatMinor(amount_minor: number, currency: string): string {
  const exponent = currency_exponents[currency] ?? 2;
  const sign = amount_minor < 0 ? '-' : '';
  const digits = String(Math.abs(amount_minor)).padStart(exponent + 1, '0');
  return exponent === 0 ? `${sign}${digits}` : `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/** Thousandths as a decimal text: 40215 -> "40.215". */
export function formatMilli(milli: number): string {
  const sign = milli < 0 ? '-' : '';
  const digits = String(Math.abs(milli)).padStart(4, '0');
  return `${sign}${digits.slice(0, -3)}.${digits.slice(-3)}`;
}

interface Column {
  readonly key: string;
  readonly header: string;
  /** Share of the page width. */
  readonly width: number;
  readonly format?: (value: Cell, row: ReportRow) => string;
}

function cellText(value: Cell): string {
  return value === null ? '' : String(value);
}

class Layout {
  private pages = 1;
  truncated = false;

  constructor(readonly doc: PDFKit.PDFDocument) {}

  private get bottom(): number {
    return this.doc.page.height - page_margin_pt;
  }

  private get width(): number {
    return this.doc.page.width - 2 * page_margin_pt;
  }

  /** Room for `height` more points, on a new page if needed; false past pdf_pages_max. */
  private room(height: number): boolean {
    if (this.doc.y + height <= this.bottom) return true;
    if (this.pages >= pdf_pages_max) {
      this.truncated = true;
      return false;
    }
    this.doc.addPage();
    this.pages += 1;
    return true;
  }

  title(text: string): void {
    this.doc.font('Helvetica-Bold').fontSize(16).text(text, page_margin_pt, this.doc.y);
    this.doc.moveDown(0.5);
  }

  heading(text: string): void {
    if (!this.room(3 * row_height_pt)) return;
    this.doc.moveDown(0.5);
    this.doc.font('Helvetica-Bold').fontSize(11).text(text, page_margin_pt, this.doc.y);
    this.doc.moveDown(0.3);
  }

  /** Label / value pairs, one per line. */
  facts(pairs: readonly (readonly [string, string])[]): void {
    for (const [label, value] of pairs) {
      if (!this.room(row_height_pt)) return;
      const y = this.doc.y;
      this.doc.font('Helvetica-Bold').fontSize(9).text(label, page_margin_pt, y, { width: 140 });
      this.doc
        .font('Helvetica')
        .fontSize(9)
        .text(value, page_margin_pt + 150, y, { width: this.width - 150 });
      this.doc.y = y + row_height_pt;
    }
  }

  table(columns: readonly Column[], rows: readonly ReportRow[]): void {
    const total = columns.reduce((sum, column) => sum + column.width, 0);
    const widths = columns.map((column) => (column.width / total) * this.width);
    const line = (cells: readonly string[], bold: boolean): boolean => {
      if (!this.room(row_height_pt)) return false;
      const y = this.doc.y;
      let x = page_margin_pt;
      this.doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(font_size_pt);
      cells.forEach((cell, index) => {
        const width = widths[index] ?? 0;
        this.doc.text(cell, x, y, { width: width - 2, height: row_height_pt, ellipsis: true, lineBreak: false });
        x += width;
      });
      this.doc.y = y + row_height_pt;
      return true;
    };
    if (
      !line(
        columns.map((column) => column.header),
        true,
      )
    )
      return;
    for (const row of rows) {
      const cells = columns.map((column) => (column.format ?? cellText)(row[column.key] ?? null, row));
      if (!line(cells, false)) return;
    }
  }

  /** Ends the document with a note when rows were cut. */
  finish(): void {
    if (!this.truncated) return;
    this.doc
      .font('Helvetica-Oblique')
      .fontSize(9)
      .text(`Cut after ${pdf_pages_max} pages: the CSV answer has every row.`, page_margin_pt, this.doc.y);
  }
}

/** Renders a document into one buffer. */
function render(info: { readonly title: string; readonly at_ms: number }, draw: (layout: Layout) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const at = new Date(info.at_ms);
    const doc = new PDFDocument({
      size: 'A4',
      margin: page_margin_pt,
      info: { Title: info.title, Author: 'Tapline', Creator: 'Tapline reports', CreationDate: at, ModDate: at },
    });
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    try {
      const layout = new Layout(doc);
      draw(layout);
      layout.finish();
      doc.end();
    } catch (error) {
      reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

function single(report: Report, name: string): ReportRow {
  const row = report.sections[name]?.rows[0];
  if (row === undefined) throw new Error(`assertion: report ${report.report} has no ${name}`);
  return row;
}

function rowsOf(report: Report, name: string): readonly ReportRow[] {
  return report.sections[name]?.rows ?? [];
}

const day = (iso: Cell): string => cellText(iso).slice(0, 10);
const minute = (iso: Cell): string => cellText(iso).slice(0, 16).replace('T', ' ');

/** The invoice of a closed cycle (fleetCycleInvoiceReport): header, consumption per vehicle, transactions. */
export function invoicePdf(report: Report): Promise<Buffer> {
  const invoice = single(report, 'invoice');
  const currency = cellText(invoice['currency'] ?? '');
  const money = (value: Cell): string => (typeof value === 'number' ? formatMinor(value, currency) : '');
  const amount = Number(invoice['amount_minor']);
  return render(
    { title: `Invoice ${cellText(invoice['number'] ?? '')}`, at_ms: Date.parse(cellText(invoice['issued_at'] ?? '')) },
    (layout) => {
      layout.title(`${amount < 0 ? 'Credit note' : 'Invoice'} ${cellText(invoice['number'] ?? '')}`);
      layout.facts([
        ['Fleet account', cellText(invoice['fleet'] ?? '')],
        ['Billing cycle', cellText(invoice['cycle'] ?? '')],
        ['Period', `${minute(invoice['period_from'] ?? '')} to ${minute(invoice['period_until'] ?? '')} UTC`],
        ['Issued', minute(invoice['issued_at'] ?? '')],
        ['Due', day(invoice['due_at'] ?? '')],
        ['Transactions', cellText(invoice['transactions'] ?? '')],
        ['At pump prices', `${money(invoice['pump_minor'] ?? null)} ${currency}`],
        ['Total', `${money(invoice['amount_minor'] ?? null)} ${currency}`],
        ['Credit applied to older invoices', `${money(invoice['applied_minor'] ?? null)} ${currency}`],
      ]);
      layout.heading('Consumption per vehicle');
      layout.table(
        [
          { key: 'vehicle', header: 'Vehicle', width: 3 },
          { key: 'transactions', header: 'Fills', width: 1 },
          { key: 'fuel_milli', header: 'Fuel (l)', width: 2, format: (value) => formatMilli(Number(value)) },
          { key: 'distance_km', header: 'Distance (km)', width: 2 },
          { key: 'litres_per_100km', header: 'l/100 km', width: 2 },
          { key: 'pump_minor', header: 'Pump', width: 2, format: money },
          { key: 'invoiced_minor', header: 'Invoiced', width: 2, format: money },
        ],
        rowsOf(report, 'vehicles'),
      );
      layout.heading('Transactions');
      layout.table(
        [
          { key: 'at', header: 'Date (UTC)', width: 3, format: minute },
          { key: 'kind', header: 'Kind', width: 2 },
          { key: 'card', header: 'Card', width: 3 },
          { key: 'vehicle', header: 'Vehicle', width: 2 },
          { key: 'driver', header: 'Driver', width: 2 },
          { key: 'odometer', header: 'Odometer', width: 2 },
          { key: 'merchant', header: 'Station', width: 2 },
          { key: 'fuel_milli', header: 'Fuel (l)', width: 2, format: (value) => formatMilli(Number(value)) },
          { key: 'pump_minor', header: 'Pump', width: 2, format: money },
          { key: 'invoiced_minor', header: 'Invoiced', width: 2, format: money },
        ],
        rowsOf(report, 'transactions'),
      );
    },
  );
}

/** The account statement (fleetStatementReport): summary, entries with the running balance, open invoices. */
export function statementPdf(report: Report): Promise<Buffer> {
  const summary = single(report, 'summary');
  const currency = cellText(summary['currency'] ?? '');
  const money = (value: Cell): string => (typeof value === 'number' ? formatMinor(value, currency) : '');
  const fleet = cellText(summary['fleet'] ?? '');
  const until = Date.parse(`${cellText(summary['to'] ?? '')}T00:00:00Z`) + 86_400_000;
  return render({ title: `Statement ${fleet}`, at_ms: until }, (layout) => {
    layout.title(`Statement of account ${fleet}`);
    layout.facts([
      ['Period', `${cellText(summary['from'] ?? '')} to ${cellText(summary['to'] ?? '')}`],
      ['Opening balance', `${money(summary['opening_minor'] ?? null)} ${currency}`],
      ['Invoiced', `${money(summary['invoiced_minor'] ?? null)} ${currency}`],
      ['Paid', `${money(summary['paid_minor'] ?? null)} ${currency}`],
      ['Closing balance', `${money(summary['closing_minor'] ?? null)} ${currency}`],
      ['Of which overdue', `${money(summary['overdue_minor'] ?? null)} ${currency}`],
      ['Not invoiced yet', `${money(summary['unbilled_minor'] ?? null)} ${currency}`],
    ]);
    layout.heading('Entries');
    layout.table(
      [
        { key: 'at', header: 'Date (UTC)', width: 3, format: minute },
        { key: 'type', header: 'Type', width: 2 },
        { key: 'reference', header: 'Reference', width: 3 },
        { key: 'debit_minor', header: 'Debit', width: 2, format: money },
        { key: 'credit_minor', header: 'Credit', width: 2, format: money },
        { key: 'balance_minor', header: 'Balance', width: 2, format: money },
      ],
      rowsOf(report, 'entries'),
    );
    layout.heading('Open invoices');
    layout.table(
      [
        { key: 'number', header: 'Invoice', width: 3 },
        { key: 'issued_at', header: 'Issued', width: 2, format: day },
        { key: 'due_at', header: 'Due', width: 2, format: day },
        { key: 'amount_minor', header: 'Amount', width: 2, format: money },
        { key: 'outstanding_minor', header: 'Outstanding', width: 2, format: money },
        { key: 'days_overdue', header: 'Days overdue', width: 2 },
      ],
      rowsOf(report, 'open_items'),
    );
  });
}
