// Manual credits: an operator tops a card up without a terminal (a goodwill credit, a correction)
// through the operator API (CardService.CreditCard). It is a top-up with source "admin", keyed by
// the operator's own key in its own namespace ("k:credit:<key>"), so a credit sent twice credits
// once and no other client's key can take it. The terminal API refuses credits without a terminal.
//
// Four eyes: a credit moves money without a sale, so it needs a second, different principal
// (ARCHITECTURE.md, invariant 8). The operator door holds every CreditCard call until an approver
// approves it (the access policy's four_eyes rule, usecases/approvals.ts); only the approved
// request reaches this use case, carrying its requester and its approver. `CreditApproval` checks
// that again here, before anything moves, so no other path (a forwarded call, a future caller)
// credits on one principal's word.

import { permissionDenied, type TaplineError } from '../../../actors/errors';
import { fingerprintOf, type MoneyRequest, type TxnAnswer } from '../../../actors/card/transaction';
import type { Acting } from '../../../actors/principal';
import { manualCreditKey } from '../../../actors/request-keys';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import { outcomeOf } from './outcome';

export interface ManualCredit {
  readonly cardId: string;
  readonly amountMinor: number;
  readonly currency: string;
  /** The operator's key for this credit (validated client-key text, without a namespace). */
  readonly key: string;
  /** Who asked for the credit (the token's subject) and who approved it. */
  readonly acting: Acting;
}

/** Resolves to the refusal to answer, or undefined when the credit may go ahead. */
export type CreditApproval = (credit: ManualCredit) => Promise<TaplineError | undefined>;

/** A credit goes ahead only with an approver that is not its requester. */
export const four_eyes_credit: CreditApproval = (credit) => {
  const { subject, approver } = credit.acting;
  if (approver === undefined || approver === '' || approver === subject)
    return Promise.resolve(permissionDenied('a manual credit needs the approval of a second principal (ApprovalService)'));
  return Promise.resolve(undefined);
};

export class ManualCredits {
  constructor(
    private readonly region: Pick<ShardRegion, 'money'>,
    private readonly approve: CreditApproval = four_eyes_credit,
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
      operatorId: credit.acting.subject,
      originalKey: '',
    };
    // Who acted is not part of the fingerprint: the same credit approved by someone else is the same credit.
    const stamped: MoneyRequest = { ...request, fingerprint: fingerprintOf(request), acting: credit.acting };
    return outcomeOf((reply) => this.region.money(stamped, reply));
  }
}
