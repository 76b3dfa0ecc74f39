// Offline settings and grants (docs/OFFLINE.md, "Profile and grant"): an operator sets which
// programs a terminal may sell offline, its caps and its key; the terminal, when it syncs, gets a
// grant: its caps, each program's offline limits as they are now, and the denylist versions it
// must hold. A grant is decided by the terminal's actor on facts read first (the programs and the
// denylist versions), against the terminal's state version they were read at: if the terminal
// changed meanwhile (a batch completed), the facts are read again.

import type { KeyObject } from 'node:crypto';
import { failedPrecondition, unavailable } from '../../../actors/errors';
import type { GrantedProgram, OfflineGrant, TerminalOffline } from '../../../actors/offline/grant';
import type { TerminalOfflineSettings } from '../../../actors/offline/policy';
import type { Acting } from '../../../actors/principal';
import type { ProgramRegistry } from '../../../actors/program/registry';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import type { OfflineAnswer } from '../../../actors/terminal/offline-messages';
import type { TerminalState } from '../../../actors/terminal/rules';
import { spkiOf } from '../../../actors/offline/signature';
import type { DenylistStore } from '../store/denylist';
import { outcomeOf } from './outcome';

/** Attempts at a grant whose terminal kept changing while its facts were read. */
const grant_attempts_max = 3;

export interface IssuedGrant {
  readonly terminal: TerminalState;
  readonly offline: TerminalOffline;
  readonly grant: OfflineGrant;
  /** Tapline's counter key (SPKI DER), empty when none is set up. */
  readonly counterPublicKey: Uint8Array;
}

export class OfflineProfiles {
  constructor(
    private readonly region: ShardRegion,
    private readonly programs: Pick<ProgramRegistry, 'load'>,
    private readonly denylist: DenylistStore,
    private readonly counterKey: KeyObject | undefined,
    private readonly clock: () => number,
    /** Observes, at each grant, how old the denylist the terminal acknowledged last was (seconds). */
    private readonly observeStaleness?: (seconds: number) => void,
  ) {}

  /** Sets a registered terminal's offline settings; answers their version. */
  async configure(terminalId: string, settings: TerminalOfflineSettings, acting: Acting): Promise<number> {
    const answer = await this.tell(terminalId, { kind: 'configure', settings, acting });
    return (answer.state.offline as TerminalOffline).version;
  }

  /** The terminal's state as its actor holds it. */
  async inspect(terminalId: string): Promise<{ state: TerminalState; version: number }> {
    return this.tell(terminalId, { kind: 'inspect' });
  }

  /** Issues the terminal's next grant (refused while it has sales to upload). */
  async grant(terminalId: string, lastEntry: number): Promise<IssuedGrant> {
    for (let attempt = 0; attempt < grant_attempts_max; attempt++) {
      const { state, version } = await this.inspect(terminalId);
      const offline = state.offline;
      if (offline === undefined) throw failedPrecondition('terminal is not set up to sell offline', { terminalId });
      if (attempt === 0 && offline.ack !== undefined) this.observeStaleness?.(Math.max(0, this.clock() - offline.ack.atMs) / 1000);
      const [programs, required] = await Promise.all([this.grantedPrograms(offline.programs), this.denylist.versions()]);
      const answer = await outcomeOf<OfflineAnswer>((reply) =>
        this.region.terminalOffline(
          terminalId,
          { kind: 'grant', request: { lastEntry, readAtVersion: version, required, programs } },
          reply,
        ),
      );
      if (answer.kind === 'stale') continue;
      if (answer.kind !== 'state' || answer.state.offline?.grant === undefined) throw new Error('assertion: a grant answers the state');
      const granted = answer.state.offline;
      return {
        terminal: answer.state,
        offline: granted,
        grant: answer.state.offline.grant,
        counterPublicKey: this.counterKey === undefined ? new Uint8Array() : spkiOf(this.counterKey),
      };
    }
    throw unavailable('the terminal kept changing while its grant was prepared; retry', { terminalId });
  }

  /** The offline limits of the programs that have them, as stored now (read, not cached). */
  private async grantedPrograms(programIds: readonly string[]): Promise<Record<string, GrantedProgram>> {
    const stored = await Promise.all(programIds.map((programId) => this.programs.load(programId)));
    const granted: Record<string, GrantedProgram> = {};
    for (const program of stored) {
      const offline = program.config.offline;
      if (offline !== undefined) granted[program.programId] = { ...offline, programVersion: program.version };
    }
    return granted;
  }

  private async tell(
    terminalId: string,
    command: Parameters<ShardRegion['terminalOffline']>[1],
  ): Promise<{ state: TerminalState; version: number }> {
    const answer = await outcomeOf<OfflineAnswer>((reply) => this.region.terminalOffline(terminalId, command, reply));
    if (answer.kind !== 'state') throw new Error(`assertion: ${command.kind} answers the terminal's state`);
    return { state: answer.state, version: answer.version };
  }
}
