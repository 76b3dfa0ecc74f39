// Post-event refund campaigns and breakage: pure rules, no I/O, no clock (callers pass now_ms).
//
// A campaign invites a program's cardholders to claim what is left on their cards (a return /
// cash-out, or the program refund run) between its opening day and its deadline. Whatever stored
// value the program still holds when the deadline passes was not claimed: that is its breakage,
// reported per currency. The card balances are not touched (nothing is written off in Redis): the
// float keeps the money, and the report says how much of it is breakage, so it reconciles with
// the float to the minor unit (float now = breakage + what moved after the deadline).

import { z } from 'zod';
import { ParameterError } from './errors';
import { id_pattern } from '../common/ids';
import { parseDate } from './params';

export interface RefundCampaign {
  readonly id: string;
  readonly program: string;
  /** First day claims are taken (UTC midnight, ms). */
  readonly opens_at_ms: number;
  /** End of the last day claims are taken (UTC midnight after it, ms): from here on, what is left is breakage. */
  readonly deadline_ms: number;
  readonly opens: string;
  readonly deadline: string;
  readonly updated_by: string;
  readonly updated_at_ms: number;
}

const day_ms = 86_400_000;
/** A campaign longer than this is a typo. */
export const campaign_days_max = 3_660;

const body_schema = z
  .object({
    program: z.string().regex(id_pattern),
    opens: z.string(),
    deadline: z.string(),
  })
  .strict();

/** Validates a PUT body (dates YYYY-MM-DD, UTC; the deadline day is the last day of claims). */
export function parseCampaign(id: string, body: unknown, operator: string, now_ms: number): RefundCampaign {
  const parsed = body_schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ParameterError(
      issue === undefined || issue.path.length === 0 ? 'body' : issue.path.join('.'),
      issue?.message ?? 'is invalid',
    );
  }
  const opens_at_ms = parseDate('opens', parsed.data.opens);
  const deadline_ms = parseDate('deadline', parsed.data.deadline) + day_ms;
  if (deadline_ms <= opens_at_ms) throw new ParameterError('deadline', 'must not be before opens');
  if (deadline_ms - opens_at_ms > campaign_days_max * day_ms)
    throw new ParameterError('deadline', `at most ${campaign_days_max} days after opens`);
  if (deadline_ms <= now_ms) throw new ParameterError('deadline', 'has passed: a campaign is set up before its deadline');
  return {
    id,
    program: parsed.data.program,
    opens_at_ms,
    deadline_ms,
    opens: parsed.data.opens,
    deadline: parsed.data.deadline,
    updated_by: operator,
    updated_at_ms: now_ms,
  };
}

/** The sums the breakage query returns for one currency (breakageSql in queries.ts). */
export interface BreakageSums {
  readonly currency: string;
  readonly float_at_open_minor: number;
  /** Σ balance_delta (and initial balances of cards issued) between opening and deadline, claims included. */
  readonly movements_minor: number;
  readonly claims: number;
  /** Paid out by claims (cash-outs: balance and deposit). */
  readonly claimed_minor: number;
  readonly after_deadline_minor: number;
  readonly deposits_at_deadline_minor: number;
}

export interface BreakageLine extends BreakageSums {
  readonly float_at_deadline_minor: number;
  /** What the program still held at the deadline: its breakage once the deadline has passed, 0 before. */
  readonly breakage_minor: number;
  /** Deposits still held at the deadline, likewise. */
  readonly deposit_breakage_minor: number;
  /** The float now: float at the deadline + what moved since. Equals the float report's outstanding_minor. */
  readonly float_now_minor: number;
}

function safe(value: number): number {
  if (!Number.isSafeInteger(value)) throw new Error('assertion: breakage total exceeds safe integers');
  return value;
}

export function breakageLines(sums: readonly BreakageSums[], campaign: RefundCampaign, now_ms: number): BreakageLine[] {
  const closed = now_ms >= campaign.deadline_ms;
  return sums.map((row) => {
    const at_deadline = safe(row.float_at_open_minor + row.movements_minor);
    return {
      ...row,
      float_at_deadline_minor: at_deadline,
      breakage_minor: closed ? at_deadline : 0,
      deposit_breakage_minor: closed ? row.deposits_at_deadline_minor : 0,
      float_now_minor: safe(at_deadline + row.after_deadline_minor),
    };
  });
}
