// Validation of ReportPour (the beer-tap link): every field is checked here before the use case
// runs, so a bad report is INVALID_ARGUMENT naming the field and writes nothing.

import { invalidArgument } from '../../../actors/errors';
import { poured_ml_max } from '../../../actors/outbox/schemas';
import { unix_ms_max } from '../../../actors/outbox/contract';
import type { ReportPourRequest } from '../../../gen/tapline/v1/authorization';
import type { PourReport } from '../usecases/tap-pours';
import { requireId, requireTxnNumber } from './validate';

/** The longest period one report may cover: a tap reports at least every 31 days. */
export const pour_period_ms_max = 31 * 86_400_000;

export function parseReportPour(request: ReportPourRequest): PourReport {
  const terminalId = requireId('terminal_id', request.terminalId);
  const reportId = requireId('report_id', request.reportId);
  if (request.pouredMl < 0n || request.pouredMl > BigInt(poured_ml_max))
    throw invalidArgument(`poured_ml must be between 0 and ${poured_ml_max}`, { field: 'poured_ml' });
  const product = request.productCode === '' ? '' : requireId('product_code', request.productCode);
  const subject = request.subject;
  if (subject === undefined) throw invalidArgument('one of terminal_txn_number or period is required', { field: 'subject' });
  if (subject.$case === 'terminalTxnNumber')
    return {
      terminalId,
      reportId,
      subject: { txn: requireTxnNumber('terminal_txn_number', subject.value) },
      poured_ml: Number(request.pouredMl),
      product,
    };
  const from = subject.value.fromUnixMs;
  const to = subject.value.toUnixMs;
  if (from < 0n || to > BigInt(unix_ms_max) || from >= to) throw invalidArgument('period must have 0 <= from < to', { field: 'period' });
  if (to - from > BigInt(pour_period_ms_max)) throw invalidArgument('period is at most 31 days', { field: 'period' });
  return { terminalId, reportId, subject: { from_ms: Number(from), to_ms: Number(to) }, poured_ml: Number(request.pouredMl), product };
}
