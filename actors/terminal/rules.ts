// The terminal's pure rules: whether a terminal may transact (and with which cashier), and how
// registration, enabling, parameters and cashier grants change it. The terminal actor runs these;
// replay of a terminal transaction number is caught by the idempotency record written with the
// transaction (see actors/card/actor.ts).

import { timingSafeEqual } from 'node:crypto';
import type { TerminalOffline } from '../offline/grant';

/** What a terminal is told to print and how to reach Tapline; versioned so it can fetch changes. */
export interface TerminalParameters {
  readonly receiptHeader: string;
  readonly receiptFooter: string;
  /** The host and port the terminal connects to, and its request timeout. */
  readonly communication: { readonly host: string; readonly port: number; readonly timeoutMs: number };
  /** The offline profile the terminal sells under when it cannot reach Tapline ("" = none). */
  readonly offlineProfile: string;
}

export interface TerminalState {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly location: string;
  readonly enabled: boolean;
  /** The manufacturer's serial number ("" for terminals registered before it was recorded). */
  readonly serialNumber: string;
  readonly parameters: TerminalParameters;
  /** Incremented by every change of `parameters`: a terminal holding this version is current. */
  readonly parametersVersion: number;
  /** Cashiers the merchant registered at this terminal: granted (true) or denied (false). */
  readonly cashiers: Readonly<Record<string, boolean>>;
  /** Each cashier's code as a keyed hash (never the code); the field name keeps it out of audit values. */
  readonly cashierPins: Readonly<Record<string, string>>;
  /** Offline selling: settings, grant and uploads (actors/offline/grant.ts); absent = never offline. */
  readonly offline?: TerminalOffline;
}

/** Cashiers one terminal keeps: its state is loaded and written whole, so it stays small. */
export const terminal_cashiers_max = 200;
/** Receipt header and footer: a few printed lines. */
export const receipt_text_chars_max = 512;

export const empty_terminal_parameters: TerminalParameters = {
  receiptHeader: '',
  receiptFooter: '',
  communication: { host: '', port: 0, timeoutMs: 0 },
  offlineProfile: '',
};

export type TerminalCommand =
  | {
      readonly type: 'register';
      readonly terminalId: string;
      readonly merchantId: string;
      readonly location: string;
      readonly serialNumber?: string;
      readonly parameters?: TerminalParameters;
    }
  | { readonly type: 'set_enabled'; readonly enabled: boolean }
  /** `expectedVersion` 0: whatever the current version; else the change applies only on top of it. */
  | { readonly type: 'set_parameters'; readonly parameters: TerminalParameters; readonly expectedVersion: number }
  /** Grants (with a code's hash, required for a new cashier; absent keeps the code) or denies a cashier. */
  | { readonly type: 'set_cashier'; readonly cashierId: string; readonly granted: boolean; readonly pinHash?: string };

export type TerminalDecision =
  | { readonly kind: 'changed'; readonly state: TerminalState }
  | { readonly kind: 'unchanged' }
  | {
      readonly kind: 'rejected';
      readonly code: 'not_found' | 'already_exists' | 'failed_precondition' | 'invalid_argument';
      readonly message: string;
    };

export type TerminalCheck =
  | { readonly ok: true; readonly merchantId: string }
  | {
      readonly ok: false;
      readonly code: 'not_found' | 'failed_precondition' | 'permission_denied';
      readonly message: string;
      /** Set when the cashier was refused (unknown, denied, wrong code): a guess the caller counts. */
      readonly cashierId?: string;
    };

/** The cashier a money request names: their id and the keyed hash of the code they entered. */
export interface CashierCredential {
  readonly cashierId: string;
  readonly pinHash: string;
}

