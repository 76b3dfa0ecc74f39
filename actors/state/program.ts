// How a program's configuration is stored (tl:{s of the program}:program:<id>), and the one real
// layout step of this folder.
//
// Layout 1 (no version marker) is every configuration written before versions existed. Its fields
// grew over time (partialHolds and rules came later), so a layout-1 record may lack any of them,
// and the reader used to fill in defaults at every load. Layout 2 is complete: every parameter is
// written, so what a program does no longer depends on the defaults of the build that reads it.
// A layout-1 record upgrades to layout 2 by taking the defaults for what it lacks: exactly what
// the reader did before, now one tested step. Programs are rare writes, so the marker's bytes cost
// nothing; an older node reading a layout-2 record sees one unknown field and ignores it.
// Layout 3 adds the optional offline policy (actors/offline/policy.ts): a layout-2 reader would drop
// it, so it refuses layout 3; a layout-2 record is a program never sold offline.

import { z } from 'zod';
import { default_program_config, type ProgramConfig } from '../program/config';
import { legacyLayout, stateCodec } from './codec';
import { integer, program_rules_schema } from './schemas';

const program_config_v2_schema = z.object({
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

export const program_offline_policy_schema = z.object({
  txnMaxMinor: integer,
  cardMaxMinor: integer,
  debtThresholdMinor: integer,
  cardCounter: z.boolean(),
});

/** Layout 3 (current): layout 2 and the offline policy. */
export const program_config_schema = program_config_v2_schema.extend({ offline: program_offline_policy_schema.optional() });

/** Layout 1: the layout-2 fields, each possibly missing from a record written before it existed. */
export const program_config_layout_1_schema = program_config_v2_schema.partial();

export function upgradeProgramConfigFromLayout1(record: z.output<typeof program_config_layout_1_schema>): ProgramConfig {
  return { ...default_program_config, ...record };
}

export const program_config_codec = stateCodec<ProgramConfig>('program', program_config_schema, [
  legacyLayout(program_config_layout_1_schema, upgradeProgramConfigFromLayout1),
  legacyLayout(program_config_v2_schema, (v2) => v2),
]);
export const encodeProgramConfig = program_config_codec.encode;
/** A program read back (ProgramRegistry.load, when a card of it activates or the cache is stale). */
export const decodeProgramConfig = program_config_codec.decode;
