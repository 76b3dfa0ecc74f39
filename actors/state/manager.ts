// How a merchant manager is stored (tl:{s of the merchant}:manager:<merchant>/<manager>): a keyed
// hash of the PIN that authorizes refunds, never the PIN, and who registered it. Layout 1.

import { z } from 'zod';
import { stateCodec } from './codec';

export interface ManagerRecord {
  readonly pinHash: string;
  readonly operator: string;
}

export const manager_record_schema = z.object({ pinHash: z.string(), operator: z.string() });

export const manager_record_codec = stateCodec<ManagerRecord>('manager', manager_record_schema);
export const encodeManagerRecord = manager_record_codec.encode;
export const decodeManagerRecord = manager_record_codec.decode;
