// The one place where names and values are turned into SQL text. ClickHouse 18.16 has no
// {name:Type} query parameters, so anything spliced into a statement goes through here:
// identifiers are validated (never quoted or escaped: a bad name is refused), string literals
// are escaped. Rows themselves never pass through SQL text: they are sent as JSONEachRow.

import { SqlInputError } from './errors';

/** A plain ClickHouse identifier: a letter or underscore, then letters, digits, underscores. */
export const identifier_pattern = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Returns `name` unchanged if it is a plain identifier, else throws SqlInputError. */
export function identifier(name: string): string {
  if (!identifier_pattern.test(name)) {
    throw new SqlInputError('not a plain SQL identifier', { name });
  }
  return name;
}

/**
 * A single-quoted ClickHouse string literal. Backslash is ClickHouse's escape character inside
 * literals, so it is escaped first, then the quote; control characters that could end a
 * statement in a log or a multi-statement script are written as escapes.
 */
export function stringLiteral(value: string): string {
  const escaped = value
    .replace(/\\/g, '\\\\')
    .replace(/'/g, "\\'")
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t')
    .replace(/\0/g, '\\0');
  return `'${escaped}'`;
}
