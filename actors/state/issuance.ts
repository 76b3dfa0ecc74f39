// How a bulk issuance is stored (tl:{s of the issuance}:issuance:<id>): written once, read when the
// same issuance id comes again. Layout 1.

import { z } from 'zod';
import type { IssuanceRecord } from '../card/issuance';
import { stateCodec } from './codec';
import { integer } from './schemas';

export const issuance_record_schema = z.object({
  issuance: z.string(),
  program: z.string(),
  currency: z.string(),
  initialBalanceMinor: integer,
  depositMinor: integer,
  expiresAtMs: integer,
  count: integer,
  cardsDigest: z.string(),
  operator: z.string(),
  at: integer,
});

export const issuance_record_codec = stateCodec<IssuanceRecord>('issuance', issuance_record_schema);
export const encodeIssuanceRecord = issuance_record_codec.encode;
export const decodeIssuanceRecord = issuance_record_codec.decode;
