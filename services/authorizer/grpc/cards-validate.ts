// Validation of CardService requests: wire messages to domain values, or a precise
// INVALID_ARGUMENT. Nothing reaches an actor or Redis before it passes here.

import { invalidArgument } from '../../../actors/errors';
import { minorFromWire } from '../../../actors/money';
import { default_hold_expiry_ms, default_pin_attempts_max, programConfigProblem, type ProgramConfig } from '../../../actors/program/config';
import type { CardAction as DomainCardAction } from '../../../actors/card/lifecycle';
import type { IssueParams } from '../usecases/card-issuance';
import type { TabSettlementMethod } from '../usecases/tabs';
import {
  CardAction,
  IdDocumentType,
  SettlementMethod,
  type CardHolder,
  type CardIssueParams,
  type ProgramConfig as WireProgramConfig,
} from '../../../gen/tapline/v1/cards';
import { encodeCardHolder } from '../../../actors/state/card';
import { pin_pattern } from '../usecases/pin';
import { optionalId, requireBalance, requireId } from './validate';
import { parseProgram } from './fleet-validate';

/** Cards in one BulkIssueCards call: a festival's wristband box is a few thousand. */
export const bulk_issue_cards_max = 10_000;
const reason_chars_max = 256;
const name_chars_max = 128;
const document_number_pattern = /^[A-Za-z0-9-]{1,64}$/;
const phone_pattern = /^\+?[0-9 ]{4,24}$/;
const email_pattern = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@]{1,63}$/;
/** An expiry more than 50 years ahead is a typo (seconds sent as milliseconds or the like). */
const expiry_ahead_max_ms = 50 * 365 * 86_400_000;

/** Audit and holder texts are single-line printable text: no control characters (log injection). */
function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function wireMinor(field: string, value: bigint): number {
  const minor = minorFromWire(value);
  if (minor === undefined || minor < 0) throw invalidArgument(`${field} must be between 0 and 10^15`, { field });
  return minor;
}

export function parseProgramConfig(wire: WireProgramConfig | undefined): ProgramConfig {
  if (wire === undefined) throw invalidArgument('config is required');
  const holdExpiry = wireMinor('config.hold_expiry_ms', wire.holdExpiryMs);
  const config: ProgramConfig = {
    pinRequired: wire.pinRequired,
    maxBalanceMinor: wireMinor('config.max_balance_minor', wire.maxBalanceMinor),
    maxTopUpMinor: wireMinor('config.max_top_up_minor', wire.maxTopUpMinor),
    holdExpiryMs: holdExpiry === 0 ? default_hold_expiry_ms : holdExpiry,
    completionToleranceBp: wire.completionToleranceBp,
    depositMinor: wireMinor('config.deposit_minor', wire.depositMinor),
    pinAttemptsMax: wire.pinAttemptsMax === 0 ? default_pin_attempts_max : wire.pinAttemptsMax,
    partialHolds: wire.partialHolds,
    cardAuthKeyId: wire.cardAuthKeyId,
    // Validated like a fleet's program rules; absent = none (the plain purchase path).
    ...(wire.rules === undefined ? {} : { rules: parseProgram(wire.rules) }),
    // Absent: the program's cards are never sold offline.
    ...(wire.offline === undefined
      ? {}
      : {
          offline: {
            txnMaxMinor: wireMinor('config.offline.txn_max_minor', wire.offline.txnMaxMinor),
            cardMaxMinor: wireMinor('config.offline.card_max_minor', wire.offline.cardMaxMinor),
            debtThresholdMinor: wireMinor('config.offline.debt_threshold_minor', wire.offline.debtThresholdMinor),
            cardCounter: wire.offline.cardCounter,
          },
        }),
  };
  const problem = programConfigProblem(config);
  if (problem !== undefined) throw invalidArgument(`config.${problem}`);
  return config;
}

export function parseIssueParams(wire: CardIssueParams | undefined, nowMs: number): IssueParams {
  if (wire === undefined) throw invalidArgument('params is required');
  const { amountMinor, currency } = requireBalance('params.initial_balance', wire.initialBalance);
  const programId = optionalId('params.program_id', wire.programId, 'default');
  let depositMinor: number | undefined;
  if (wire.deposit !== undefined) {
    const deposit = requireBalance('params.deposit', wire.deposit);
    if (deposit.currency !== currency) throw invalidArgument('params.deposit must be in the currency of the initial balance');
    depositMinor = deposit.amountMinor;
  }
  const expiresAtMs = Number(wire.expiresAtUnixMs);
  if (wire.expiresAtUnixMs < 0n || (expiresAtMs !== 0 && (expiresAtMs <= nowMs || expiresAtMs > nowMs + expiry_ahead_max_ms))) {
    throw invalidArgument('params.expires_at_unix_ms must be 0 (never) or a time in the next 50 years');
  }
  return { initialBalanceMinor: amountMinor, currency, programId, depositMinor, expiresAtMs };
}

