// Property (fast-check, real Redis): for random sets of claimed cards (balances, deposits, offline
// debt, cards returned at the desk before the payout) and random failures of the cash-outs (before
// the node applied one, or after: outcome unknown), approving a proposed run again until it is paid
// pays each card at most once; the run's payouts equal the sum of what the cash-outs paid (balance +
// deposit - debt, never below 0), each claim shows what its card paid, a card returned first closes
// its claim as rejected, and running the payout again afterwards changes nothing.
//
// The node's cash-out is played by a ledger with ReturnCard's contract (idempotent by key, a closed
// card declined `card_closed`, debt recovered from balance + deposit first); the claims store, its
// scripts and the payout loop are the real ones.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { auditRecord } from '../../actors/outbox/builders';
import type { Acting } from '../../actors/principal';
import { singleRedis } from '../../services/common/redis-target';
import type { CashOut, ClaimedCard, RefundCards } from '../../services/reports/refund-claims/cards';
import { payRun, run_claims_max } from '../../services/reports/refund-claims/http';
import { RedisRefundClaimStore } from '../../services/reports/refund-claims/store';
import type { RedisInstance } from '../../tools/devenv/redis';
import { startTestRedis } from '../support/harness';

const seed = Number(process.env['TAPLINE_TEST_SEED'] ?? Date.now() % 1_000_000);

interface LedgerCard {
  balance: number;
  deposit: number;
  debt: number;
  closed: boolean;
  /** Cash-outs that moved money (at most one is the property). */
  applied: number;
  paid: number;
  readonly answers: Map<string, CashOut>;
}

/** ReturnCard's contract over in-memory cards, with failures injected from a schedule. */
class Ledger implements RefundCards {
  readonly cards = new Map<string, LedgerCard>();
  constructor(private readonly failures: ('none' | 'before' | 'after')[]) {}

  card(): Promise<ClaimedCard | undefined> {
    throw new Error('not used by the payout');
  }

  cashOut(_bearer: string, card: string, key: string): Promise<CashOut> {
    const failure = this.failures.shift() ?? 'none';
    if (failure === 'before') return Promise.reject(new Error('UNAVAILABLE before the commit'));
    const state = this.cards.get(card);
    if (state === undefined) throw new Error(`no card ${card}`);
    let answer = state.answers.get(`${card}|${key}`);
    if (answer === undefined) {
      if (state.closed) answer = { paid: false, reason: 'card_closed' };
      else {
        const payout = Math.max(0, state.balance + state.deposit - state.debt);
        state.closed = true;
        state.applied += 1;
        state.paid += payout;
        state.balance = 0;
        state.deposit = 0;
        answer = { paid: true, payout_minor: payout, currency: 'EUR', transaction: `tx-${card}` };
      }
      state.answers.set(`${card}|${key}`, answer);
    }
    return failure === 'after' ? Promise.reject(new Error('UNAVAILABLE after the commit')) : Promise.resolve(answer);
  }

  close(): void {}
}

const issuer: Acting = { subject: 'staff:ida', role: 'issuer_admin', scope: '*', action: 'refund_claims.run.propose' };
const approver: Acting = { subject: 'staff:bob', role: 'settlement_approver', scope: '*', action: 'refund_claims.run.approve' };

