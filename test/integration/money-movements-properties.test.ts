// Property-based test of every money movement against the real node (gRPC, group commit, Redis).
// fast-check draws waves of concurrent operations over three card slots: top-up (cash, and PSP by
// its signed callback), purchase, pre-authorization, completion and void of an earlier hold,
// reversal of an earlier purchase,
// completion or pre-authorization, refund of an earlier purchase (with a manager credential),
// replacement of a slot's card by a new one, return (cash-out; the slot then gets a new card), and
// exact retries of earlier requests. Requests only refer to requests of earlier waves. Checks:
//  - no money is created or destroyed: the sum of all card balances + everything paid out (less
//    deposits) = issued + top-ups - purchases - completions + reversed debits + refunds;
//  - available balance (balance - holds) is never negative, and held = the sum of open holds;
//  - per card, the documents reconcile with Redis (card_issued amount + balance_delta);
//  - every retry returns the original answer (same transaction, same outcome).
// The program has rules (velocity, hard and soft risk, a temporary block after repeated
// insufficient funds, a loyalty discount, points earned and redeemed as payment), so purchases are
// decided on the ruled path: the same checks hold, the debit is what the reply approved (amount −
// discount − points' value), and a card's points never go negative.
// The seed is printed; replay with FC_SEED=<seed>.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { Outcome } from '../../gen/tapline/v1/types';
import type { ProgramRules } from '../../gen/tapline/v1/fleet';
import { ReverseResult } from '../../gen/tapline/v1/authorization';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, RefundClient, holdRequest, programConfig } from '../../tools/client/card-client';
import { pspPayload, signPspPayload } from '../../services/authorizer/usecases/psp';
import { startInProcessNode, startTestRedis, test_shard_count, accessTo } from '../support/harness';
import { shardOf } from '../../actors/sharding/shard-key';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
const initial_minor = 1_000;
const deposit_minor = 100;
const manager = { id: 'prop-mgr', pin: '1357' };
const psp_secret = 'property-test-psp-secret';
/** Rules every purchase of the program runs through (boundaries inside the drawn amounts). */
const program_rules: ProgramRules = {
  allowedMerchants: [],
  blockedMerchants: ['elsewhere'],
  allowedTerminals: [],
  blockedTerminals: [],
  restrictMerchants: false,
  restrictTerminals: false,
  velocity: [{ name: 'burst', windowMs: 2_000n, countMax: 6n, amountMaxMinor: 2_000n }],
  risk: { hardAmountMinor: 650n, softAmountMinor: 400n, softVelocity: [], blockAfterDeclines: 4n, declineWindowMs: 1_000n, blockMs: 500n },
  loyalty: {
    minorPerUnit: 40n,
    pointsPerUnit: 3n,
    groupMultiplierBp: { food: 15_000n },
    merchantMultiplierBp: {},
    discountBpByGroup: { food: 750n },
    pointValueMinor: 2n,
  },
};

type Op =
  | { kind: 'top_up' | 'psp_top_up' | 'pre_auth'; slot: number; amount: number }
  | { kind: 'purchase'; slot: number; amount: number; redeem: number }
  | { kind: 'completion'; target: number; amount: number }
  | { kind: 'void' | 'reverse'; target: number }
  | { kind: 'retry'; target: number }
  | { kind: 'refund'; target: number; amount: number }
  | { kind: 'replace' | 'return'; slot: number };

const slot = fc.nat(2);
const amount = fc.integer({ min: 1, max: 700 });
const op_arbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('top_up' as const), slot, amount }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('psp_top_up' as const), slot, amount }) },
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('purchase' as const), slot, amount, redeem: fc.oneof(fc.constant(0), fc.nat(12)) }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('pre_auth' as const), slot, amount }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('completion' as const), target: fc.nat(60), amount: fc.integer({ min: 1, max: 900 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('void' as const), target: fc.nat(60) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reverse' as const), target: fc.nat(60) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('refund' as const), target: fc.nat(60), amount: fc.integer({ min: 1, max: 400 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replace' as const), slot }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('return' as const), slot }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('retry' as const), target: fc.nat(60) }) },
);

/** What one request did to the books, as its reply says. */
interface Effect {
  readonly id: string;
  readonly outcome: string;
  /** Signed change of the sum of balances + payouts' balance part. */
  readonly delta: number;
}

