// Every stored entity's codec by its persistence kind (actors/runtime/persistence.ts EntityKind):
// an entity kind added without a codec does not compile. For code that handles records of any
// kind (audits, tools, the test that decodes everything a real node wrote); entities import their
// own codec from its file.

import type { EntityKind } from '../runtime/persistence';
import { card_holder_codec, card_state_codec, refund_ledger_codec, spent_key_codec, token_record_codec } from './card';
import type { StateCodec } from './codec';
import { fleet_account_codec, fleet_card_codec, price_list_codec, review_queue_codec, vehicle_codec } from './fleet';
import { issuance_record_codec } from './issuance';
import { manager_record_codec } from './manager';
import { program_config_codec } from './program';
import { offline_batch_codec, terminal_state_codec } from './terminal';

/** What code that handles any kind needs of a codec: reading (writing takes the entity's own type). */
export type StateReader = Pick<StateCodec<unknown>, 'entity' | 'version' | 'decode'>;

export const state_codecs: { readonly [K in EntityKind]: StateReader } = {
  card: card_state_codec,
  terminal: terminal_state_codec,
  program: program_config_codec,
  holder: card_holder_codec,
  issuance: issuance_record_codec,
  refunded: refund_ledger_codec,
  spent: spent_key_codec,
  token: token_record_codec,
  manager: manager_record_codec,
  offline_batch: offline_batch_codec,
  fleet: fleet_account_codec,
  fleet_card: fleet_card_codec,
  vehicle: vehicle_codec,
  review: review_queue_codec,
  price_list: price_list_codec,
};
