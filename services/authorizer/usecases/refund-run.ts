// The end-of-event refund run of a program: every card of the program is cashed out (balance +
// deposit paid to its holder, the card closed) on its owner with the key
// "k:refund-run:<run>:<card>", so running it again (after a crash, a time-out, through another
// node) pays nothing twice and answers the same list from the stored answers.

import type { Acting } from '../../../actors/principal';
import type { CardState } from '../../../actors/card/rules';
import { fingerprintOf, type MoneyRequest, type TxnAnswer } from '../../../actors/card/transaction';
import { refundRunKey } from '../../../actors/request-keys';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import type { ProgramCards } from '../store/program-cards';
import type { CardFanout, RefundRunCashOut, RefundRunCashedOut } from './card-fanout';
import { forEachBounded, outcomeOf } from './outcome';

/** Cards one refund run pays out: its payout list must fit one reply (~50 bytes a line, 4 MB). */
export const program_refund_cards_max = 50_000;
/** Cash-outs of one refund run in flight at once. */
const program_refund_concurrency = 64;

export interface RefundRun {
  readonly programId: string;
  readonly runId: string;
  readonly acting: Acting;
}

export interface RefundPayout {
  readonly cardId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly named: boolean;
  readonly transactionId: string;
}

export interface RefundRunResult {
  readonly runId: string;
  /** Sorted by card id. */
  readonly payouts: readonly RefundPayout[];
  /** Cards whose cash-out was declined (already closed, replaced, ...). */
  readonly skipped: number;
  /** Paid per currency, sorted by currency (a sum of up to program_refund_cards_max amounts: bigint). */
  readonly totals: readonly { readonly currency: string; readonly amountMinor: bigint }[];
}

/** The cash-out of a whole card (balance + deposit) under the request key `key`. */
export function cashOutRequest(cardId: string, key: string, acting: Acting): MoneyRequest {
  const request: Omit<MoneyRequest, 'fingerprint'> = {
    kind: 'cash_out',
    key,
    cardId,
    terminalId: '',
    amountMinor: 0,
    currency: '',
    source: '',
    operatorId: acting.subject,
    originalKey: '',
    acting,
  };
  return { ...request, fingerprint: fingerprintOf(request) };
}

export interface ProgramRefundRunDeps {
  readonly region: Pick<ShardRegion, 'money' | 'balance'>;
  readonly programCards: Pick<ProgramCards, 'cardsOf'>;
  /** Reaches each card of the run on its owner. */
  readonly fanout: CardFanout;
}

export class ProgramRefundRun {
  constructor(private readonly deps: ProgramRefundRunDeps) {}

  /** Cashes out every card of the program (bounded: more than program_refund_cards_max is refused). */
  async run(run: RefundRun): Promise<RefundRunResult> {
    const cardIds = await this.deps.programCards.cardsOf(run.programId, program_refund_cards_max);
    const payouts: RefundPayout[] = [];
    const totals = new Map<string, bigint>();
    let skipped = 0;
    await forEachBounded(cardIds, program_refund_concurrency, async (cardId) => {
      const answer = await this.deps.fanout.refundRunCashOut({ cardId, runId: run.runId, acting: run.acting });
      if (!answer.approved) {
        skipped += 1;
        return;
      }
      payouts.push({
        cardId,
        amountMinor: answer.amountMinor,
        currency: answer.currency,
        named: answer.named,
        transactionId: answer.transactionId,
      });
      totals.set(answer.currency, (totals.get(answer.currency) ?? 0n) + BigInt(answer.amountMinor));
    });
    payouts.sort((a, b) => (a.cardId < b.cardId ? -1 : a.cardId > b.cardId ? 1 : 0));
    const currencies = [...totals.keys()].sort();
    return {
      runId: run.runId,
      payouts,
      skipped,
      totals: currencies.map((currency) => ({ currency, amountMinor: totals.get(currency) ?? 0n })),
    };
  }

  /** The owner's side of one card of a run: the card's ordinary idempotent cash-out. */
  async cashOut(cashOut: RefundRunCashOut): Promise<RefundRunCashedOut> {
    const request = cashOutRequest(cashOut.cardId, refundRunKey(cashOut.runId, cashOut.cardId), cashOut.acting);
    const { result } = await outcomeOf<TxnAnswer>((reply) => this.deps.region.money(request, reply));
    const answer = {
      approved: result.outcome === 'approved',
      amountMinor: result.amountMinor,
      currency: result.currency,
      transactionId: result.id,
    };
    if (!answer.approved) return { ...answer, named: false };
    const card = await outcomeOf<CardState>((reply) => this.deps.region.balance(cashOut.cardId, reply));
    return { ...answer, named: card.profile?.named ?? false };
  }
}
