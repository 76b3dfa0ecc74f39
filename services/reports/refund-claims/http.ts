// Holders' refund claims of unspent money to a bank account, and their payout under four eyes.
//
//   GET  /refund-claims/cards/<card>              the card's claim (IBAN masked)
//   PUT  /refund-claims/cards/<card>              body {holder_name, iban, bic?}: the holder claims, or
//                                                 replaces the bank details of a claim not yet in payout
//   GET  /refund-claims/programs/<program>        the refund window, every claim (masked) and the runs
//   PUT  /refund-claims/programs/<program>        body {opens, closes?} (ISO 8601 UTC): when holders may claim
//   POST /refund-claims/programs/<program>/runs   an issuer proposes a run of every submitted claim
//   GET  /refund-claims/runs/<run>                the run, its claims and what each was paid
//   POST /refund-claims/runs/<run>/approve        a settlement approver (not the proposer) approves; each
//                                                 claimed card is then cashed out AS THE APPROVER
//                                                 (ReturnCard, key "refund-claim:<card>:<n>"); posting
//                                                 again finishes an approved run a failure interrupted
//   GET  /refund-claims/runs/<run>/pain.001       the SEPA credit-transfer file of a paid run
//
// Claim states: submitted -> in_payout (proposed into a run) -> paid (with the amount the cash-out
// paid, possibly 0) or rejected (the node declined the cash-out: its reason). A rejected claim may
// be submitted again (a new claim, a new cash-out key). Who acts is the caller's token subject; every
// change writes its audit record in the same Redis script (store.ts). The IBAN is never logged, never
// in an audit record, and masked in every answer but the payout file.

import { auditRecord } from '../../../actors/outbox/builders';
import type { Acting } from '../../../actors/principal';
import { id_pattern } from '../../common/ids';
import { pain001OfCredits, type SepaCredit, type SepaDebtor } from '../bank-files/pain001';
import { ParameterError, ReportNotFoundError, ReportTooLargeError, SettlementConflictError, SettlementForbiddenError } from '../errors';
import type { HttpAnswer } from '../settlement';
import type { RefundCards } from './cards';
import { checkBic, checkIban, maskIban, type IbanProblem } from './iban';
import type { ClaimDetails, RefundClaimStore, StoredClaim, StoredRun } from './store';

export interface RefundClaimsContext {
  readonly store: RefundClaimStore;
  readonly cards: RefundCards;
  readonly now: () => number;
  readonly debtor?: SepaDebtor;
}

/** Claims one run pays, and one listing shows: a run is paid card by card within the approver's token life. */
export const run_claims_max = 1_000;
/** The currency a SEPA credit transfer pays: cards in any other take no claim. */
const sepa_currency = 'EUR';
export const run_id_pattern = /^([A-Za-z0-9._-]{1,64})\.refund\.([0-9]{1,9})$/;

