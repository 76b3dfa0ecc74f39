// One report section as RFC 4180 CSV: a header line of the section's columns, then one line per
// row, CRLF-terminated. Text that a spreadsheet would run as a formula (=, +, -, @ first) is
// prefixed with an apostrophe; numbers are written as they are, so negative amounts stay numbers.

import type { Cell, Section } from './reports';

const formula_start = /^[=+\-@\t\r]/;

export function csvCell(value: Cell): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const safe = formula_start.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function sectionCsv(section: Section): string {
  const lines = [section.columns.map(csvCell).join(',')];
  for (const row of section.rows) lines.push(section.columns.map((column) => csvCell(row[column] ?? null)).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
