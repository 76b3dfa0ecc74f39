// The terminal actor: one per terminal, a thin shell over the entity host. It checks every money
// request of its terminal (registered, enabled, belongs to a merchant) before the request goes to
// the card, and it is the only writer of the terminal's registration and enabled flag. Checks
// read memory only; changes go through group commit like card decisions and are answered once
// durable.

import { rejected, type TaplineError } from '../errors';
import type { Acting } from '../principal';
import { EntityHost, loadSlot, stampOf, type HostContext, type Reply, type Slot } from '../runtime/entity-host';
import type { EntityId } from '../runtime/persistence';
import { terminalEnabledChanged, terminalRegistered } from '../outbox/builders';
import { decodeTerminalState, encodeTerminalState } from '../state/terminal';
import {
  checkCanTransact,
  decideTerminal,
  type CashierCredential,
  type TerminalCheck,
  type TerminalCommand,
  type TerminalState,
} from './rules';

export type TerminalMessage =
  | {
      readonly type: 'check';
      readonly cashier?: CashierCredential;
      readonly then: (check: TerminalCheck) => void;
      readonly fail: (error: TaplineError) => void;
    }
  /** The terminal's durable state, as an operator or the terminal itself reads it. */
  | { readonly type: 'read'; readonly reply: Reply<TerminalState> }
  | {
      readonly type: 'change';
      readonly command: TerminalCommand;
      readonly operatorId: string;
      readonly reply: Reply<TerminalAnswer>;
      readonly attempt: number;
      readonly acting?: Acting;
    };

export interface TerminalAnswer {
  readonly state: TerminalState;
  readonly unchanged: boolean;
}

export interface TerminalActorContext extends Pick<HostContext, 'persistence' | 'conflict_attempts_max'> {
  /**
   * Publishes the terminal's durable state (undefined: forget it) to the region's read-only
   * directory, so money requests can be checked without a hop through this actor. Only this
   * actor publishes its terminal, so the directory never holds a state that was not committed.
   */
  readonly publish: (terminalId: string, state: TerminalState | undefined) => void;
  readonly clock: () => number;
  readonly retell: (terminalId: string, message: TerminalMessage) => boolean;
}

export class TerminalBehavior extends EntityHost<TerminalMessage> implements Slot<TerminalState> {
  state: TerminalState | undefined = undefined;
  version = 0;
  durable: TerminalState | undefined = undefined;
  private readonly entity: EntityId;

  constructor(
    readonly terminalId: string,
    shard: number,
    private readonly context: TerminalActorContext & HostContext,
  ) {
    super(shard, context);
    this.entity = { kind: 'terminal', id: terminalId };
  }

  protected needsAwait(): boolean {
    return !this.loaded;
  }

  protected async handleAwaiting(message: TerminalMessage): Promise<void> {
    if (!this.loaded) await this.reload();
    this.handle(message);
  }

  protected handle(message: TerminalMessage): void {
    if (message.type === 'check') message.then(checkCanTransact(this.durable, message.cashier));
    else if (message.type === 'read') this.read(message.reply);
    else this.change(message);
  }

  protected failMessage(message: TerminalMessage, error: TaplineError): void {
    if (message.type === 'check') message.fail(error);
    else message.reply({ ok: false, error });
  }

  private read(reply: Reply<TerminalState>): void {
    if (this.durable === undefined)
      reply({ ok: false, error: rejected('not_found', 'terminal not registered', { terminalId: this.terminalId }) });
    else reply({ ok: true, value: this.durable });
  }

  private async reload(): Promise<void> {
    loadSlot(this, await this.loadRecord(this.entity), decodeTerminalState);
    this.loaded = true;
    this.context.publish(this.terminalId, this.durable);
  }

  /** The actor is being passivated: the directory must not outlive it. */
  passivated(): void {
    this.context.publish(this.terminalId, undefined);
  }

  private change(message: Extract<TerminalMessage, { type: 'change' }>): void {
    const decision = decideTerminal(this.state, message.command);
    if (decision.kind === 'rejected')
      return message.reply({ ok: false, error: rejected(decision.code, decision.message, { terminalId: this.terminalId }) });
    if (decision.kind === 'unchanged') return message.reply({ ok: true, value: { state: this.state as TerminalState, unchanged: true } });
    const after = decision.state;
    const event = {
      terminal: this.terminalId,
      merchant: after.merchantId,
      enabled: after.enabled,
      operator: message.operatorId,
      at: this.context.clock(),
    };
    // Parameters and cashiers change no transaction fact: their audit record is their trace.
    const type = message.command.type;
    const outbox = type === 'register' ? terminalRegistered(event) : type === 'set_enabled' ? terminalEnabledChanged(event) : undefined;
    const submitted = this.commit(
      {
        slots: [{ slot: this, entity: this.entity, after, encoded: encodeTerminalState(after) }],
        outbox,
        audit: stampOf(message.acting, this.context.clock),
      },
      (outcome, ownConflict) => {
        if (outcome.status === 'committed') {
          this.context.publish(this.terminalId, after);
          message.reply({ ok: true, value: { state: after, unchanged: false } });
          return;
        }
        this.context.publish(this.terminalId, undefined);
        if (outcome.status === 'conflict')
          this.retryOrFail(message, (again) => this.context.retell(this.terminalId, again), message.reply, ownConflict);
        else message.reply({ ok: false, error: this.failureOf(outcome) });
      },
    );
    if (!submitted) message.reply({ ok: false, error: this.commitQueueFull() });
  }
}
