// Proves the terminal's pure rules (actors/terminal/rules.ts) exhaustively: checkCanTransact on
// every kind of state (missing, disabled, enabled without a merchant, enabled), and decideTerminal
// on the full cross product of states (none, enabled, disabled) and commands (register for the
// same merchant, register for another merchant, enable, disable) against a table written out by
// hand. Inputs are frozen, so a rule that mutated its argument would throw.

import assert from 'node:assert/strict';
import {
  checkCanTransact,
  decideTerminal,
  empty_terminal_parameters,
  terminal_cashiers_max,
  type TerminalCommand,
  type TerminalDecision,
  type TerminalState,
} from '../../actors/terminal/rules';

function terminal(overrides: Partial<TerminalState> = {}): TerminalState {
  return Object.freeze({ ...registered('till-1', 'bar-north', 'Hall A'), ...overrides });
}

/** A terminal as registration makes it: no serial number, empty parameters at version 1, no cashiers. */
function registered(terminalId: string, merchantId: string, location: string): TerminalState {
  return {
    terminalId,
    merchantId,
    location,
    enabled: true,
    serialNumber: '',
    parameters: empty_terminal_parameters,
    parametersVersion: 1,
    cashiers: {},
    cashierPins: {},
  };
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
      register_same: { kind: 'changed', state: registered('till-1', 'bar-north', 'Hall B') },
      register_other: { kind: 'changed', state: registered('till-1', 'bar-south', 'Hall A') },
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

describe('terminal rules: parameters and cashiers', () => {
  const parameters = {
    receiptHeader: 'Bar North',
    receiptFooter: 'Thank you',
    communication: { host: 'pay.example.org', port: 8443, timeoutMs: 4_000 },
    offlineProfile: 'basic',
  };
  const hash_a = 'a'.repeat(64);
  const hash_b = 'b'.repeat(64);

  function changed(decision: TerminalDecision): TerminalState {
    assert.equal(decision.kind, 'changed', JSON.stringify(decision));
    return decision.state;
  }

  it('a parameters change increments the version; the same parameters again change nothing', () => {
    const after = changed(decideTerminal(terminal(), { type: 'set_parameters', parameters, expectedVersion: 0 }));
    assert.equal(after.parametersVersion, 2);
    assert.deepEqual(after.parameters, parameters);
    assert.deepEqual(decideTerminal(after, { type: 'set_parameters', parameters, expectedVersion: 0 }), { kind: 'unchanged' });
  });

  it('a parameters change based on another version is refused as failed_precondition', () => {
    assert.deepEqual(decideTerminal(terminal(), { type: 'set_parameters', parameters, expectedVersion: 7 }), {
      kind: 'rejected',
      code: 'failed_precondition',
      message: 'parameters are at version 1',
    });
  });

  it('registering again with another serial number is already_exists', () => {
    const first = changed(
      decideTerminal(undefined, { type: 'register', terminalId: 't', merchantId: 'm', location: '', serialNumber: 'SN-1', parameters }),
    );
    assert.equal(first.serialNumber, 'SN-1');
    assert.equal(first.parametersVersion, 1);
    assert.equal(
      decideTerminal(first, { type: 'register', terminalId: 't', merchantId: 'm', location: '', serialNumber: 'SN-2' }).kind,
      'rejected',
    );
    assert.deepEqual(decideTerminal(first, { type: 'register', terminalId: 't', merchantId: 'm', location: '', serialNumber: 'SN-1' }), {
      kind: 'unchanged',
    });
  });

  it('a granted cashier with the right code transacts; wrong code, denied and unknown cashiers are refused precisely, naming the cashier', () => {
    const granted = changed(decideTerminal(terminal(), { type: 'set_cashier', cashierId: 'anna', granted: true, pinHash: hash_a }));
    assert.deepEqual(checkCanTransact(granted, { cashierId: 'anna', pinHash: hash_a }), { ok: true, merchantId: 'bar-north' });
    assert.deepEqual(checkCanTransact(granted, { cashierId: 'anna', pinHash: hash_b }), {
      ok: false,
      code: 'permission_denied',
      message: 'cashier code wrong',
      cashierId: 'anna',
    });
    assert.deepEqual(checkCanTransact(granted, { cashierId: 'bob', pinHash: hash_a }), {
      ok: false,
      code: 'permission_denied',
      message: 'cashier unknown at this terminal',
      cashierId: 'bob',
    });
    assert.deepEqual(checkCanTransact(granted, { cashierId: 'toString', pinHash: hash_a }).ok, false);
    const denied = changed(decideTerminal(granted, { type: 'set_cashier', cashierId: 'anna', granted: false }));
    assert.equal(denied.cashierPins['anna'], hash_a, 'denying keeps the code for a later grant');
    assert.deepEqual(checkCanTransact(denied, { cashierId: 'anna', pinHash: hash_a }), {
      ok: false,
      code: 'permission_denied',
      message: 'cashier denied at this terminal',
      cashierId: 'anna',
    });
    const again = changed(decideTerminal(denied, { type: 'set_cashier', cashierId: 'anna', granted: true }));
    assert.equal(checkCanTransact(again, { cashierId: 'anna', pinHash: hash_a }).ok, true);
    assert.deepEqual(decideTerminal(again, { type: 'set_cashier', cashierId: 'anna', granted: true }), { kind: 'unchanged' });
  });

  it('refuses a new cashier without a code, denying an unknown cashier, and more cashiers than a terminal keeps', () => {
    assert.equal(decideTerminal(terminal(), { type: 'set_cashier', cashierId: 'x', granted: true }).kind, 'rejected');
    assert.equal(decideTerminal(terminal(), { type: 'set_cashier', cashierId: 'x', granted: false }).kind, 'rejected');
    const cashiers: Record<string, boolean> = {};
    for (let i = 0; i < terminal_cashiers_max; i++) cashiers[`c${i}`] = true;
    const full = terminal({ cashiers });
    assert.deepEqual(decideTerminal(full, { type: 'set_cashier', cashierId: 'one-more', granted: true, pinHash: hash_a }), {
      kind: 'rejected',
      code: 'failed_precondition',
      message: `a terminal keeps at most ${terminal_cashiers_max} cashiers`,
    });
  });

  it('a disabled terminal is refused before its cashier is looked at', () => {
    const granted = changed(decideTerminal(terminal(), { type: 'set_cashier', cashierId: 'anna', granted: true, pinHash: hash_a }));
    assert.equal(checkCanTransact({ ...granted, enabled: false }, { cashierId: 'anna', pinHash: hash_a }).ok, false);
    assert.equal(
      (checkCanTransact({ ...granted, enabled: false }, { cashierId: 'anna', pinHash: hash_a }) as { message: string }).message,
      'terminal disabled',
    );
  });
});
