// The terminal actor: one per terminal. It checks every money request of its terminal (registered,
// enabled, belongs to a merchant) before the request goes to the card, and it is the only writer
// of the terminal's registration and enabled flag. Checks read memory only; changes go through
// group commit like card decisions and are answered once durable.

import { TaplineError, resourceExhausted, shardMoved, unavailable } from '../errors';
import type { Reply } from '../card/actor';
import type { EntityBehavior } from '../runtime/actor-runtime';
import type { CommitEntry, EntityId, Persistence } from '../runtime/persistence';
import { checkCanTransact, decideTerminal, type TerminalCheck, type TerminalCommand, type TerminalState } from './rules';

export type TerminalMessage =
  | { readonly type: 'check'; readonly then: (check: TerminalCheck) => void; readonly fail: (error: TaplineError) => void }
  | {
      readonly type: 'change';
      readonly command: TerminalCommand;
      readonly operatorId: string;
      readonly reply: Reply<TerminalAnswer>;
      readonly attempt: number;
    };

export interface TerminalAnswer {
  readonly state: TerminalState;
  readonly unchanged: boolean;
}

export interface TerminalActorContext {
  readonly persistence: Persistence;
  /**
   * Publishes the terminal's durable state (undefined: forget it) to the region's read-only
   * directory, so money requests can be checked without a hop through this actor. Only this
   * actor publishes its terminal, so the directory never holds a state that was not committed.
   */
  readonly publish: (terminalId: string, state: TerminalState | undefined) => void;
  readonly clock: () => number;
  readonly retell: (terminalId: string, message: TerminalMessage) => boolean;
  readonly conflict_attempts_max: number;
}

export class TerminalBehavior implements EntityBehavior<TerminalMessage> {
  private loaded = false;
  private state: TerminalState | undefined;
  private version = 0;
  private uncommitted = 0;
  private readonly entity: EntityId;

  constructor(
    readonly terminalId: string,
    private readonly shard: number,
    private readonly context: TerminalActorContext,
  ) {
    this.entity = { kind: 'terminal', id: terminalId };
  }

  get quiescent(): boolean {
    return this.uncommitted === 0;
  }

  async receive(batch: TerminalMessage[]): Promise<void> {
    for (const message of batch) {
      // A failure fails this message only; earlier ones are already answered or committing.
      try {
        if (!this.loaded) await this.reload();
        if (message.type === 'check') message.then(checkCanTransact(this.state));
        else this.change(message);
      } catch (error) {
        this.fail([message], error);
      }
    }
  }

  fail(batch: TerminalMessage[], error: unknown): void {
    const failure = error instanceof TaplineError ? error : new TaplineError('internal', 'terminal actor failed', { cause: String(error) });
    this.loaded = false;
    for (const message of batch) {
      if (message.type === 'check') message.fail(failure);
      else message.reply({ ok: false, error: failure });
    }
  }

  private async reload(): Promise<void> {
    const record = await this.context.persistence.loadEntity(this.shard, this.entity);
    this.state = record.data === undefined ? undefined : (JSON.parse(record.data) as TerminalState);
    this.version = record.version;
    this.loaded = true;
    this.context.publish(this.terminalId, this.state);
  }

  /** The actor is being passivated: the directory must not outlive it. */
  passivated(): void {
    this.context.publish(this.terminalId, undefined);
  }

  private change(message: Extract<TerminalMessage, { type: 'change' }>): void {
    const decision = decideTerminal(this.state, message.command);
    if (decision.kind === 'rejected') {
      message.reply({ ok: false, error: new TaplineError(decision.code, decision.message, { terminalId: this.terminalId }) });
      return;
    }
    if (decision.kind === 'unchanged') {
      message.reply({ ok: true, value: { state: this.state as TerminalState, unchanged: true } });
      return;
    }
    const after = decision.state;
    const entry: CommitEntry = {
      shard: this.shard,
      writes: [{ entity: this.entity, expectVersion: this.version, data: JSON.stringify(after) }],
      outbox: JSON.stringify({
        type: message.command.type === 'register' ? 'terminal_registered' : 'terminal_enabled_changed',
        terminal: this.terminalId,
        merchant: after.merchantId,
        enabled: after.enabled,
        operator: message.operatorId,
        at: this.context.clock(),
      }),
      settle: (outcome) => {
        this.uncommitted -= 1;
        if (outcome.status === 'committed') {
          this.context.publish(this.terminalId, after);
          message.reply({ ok: true, value: { state: after, unchanged: false } });
          return;
        }
        this.loaded = false;
        this.context.publish(this.terminalId, undefined);
        if (outcome.status === 'conflict' && message.attempt + 1 < this.context.conflict_attempts_max) {
          if (!this.context.retell(this.terminalId, { ...message, attempt: message.attempt + 1 })) {
            message.reply({ ok: false, error: resourceExhausted('terminal mailbox full') });
          }
          return;
        }
        if (outcome.status === 'fenced') message.reply({ ok: false, error: shardMoved('shard moved to another node; retry') });
        else message.reply({ ok: false, error: unavailable('could not persist terminal change; retry', { status: outcome.status }) });
      },
    };
    if (!this.context.persistence.submit(entry)) {
      message.reply({ ok: false, error: resourceExhausted('commit queue full') });
      return;
    }
    this.uncommitted += 1;
    this.state = after;
    this.version += 1;
  }
}