/** Whether a terminal in this state may send money requests, and whether the cashier may use it. */
export function checkCanTransact(state: TerminalState | undefined, cashier?: CashierCredential): TerminalCheck {
  if (state === undefined) return { ok: false, code: 'not_found', message: 'terminal not registered' };
  if (!state.enabled) return { ok: false, code: 'failed_precondition', message: 'terminal disabled' };
  if (state.merchantId === '') return { ok: false, code: 'failed_precondition', message: 'terminal has no merchant' };
  if (cashier !== undefined) {
    const granted = Object.hasOwn(state.cashiers, cashier.cashierId) ? state.cashiers[cashier.cashierId] : undefined;
    const { cashierId } = cashier;
    if (granted === undefined) return { ok: false, code: 'permission_denied', message: 'cashier unknown at this terminal', cashierId };
    if (!granted) return { ok: false, code: 'permission_denied', message: 'cashier denied at this terminal', cashierId };
    if (!sameHash(state.cashierPins[cashierId] ?? '', cashier.pinHash))
      return { ok: false, code: 'permission_denied', message: 'cashier code wrong', cashierId };
  }
  return { ok: true, merchantId: state.merchantId };
}

/** Constant-time: the time taken does not depend on where the hashes differ. */
function sameHash(stored: string, given: string): boolean {
  const a = Buffer.from(stored, 'hex');
  const b = Buffer.from(given, 'hex');
  return a.length > 0 && a.length === b.length && timingSafeEqual(a, b);
}

export function decideTerminal(state: TerminalState | undefined, command: TerminalCommand): TerminalDecision {
  if (command.type === 'register') return decideRegister(state, command);
  if (state === undefined) return { kind: 'rejected', code: 'not_found', message: 'terminal not registered' };
  if (command.type === 'set_enabled') {
    if (state.enabled === command.enabled) return { kind: 'unchanged' };
    return { kind: 'changed', state: { ...state, enabled: command.enabled } };
  }
  if (command.type === 'set_parameters') {
    if (command.expectedVersion !== 0 && command.expectedVersion !== state.parametersVersion)
      return { kind: 'rejected', code: 'failed_precondition', message: `parameters are at version ${state.parametersVersion}` };
    if (JSON.stringify(state.parameters) === JSON.stringify(command.parameters)) return { kind: 'unchanged' };
    return { kind: 'changed', state: { ...state, parameters: command.parameters, parametersVersion: state.parametersVersion + 1 } };
  }
  return decideCashier(state, command);
}

function decideRegister(state: TerminalState | undefined, command: Extract<TerminalCommand, { type: 'register' }>): TerminalDecision {
  const serialNumber = command.serialNumber ?? '';
  if (state === undefined) {
    const parameters = command.parameters ?? empty_terminal_parameters;
    return {
      kind: 'changed',
      state: {
        terminalId: command.terminalId,
        merchantId: command.merchantId,
        location: command.location,
        enabled: true,
        serialNumber,
        parameters,
        parametersVersion: 1,
        cashiers: {},
        cashierPins: {},
      },
    };
  }
  if (state.merchantId !== command.merchantId) {
    return { kind: 'rejected', code: 'already_exists', message: 'terminal registered to another merchant' };
  }
  if (serialNumber !== '' && state.serialNumber !== '' && serialNumber !== state.serialNumber)
    return { kind: 'rejected', code: 'already_exists', message: 'terminal registered with another serial number' };
  return { kind: 'unchanged' };
}

function decideCashier(state: TerminalState, command: Extract<TerminalCommand, { type: 'set_cashier' }>): TerminalDecision {
  const known = Object.hasOwn(state.cashiers, command.cashierId);
  if (!known && !command.granted) return { kind: 'rejected', code: 'not_found', message: 'cashier unknown at this terminal' };
  if (!known && command.pinHash === undefined) return { kind: 'rejected', code: 'invalid_argument', message: 'a new cashier needs a code' };
  if (!known && Object.keys(state.cashiers).length >= terminal_cashiers_max)
    return { kind: 'rejected', code: 'failed_precondition', message: `a terminal keeps at most ${terminal_cashiers_max} cashiers` };
  const pinHash = command.pinHash ?? state.cashierPins[command.cashierId] ?? '';
  if (known && state.cashiers[command.cashierId] === command.granted && state.cashierPins[command.cashierId] === pinHash)
    return { kind: 'unchanged' };
  return {
    kind: 'changed',
    state: {
      ...state,
      cashiers: { ...state.cashiers, [command.cashierId]: command.granted },
      cashierPins: { ...state.cashierPins, [command.cashierId]: pinHash },
    },
  };
}
