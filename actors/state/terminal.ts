// How a terminal is stored (tl:{s}:terminal:<id>): its registration and enabled flag, at layout 1.

import { z } from 'zod';
import type { TerminalState } from '../terminal/rules';
import { stateCodec } from './codec';

export const terminal_state_schema = z.object({
  terminalId: z.string(),
  merchantId: z.string(),
  location: z.string(),
  enabled: z.boolean(),
});

export const terminal_state_codec = stateCodec<TerminalState>('terminal', terminal_state_schema);
export const encodeTerminalState = terminal_state_codec.encode;
/** A terminal read back: the terminal actor's activation and the remote terminal cache's misses. */
export const decodeTerminalState = terminal_state_codec.decode;
