// One transaction's line items (product, quantity, unit price, amount), for a receipt, read as its
// card or its merchant: the transaction is looked up under the owner the path names (a card and the
// cards it replaced or was replaced by, or a merchant), so a caller scoped to one card or merchant
// never reads another's lines through a transaction id. A transaction that is not the owner's is
// 404, like one that does not exist; one without a basket answers no lines.
//
//   GET /reports/cards/<card>/transactions/<transaction>/lines           sections: transaction, lines
//   GET /reports/merchants/<merchant>/transactions/<transaction>/lines   sections: transaction, lines
//
// Quantities are in thousandths of a unit, prices and amounts in minor units of the transaction's
// currency (as the terminal sent them, and as the card or account was charged for fleet lines:
// invoiced_minor).

import { identifier, stringLiteral } from '../streamer/sql';
import { ParameterError, ReportNotFoundError } from './errors';
import { integer } from './queries';
import { bounded, int, replacementChain, text, type Report, type ReportContext } from './reports';

/** The node's transaction ids ("<incarnation>-<counter>" in base 36), with room to spare. */
const transaction_id_pattern = /^[A-Za-z0-9._:~-]{1,128}$/;
/** Lines one transaction carries at most (the node's own bound is lower). */
export const transaction_lines_max = 1_000;

export type LinesOwner = { readonly card: string } | { readonly merchant: string };

export function transactionIdSegment(parameter: string, segment: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    throw new ParameterError(parameter, 'is not valid percent-encoding');
  }
  if (!transaction_id_pattern.test(decoded)) throw new ParameterError(parameter, 'must be 1..128 of A-Z a-z 0-9 . _ : ~ -');
  return decoded;
}

/** The owner's condition on a row of transactions (sorted by card) or transactions_by_merchant (by merchant). */
function ownerSql(database: string, owner: { cards: readonly string[] } | { merchant: string }): { table: string; where: string } {
  const db = identifier(database);
  return 'cards' in owner
    ? { table: `${db}.transactions_dedup`, where: `card IN (${owner.cards.map(stringLiteral).join(', ')})` }
    : { table: `${db}.transactions_by_merchant_dedup`, where: `merchant = ${stringLiteral(owner.merchant)}` };
}

export function lineTransactionSql(database: string, owner: { cards: readonly string[] } | { merchant: string }, id: string): string {
  const { table, where } = ownerSql(database, owner);
  return `SELECT id, kind, outcome, merchant, terminal, currency, toInt64(amount) AS amount_minor, toUInt64(at_ms) AS at_ms
    FROM ${table}
    WHERE ${where} AND id = ${stringLiteral(id)}
    LIMIT 2`;
}

export function transactionLinesSql(database: string, id: string): string {
  return `SELECT toUInt64(line_no) AS line_no, code, product_group, toInt64(qty_milli) AS qty_milli, toInt64(unit) AS unit_minor,
      toInt64(amount) AS amount_minor, toInt64(invoiced) AS invoiced_minor
    FROM ${identifier(database)}.transaction_lines_dedup
    WHERE id = ${stringLiteral(id)}
    ORDER BY line_no
    LIMIT ${integer(transaction_lines_max + 1)}`;
}

export async function transactionLinesReport(context: ReportContext, owner: LinesOwner, id: string): Promise<Report> {
  const scope = 'card' in owner ? { cards: await replacementChain(context, owner.card) } : { merchant: owner.merchant };
  const [found, lines] = await Promise.all([
    bounded(context, lineTransactionSql(context.database, scope, id)),
    bounded(context, transactionLinesSql(context.database, id), transaction_lines_max),
  ]);
  const transaction = found[0];
  if (transaction === undefined) throw new ReportNotFoundError('no such transaction', { transaction: id });
  return {
    report: 'transaction_lines',
    parameters: { ...owner, transaction: id },
    sections: {
      lines: {
        columns: ['line_no', 'code', 'product_group', 'qty_milli', 'unit_minor', 'amount_minor', 'invoiced_minor'],
        rows: lines.map((row) => ({
          line_no: int(row, 'line_no'),
          code: text(row, 'code'),
          product_group: text(row, 'product_group'),
          qty_milli: int(row, 'qty_milli'),
          unit_minor: int(row, 'unit_minor'),
          amount_minor: int(row, 'amount_minor'),
          invoiced_minor: int(row, 'invoiced_minor'),
        })),
      },
      transaction: {
        columns: ['id', 'kind', 'outcome', 'merchant', 'terminal', 'currency', 'amount_minor', 'at_ms'],
        rows: [
          {
            id: text(transaction, 'id'),
            kind: text(transaction, 'kind'),
            outcome: text(transaction, 'outcome'),
            merchant: text(transaction, 'merchant'),
            terminal: text(transaction, 'terminal'),
            currency: text(transaction, 'currency'),
            amount_minor: int(transaction, 'amount_minor'),
            at_ms: int(transaction, 'at_ms'),
          },
        ],
        single: true,
      },
    },
  };
}
