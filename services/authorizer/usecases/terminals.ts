// Terminal management between the operator API and the terminal actors: registration with serial
// number and parameters, parameter changes (the version the terminal fetches increments), cashier
// grants and denials, reading one terminal and searching the stored ones. Every change runs in the
// terminal's actor as the token's subject, whose audit record is written with the change
// (actors/runtime/entity-host.ts); a cashier's code is hashed here and never passed further in
// clear: HMAC(TAPLINE_PIN_SECRET, "cashier:<terminal>/<cashier>:<code>"), so a code's hash is
// never the hash of the same digits at another terminal, another cashier, a card or a manager.

import { failedPrecondition } from '../../../actors/errors';
import type { Acting } from '../../../actors/principal';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import type { TerminalAnswer } from '../../../actors/terminal/actor';
import type { CashierCredential, TerminalCommand, TerminalParameters, TerminalState } from '../../../actors/terminal/rules';
import type { StoredTerminals, TerminalFilter, TerminalsPage } from '../store/terminals';
import { outcomeOf } from './outcome';
import type { PinHasher } from './pin';

export class TerminalAdmin {
  constructor(
    private readonly region: Pick<ShardRegion, 'changeTerminal' | 'readTerminal'>,
    private readonly hasher: PinHasher | undefined,
    private readonly stored: Pick<StoredTerminals, 'page'>,
  ) {}

  register(command: Extract<TerminalCommand, { type: 'register' }>, acting: Acting): Promise<TerminalAnswer> {
    return this.change(command.terminalId, command, acting);
  }

  setEnabled(terminalId: string, enabled: boolean, acting: Acting): Promise<TerminalAnswer> {
    return this.change(terminalId, { type: 'set_enabled', enabled }, acting);
  }

  setParameters(terminalId: string, parameters: TerminalParameters, expectedVersion: number, acting: Acting): Promise<TerminalAnswer> {
    return this.change(terminalId, { type: 'set_parameters', parameters, expectedVersion }, acting);
  }

  /** Grants (a code given replaces the cashier's) or denies a cashier at a terminal. */
  setCashier(terminalId: string, cashierId: string, code: string, granted: boolean, acting: Acting): Promise<TerminalAnswer> {
    const pinHash = code === '' ? undefined : this.hash(terminalId, cashierId, code);
    const command: TerminalCommand =
      pinHash === undefined ? { type: 'set_cashier', cashierId, granted } : { type: 'set_cashier', cashierId, granted, pinHash };
    return this.change(terminalId, command, acting);
  }

  get(terminalId: string): Promise<TerminalState> {
    return outcomeOf<TerminalState>((reply) => this.region.readTerminal(terminalId, reply));
  }

  search(cursor: string, size: number, filter: TerminalFilter): Promise<TerminalsPage> {
    return this.stored.page(cursor, size, filter);
  }

  /** What a money request carries for the terminal to check: the cashier and their code's hash. */
  cashierCredential(terminalId: string, cashierId: string, code: string): CashierCredential {
    return { cashierId, pinHash: this.hash(terminalId, cashierId, code) };
  }

  private hash(terminalId: string, cashierId: string, code: string): string {
    if (this.hasher === undefined) throw failedPrecondition('cashier codes need TAPLINE_PIN_SECRET configured on the node');
    return this.hasher.hash(`cashier:${terminalId}/${cashierId}`, code);
  }

  private change(terminalId: string, command: TerminalCommand, acting: Acting): Promise<TerminalAnswer> {
    return outcomeOf<TerminalAnswer>((reply) => this.region.changeTerminal(terminalId, command, acting, reply));
  }
}