/** SEPA's name alphabet with letters of any script: 1-70 characters, no markup characters. */
const holder_name_pattern = /^[\p{L}\p{M}0-9 /?:().,'+-]{1,70}$/u;

/** The route a request names (policy.ts has a rule per name), or undefined. */
export function refundClaimRouteOf(method: string, path: string): { name: string; params: string[] } | undefined {
  const [collection, rawId, action, beyond] = path.split('?')[0]?.split('/').slice(2) ?? [];
  if (beyond !== undefined || rawId === undefined || rawId === '') return undefined;
  const id = safeDecode(rawId);
  const write = method === 'PUT' || method === 'POST';
  if (collection === 'cards' && action === undefined)
    return { name: write ? 'refund_claims.card.put' : 'refund_claims.card.get', params: [id] };
  if (collection === 'programs' && action === undefined)
    return { name: write ? 'refund_claims.window.put' : 'refund_claims.program.get', params: [id] };
  if (collection === 'programs' && action === 'runs' && method === 'POST') return { name: 'refund_claims.run.propose', params: [id] };
  if (collection === 'runs' && action === undefined && !write) return { name: 'refund_claims.run.get', params: [id] };
  if (collection === 'runs' && action === 'approve' && method === 'POST') return { name: 'refund_claims.run.approve', params: [id] };
  if (collection === 'runs' && action === 'pain.001' && !write) return { name: 'refund_claims.run.file', params: [id] };
  return undefined;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function json(status: number, body: unknown): HttpAnswer {
  return { status, type: 'application/json', body: JSON.stringify(body) };
}

function idOf(parameter: string, value: string): string {
  if (!id_pattern.test(value)) throw new ParameterError(parameter, 'must be 1-64 characters of A-Z a-z 0-9 . _ -');
  return value;
}

function runIdOf(value: string): string {
  if (!run_id_pattern.test(value)) throw new ParameterError('runId', 'must be "<program>.refund.<n>"');
  return value;
}

/** A JSON object of only the named fields, each a string; anything else is a ParameterError. */
function bodyOf(body: string, allowed: readonly string[]): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ParameterError('body', 'must be a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ParameterError('body', 'must be a JSON object');
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (!allowed.includes(name)) throw new ParameterError(name, 'is not a field of this request');
    if (typeof value !== 'string') throw new ParameterError(name, 'must be a string');
    fields[name] = value;
  }
  return fields;
}

/** What every answer shows of a claim: the IBAN masked. */
export function claimView(claim: StoredClaim): Record<string, unknown> {
  return {
    card: claim.card,
    program: claim.program,
    currency: claim.currency,
    state: claim.state,
    holder_name: claim.holder_name,
    iban: maskIban(claim.iban),
    bic: claim.bic,
    submitted_at_ms: claim.submitted_at_ms,
    updated_at_ms: claim.updated_at_ms,
    run: claim.run,
    paid_minor: claim.paid_minor,
    transaction: claim.transaction,
    reason: claim.reason,
  };
}

function runView(run: StoredRun, claims: readonly StoredClaim[]): Record<string, unknown> {
  const mine = claims.filter((claim) => claim.run === run.id);
  return {
    id: run.id,
    program: run.program,
    state: run.state,
    proposed_by: run.proposed_by,
    proposed_at_ms: run.proposed_at_ms,
    approved_by: run.approved_by,
    approved_at_ms: run.approved_at_ms,
    claims: mine.map(claimView),
    paid_minor: mine.reduce((sum, claim) => sum + (claim.state === 'paid' ? claim.paid_minor : 0), 0),
    in_payout: mine.filter((claim) => claim.state === 'in_payout').length,
  };
}

/** The cash-out key of a claim: one per claim (its card and number), so a run retried pays no card twice. */
export function claimCashOutKey(claim: Pick<StoredClaim, 'card' | 'n'>): string {
  return `refund-claim:${claim.card}:${claim.n}`;
}

/**
 * Routes one request below /refund-claims/, made by `acting` with its bearer token `bearer` (the
 * node is called as that person). Throws ParameterError, ReportNotFoundError,
 * SettlementConflictError, SettlementForbiddenError.
 */
export async function refundClaimRequest(
  context: RefundClaimsContext,
  method: string,
  path: string,
  acting: Acting | undefined,
  bearer: string,
  body: string,
): Promise<HttpAnswer> {
  const route = refundClaimRouteOf(method, path);
  if (route === undefined) throw new ReportNotFoundError('no such refund-claim resource', {});
  const [param = ''] = route.params;
  if (route.name.endsWith('.put') || route.name.endsWith('.propose') || route.name.endsWith('.approve'))
    if (acting === undefined) throw new Error('assertion: a refund-claim change without its caller');
  const who = acting as Acting;
  switch (route.name) {
    case 'refund_claims.card.get': {
      const claim = await context.store.claim(idOf('cardId', param));
      if (claim === undefined) throw new ReportNotFoundError('the card has no refund claim', { card: param });
      return json(200, claimView(claim));
    }
    case 'refund_claims.card.put':
      return submitClaim(context, idOf('cardId', param), who, bearer, body);
    case 'refund_claims.program.get':
      return programListing(context, idOf('programId', param));
    case 'refund_claims.window.put':
      return putWindow(context, idOf('programId', param), who, body);
    case 'refund_claims.run.propose':
      return proposeRun(context, idOf('programId', param), who);
    case 'refund_claims.run.get': {
      const run = await runOf(context, runIdOf(param));
      return json(200, runView(run, await context.store.claims(run.program, run_claims_max)));
    }
    case 'refund_claims.run.approve':
      return approveRun(context, runIdOf(param), who, bearer);
    case 'refund_claims.run.file':
      return runFile(context, runIdOf(param));
    default:
      throw new ReportNotFoundError('no such refund-claim resource', {});
  }
}

async function runOf(context: RefundClaimsContext, id: string): Promise<StoredRun> {
  const run = await context.store.run(id);
  if (run === undefined) throw new ReportNotFoundError('no such refund run', { run: id });
  return run;
}

/** The holder's claim: bad input is refused before anything is read or written. */
async function submitClaim(context: RefundClaimsContext, card: string, acting: Acting, bearer: string, body: string): Promise<HttpAnswer> {
  const fields = bodyOf(body, ['holder_name', 'iban', 'bic']);
  const holder_name = (fields['holder_name'] ?? '').trim().replace(/\s+/g, ' ');
  if (!holder_name_pattern.test(holder_name))
    throw new ParameterError('holder_name', "must be 1-70 letters, digits, spaces or / ? : ( ) . , ' + -");
  const iban = checkIban(fields['iban'] ?? '');
  if (!iban.ok) throw new ParameterError('iban', ibanMessage[iban.problem]);
  const bicText = (fields['bic'] ?? '').trim();
  const bic = bicText === '' ? '' : checkBic(bicText);
  if (bic === undefined) throw new ParameterError('bic', 'must be a BIC of 8 or 11 letters and digits');
  const found = await context.cards.card(bearer, card);
  if (found === undefined) throw new ReportNotFoundError('no such card', { card });
  if (!found.claimable) throw new SettlementConflictError('the card is closed or replaced: it has nothing to claim', { card });
  if (found.currency !== sepa_currency)
    throw new SettlementConflictError('only cards in EUR can be refunded to a bank account', { card, currency: found.currency });
  const now_ms = context.now();
  const window = await context.store.window(found.program);
  if (window === undefined || now_ms < window.opens_ms || (window.closes_ms !== 0 && now_ms >= window.closes_ms))
    throw new SettlementConflictError('refunds to a bank account are not open for this card now', { card, program: found.program });
  const details: ClaimDetails = {
    card,
    program: found.program,
    currency: found.currency,
    holder_name,
    iban: iban.iban,
    bic,
    submitted_at_ms: now_ms,
    submitted_by: acting.subject,
  };
  const audit = auditRecord({
    actor: acting,
    changes: [{ entity: `refund-claim:${card}`, before: undefined, after: { state: 'submitted', iban: maskIban(iban.iban) } }],
    at: now_ms,
  });
  const result = await context.store.submit(details, now_ms, audit);
  if (result === 'in_payout') throw new SettlementConflictError('the claim is being paid: its bank details can no longer change', { card });
  if (result === 'paid') throw new SettlementConflictError('the claim was paid', { card });
  const claim = await context.store.claim(card);
  if (claim === undefined) throw new Error('assertion: a claim just written is missing');
  return json(result === 'submitted' ? 201 : 200, claimView(claim));
}

const ibanMessage: Readonly<Record<IbanProblem, string>> = {
  format: 'must be an IBAN: two letters, two check digits, then letters and digits',
  country: 'must be an account in a SEPA country',
  length: 'has the wrong length for its country',
  checksum: 'has wrong check digits (mistyped?)',
};

async function programListing(context: RefundClaimsContext, program: string): Promise<HttpAnswer> {
  const claims = await context.store.claims(program, run_claims_max * 10);
  if (claims.length > run_claims_max * 10) throw new ReportTooLargeError('more claims than one listing carries', {});
  const runs: Record<string, unknown>[] = [];
  for (const id of await context.store.runs(program)) {
    const run = await context.store.run(id);
    if (run !== undefined) runs.push(runView(run, claims));
  }
  const window = await context.store.window(program);
  return json(200, { program, window: window ?? null, claims: claims.map(claimView), runs });
}

function instantOf(parameter: string, text: string): number {
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$/.test(text))
    throw new ParameterError(parameter, 'must be YYYY-MM-DDTHH:MM:SSZ');
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new ParameterError(parameter, 'is not a date');
  return ms;
}

