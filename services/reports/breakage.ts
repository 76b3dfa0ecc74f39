// Refund campaigns (stored with the settlement state in Redis) and their breakage report (from
// ClickHouse). The rules are breakage-rules.ts; this file validates, stores and queries.
//
//   PUT /settlement/campaigns/<id>          body {program, opens: YYYY-MM-DD, deadline: YYYY-MM-DD}
//   GET /settlement/campaigns/<id>
//   GET /reports/campaigns/<id>/breakage    per currency: float at opening, claims, float at the deadline, breakage

import { auditRecord } from '../../actors/outbox/builders';
import type { Acting } from '../../actors/principal';
import { ParameterError, ReportNotFoundError, SettlementConflictError } from './errors';
import { breakageLines, parseCampaign, type BreakageSums, type RefundCampaign } from './breakage-rules';
import { breakageSql } from './queries';
import { bounded, int, text, type Report, type ReportContext } from './reports';
import type { HttpAnswer } from './settlement';
import type { SettlementStore } from './settlement-store';

const json = (status: number, value: unknown): HttpAnswer => ({ status, type: 'application/json', body: JSON.stringify(value) });

/** PUT/GET /settlement/campaigns/<id>. */
export async function campaignRequest(
  store: SettlementStore,
  method: string,
  id: string,
  acting: Acting,
  body: string,
  now_ms: number,
): Promise<HttpAnswer | undefined> {
  if (method === 'GET' || method === 'HEAD') {
    const campaign = await store.campaign(id);
    if (campaign === undefined) throw new ReportNotFoundError('no such refund campaign', { campaign: id });
    return json(200, campaign);
  }
  if (method !== 'PUT') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(body === '' ? '{}' : body);
  } catch {
    throw new ParameterError('body', 'is not JSON');
  }
  const campaign = parseCampaign(id, value, acting.subject, now_ms);
  // The campaign and its audit record are written by one script: the record exists exactly when the change does.
  const before = await store.campaign(id);
  const audit = auditRecord({ actor: acting, changes: [{ entity: `refund-campaign:${id}`, before, after: campaign }], at: now_ms });
  if ((await store.putCampaign(campaign, now_ms, audit)) === 'closed')
    throw new SettlementConflictError('the campaign has passed its deadline; its breakage is final', { campaign: id });
  return json(200, campaign);
}

async function campaignOf(context: ReportContext, id: string): Promise<RefundCampaign> {
  if (context.settlement === undefined) throw new ReportNotFoundError('campaigns are not served here');
  const campaign = await context.settlement.campaign(id);
  if (campaign === undefined) throw new ReportNotFoundError('no such refund campaign', { campaign: id });
  return campaign;
}

/** The breakage of a campaign's program, per currency. */
export async function breakageReport(context: ReportContext, id: string): Promise<Report> {
  const campaign = await campaignOf(context, id);
  const now_ms = (context.now ?? Date.now)();
  const rows = await bounded(context, breakageSql(context.database, campaign.program, campaign.opens_at_ms, campaign.deadline_ms));
  const sums: BreakageSums[] = rows.map((row) => ({
    currency: text(row, 'currency'),
    float_at_open_minor: int(row, 'float_at_open_minor'),
    movements_minor: int(row, 'movements_minor'),
    claims: int(row, 'claims'),
    claimed_minor: int(row, 'claimed_minor'),
    after_deadline_minor: int(row, 'after_deadline_minor'),
    deposits_at_deadline_minor: int(row, 'deposits_at_deadline_minor'),
  }));
  const lines = breakageLines(sums, campaign, now_ms);
  return {
    report: 'breakage',
    parameters: { campaign: id, program: campaign.program, opens: campaign.opens, deadline: campaign.deadline },
    sections: {
      currencies: {
        columns: [
          'currency',
          'float_at_open_minor',
          'movements_minor',
          'claims',
          'claimed_minor',
          'float_at_deadline_minor',
          'breakage_minor',
          'deposits_at_deadline_minor',
          'deposit_breakage_minor',
          'after_deadline_minor',
          'float_now_minor',
        ],
        rows: lines.map((line) => ({ ...line })),
      },
      summary: {
        columns: ['campaign', 'program', 'state'],
        rows: [{ campaign: id, program: campaign.program, state: now_ms >= campaign.deadline_ms ? 'closed' : 'open' }],
        single: true,
      },
    },
  };
}
