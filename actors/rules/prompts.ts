// Pinpad prompts of a fleet's policy: odometer reading, driver id, vehicle id. A required prompt
// that is missing declines PROMPT_REQUIRED; an odometer reading that is lower than the last one
// recorded for the vehicle, or jumps further than the policy allows since then, declines
// PROMPT_IMPLAUSIBLE. The reading is recorded only when the transaction is approved, so a
// mistyped reading that was declined does not become the new reference.

import { approve_clean, decline, type RuleVerdict } from './rule';

export interface PromptPolicy {
  readonly require_odometer: boolean;
  readonly require_driver: boolean;
  readonly require_vehicle: boolean;
  /** Largest plausible distance since the vehicle's last reading; 0 = no upper bound. */
  readonly odometer_jump_max_km: number;
}

export const no_prompts: PromptPolicy = Object.freeze({
  require_odometer: false,
  require_driver: false,
  require_vehicle: false,
  odometer_jump_max_km: 0,
});

export interface PromptAnswers {
  /** 0 = not entered. */
  readonly odometer_km: number;
  readonly driver_id: string;
  readonly vehicle_id: string;
}

/** `lastOdometerKm`: the last approved reading of this vehicle, undefined if none yet. */
export function checkPrompts(policy: PromptPolicy, answers: PromptAnswers, lastOdometerKm: number | undefined): RuleVerdict {
  if (policy.require_odometer && answers.odometer_km === 0) return decline('prompt_required', 'prompt:odometer');
  if (policy.require_driver && answers.driver_id === '') return decline('prompt_required', 'prompt:driver');
  if (policy.require_vehicle && answers.vehicle_id === '') return decline('prompt_required', 'prompt:vehicle');
  if (answers.odometer_km !== 0 && lastOdometerKm !== undefined) {
    if (answers.odometer_km < lastOdometerKm) return decline('prompt_implausible', 'prompt:odometer_backwards');
    if (policy.odometer_jump_max_km > 0 && answers.odometer_km - lastOdometerKm > policy.odometer_jump_max_km) {
      return decline('prompt_implausible', 'prompt:odometer_jump');
    }
  }
  return approve_clean;
}

/** Whose odometer a reading belongs to: the vehicle entered, else the card (one card per vehicle). */
export function odometerSubject(answers: PromptAnswers, cardId: string): string {
  return answers.vehicle_id !== '' ? answers.vehicle_id : `card:${cardId}`;
}