describe('refund claims: a run pays each card at most once, and pays what the cards held (property, real Redis)', function () {
  this.timeout(180_000);
  let redis: RedisInstance;
  let store: RedisRefundClaimStore;
  let program_no = 0;

  before(async function () {
    redis = await startTestRedis('refund-claims-properties');
    store = await RedisRefundClaimStore.connect(singleRedis(redis.url));
  });

  after(async function () {
    await store?.close();
    await redis?.stop();
  });

  it('holds for random claims, balances, debts and cash-out failures', async function () {
    const card = fc.record({
      balance: fc.integer({ min: 0, max: 1_000_000 }),
      deposit: fc.constantFrom(0, 250, 500),
      debt: fc.integer({ min: 0, max: 2_000 }),
      claims: fc.boolean(),
      returned_first: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(card, { minLength: 1, maxLength: 10 }),
        fc.array(fc.constantFrom<'none' | 'before' | 'after'>('none', 'none', 'before', 'after'), { maxLength: 30 }),
        async (cards, failures) => {
          program_no += 1;
          const program = `prop-${seed}-${program_no}`;
          const ledger = new Ledger([...failures]);
          const now = Date.UTC(2026, 6, 1);
          const audit = (actor: Acting, entity: string): string =>
            auditRecord({ actor, changes: [{ entity, before: undefined, after: { x: 1 } }], at: now });
          const claimed: string[] = [];
          for (const [index, spec] of cards.entries()) {
            const id = `${program}-c${index}`;
            ledger.cards.set(id, { ...spec, closed: false, applied: 0, paid: 0, answers: new Map() });
            if (!spec.claims) continue;
            claimed.push(id);
            const details = {
              card: id,
              program,
              currency: 'EUR',
              holder_name: `Holder ${index}`,
              iban: 'NL91ABNA0417164300',
              bic: '',
              submitted_at_ms: now,
              submitted_by: `card:${id}`,
            };
            assert.equal(await store.submit(details, now, audit({ ...issuer, subject: `card:${id}` }, id)), 'submitted');
          }
          // Cards returned at the desk before the payout (their own key): the claim's cash-out is declined.
          for (const [index, spec] of cards.entries())
            if (spec.returned_first) {
              const state = ledger.cards.get(`${program}-c${index}`);
              if (state !== undefined) {
                state.paid += Math.max(0, state.balance + state.deposit - state.debt);
                state.applied += 1;
                state.closed = true;
              }
            }
          const run = await store.nextRunId(program);
          const proposed = await store.propose(run, program, issuer.subject, now, run_claims_max, audit(issuer, run));
          if (claimed.length === 0) {
            assert.equal(proposed, 'empty');
            return;
          }
          assert.equal(proposed, 'changed');
          assert.equal(await store.approve(run, issuer.subject, now, audit(issuer, run)), 'same_principal');
          assert.equal(await store.approve(run, approver.subject, now, audit(approver, run)), 'changed');
          // A second run finds nothing to pay: every claim is in the first.
          assert.equal(await store.propose(await store.nextRunId(program), program, issuer.subject, now, run_claims_max, 'x'), 'empty');
          for (let attempt = 0; attempt < 40; attempt += 1) {
            const stored = await store.run(run);
            assert.ok(stored !== undefined);
            if (stored.state === 'paid') break;
            await payRun({ store, cards: ledger, now: () => now }, stored, approver, 'token');
          }
          const done = await store.run(run);
          assert.equal(done?.state, 'paid');
          // Paying again after it is paid changes nothing.
          await payRun({ store, cards: ledger, now: () => now }, done, approver, 'token');
          let claims_paid = 0;
          let ledger_paid_to_claims = 0;
          for (const [index, spec] of cards.entries()) {
            const id = `${program}-c${index}`;
            const state = ledger.cards.get(id);
            assert.ok(state !== undefined);
            assert.ok(state.applied <= 1, `${id} paid ${state.applied} times`);
            if (!spec.claims) continue;
            const claim = await store.claim(id);
            assert.ok(claim !== undefined);
            const expected = Math.max(0, spec.balance + spec.deposit - spec.debt);
            if (spec.returned_first) {
              assert.equal(claim.state, 'rejected');
              assert.equal(claim.reason, 'card_closed');
              assert.equal(claim.paid_minor, 0);
            } else {
              assert.equal(claim.state, 'paid');
              assert.equal(claim.paid_minor, expected);
              assert.equal(state.paid, expected);
              ledger_paid_to_claims += state.paid;
            }
            claims_paid += claim.paid_minor;
          }
          assert.equal(claims_paid, ledger_paid_to_claims);
        },
      ),
      { seed, numRuns: 60, endOnFailure: true },
    );
  });
});
