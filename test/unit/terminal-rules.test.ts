// Proves the terminal's pure rules (actors/terminal/rules.ts) exhaustively: checkCanTransact on
// every kind of state (missing, disabled, enabled without a merchant, enabled), and decideTerminal
// on the full cross product of states (none, enabled, disabled) and commands (register for the
// same merchant, register for another merchant, enable, disable) against a table written out by
// hand. Inputs are frozen, so a rule that mutated its argument would throw.

import assert from 'node:assert/strict';
import {
  checkCanTransact,
  decideTerminal,
  type TerminalCommand,
  type TerminalDecision,
  type TerminalState,
} from '../../actors/terminal/rules';

function terminal(overrides: Partial<TerminalState> = {}): TerminalState {
  return Object.freeze({ terminalId: 'till-1', merchantId: 'bar-north', location: 'Hall A', enabled: true, ...overrides });
}

describe('terminal rules: checkCanTransact', () => {
  it('refuses an unregistered terminal as not_found', () => {
    assert.deepEqual(checkCanTransact(undefined), { ok: false, code: 'not_found', message: 'terminal not registered' });
  });

  it('refuses a disabled terminal as failed_precondition', () => {
    assert.deepEqual(checkCanTransact(terminal({ enabled: false })), {
      ok: false,
      code: 'failed_precondition',
      message: 'terminal disabled',
    });
  });

  it('reports a disabled terminal as disabled even when it also has no merchant', () => {
    assert.deepEqual(checkCanTransact(terminal({ enabled: false, merchantId: '' })), {
      ok: false,
      code: 'failed_precondition',
      message: 'terminal disabled',
    });
  });

  it('refuses an enabled terminal without a merchant as failed_precondition', () => {
    assert.deepEqual(checkCanTransact(terminal({ merchantId: '' })), {
      ok: false,
      code: 'failed_precondition',
      message: 'terminal has no merchant',
    });
  });

  it('lets an enabled terminal with a merchant transact and names the merchant', () => {
    assert.deepEqual(checkCanTransact(terminal()), { ok: true, merchantId: 'bar-north' });
  });
});

describe('terminal rules: decideTerminal', () => {
  const register_same: TerminalCommand = { type: 'register', terminalId: 'till-1', merchantId: 'bar-north', location: 'Hall B' };
  const register_other: TerminalCommand = { type: 'register', terminalId: 'till-1', merchantId: 'bar-south', location: 'Hall A' };
  const enable: TerminalCommand = { type: 'set_enabled', enabled: true };
  const disable: TerminalCommand = { type: 'set_enabled', enabled: false };

  const not_found: TerminalDecision = { kind: 'rejected', code: 'not_found', message: 'terminal not registered' };
  const already_exists: TerminalDecision = { kind: 'rejected', code: 'already_exists', message: 'terminal registered to another merchant' };
  const unchanged: TerminalDecision = { kind: 'unchanged' };

  const states: Readonly<Record<string, TerminalState | undefined>> = {
    none: undefined,
    enabled: terminal(),
    disabled: terminal({ enabled: false }),
  };
  const commands: Readonly<Record<string, TerminalCommand>> = { register_same, register_other, enable, disable };

  // Every (state, command) pair and the decision it must get.
  const table: Readonly<Record<string, Readonly<Record<string, TerminalDecision>>>> = {
    none: {
      register_same: { kind: 'changed', state: { terminalId: 'till-1', merchantId: 'bar-north', location: 'Hall B', enabled: true } },
      register_other: { kind: 'changed', state: { terminalId: 'till-1', merchantId: 'bar-south', location: 'Hall A', enabled: true } },
      enable: not_found,
      disable: not_found,
    },
    enabled: {
      // Registering again for the same merchant is a no-op: the location is not updated.
      register_same: unchanged,
      register_other: already_exists,
      enable: unchanged,
      disable: { kind: 'changed', state: terminal({ enabled: false }) },
    },
    disabled: {
      // Re-registering does not re-enable a terminal an operator disabled.
      register_same: unchanged,
      register_other: already_exists,
      enable: { kind: 'changed', state: terminal() },
      disable: unchanged,
    },
  };

  for (const [stateName, state] of Object.entries(states)) {
    for (const [commandName, command] of Object.entries(commands)) {
      const expected = table[stateName]?.[commandName];
      it(`${stateName} + ${commandName} -> ${expected?.kind ?? '?'}`, () => {
        assert.ok(expected, `table has no entry for ${stateName} + ${commandName}`);
        assert.deepEqual(decideTerminal(state, command), expected);
      });
    }
  }

  it('the table covers every state and command', () => {
    assert.deepEqual(Object.keys(table).sort(), Object.keys(states).sort());
    for (const row of Object.values(table)) assert.deepEqual(Object.keys(row).sort(), Object.keys(commands).sort());
  });

  it('a registered terminal can transact at once; after disable it cannot, after enable it can again', () => {
    const registered = decideTerminal(undefined, register_same);
    assert.equal(registered.kind, 'changed');
    const first = registered.state;
    assert.equal(checkCanTransact(first).ok, true);
    const disabled = (decideTerminal(first, disable) as Extract<TerminalDecision, { kind: 'changed' }>).state;
    assert.equal(checkCanTransact(disabled).ok, false);
    const enabled = (decideTerminal(disabled, enable) as Extract<TerminalDecision, { kind: 'changed' }>).state;
    assert.deepEqual(checkCanTransact(enabled), { ok: true, merchantId: 'bar-north' });
  });
});