async function putWindow(context: RefundClaimsContext, program: string, acting: Acting, body: string): Promise<HttpAnswer> {
  const fields = bodyOf(body, ['opens', 'closes']);
  const opens_ms = instantOf('opens', fields['opens'] ?? '');
  const closes_ms = fields['closes'] === undefined ? 0 : instantOf('closes', fields['closes']);
  if (closes_ms !== 0 && closes_ms <= opens_ms) throw new ParameterError('closes', 'must be after opens');
  const window = { program, opens_ms, closes_ms };
  const before = await context.store.window(program);
  const audit = auditRecord({ actor: acting, changes: [{ entity: `refund-window:${program}`, before, after: window }], at: context.now() });
  await context.store.putWindow(window, audit);
  return json(200, window);
}

async function proposeRun(context: RefundClaimsContext, program: string, acting: Acting): Promise<HttpAnswer> {
  const id = await context.store.nextRunId(program);
  const now_ms = context.now();
  const audit = auditRecord({
    actor: acting,
    changes: [{ entity: `refund-run:${id}`, before: undefined, after: { state: 'proposed', proposed_by: acting.subject } }],
    at: now_ms,
  });
  const result = await context.store.propose(id, program, acting.subject, now_ms, run_claims_max, audit);
  if (result === 'empty') throw new SettlementConflictError('the program has no submitted claim to pay', { program });
  if (result === 'too_many') throw new ReportTooLargeError('more submitted claims than one run pays', { run_claims_max });
  if (result === 'exists') throw new SettlementConflictError('a run with this id exists; propose again', { run: id });
  const run = await runOf(context, id);
  return json(201, runView(run, await context.store.claims(program, run_claims_max * 10)));
}

