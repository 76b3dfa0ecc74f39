// The terminal's pure rules: whether a terminal may transact, and how registration and
// enabling change it. The terminal actor runs these; replay of a terminal transaction number is
// caught by the idempotency record written with the transaction (see actors/card/actor.ts).

import type { TerminalOffline } from '../offline/grant';

export interface TerminalState {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly location: string;
  readonly enabled: boolean;
  /** Offline selling: settings, grant and uploads (actors/offline/grant.ts); absent = never offline. */
  readonly offline?: TerminalOffline;
}

export type TerminalCommand =
  | { readonly type: 'register'; readonly terminalId: string; readonly merchantId: string; readonly location: string }
  | { readonly type: 'set_enabled'; readonly enabled: boolean };

export type TerminalDecision =
  | { readonly kind: 'changed'; readonly state: TerminalState }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'rejected'; readonly code: 'not_found' | 'already_exists'; readonly message: string };

export type TerminalCheck =
  | { readonly ok: true; readonly merchantId: string }
  | { readonly ok: false; readonly code: 'not_found' | 'failed_precondition'; readonly message: string };

/** Whether a terminal in this state may send money requests. */
export function checkCanTransact(state: TerminalState | undefined): TerminalCheck {
  if (state === undefined) return { ok: false, code: 'not_found', message: 'terminal not registered' };
  if (!state.enabled) return { ok: false, code: 'failed_precondition', message: 'terminal disabled' };
  if (state.merchantId === '') return { ok: false, code: 'failed_precondition', message: 'terminal has no merchant' };
  return { ok: true, merchantId: state.merchantId };
}

export function decideTerminal(state: TerminalState | undefined, command: TerminalCommand): TerminalDecision {
  if (command.type === 'register') {
    if (state === undefined) {
      return {
        kind: 'changed',
        state: { terminalId: command.terminalId, merchantId: command.merchantId, location: command.location, enabled: true },
      };
    }
    if (state.merchantId !== command.merchantId) {
      return { kind: 'rejected', code: 'already_exists', message: 'terminal registered to another merchant' };
    }
    return { kind: 'unchanged' };
  }
  if (state === undefined) return { kind: 'rejected', code: 'not_found', message: 'terminal not registered' };
  if (state.enabled === command.enabled) return { kind: 'unchanged' };
  return { kind: 'changed', state: { ...state, enabled: command.enabled } };
}
