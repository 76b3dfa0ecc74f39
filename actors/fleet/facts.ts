// What a fleet account's decision needs besides the records the account actor keeps: which card
// and vehicle records a message needs loaded, and what a reversal or refund needs about its
// original. The account actor only sequences (load, decide, commit); the decisions (decide.ts)
// stay pure because everything they look at from Redis is read first.

import { odometerSubject } from '../rules/prompts';
import type { OriginalNeeds } from '../card/facts';
import type { IdempotencyRecord } from '../card/transaction';
import { fleetReversalNeedsClaim } from './decide';
import type { FleetMessage } from './messages';
import type { FleetMoneyRequest } from './transaction';

/** The card and vehicle records a message is decided on (loaded before it, kept while the actor is active). */
export interface FleetRecordsNeeded {
  readonly card?: string;
  readonly vehicle?: string;
}

/** A vehicle's record id: per account, by the subject its odometer readings are kept for. */
export function vehicleId(fleetId: string, subject: string): string {
  return `${fleetId}/${subject}`;
}

/** The vehicle a money request reads an odometer for, or undefined when it gives none. */
export function vehicleOf(fleetId: string, request: FleetMoneyRequest): string | undefined {
  const prompts = request.fleet.prompts;
  return prompts.odometer_km > 0 ? vehicleId(fleetId, odometerSubject(prompts, request.cardId)) : undefined;
}

export function recordsNeeded(fleetId: string, message: FleetMessage): FleetRecordsNeeded {
  switch (message.type) {
    case 'money': {
      // A payment is the account's alone: no card.
      if (message.request.kind === 'fleet_payment') return {};
      const vehicle = vehicleOf(fleetId, message.request);
      return { card: message.request.cardId, ...(vehicle !== undefined ? { vehicle } : {}) };
    }
    case 'card':
    case 'get_card':
      return { card: message.cardId };
    default:
      return {};
  }
}

/** Money requests decided on facts about their original (read before deciding). */
export function decidedOnOriginal(request: FleetMoneyRequest): boolean {
  return request.kind === 'reverse' || request.kind === 'refund';
}

/**
 * What a fleet reversal or refund needs about its original: one that charged the account has a
 * reversal claim and a refund ledger; a refund reads the ledger of any original that exists.
 */
export function fleetOriginalNeeds(request: FleetMoneyRequest): (original: IdempotencyRecord | undefined) => OriginalNeeds {
  const reverse = request.kind === 'reverse';
  return (original) => {
    const charged = fleetReversalNeedsClaim(original);
    return { claim: reverse && charged, ledger: charged || (!reverse && original !== undefined) };
  };
}
