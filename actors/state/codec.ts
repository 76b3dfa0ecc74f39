// Versioned codecs for what entities keep in Redis (the `d` field of an entity's hash: a card's
// state, a terminal, a fleet account, ...). Every codec of this folder is built here: encode is
// JSON with the layout's version, decode checks the JSON against the layout's zod schema and
// upgrades an older layout step by step to the current one.
//
// Where codecs live: all in this folder (one file per owning area: card, fleet, terminal, program,
// issuance, manager), not beside each entity, because several entities share sub-schemas (program
// rules, spend limits and counters) and all share this machinery; "how is X stored?" is answered
// by actors/state/<area>.ts.
//
// The version: layout 1 is what was written before versions existed, and it carries no marker, so
// every record already in Redis is layout 1 and a layout-1 entity costs no byte more per record
// (a card's state is rewritten by every purchase). Layout N >= 2 starts with "v":N. A layout
// newer than this build knows (a rolling upgrade read back by an older node) is refused, never
// guessed at: writing it back in an older layout would drop what the newer one added.
//
// Cost: decoding parses and validates (zod), so it runs when an entity is loaded (actor
// activation, a cache miss, a rare admin read), never per request; encoding is one JSON.stringify
// (plus one string concatenation from layout 2 on) and validates nothing.

import type { z } from 'zod';
import { describeIssues } from '../zod-issues';
import { InternalError } from '../errors';

/** The key of the layout version in a stored record (absent = layout 1). One letter: it is paid per record. */
export const version_key = 'v';

/**
 * Stored data that does not decode: not JSON, not the layout its version says, or a layout newer
 * than this build knows. A typed failure of the load that met it (the entity is not activated and
 * the request fails as internal); never a crash, never a guess. `problem` names paths and rules,
 * never values: stored records can hold personal data.
 */
export class StoredStateError extends InternalError {
  constructor(
    /** What was stored: an entity kind ("card", "fleet", ...) or "idempotency record". */
    readonly stored: string,
    readonly problem: string,
  ) {
    super(`stored ${stored} does not decode: ${problem}`, { stored });
  }
}

/** An older layout: its schema, and how a record in it becomes the next layout. */
export interface LegacyLayout {
  readonly schema: z.ZodType;
  readonly upgrade: (record: unknown) => unknown;
}

/**
 * Layout `n` of a codec's `legacy` list (layout n upgrades to layout n + 1). The upgrade is pure
 * and gets a record its schema accepted; the last upgrade's result is checked against the current
 * schema, so a wrong migration is a StoredStateError, not a corrupt entity.
 */
export function legacyLayout<S extends z.ZodType>(schema: S, upgrade: (record: z.output<S>) => unknown): LegacyLayout {
  return { schema, upgrade: (record) => upgrade(record as z.output<S>) };
}

export interface StateCodec<T> {
  /** The entity kind, as in persistence's EntityKind (names the record in errors). */
  readonly entity: string;
  /** The layout this build writes. */
  readonly version: number;
  /** Functions, not methods: each codec exports them on their own (encodeCardState, ...). */
  readonly encode: (state: T) => string;
  /** The state, or a StoredStateError. */
  readonly decode: (json: string) => T;
}

/**
 * A codec whose current layout is `schema` and whose older layouts are `legacy` (oldest first:
 * legacy[0] is layout 1). The current layout's version is legacy.length + 1.
 */
export function stateCodec<T>(entity: string, schema: z.ZodType<T>, legacy: readonly LegacyLayout[] = []): StateCodec<T> {
  const version = legacy.length + 1;
  const prefix = `{"${version_key}":${version}`;
  const layouts: readonly z.ZodType[] = [...legacy.map((layout) => layout.schema), schema];
  const fail = (problem: string): never => {
    throw new StoredStateError(entity, problem);
  };
  return {
    entity,
    version,
    encode:
      version === 1
        ? (state) => JSON.stringify(state)
        : (state) => {
            const json = JSON.stringify(state);
            return json === '{}' ? `${prefix}}` : `${prefix},${json.slice(1)}`;
          },
    decode: (json) => {
      let record: unknown;
      try {
        record = JSON.parse(json);
      } catch {
        return fail('not JSON');
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record)) return fail('not a JSON object');
      const stored = Object.hasOwn(record, version_key) ? (record as Record<string, unknown>)[version_key] : 1;
      if (!Number.isSafeInteger(stored) || (stored as number) < 1) return fail(`layout version ${JSON.stringify(stored)} is not a version`);
      const from = stored as number;
      if (from > version) return fail(`layout ${from} is newer than this build's layout ${version}`);
      // The marker is no field of any layout (the record is this call's own copy).
      delete (record as Record<string, unknown>)[version_key];
      const parsed = (layouts[from - 1] as z.ZodType).safeParse(record);
      if (!parsed.success) return fail(`layout ${from}: ${describeIssues(parsed.error)}`);
      if (from === version) return parsed.data as T;
      let upgraded: unknown = parsed.data;
      for (let step = from - 1; step < legacy.length; step++) upgraded = (legacy[step] as LegacyLayout).upgrade(upgraded);
      const current = schema.safeParse(upgraded);
      if (!current.success) return fail(`upgrade from layout ${from}: ${describeIssues(current.error)}`);
      return current.data;
    },
  };
}
