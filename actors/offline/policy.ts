// What may be sold offline, as pure values and their checks: a program's offline policy (per
// transaction, per card, the debt that puts a card on the denylist, whether the card medium carries
// a counter) and a terminal's offline settings (its key, the programs it may sell, its caps per
// grant, the longest it may sell after a grant). docs/OFFLINE.md explains them and the loss bound
// they give (loss-bound.ts).

import { isBoundedAmount, request_amount_max_minor } from '../money';

/** A program's offline selling; absent from a program = its cards are never sold offline. */
export interface ProgramOfflinePolicy {
  /** The largest single offline sale. */
  readonly txnMaxMinor: number;
  /** The most one card may spend offline: per grant at one terminal; with the counter, across terminals. */
  readonly cardMaxMinor: number;
  /** A card owing more than this goes on the denylist (0: any debt). */
  readonly debtThresholdMinor: number;
  /** The medium carries a signed offline-spend counter (writable NFC cards and wristbands). */
  readonly cardCounter: boolean;
}

/** Programs one terminal may sell offline, at most (each grant copies their limits). */
export const offline_programs_max = 64;
/** Offline sales in one grant, at most (bounds what a grant's usage keeps per card). */
export const offline_count_max = 10_000;
/** The longest a terminal may sell offline after one grant: 7 days (a festival weekend with margin). */
export const offline_window_max_ms = 7 * 86_400_000;

/** The problem with a program's offline policy, or undefined when it is valid. */
export function offlinePolicyProblem(policy: ProgramOfflinePolicy): string | undefined {
  for (const [name, value] of [
    ['offline.txn_max_minor', policy.txnMaxMinor],
    ['offline.card_max_minor', policy.cardMaxMinor],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1 || value > request_amount_max_minor) return `${name} must be between 1 and 10^12`;
  }
  if (!isBoundedAmount(policy.debtThresholdMinor) || policy.debtThresholdMinor < 0)
    return 'offline.debt_threshold_minor must be between 0 and 10^15';
  if (policy.txnMaxMinor > policy.cardMaxMinor) return 'offline.txn_max_minor must not exceed offline.card_max_minor';
  return undefined;
}

/** A terminal's offline settings, as an operator set them (SetTerminalOffline). */
export interface TerminalOfflineSettings {
  /** Ed25519 public key, 32 raw bytes, base64. */
  readonly publicKey: string;
  readonly programs: readonly string[];
  /** The currency of the terminal's caps (and of every sale it makes offline). */
  readonly currency: string;
  readonly totalMaxMinor: number;
  readonly countMax: number;
  readonly offlineMaxMs: number;
}

/** The problem with a terminal's offline settings, or undefined when they are valid. */
export function offlineSettingsProblem(settings: TerminalOfflineSettings): string | undefined {
  if (settings.programs.length === 0 || settings.programs.length > offline_programs_max)
    return `program_ids must name 1 to ${offline_programs_max} programs`;
  if (new Set(settings.programs).size !== settings.programs.length) return 'program_ids must not repeat a program';
  if (!Number.isSafeInteger(settings.totalMaxMinor) || settings.totalMaxMinor < 1 || settings.totalMaxMinor > request_amount_max_minor)
    return 'total_max must be between 1 and 10^12';
  if (!Number.isInteger(settings.countMax) || settings.countMax < 1 || settings.countMax > offline_count_max)
    return `count_max must be between 1 and ${offline_count_max}`;
  if (!Number.isSafeInteger(settings.offlineMaxMs) || settings.offlineMaxMs < 1 || settings.offlineMaxMs > offline_window_max_ms)
    return `offline_max_ms must be between 1 and ${offline_window_max_ms}`;
  return undefined;
}
