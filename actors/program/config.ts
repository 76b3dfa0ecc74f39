// A program's configuration (an event's cashless wallets, an issuer's prepaid product): the
// parameters card rules read. One versioned document per program, defined through
// CardService.DefineProgram and cached by every node (actors/program/registry.ts). How it is stored,
// and how a configuration written before a parameter existed is read, is actors/state/program.ts.

import { createHash } from 'node:crypto';
import { isBoundedAmount } from '../money';
import type { ProgramRules } from '../rules/program';
import { offlinePolicyProblem, type ProgramOfflinePolicy } from '../offline/policy';

export interface ProgramConfig {
  readonly pinRequired: boolean;
  /** Largest balance a card may hold; 0 = not limited by the program. */
  readonly maxBalanceMinor: number;
  /** Largest single top-up; 0 = not limited by the program. */
  readonly maxTopUpMinor: number;
  /** A hold not completed within this is released. */
  readonly holdExpiryMs: number;
  /** A completion may exceed its hold by this many basis points of the hold. */
  readonly completionToleranceBp: number;
  /** Deposit charged at issue when the request does not name one. */
  readonly depositMinor: number;
  /** Wrong PINs in a row before the PIN locks. */
  readonly pinAttemptsMax: number;
  /** A pre-authorization above the available balance holds what is available instead of declining. */
  readonly partialHolds: boolean;
  /**
   * The rules every purchase of the program's cards runs through (actors/card/program-rules.ts).
   * Absent = none: the card's purchase path then only pays one property read for them.
   */
  readonly rules?: ProgramRules;
  /**
   * Cards issued under the program authenticate their payments (anti-cloning, actors/card/card-auth.ts)
   * with keys diversified from this master key; '' = they do not.
   */
  readonly cardAuthKeyId: string;
  /** Offline selling of the program's cards (actors/offline/policy.ts); absent = never offline. */
  readonly offline?: ProgramOfflinePolicy;
}

/** A master key's id (TAPLINE_CARD_AUTH_KEYS names keys by it). */
export const card_auth_key_id_pattern = /^[A-Za-z0-9._-]{1,32}$/;

/** A week: a hotel or car-rental style pre-authorization is completed within days. */
export const default_hold_expiry_ms = 7 * 86_400_000;
/** Three wrong PINs, as payment cards do. */
export const default_pin_attempts_max = 3;
/** Longest hold expiry a program may set: 31 days. */
export const hold_expiry_max_ms = 31 * 86_400_000;
/** Largest over-completion tolerance: 100 % of the hold (a tip on a restaurant bill is less). */
export const completion_tolerance_max_bp = 10_000;
export const pin_attempts_max_max = 20;

/** What applies to a program nobody defined. */
export const default_program_config: ProgramConfig = Object.freeze({
  pinRequired: false,
  maxBalanceMinor: 0,
  maxTopUpMinor: 0,
  holdExpiryMs: default_hold_expiry_ms,
  completionToleranceBp: 0,
  depositMinor: 0,
  pinAttemptsMax: default_pin_attempts_max,
  partialHolds: false,
  cardAuthKeyId: '',
});

export interface StoredProgram {
  readonly programId: string;
  readonly config: ProgramConfig;
  /** 0 = never defined. */
  readonly version: number;
}

/** The problem with a configuration, or undefined when it is valid. */
export function programConfigProblem(config: ProgramConfig): string | undefined {
  for (const [name, value] of [
    ['max_balance_minor', config.maxBalanceMinor],
    ['max_top_up_minor', config.maxTopUpMinor],
    ['deposit_minor', config.depositMinor],
  ] as const) {
    if (!isBoundedAmount(value) || value < 0) return `${name} must be between 0 and 10^15`;
  }
  if (!Number.isSafeInteger(config.holdExpiryMs) || config.holdExpiryMs < 1 || config.holdExpiryMs > hold_expiry_max_ms)
    return `hold_expiry_ms must be between 1 and ${hold_expiry_max_ms}`;
  if (
    !Number.isInteger(config.completionToleranceBp) ||
    config.completionToleranceBp < 0 ||
    config.completionToleranceBp > completion_tolerance_max_bp
  ) {
    return `completion_tolerance_bp must be between 0 and ${completion_tolerance_max_bp}`;
  }
  if (!Number.isInteger(config.pinAttemptsMax) || config.pinAttemptsMax < 1 || config.pinAttemptsMax > pin_attempts_max_max)
    return `pin_attempts_max must be between 1 and ${pin_attempts_max_max}`;
  if (config.maxBalanceMinor > 0 && config.depositMinor > config.maxBalanceMinor) return 'deposit_minor must not exceed max_balance_minor';
  if (config.cardAuthKeyId !== '' && !card_auth_key_id_pattern.test(config.cardAuthKeyId))
    return 'card_auth_key_id must be 1-32 of A-Z a-z 0-9 . _ -';
  if (config.offline !== undefined) return offlinePolicyProblem(config.offline);
  return undefined;
}

export function sameProgramConfig(a: ProgramConfig, b: ProgramConfig): boolean {
  // Rules are a tree; both sides come from the same parser, so their JSON is canonical.
  return (
    (Object.keys(default_program_config) as (keyof ProgramConfig)[]).every((key) => a[key] === b[key]) &&
    JSON.stringify(a.rules) === JSON.stringify(b.rules) &&
    JSON.stringify(a.offline) === JSON.stringify(b.offline)
  );
}

/**
 * The most a completion of a hold of `holdMinor` may be: the hold plus the tolerance, rounded
 * down to the minor unit (integer arithmetic only: holds are at most 10^15 and the tolerance at
 * most 10^4, so the product stays exact below 2^63 as a bigint).
 */
export function completionMaxMinor(holdMinor: number, toleranceBp: number): number {
  return holdMinor + Number((BigInt(holdMinor) * BigInt(toleranceBp)) / 10_000n);
}

/**
 * The longest audit detail written in full. Reports keep a detail of at most 4096
 * characters (services/streamer/rows.ts); long rule lists (up to 1000 merchants) would pass it.
 */
export const program_audit_detail_max = 4_000;

/** The program_defined audit detail: the configuration, with its rules as a digest when too long. */
export function programAuditDetail(config: ProgramConfig): string {
  const full = JSON.stringify(config);
  if (full.length <= program_audit_detail_max || config.rules === undefined) return full;
  const rules = JSON.stringify(config.rules);
  return JSON.stringify({ ...config, rules: { sha256: createHash('sha256').update(rules).digest('hex'), chars: rules.length } });
}
