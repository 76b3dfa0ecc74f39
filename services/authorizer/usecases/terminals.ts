// Terminal management between the operator API and the terminal actors: registration with serial
// number and parameters, parameter changes (the version the terminal fetches increments), cashier
// grants and denials, reading one terminal and searching the stored ones. Every change runs in the
// terminal's actor as the token's subject, whose audit record is written with the change
// (actors/runtime/entity-host.ts); a cashier's code is hashed here and never passed further in
// clear: HMAC(TAPLINE_PIN_SECRET, "cashier:<terminal>/<cashier>:<code>"), so a code's hash is
// never the hash of the same digits at another terminal, another cashier, a card or a manager.
//
// Guessing a cashier's code: every money request naming a cashier takes one attempt of that
// cashier at that terminal (AttemptCounter, in Redis: shared by every node, kept across restarts)
// before the terminal compares the code, so requests sent at once to any nodes compare at most
// cashier_code_attempts_max codes; the last of them locks the cashier there for cashier_lock_ms,
// whatever code is given. A request the terminal let through starts the count again, and so does
// the merchant granting the cashier again (SetTerminalCashier). Unknown cashier ids are counted
// too, so probing ids costs the same as guessing codes. A retry of a request (its key) with the
// same code is the same attempt and is not counted again: a terminal retrying a timed-out sale
// must not lock its cashier; the same key with another code is another guess and is counted.

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { RejectedError, failedPrecondition, permissionDenied, unavailable, type TaplineError } from '../../../actors/errors';
import type { MoneyRequest, TxnAnswer } from '../../../actors/card/transaction';
import type { Reply } from '../../../actors/runtime/entity-host';
import type { Acting } from '../../../actors/principal';
import { shardOf } from '../../../actors/sharding/shard-key';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import type { TerminalAnswer } from '../../../actors/terminal/actor';
import type { CashierCredential, TerminalCommand, TerminalParameters, TerminalState } from '../../../actors/terminal/rules';
import type { StoredTerminals, TerminalFilter, TerminalsPage } from '../store/terminals';
import { outcomeOf } from './outcome';
import type { AttemptCounter } from './managers';
import type { PinHasher } from './pin';

/**
 * The id of a cashier's attempt: the request's key and the keyed hash of the code it carries,
 * hashed again (what Redis keeps of it names neither).
 */
function cashierAttemptId(requestKey: string, pinHash: string): string {
  return createHash('sha256').update(requestKey).update('\0').update(pinHash).digest('base64url').slice(0, 22);
}

/** Codes tried in a row (wrong, or of an unknown cashier) before a cashier is locked at a terminal. */
export const cashier_code_attempts_max = 5;
/** How long a locked cashier is refused at that terminal, unless the merchant grants them again first. */
export const cashier_lock_ms = 15 * 60_000;

/** What counting a cashier's attempts needs: the counter, the shard count (the terminal's shard), a clock, a log. */
export interface CashierAttempts {
  readonly counter: AttemptCounter;
  readonly shard_count: number;
  readonly clock: () => number;
  readonly logger: Pick<Logger, 'warn'>;
}

