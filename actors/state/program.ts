// How a program's configuration is stored (tl:{s of the program}:program:<id>), and the one real
// layout step of this folder.
//
// Layout 1 (no version marker) is every configuration written before versions existed. Its fields
// grew over time (partialHolds and rules came later), so a layout-1 record may lack any of them,
// and the reader used to fill in defaults at every load. Layout 2 is complete: every parameter is
// written, so what a program does no longer depends on the defaults of the build that reads it.
// A layout-1 record upgrades to layout 2 by taking the defaults for what it lacks: exactly what
// the reader did before, now one tested step. Programs are rare writes, so the marker's bytes cost
// nothing. Layout 3 adds cardAuthKeyId (cards that authenticate); a layout-2 record upgrades with
// none. A node of an older build refuses a layout-3 record rather than ignore the key id: it would
// issue cards of the program that do not authenticate. Layout 4 adds the optional offline policy
// (actors/offline/policy.ts): a layout-3 reader would drop it, so it refuses layout 4; a layout-3
// record is a program never sold offline (identity step).

import { z } from 'zod';
import { default_program_config, type ProgramConfig } from '../program/config';
import { legacyLayout, stateCodec } from './codec';
import { integer, program_rules_schema } from './schemas';

/** Layout 2: every parameter before card authentication. */
const program_config_layout_2_schema = z.object({
  pinRequired: z.boolean(),
  maxBalanceMinor: integer,
  maxTopUpMinor: integer,
  holdExpiryMs: integer,
  completionToleranceBp: integer,
  depositMinor: integer,
  pinAttemptsMax: integer,
  partialHolds: z.boolean(),
  rules: program_rules_schema.optional(),
});

/** Layout 3: layout 2 and the card authentication key. */
const program_config_layout_3_schema = program_config_layout_2_schema.extend({ cardAuthKeyId: z.string() });

export const program_offline_policy_schema = z.object({
  txnMaxMinor: integer,
  cardMaxMinor: integer,
  debtThresholdMinor: integer,
  cardCounter: z.boolean(),
});

/** Layout 4 (current): layout 3 and the offline policy. */
export const program_config_schema = program_config_layout_3_schema.extend({ offline: program_offline_policy_schema.optional() });

/** Layout 1: the fields of layout 2, each possibly missing from a record written before it existed. */
export const program_config_layout_1_schema = program_config_layout_2_schema.partial();

/** A layout-1 record as layout 2: the defaults for what it lacks. */
export function upgradeProgramConfigFromLayout1(record: z.output<typeof program_config_layout_1_schema>): unknown {
  const layout2Defaults: { -readonly [K in keyof ProgramConfig]?: ProgramConfig[K] } = { ...default_program_config };
  delete layout2Defaults.cardAuthKeyId;
  return { ...layout2Defaults, ...record };
}

export const program_config_codec = stateCodec<ProgramConfig>('program', program_config_schema, [
  legacyLayout(program_config_layout_1_schema, upgradeProgramConfigFromLayout1),
  legacyLayout(program_config_layout_2_schema, (layout2) => ({ ...layout2, cardAuthKeyId: '' })),
  legacyLayout(program_config_layout_3_schema, (layout3) => layout3),
]);
export const encodeProgramConfig = program_config_codec.encode;
/** A program read back (ProgramRegistry.load, when a card of it activates or the cache is stale). */
export const decodeProgramConfig = program_config_codec.decode;
