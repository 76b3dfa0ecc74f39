// Request-level idempotency keys: the domain's name for "the same request". Every money request
// carries one, and a retry with the same key answers the original result (invariant 4). The
// forms below are stored in idempotency records and outbox documents, so they never change:
//
//   t:<terminal id>:<terminal transaction number>   a terminal's request
//   k:<client key>                                  a key chosen by an online client (a return)
//   k:psp:<PSP reference>                           a PSP callback's top-up
//   k:tab:<settlement reference>                    a tab settlement
//   k:refund-run:<run id>:<card id>                 one card's cash-out in a program refund run
//   k:credit:<operator's key>                       an operator's manual credit (CardService.CreditCard)
//   k:fleet-payment:<fleet id>:<payment reference>  a payment received for a fleet account's invoices
//   k:tap-pour/<terminal id>/<report id>            a beer tap's pour report (a tap_pour document)
//   o:<terminal id>:<offline entry number>          an offline sale or void a terminal uploaded
//
// System keys ("k:<namespace>:...") and client keys share the "k:" form (records already stored
// use it), so they are kept apart by their first segment: a client key may not begin with a
// system namespace followed by ":" (isClientKeyAllowed; the gRPC boundary refuses it), and every
// system key is built by systemKey() from a namespace of system_key_namespaces. So no client can
// take a key first and block the real operation (a PSP callback answered with a client's record).
// A tap's pour report key is apart by its "/", a character no client key has.
//
// The Redis layout (services/authorizer/store/keys.ts) stores records under these keys; it does
// not decide their form.

/** The namespaces of system keys: reserved, a client key never starts with one of them and ":". */
export const system_key_namespaces = ['psp', 'tab', 'refund-run', 'credit', 'fleet-payment'] as const;
export type SystemKeyNamespace = (typeof system_key_namespaces)[number];

const reserved: ReadonlySet<string> = new Set(system_key_namespaces);

/** False for a client key that would fall in a system key's namespace ("psp:...", "tab:...", ...). */
export function isClientKeyAllowed(key: string): boolean {
  const at = key.indexOf(':');
  return at < 0 || !reserved.has(key.slice(0, at));
}

/** The request-level idempotency key of a terminal transaction. */
export function terminalTxnKey(terminalId: string, txnNumber: bigint | number): string {
  return `t:${terminalId}:${txnNumber}`;
}

/**
 * The key of an offline entry: numbered by its terminal apart from its online transactions (an
 * offline sale and an online one never share a key, whatever numbers the terminal gives them).
 */
export function offlineEntryKey(terminalId: string, entry: number): string {
  return `o:${terminalId}:${entry}`;
}

/** The terminal a terminal transaction's or offline entry's key names ("t:<terminal>:<n>", "o:<terminal>:<n>"); undefined for any other key. */
export function terminalOfKey(key: string): string | undefined {
  if (!key.startsWith('t:') && !key.startsWith('o:')) return undefined;
  const at = key.lastIndexOf(':');
  return at > 2 ? key.slice(2, at) : undefined;
}

/**
 * The request-level idempotency key chosen by an online client. A key in a system namespace is a
 * programmer error here: the boundary refuses it first (isClientKeyAllowed).
 */
export function clientKey(key: string): string {
  if (!isClientKeyAllowed(key)) throw new Error(`assertion: client key in a system namespace (${key.slice(0, key.indexOf(':'))})`);
  return `k:${key}`;
}

/**
 * The stored key a caller names by its text after "k:", system keys included ("psp:<reference>"):
 * for reading a stored answer (a receipt reprint) only, never as a money request's key.
 */
export function storedKeyNamed(text: string): string {
  return `k:${text}`;
}

/** A system key: its namespace, then what identifies the operation in it. */
function systemKey(namespace: SystemKeyNamespace, rest: string): string {
  return `k:${namespace}:${rest}`;
}

/** A PSP callback tops up once per PSP reference, whichever node it reaches and however often. */
export function pspTopUpKey(pspReference: string): string {
  return systemKey('psp', pspReference);
}

/** A tab is settled once per settlement reference. */
export function tabSettlementKey(reference: string): string {
  return systemKey('tab', reference);
}

/** Re-running a refund run (after a crash, a time-out) pays no card twice. */
export function refundRunKey(runId: string, cardId: string): string {
  return systemKey('refund-run', `${runId}:${cardId}`);
}

/** An operator's manual credit is applied once per key the operator chose (CardService.CreditCard). */
export function manualCreditKey(operatorKey: string): string {
  return systemKey('credit', operatorKey);
}

/** A payment is applied to a fleet account once per payment reference (a bank transfer's reference). */
export function fleetPaymentKey(fleetId: string, reference: string): string {
  return systemKey('fleet-payment', `${fleetId}:${reference}`);
}

/**
 * A tap's pour report is written once per report id, however often the tap sends it. Its record is
 * a tap_pour document, not a transaction: the "/" keeps the key out of reach of every key a client
 * can give (client keys are A-Z a-z 0-9 . _ : -), so no money request, reversal or receipt reads it.
 */
export function tapPourKey(terminalId: string, reportId: string): string {
  return clientKey(`tap-pour/${terminalId}/${reportId}`);
}
