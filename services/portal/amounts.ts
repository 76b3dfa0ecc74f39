// Amounts typed in the portal's forms, read as exact minor units (never through a float).

import { invalidArgument } from '../../actors/errors';

/** Amounts typed in a form: up to 9 whole digits and 2 decimals (a fleet limit, a top-up). */
const amount_pattern = /^(\d{1,9})(?:[.,](\d{1,2}))?$/;

/** An amount typed in a form as minor units (exact), undefined when left empty. */
export function minorOf(text: string, name: string): bigint | undefined {
  if (text === '') return undefined;
  const match = amount_pattern.exec(text);
  if (match === null) throw invalidArgument(`${name} must be an amount like 40 or 40.50`, { field: name });
  return BigInt(match[1] ?? '0') * 100n + BigInt((match[2] ?? '').padEnd(2, '0'));
}