/** The holder as stored (JSON of plain fields), or undefined for an anonymous card. */
export function parseHolder(wire: CardHolder | undefined): string | undefined {
  if (wire === undefined) return undefined;
  const name = wire.name.trim();
  if (name === '' || name.length > name_chars_max || hasControlCharacters(name))
    throw invalidArgument(`holder.name must be 1-${name_chars_max} printable characters`);
  if (wire.idDocumentType === IdDocumentType.UNRECOGNIZED || !(wire.idDocumentType in IdDocumentType))
    throw invalidArgument('holder.id_document_type is unknown');
  const hasDocument = wire.idDocumentType !== IdDocumentType.ID_DOCUMENT_TYPE_UNSPECIFIED;
  if (hasDocument !== (wire.idDocumentNumber !== '')) throw invalidArgument('holder.id_document_type and id_document_number go together');
  if (hasDocument && !document_number_pattern.test(wire.idDocumentNumber))
    throw invalidArgument('holder.id_document_number must be 1-64 of A-Z a-z 0-9 -');
  if (wire.phone !== '' && !phone_pattern.test(wire.phone))
    throw invalidArgument('holder.phone must be 4-24 digits, spaces and a leading +');
  if (wire.email !== '' && !email_pattern.test(wire.email)) throw invalidArgument('holder.email is not an e-mail address');
  return encodeCardHolder({
    name,
    idDocumentType: hasDocument ? IdDocumentType[wire.idDocumentType] : '',
    idDocumentNumber: wire.idDocumentNumber,
    phone: wire.phone,
    email: wire.email,
  });
}

export function parsePin(pin: string): string | undefined {
  if (pin === '') return undefined;
  if (!pin_pattern.test(pin)) throw invalidArgument('pin must be 4-12 digits');
  return pin;
}

export function parseCardIds(ids: readonly string[]): string[] {
  if (ids.length === 0 || ids.length > bulk_issue_cards_max) throw invalidArgument(`card_ids must hold 1-${bulk_issue_cards_max} ids`);
  const seen = new Set<string>();
  for (const id of ids) {
    requireId('card_ids[]', id);
    if (seen.has(id)) throw invalidArgument('card_ids must not repeat an id', { cardId: id });
    seen.add(id);
  }
  return [...ids];
}

const card_actions: ReadonlyMap<CardAction, DomainCardAction> = new Map([
  [CardAction.CARD_ACTION_FREEZE, 'freeze'],
  [CardAction.CARD_ACTION_UNFREEZE, 'unfreeze'],
  [CardAction.CARD_ACTION_REPORT_LOST, 'report_lost'],
  [CardAction.CARD_ACTION_BLOCK, 'block'],
  [CardAction.CARD_ACTION_UNBLOCK, 'unblock'],
  [CardAction.CARD_ACTION_EXPIRE, 'expire'],
]);

export function parseCardAction(action: CardAction): DomainCardAction {
  const domain = card_actions.get(action);
  if (domain === undefined) throw invalidArgument('action must be FREEZE, UNFREEZE, REPORT_LOST, BLOCK, UNBLOCK or EXPIRE');
  return domain;
}

/** Audit reasons are required for transitions: "who did what and why" is the point of the trail. */
export function requireReason(reason: string): string {
  if (reason.trim() === '' || reason.length > reason_chars_max || hasControlCharacters(reason)) {
    throw invalidArgument(`reason must be 1-${reason_chars_max} printable characters`);
  }
  return reason;
}

/** An auto-reload mandate's reference at the PSP. */
export function parseMandateReference(reference: string): string {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(reference)) throw invalidArgument('mandate_reference must be 1-100 of A-Z a-z 0-9 . _ -');
  return reference;
}

const settlement_methods: ReadonlyMap<SettlementMethod, TabSettlementMethod> = new Map([
  [SettlementMethod.SETTLEMENT_METHOD_INVOICE, 'invoice'],
  [SettlementMethod.SETTLEMENT_METHOD_DIRECT_DEBIT, 'direct_debit'],
]);

export function parseSettlementMethod(method: SettlementMethod): TabSettlementMethod {
  const domain = settlement_methods.get(method);
  if (domain === undefined) throw invalidArgument('method must be INVOICE or DIRECT_DEBIT');
  return domain;
}

/** A tab settlement's reference: its idempotency key. */
export function parseSettlementReference(reference: string): string {
  if (!/^[A-Za-z0-9._:-]{1,100}$/.test(reference)) throw invalidArgument('reference must be 1-100 of A-Z a-z 0-9 . _ : -');
  return reference;
}
