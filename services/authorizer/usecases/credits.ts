// Manual credits: an operator tops a card up without a terminal (a goodwill credit, a correction)
// through the operator API (CardService.CreditCard). It is a top-up with source "admin", keyed by
// the operator's own key in its own namespace ("k:credit:<key>"), so a credit sent twice credits
// once and no other client's key can take it. The terminal API refuses credits without a terminal.
//
// Approval seam: a credit moves money without a sale, so it may need a second, different person
// (ARCHITECTURE.md, invariant 8). That check is `CreditApproval`, asked before anything moves;
// today the operator API's caller is trusted as a whole and every credit is approved as asked.
// The trust boundary plugs its four-eyes check in here (the authenticated operator and approver),
// without touching the money path.

import type { TaplineError } from '../../../actors/errors';
import { fingerprintOf, type MoneyRequest, type TxnAnswer } from '../../../actors/card/transaction';
import { manualCreditKey } from '../../../actors/request-keys';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import { outcomeOf } from './outcome';

export interface ManualCredit {
  readonly cardId: string;
  readonly amountMinor: number;
  readonly currency: string;
  /** The operator's key for this credit (validated client-key text, without a namespace). */
  readonly key: string;
  readonly operatorId: string;
}

/** Resolves to the refusal to answer, or undefined when the credit may go ahead. */
export type CreditApproval = (credit: ManualCredit) => Promise<TaplineError | undefined>;

/** Until the trust boundary supplies principals: the operator API's caller is trusted. */
export const operator_api_trusted: CreditApproval = () => Promise.resolve(undefined);

export class ManualCredits {
  constructor(
    private readonly region: Pick<ShardRegion, 'money'>,
    private readonly approve: CreditApproval = operator_api_trusted,
  ) {}

  async credit(credit: ManualCredit): Promise<TxnAnswer> {
    const refusal = await this.approve(credit);
    if (refusal !== undefined) throw refusal;
    const request: Omit<MoneyRequest, 'fingerprint'> = {
      kind: 'top_up',
      key: manualCreditKey(credit.key),
      cardId: credit.cardId,
      terminalId: '',
      amountMinor: credit.amountMinor,
      currency: credit.currency,
      source: 'admin',
      operatorId: credit.operatorId,
      originalKey: '',
    };
    return outcomeOf((reply) => this.region.money({ ...request, fingerprint: fingerprintOf(request) }, reply));
  }
}
