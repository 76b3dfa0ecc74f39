// Programs as the node sees them: a cache of each program's stored configuration, read from
// Redis when a card of the program is loaded (and refreshed in the background once older than
// refresh_ms), and the one place a program is written. A program is a versioned record on the
// shard of its id, written by the group commit with a compare-and-set on its version, so two
// operators defining it at once cannot overwrite each other silently; each change appends an
// operator_action document to the shard's outbox (the audit trail).

import type { Acting } from '../principal';
import { TaplineError, resourceExhausted, shardMoved, unavailable, type Outcome } from '../errors';
import { auditRecord, programDefined } from '../outbox/builders';
import type { CommitResult, EntityId, Persistence } from '../runtime/persistence';
import { shardOf } from '../sharding/shard-key';
import { decodeProgramConfig, encodeProgramConfig } from '../state/program';
import { default_program_config, programAuditDetail, sameProgramConfig, type ProgramConfig, type StoredProgram } from './config';

/** What card actors read: synchronous on the decision path, loaded before a card decides. */
export interface ProgramSource {
  /** The cached configuration (defaults when the program was never defined or not yet read). */
  get(programId: string): ProgramConfig;
  /** Reads the program unless a fresh copy is cached. */
  ensure(programId: string): Promise<void>;
}

export interface ProgramRegistryOptions {
  readonly shard_count: number;
  /** A cached program older than this is reread (a change made on another node shows up then). */
  readonly refresh_ms: number;
  /** Attempts at a definition when concurrent definitions keep conflicting. */
  readonly conflict_attempts_max: number;
  readonly clock: () => number;
  readonly onRefreshError: (error: unknown) => void;
}

/**
 * Programs cached per node. A deployment has tens of programs, a large one hundreds; the bound only
 * keeps a stream of unknown program ids (every card names one) from growing memory: past it, the
 * program loaded longest ago is dropped and read again when a card of it is next loaded.
 */
export const programs_cached_max = 10_000;

/** Background refreshes in progress at once; past it a stale program is served until one finishes. */
export const program_refreshes_max = 1_000;

interface Cached {
  readonly program: StoredProgram;
  readonly loadedAtMs: number;
}

export class ProgramRegistry implements ProgramSource {
  /** Programs cached now (bounded by programs_cached_max). */
  get cachedCount(): number {
    return this.cache.size;
  }

  private readonly cache = new Map<string, Cached>();
  private readonly refreshing = new Set<string>();

  constructor(
    private readonly persistence: Persistence,
    private readonly options: ProgramRegistryOptions,
  ) {}

  get(programId: string): ProgramConfig {
    const cached = this.cache.get(programId);
    if (cached === undefined || this.options.clock() - cached.loadedAtMs > this.options.refresh_ms) this.refreshInBackground(programId);
    return cached?.program.config ?? default_program_config;
  }

  async ensure(programId: string): Promise<void> {
    const cached = this.cache.get(programId);
    if (cached !== undefined && this.options.clock() - cached.loadedAtMs <= this.options.refresh_ms) return;
    await this.load(programId);
  }

  async load(programId: string): Promise<StoredProgram> {
    const record = await this.persistence.loadEntity(this.shardOf(programId), programEntity(programId));
    const program: StoredProgram = {
      programId,
      config: record.data === undefined ? default_program_config : decodeProgramConfig(record.data),
      version: record.version,
    };
    this.remember(program);
    return program;
  }

  /** Defines (creates or changes) a program; the reply carries the version now stored. */
  define(programId: string, config: ProgramConfig, acting: Acting, reply: (outcome: Outcome<StoredProgram>) => void, attempt = 0): void {
    this.load(programId).then(
      (current) => {
        if (current.version > 0 && sameProgramConfig(current.config, config)) {
          reply({ ok: true, value: current });
          return;
        }
        const next: StoredProgram = { programId, config, version: current.version + 1 };
        const at = this.options.clock();
        const audit = programDefined({ program: programId, detail: programAuditDetail(config), operator: acting.subject, at });
        const before = current.version > 0 ? current.config : undefined;
        const record = auditRecord({ actor: acting, changes: [{ entity: `program:${programId}`, before, after: config }], at });
        const submitted = this.persistence.submit({
          shard: this.shardOf(programId),
          writes: [{ entity: programEntity(programId), expectVersion: current.version, data: encodeProgramConfig(config) }],
          outbox: audit,
          extraOutbox: [{ shard: this.shardOf(programId), document: record }],
          settle: (result: CommitResult) => {
            if (result.status === 'committed') {
              this.remember(next);
              reply({ ok: true, value: next });
            } else if (result.status === 'conflict' && attempt + 1 < this.options.conflict_attempts_max) {
              this.define(programId, config, acting, reply, attempt + 1);
            } else if (result.status === 'fenced') {
              // The program's shard moved: nothing was written; the router retries on its new owner.
              reply({ ok: false, error: shardMoved('program shard moved; retry on its owner', { programId }) });
            } else {
              reply({ ok: false, error: unavailable('program definition did not land; retry', { programId, status: result.status }) });
            }
          },
        });
        if (!submitted) reply({ ok: false, error: resourceExhausted('commit queue full') });
      },
      (error: unknown) => {
        reply({
          ok: false,
          error: error instanceof TaplineError ? error : unavailable('could not read the program; retry', {}, { cause: error }),
        });
      },
    );
  }

  private shardOf(programId: string): number {
    return shardOf('program', programId, this.options.shard_count);
  }

  private remember(program: StoredProgram): void {
    const cached = this.cache.get(program.programId);
    // A slower read must not replace a newer version already cached.
    if (cached !== undefined && cached.program.version > program.version) return;
    // Re-inserted, so the map's order is the order of loading: its first entry was loaded longest ago.
    this.cache.delete(program.programId);
    if (this.cache.size >= programs_cached_max) {
      const oldest = this.cache.keys().next();
      if (oldest.done !== true) this.cache.delete(oldest.value);
    }
    this.cache.set(program.programId, { program, loadedAtMs: this.options.clock() });
  }

  private refreshInBackground(programId: string): void {
    if (this.refreshing.has(programId) || this.refreshing.size >= program_refreshes_max) return;
    this.refreshing.add(programId);
    this.load(programId).then(
      () => this.refreshing.delete(programId),
      (error: unknown) => {
        this.refreshing.delete(programId);
        this.options.onRefreshError(error);
      },
    );
  }
}

export function programEntity(programId: string): EntityId {
  return { kind: 'program', id: programId };
}