export class TerminalAdmin {
  constructor(
    private readonly region: Pick<ShardRegion, 'changeTerminal' | 'readTerminal' | 'storedMoneyAnswer'>,
    private readonly hasher: PinHasher | undefined,
    private readonly stored: Pick<StoredTerminals, 'page'>,
    private readonly attempts: CashierAttempts,
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

  /**
   * Grants (a code given replaces the cashier's) or denies a cashier at a terminal. A grant also
   * unlocks a cashier locked by wrong codes: the merchant vouches for who holds the code now.
   */
  async setCashier(terminalId: string, cashierId: string, code: string, granted: boolean, acting: Acting): Promise<TerminalAnswer> {
    const pinHash = code === '' ? undefined : this.hash(terminalId, cashierId, code);
    const command: TerminalCommand =
      pinHash === undefined ? { type: 'set_cashier', cashierId, granted } : { type: 'set_cashier', cashierId, granted, pinHash };
    const answer = await this.change(terminalId, command, acting);
    if (granted) await this.clearAttempts(terminalId, cashierId);
    return answer;
  }

  /**
   * Runs a money request (`run`) under its cashier's count of attempts at its terminal; a request
   * naming no cashier runs as it is. A locked cashier is PERMISSION_DENIED and nothing runs; a
   * request the terminal let through (approved or declined by the card) clears the count.
   *
   * A refusal of the terminal (disabled, cashier denied, wrong code, cashier locked) can come
   * after the request was answered: the terminal changed between a request and its retry. Such a
   * retry (same key, same request) gets the stored answer instead, as any retry does, so a
   * terminal never believes an approved sale failed and charges again. Only the stored answer is
   * read: nothing runs, and the attempt stays counted (a stored answer does not show that the
   * code given now is right, so replays never reset a count of guesses).
   */
  runWithCashier(request: MoneyRequest, run: (reply: Reply<TxnAnswer>) => void, reply: Reply<TxnAnswer>): void {
    const cashier = request.cashier;
    if (cashier === undefined) {
      run((outcome) =>
        !outcome.ok && terminalRefused(outcome.error, request) ? this.storedOr(request, outcome.error, reply) : reply(outcome),
      );
      return;
    }
    const { terminalId } = request;
    const { counter, shard_count, clock } = this.attempts;
    const shard = shardOf('terminal', terminalId, shard_count);
    const attemptId = cashierAttemptId(request.key, cashier.pinHash);
    counter.take(shard, cashierSubject(terminalId, cashier.cashierId), clock(), attemptId).then(
      (attempt) => {
        if (attempt === 'locked') {
          const locked = permissionDenied('cashier locked after repeated wrong codes; the merchant can grant them again', {
            terminalId,
            cashierId: cashier.cashierId,
          });
          this.storedOr(request, locked, reply);
          return;
        }
        run((outcome) => {
          if (!outcome.ok && cashierRefused(outcome.error)) {
            if (attempt === 'last')
              this.attempts.logger.warn({ terminalId, cashierId: cashier.cashierId }, 'cashier locked after repeated wrong codes');
            this.storedOr(request, outcome.error, reply);
            return;
          }
          // A failure that is no answer (unavailable, overloaded) may or may not have compared the
          // code: the attempt stays counted.
          if (!outcome.ok && !(outcome.error instanceof RejectedError)) return reply(outcome);
          // The terminal let the cashier through (the card then decided or refused), or refused the
          // request before comparing any code: the count starts again, before the answer leaves,
          // so the cashier's next request sees it.
          void this.clearAttempts(terminalId, cashier.cashierId).then(() =>
            !outcome.ok && terminalRefused(outcome.error, request) ? this.storedOr(request, outcome.error, reply) : reply(outcome),
          );
        });
      },
      (error: unknown) => reply({ ok: false, error: unavailable('could not count the cashier attempt; retry', {}, { cause: error }) }),
    );
  }

  /** Answers a request its terminal refused with the answer its key already has, else with the refusal. */
  private storedOr(request: MoneyRequest, refusal: TaplineError, reply: Reply<TxnAnswer>): void {
    this.region.storedMoneyAnswer(request, (stored) => {
      if (!stored.ok) reply(stored);
      else if (stored.value === undefined) reply({ ok: false, error: refusal });
      else reply({ ok: true, value: stored.value });
    });
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

  /** Never fails: a count that could not be cleared only expires later (or the next success clears it). */
  private async clearAttempts(terminalId: string, cashierId: string): Promise<void> {
    const { counter, shard_count, logger } = this.attempts;
    await counter.clear(shardOf('terminal', terminalId, shard_count), cashierSubject(terminalId, cashierId)).catch((error: unknown) => {
      logger.warn({ err: error, terminalId, cashierId }, 'could not clear the cashier code attempts');
    });
  }

  private hash(terminalId: string, cashierId: string, code: string): string {
    if (this.hasher === undefined) throw failedPrecondition('cashier codes need TAPLINE_PIN_SECRET configured on the node');
    return this.hasher.hash(`cashier:${terminalId}/${cashierId}`, code);
  }

  private change(terminalId: string, command: TerminalCommand, acting: Acting): Promise<TerminalAnswer> {
    return outcomeOf<TerminalAnswer>((reply) => this.region.changeTerminal(terminalId, command, acting, reply));
  }
}

/** The terminal refused the cashier (unknown, denied, wrong code): the guess stays counted. */
function cashierRefused(error: TaplineError): boolean {
  return error instanceof RejectedError && error.details['cashierId'] !== undefined;
}

/** The request's terminal refused it (the region's terminal check names the terminal in its refusal). */
function terminalRefused(error: TaplineError, request: MoneyRequest): boolean {
  return error instanceof RejectedError && error.details['terminalId'] === request.terminalId;
}

/** The attempts subject of a cashier at a terminal (never the same as a manager's "<merchant>/<manager>"). */
function cashierSubject(terminalId: string, cashierId: string): string {
  return `cashier:${terminalId}/${cashierId}`;
}
