// The beer-tap registration link: a tap (a terminal) reports what it poured, for one paid sale or
// as a total over a period. The report moves no money and changes no entity: it is one `tap_pour`
// outbox document (actors/outbox), committed on the terminal's shard (fenced by its epoch) with an
// idempotency record under "k:tap-pour/<terminal>/<report>", so a retried report is answered from
// the first and written once; a report id reused for a different pour is refused. ClickHouse keeps
// the reports (tap_pours) and GET /reports/taps compares them with the volume paid at the tap.

import { alreadyExists, notFound, resourceExhausted, shardMoved, unavailable, type Outcome } from '../../../actors/errors';
import { tapPour } from '../../../actors/outbox/builders';
import { tap_pour_schema } from '../../../actors/outbox/schemas';
import { tapPourKey, terminalTxnKey } from '../../../actors/request-keys';
import type { Persistence } from '../../../actors/runtime/persistence';
import { shardOf } from '../../../actors/sharding/shard-key';
import { decodeTerminalState } from '../../../actors/state/terminal';

export interface PourReport {
  readonly terminalId: string;
  readonly reportId: string;
  /** The sale's terminal transaction number, or a period: exactly one. */
  readonly subject: { readonly txn: bigint } | { readonly from_ms: number; readonly to_ms: number };
  readonly poured_ml: number;
  readonly product: string;
}

export interface PourAnswer {
  readonly reportId: string;
  readonly replayed: boolean;
}

/** The fields that make two reports the same report (the time it was received is not one of them). */
function sameReport(existing: string, document: string): boolean {
  const a = tap_pour_schema.safeParse(JSON.parse(existing));
  const b = tap_pour_schema.safeParse(JSON.parse(document));
  if (!a.success || !b.success) return false;
  return (['terminal', 'report', 'transaction', 'from', 'to', 'poured_ml', 'product'] as const).every(
    (field) => a.data[field] === b.data[field],
  );
}

export class TapPours {
  constructor(
    private readonly persistence: Persistence,
    private readonly shard_count: number,
    private readonly clock: () => number,
  ) {}

  report(report: PourReport, reply: (outcome: Outcome<PourAnswer>) => void): void {
    const shard = shardOf('terminal', report.terminalId, this.shard_count);
    this.persistence.loadEntity(shard, { kind: 'terminal', id: report.terminalId }).then(
      (record) => {
        if (record.data === undefined) return reply({ ok: false, error: notFound('unknown terminal', { terminalId: report.terminalId }) });
        const terminal = decodeTerminalState(record.data);
        this.commit(shard, report, terminal.merchantId, reply);
      },
      (error: unknown) => reply({ ok: false, error: unavailable('could not read the terminal', {}, { cause: error }) }),
    );
  }

  private commit(shard: number, report: PourReport, merchantId: string, reply: (outcome: Outcome<PourAnswer>) => void): void {
    const period = 'txn' in report.subject ? { from: 0, to: 0 } : { from: report.subject.from_ms, to: report.subject.to_ms };
    const document = tapPour({
      terminal: report.terminalId,
      merchant: merchantId,
      report: report.reportId,
      transaction: 'txn' in report.subject ? terminalTxnKey(report.terminalId, report.subject.txn) : '',
      ...period,
      poured_ml: report.poured_ml,
      product: report.product,
      at: this.clock(),
    });
    const submitted = this.persistence.submit({
      shard,
      writes: [],
      idempotency: { key: tapPourKey(report.terminalId, report.reportId), value: document },
      outbox: document,
      settle: (result) => {
        if (result.status === 'committed') return reply({ ok: true, value: { reportId: report.reportId, replayed: false } });
        if (result.status === 'duplicate')
          return sameReport(result.existing, document)
            ? reply({ ok: true, value: { reportId: report.reportId, replayed: true } })
            : reply({ ok: false, error: alreadyExists('report_id was used for a different pour', { reportId: report.reportId }) });
        if (result.status === 'fenced')
          return reply({ ok: false, error: shardMoved('terminal shard moved; retry on its owner', { terminalId: report.terminalId }) });
        return reply({ ok: false, error: unavailable('pour report did not land; retry', { status: result.status }) });
      },
    });
    if (!submitted) reply({ ok: false, error: resourceExhausted('commit queue full') });
  }
}