interface Sent {
  readonly kind: Exclude<Op['kind'], 'retry'>;
  readonly card: string;
  readonly txn: number;
  readonly send: () => Promise<Effect>;
}

describe('money properties over every movement (real node, real Redis)', function () {
  this.timeout(300_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let refunds: RefundClient;
  let inspect: Inspector;
  let run = 0;

  before(async function () {
    process.stdout.write(`      fast-check seed: ${seed} (replay with FC_SEED=${seed})\n`);
    redis = await startTestRedis('money-movements');
    node = await startInProcessNode(redis.url, { TAPLINE_PIN_SECRET: 'property-test-pin-secret', TAPLINE_PSP_SECRET: psp_secret });
    client = new TaplineClient(await accessTo(node));
    cards = new CardClient(await accessTo(node));
    refunds = new RefundClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('mm-pos', 'mm-merchant');
    await refunds.registerManager('mm-merchant', manager.id, manager.pin);
    await cards.defineProgram(
      'mm',
      programConfig({ depositMinor: BigInt(deposit_minor), completionToleranceBp: 2_000, rules: program_rules }),
    );
  });

  after(async function () {
    client?.close();
    cards?.close();
    refunds?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('conserves money, keeps available >= 0 and holds exact, and answers every retry identically', async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op_arbitrary, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }), async (waves) => {
        run += 1;
        let issuedTotal = 0;
        let issuedCount = 0;
        const allCards: string[] = [];
        const issue = async (): Promise<string> => {
          const cardId = `mm-${run}-${issuedCount++}`;
          await cards.issue({
            cardId,
            params: {
              initialBalance: { amountMinor: BigInt(initial_minor), currency: 'EUR' },
              programId: 'mm',
              deposit: undefined,
              expiresAtUnixMs: 0n,
            },
            holder: undefined,
            pin: '',
            operatorId: 'ops',
          });
          issuedTotal += initial_minor;
          allCards.push(cardId);
          return cardId;
        };
        const slots = [await issue(), await issue(), await issue()];
        const sent: Sent[] = [];
        const effects = new Map<number, Effect>();
        let txn = run * 10_000;
        const ref = (target: Sent): { terminalId: string; txn: number } => ({ terminalId: 'mm-pos', txn: target.txn });
        const effect = (id: string, approved: boolean, delta: number, outcome = approved ? 'approved' : 'declined'): Effect => ({
          id,
          outcome,
          delta: approved ? delta : 0,
        });

        /** Old card -> replacement, for replacements that succeeded in the current wave. */
        let replaced = new Map<string, string>();
        const build = (op: Exclude<Op, { kind: 'retry' }>, earlier: readonly Sent[], own: number): Sent | undefined => {
          const pick = (kinds: readonly string[], target: number): Sent | undefined => {
            const candidates = earlier.filter((s) => kinds.includes(s.kind));
            return candidates.length === 0 ? undefined : candidates[target % candidates.length];
          };
          switch (op.kind) {
            case 'top_up': {
              const card = slots[op.slot] as string;
              return {
                kind: op.kind,
                card,
                txn: own,
                send: async () => {
                  const r = await client.topUp(card, op.amount, { terminalId: 'mm-pos', txn: own });
                  return effect(r.transactionId, r.outcome === Outcome.OUTCOME_APPROVED, op.amount);
                },
              };
            }
            case 'psp_top_up': {
              // A PSP payment completed by its signed callback (a retry delivers the same callback again).
              const card = slots[op.slot] as string;
              const payload = pspPayload({
                reference: `mm-psp-${own}`,
                card,
                amountMinor: op.amount,
                currency: 'EUR',
                status: 'succeeded',
                kind: 'top_up',
                signedAtMs: Date.now(),
              });
              return {
                kind: op.kind,
                card,
                txn: own,
                send: async () => {
                  const r = await cards.pspCallback(payload, signPspPayload(psp_secret, payload));
                  return effect(r.transactionId, r.outcome === Outcome.OUTCOME_APPROVED, op.amount);
                },
              };
            }
            case 'purchase': {
              const card = slots[op.slot] as string;
              return {
                kind: op.kind,
                card,
                txn: own,
                send: async () => {
                  // A basket of food (discounted) and, half the time, points redeemed as payment.
                  const line = {
                    productCode: 'meal',
                    productGroup: 'food',
                    quantityMilli: 0n,
                    unitPriceMinor: 0n,
                    amountMinor: BigInt(op.amount),
                  };
                  const request = {
                    ...purchase('mm-pos', own, card, op.amount),
                    lineItems: [line],
                    ...(op.redeem > 0 ? { redeemPoints: BigInt(op.redeem) } : {}),
                  };
                  const r = await client.authorize(request);
                  const approved = r.outcome === Outcome.OUTCOME_APPROVED;
                  if (approved)
                    assert.equal(
                      Number(r.approvedAmount?.amountMinor) + Number(r.discount?.amountMinor) + 2 * Number(r.pointsRedeemed),
                      op.amount,
                      'debit = amount - discount - points',
                    );
                  return effect(r.transactionId, approved, -Number(r.approvedAmount?.amountMinor));
                },
              };
            }
            case 'pre_auth': {
              const card = slots[op.slot] as string;
              return {
                kind: op.kind,
                card,
                txn: own,
                send: async () => {
                  const r = await client.authorize(holdRequest('pre_authorization', 'mm-pos', own, card, op.amount));
                  return effect(r.transactionId, r.outcome === Outcome.OUTCOME_APPROVED, 0);
                },
              };
            }
            case 'completion': {
              const target = pick(['pre_auth'], op.target);
              if (target === undefined) return undefined;
              return {
                kind: op.kind,
                card: target.card,
                txn: own,
                send: async () => {
                  const r = await client.authorize(holdRequest('completion', 'mm-pos', own, target.card, op.amount, ref(target)));
                  return effect(r.transactionId, r.outcome === Outcome.OUTCOME_APPROVED, -Number(r.approvedAmount?.amountMinor));
                },
              };
            }
            case 'void': {
              const target = pick(['pre_auth'], op.target);
              if (target === undefined) return undefined;
              return {
                kind: op.kind,
                card: target.card,
                txn: own,
                send: async () => {
                  const r = await cards.voidHold('mm-pos', own, target.card, ref(target));
                  return effect(r.transactionId, r.outcome === Outcome.OUTCOME_APPROVED, 0);
                },
              };
            }
            case 'reverse': {
              const target = pick(['purchase', 'completion', 'pre_auth'], op.target);
              if (target === undefined) return undefined;
              return {
                kind: op.kind,
                card: target.card,
                txn: own,
                send: async () => {
                  const r = await client.reverse('mm-pos', own, target.card, ref(target));
                  // A released hold moves no balance; a reversed debit comes back.
                  const moved = target.kind === 'pre_auth' ? 0 : Number(r.reversedAmount?.amountMinor);
                  return {
                    id: r.transactionId,
                    outcome: ReverseResult[r.result] ?? String(r.result),
                    delta: r.result === ReverseResult.REVERSE_RESULT_REVERSED ? moved : 0,
                  };
                },
              };
            }
            case 'refund': {
              const target = pick(['purchase', 'completion'], op.target);
              if (target === undefined) return undefined;
              return {
                kind: op.kind,
                card: target.card,
                txn: own,
                send: async () => {
                  const r = await refunds.refund('mm-pos', own, target.card, ref(target), op.amount, manager);
                  return effect(r.transactionId, r.outcome === Outcome.OUTCOME_APPROVED, op.amount);
                },
              };
            }
            case 'replace': {
              const card = slots[op.slot] as string;
              const replacement = `mm-${run}-${issuedCount++}`;
              allCards.push(replacement);
              return {
                kind: op.kind,
                card,
                txn: own,
                send: async () => {
                  try {
                    await cards.replace(card, replacement);
                    replaced.set(card, replacement);
                    return { id: replacement, outcome: 'replaced', delta: 0 };
                  } catch (error) {
                    if ((error as { code?: number }).code !== 9) throw error;
                    // Refused (open holds, dead card): the replacement does not exist; keep using the card.
                    return { id: '', outcome: 'refused', delta: 0 };
                  }
                },
              };
            }
            case 'return': {
              const card = slots[op.slot] as string;
              return {
                kind: op.kind,
                card,
                txn: own,
                send: async () => {
                  const r = await cards.returnCard(card, `mm-return-${own}`);
                  const paid = Number(r.payout?.amountMinor ?? 0n);
                  // The payout is the balance plus the deposit; only the balance part leaves the balances.
                  return effect(r.transactionId, r.outcome === Outcome.OUTCOME_APPROVED, -(paid - deposit_minor));
                },
              };
            }
          }
        };

        for (const wave of waves) {
          const earlier = [...sent];
          const work: Promise<void>[] = [];
          replaced = new Map<string, string>();
          for (const op of wave) {
            if (op.kind === 'retry') {
              const target = earlier[op.target % Math.max(1, earlier.length)];
              if (target === undefined || target.kind === 'replace') continue;
              const index = sent.indexOf(target);
              work.push(
                target.send().then((answer) => {
                  const first = effects.get(index);
                  assert.ok(first !== undefined);
                  assert.deepEqual(
                    [answer.id, answer.outcome],
                    [first.id, first.outcome],
                    `retry of request ${index} (${target.kind}) returns the original answer`,
                  );
                }),
              );
              continue;
            }
            const entry = build(op, earlier, ++txn);
            if (entry === undefined) continue;
            sent.push(entry);
            const index = sent.length - 1;
            work.push(
              entry.send().then((answer) => {
                effects.set(index, answer);
              }),
            );
          }
          await Promise.all(work);
          // A replaced card's slot moves to its replacement; a returned card's slot gets a new card.
          for (let s = 0; s < slots.length; s++) {
            const replacement = replaced.get(slots[s] as string);
            if (replacement !== undefined) slots[s] = replacement;
          }
          for (let s = 0; s < slots.length; s++) {
            const state = await cardState(slots[s] as string);
            if (state === undefined || state.status === 'closed') slots[s] = await issue();
          }
          for (const cardId of allCards) {
            const state = await cardState(cardId);
            if (state === undefined) continue;
            const held = Object.values(state.holds ?? {}).reduce((sum, hold) => sum + hold.amountMinor, 0);
            assert.equal(state.heldMinor, held, `held of ${cardId} is the sum of its holds`);
            assert.ok(
              state.balanceMinor - state.heldMinor >= 0,
              `available of ${cardId} never negative (${state.balanceMinor} - ${state.heldMinor})`,
            );
            assert.ok((state.rules?.points ?? 0) >= 0, `points of ${cardId} never negative`);
          }
        }

        // Conservation over every card of the run.
        let balances = 0;
        for (const cardId of allCards) balances += (await cardState(cardId))?.balanceMinor ?? 0;
        let movements = 0;
        for (const answer of effects.values()) movements += answer.delta;
        assert.equal(
          balances,
          issuedTotal + movements,
          'sum of balances = issued + top-ups - purchases - completions + reversals + refunds - paid out',
        );
        // Every card's documents reconcile with its balance in Redis.
        const documents = await inspect.outbox();
        for (const cardId of allCards) {
          const state = await cardState(cardId);
          if (state === undefined) continue;
          let total = 0;
          for (const d of documents) {
            if (d['card'] !== cardId) continue;
            if (d['type'] === 'card_issued') total += Number(d['amount']);
            if (d['type'] !== 'transaction' || d['outcome'] !== 'approved') continue;
            const kind = String(d['kind']);
            const derived = kind === 'purchase' ? -Number(d['amount']) : kind === 'top_up' || kind === 'reverse' ? Number(d['amount']) : 0;
            total += d['balance_delta'] === undefined ? derived : Number(d['balance_delta']);
          }
          assert.equal(total, state.balanceMinor, `documents of ${cardId} reconcile with Redis`);
        }
      }),
      { seed, numRuns: 20, endOnFailure: true },
    );

    async function cardState(cardId: string): Promise<
      | {
          balanceMinor: number;
          heldMinor: number;
          status: string;
          holds?: Record<string, { amountMinor: number }>;
          rules?: { points: number };
        }
      | undefined
    > {
      const data = await inspect.client.hGet(`tl:{s${shardOf('card', cardId, test_shard_count)}}:card:${cardId}`, 'd');
      return data === null || data === undefined ? undefined : JSON.parse(data);
    }
  });
});