async function approveRun(context: RefundClaimsContext, id: string, acting: Acting, bearer: string): Promise<HttpAnswer> {
  const before = await runOf(context, id);
  if (before.state === 'proposed') {
    const now_ms = context.now();
    const audit = auditRecord({
      actor: acting,
      changes: [{ entity: `refund-run:${id}`, before: { state: 'proposed' }, after: { state: 'approved', approved_by: acting.subject } }],
      at: now_ms,
    });
    const result = await context.store.approve(id, acting.subject, now_ms, audit);
    if (result === 'same_principal') throw new SettlementForbiddenError('the proposer of a refund run cannot approve it', { run: id });
    if (result === 'missing') throw new ReportNotFoundError('no such refund run', { run: id });
  }
  const run = await runOf(context, id);
  if (run.state === 'approved') await payRun(context, run, acting, bearer);
  const after = await runOf(context, id);
  return json(200, runView(after, await context.store.claims(after.program, run_claims_max * 10)));
}

/**
 * Cashes out each claim of an approved run still in payout, as the approver, with the claim's own
 * key: a card is paid at most once whatever is retried (the node answers a key it has seen with
 * its stored cash-out). A cash-out whose outcome is unknown (the node unavailable) leaves its
 * claim in payout; approving again finishes it.
 */
export async function payRun(
  context: Pick<RefundClaimsContext, 'store' | 'cards' | 'now'>,
  run: StoredRun,
  acting: Acting,
  bearer: string,
): Promise<void> {
  for (const card of run.cards) {
    const claim = await context.store.claim(card);
    if (claim === undefined || claim.state !== 'in_payout' || claim.run !== run.id) continue;
    let outcome;
    try {
      outcome = await context.cards.cashOut(bearer, card, claimCashOutKey(claim));
    } catch (error) {
      if (error instanceof SettlementForbiddenError) throw error;
      continue;
    }
    const settled = outcome.paid
      ? { state: 'paid' as const, paid_minor: outcome.payout_minor, transaction: outcome.transaction, reason: '' }
      : { state: 'rejected' as const, paid_minor: 0, transaction: '', reason: outcome.reason };
    if (outcome.paid && outcome.currency !== claim.currency && outcome.payout_minor !== 0)
      throw new Error('assertion: a cash-out paid in another currency than the claim');
    const now_ms = context.now();
    const audit = auditRecord({
      actor: acting,
      changes: [{ entity: `refund-claim:${card}`, before: { state: 'in_payout' }, after: settled }],
      at: now_ms,
    });
    await context.store.settleClaim(run.id, card, settled, now_ms, audit);
  }
}

/** The credits of a paid run's file: every claim paid more than 0, in card order. */
export function runCredits(run: StoredRun, claims: readonly StoredClaim[]): SepaCredit[] {
  return claims
    .filter((claim) => claim.run === run.id && claim.state === 'paid' && claim.paid_minor > 0)
    .map((claim) => ({
      direction: 'credit',
      payee_name: claim.holder_name,
      payee_iban: claim.iban,
      payee_bic: claim.bic,
      currency: claim.currency,
      amount_minor: claim.paid_minor,
      reference: `TAPLINE REFUND ${claim.card}`,
    }));
}

async function runFile(context: RefundClaimsContext, id: string): Promise<HttpAnswer> {
  const run = await runOf(context, id);
  if (run.state !== 'paid')
    throw new SettlementConflictError('the run is not paid yet: its file would be incomplete', { run: id, state: run.state });
  if (context.debtor === undefined) throw new SettlementConflictError('no SEPA debtor account is configured (TAPLINE_SEPA_DEBTOR_*)', {});
  const credits = runCredits(run, await context.store.claims(run.program, run_claims_max * 10));
  if (credits.length === 0) throw new SettlementConflictError('the run paid nothing to transfer', { run: id });
  const body = pain001OfCredits({ file_id: `refund-run:${run.id}`, debtor: context.debtor, created_at_ms: run.approved_at_ms, credits });
  return {
    status: 200,
    type: 'application/xml; charset=utf-8',
    body,
    headers: { 'content-disposition': `attachment; filename="${run.id}.pain.001.xml"` },
  };
}
