// Bank file formats as pluggable writers: each turns an approved batch into one file. A new format
// is one more entry in `bank_file_writers` (a name, a content type, a file extension and a pure
// write function); the HTTP route GET /settlement/batches/<id>/files/<format> serves any of them.
//
//   csv       the generic bank-transfer CSV (docs/REPORTING.md), every currency, credits and debits
//   pain.001  SEPA credit transfer initiation, ISO 20022 pain.001.001.03, EUR credits only

import { bankTransferCsv, type BankFileInput } from '../settlement-rules';
import { pain001, type SepaDebtor } from './pain001';

export interface BankFileContext {
  /** The operator's own account; formats that need a debtor refuse without it. */
  readonly debtor: SepaDebtor | undefined;
  readonly approved_at_ms: number;
}

/** What a writer answers: the file, or why this batch has none in this format. */
export type BankFile = { readonly ok: true; readonly body: string } | { readonly ok: false; readonly reason: string };

export interface BankFileWriter {
  readonly format: string;
  readonly content_type: string;
  readonly extension: string;
  write(input: BankFileInput, context: BankFileContext): BankFile;
}

export const bank_file_writers: readonly BankFileWriter[] = [
  {
    format: 'csv',
    content_type: 'text/csv; charset=utf-8',
    extension: 'csv',
    write: (input) => ({ ok: true, body: bankTransferCsv(input) }),
  },
  {
    format: 'pain.001',
    content_type: 'application/xml; charset=utf-8',
    extension: 'xml',
    write: (input, context) => {
      if (context.debtor === undefined) return { ok: false, reason: 'no SEPA debtor account is configured (TAPLINE_SEPA_DEBTOR_*)' };
      const body = pain001({ ...input, debtor: context.debtor, approved_at_ms: context.approved_at_ms });
      return body === undefined ? { ok: false, reason: 'the batch has no EUR credit to pay' } : { ok: true, body };
    },
  },
];

export function bankFileWriter(format: string): BankFileWriter | undefined {
  return bank_file_writers.find((writer) => writer.format === format);
}
