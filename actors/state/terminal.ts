// How a terminal is stored (tl:{s}:terminal:<id>): its registration, enabled flag, serial number,
// versioned parameters and cashiers, at layout 2. Layout 1 (registration and enabled flag only)
// upgrades to a terminal with no serial number, empty parameters at version 1 and no cashiers:
// what a terminal registered before these existed has.

import { z } from 'zod';
import { empty_terminal_parameters, type TerminalState } from '../terminal/rules';
import { legacyLayout, stateCodec } from './codec';

const terminal_layout_1 = z.object({
  terminalId: z.string(),
  merchantId: z.string(),
  location: z.string(),
  enabled: z.boolean(),
});

export const terminal_parameters_schema = z.object({
  receiptHeader: z.string(),
  receiptFooter: z.string(),
  communication: z.object({ host: z.string(), port: z.number().int().nonnegative(), timeoutMs: z.number().int().nonnegative() }),
  offlineProfile: z.string(),
});

export const terminal_state_schema = terminal_layout_1.extend({
  serialNumber: z.string(),
  parameters: terminal_parameters_schema,
  parametersVersion: z.number().int().nonnegative(),
  cashiers: z.record(z.string(), z.boolean()),
  cashierPins: z.record(z.string(), z.string()),
});

export const terminal_state_codec = stateCodec<TerminalState>('terminal', terminal_state_schema, [
  legacyLayout(terminal_layout_1, (record) => ({
    ...record,
    serialNumber: '',
    parameters: empty_terminal_parameters,
    parametersVersion: 1,
    cashiers: {},
    cashierPins: {},
  })),
]);
export const encodeTerminalState = terminal_state_codec.encode;
/** A terminal read back: the terminal actor's activation and the remote terminal cache's misses. */
export const decodeTerminalState = terminal_state_codec.decode;
