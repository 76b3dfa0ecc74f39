// Request-level idempotency keys: the domain's name for "the same request". Every money request
// carries one, and a retry with the same key answers the original result (invariant 4). The
// forms below are stored in idempotency records and outbox documents, so they never change:
//
//   t:<terminal id>:<terminal transaction number>   a terminal's request
//   k:<client key>                                  a key chosen by an online client
//   k:psp:<PSP reference>                           a PSP callback's top-up
//   k:tab:<settlement reference>                    a tab settlement
//   k:refund-run:<run id>:<card id>                 one card's cash-out in a program refund run
//   k:tap-pour/<terminal id>/<report id>            a beer tap's pour report (a tap_pour document)
//
// The Redis layout (services/authorizer/store/keys.ts) stores records under these keys; it does
// not decide their form.

/** The request-level idempotency key of a terminal transaction. */
export function terminalTxnKey(terminalId: string, txnNumber: bigint | number): string {
  return `t:${terminalId}:${txnNumber}`;
}

/** The request-level idempotency key chosen by an online client (PSP reference, admin tool). */
export function clientKey(key: string): string {
  return `k:${key}`;
}

/** A PSP callback tops up once per PSP reference, whichever node it reaches and however often. */
export function pspTopUpKey(pspReference: string): string {
  return clientKey(`psp:${pspReference}`);
}

/** A tab is settled once per settlement reference. */
export function tabSettlementKey(reference: string): string {
  return clientKey(`tab:${reference}`);
}

/** Re-running a refund run (after a crash, a time-out) pays no card twice. */
export function refundRunKey(runId: string, cardId: string): string {
  return clientKey(`refund-run:${runId}:${cardId}`);
}

/**
 * A tap's pour report is written once per report id, however often the tap sends it. Its record is
 * a tap_pour document, not a transaction: the "/" keeps the key out of reach of every key a client
 * can give (client keys are A-Z a-z 0-9 . _ : -), so no money request, reversal or receipt reads it.
 */
export function tapPourKey(terminalId: string, reportId: string): string {
  return clientKey(`tap-pour/${terminalId}/${reportId}`);
}
