// Proves the read-through cache of terminals owned by other nodes (actors/sharding/terminal-cache.ts):
// a state read from Redis is reused while younger than staleness_ms and read again after (so a
// terminal disabled on its owner is refused elsewhere within that bound); concurrent look-ups of one
// terminal share one read; an unknown terminal is remembered as unknown for the same time; a failed
// read is passed to every waiter and not remembered; the number of terminals kept is bounded.
// The clock and the loader are test doubles: the cache does no I/O of its own.

import assert from 'node:assert/strict';
import { TaplineError } from '../../actors/errors';
import { TerminalCache } from '../../actors/sharding/terminal-cache';
import { empty_terminal_parameters, type TerminalState } from '../../actors/terminal/rules';

function terminal(enabled: boolean): TerminalState {
  return {
    terminalId: 't1',
    merchantId: 'm1',
    location: '',
    enabled,
    serialNumber: '',
    parameters: empty_terminal_parameters,
    parametersVersion: 1,
    cashiers: {},
    cashierPins: {},
  };
}

function harness(staleness_ms = 1_000, entries_max = 100) {
  let now = 0;
  const loads: { id: string; resolve: (s: TerminalState | undefined) => void; reject: (e: TaplineError) => void }[] = [];
  const cache = new TerminalCache(
    (id) => new Promise((resolve, reject) => loads.push({ id, resolve, reject })),
    { staleness_ms, entries_max },
    () => now,
  );
  const get = (id: string): Promise<TerminalState | undefined> => new Promise((resolve, reject) => cache.get(id, resolve, reject));
  return { cache, loads, get, advance: (ms: number) => (now += ms) };
}

describe('terminal cache (terminals of other nodes)', () => {
  it('reuses a fresh state and reads again once it is stale', async () => {
    const h = harness(1_000);
    const first = h.get('t1');
    h.loads[0]?.resolve(terminal(true));
    assert.equal((await first)?.enabled, true);
    h.advance(999);
    assert.equal((await h.get('t1'))?.enabled, true);
    assert.equal(h.loads.length, 1, 'no second read within the staleness bound');
    h.advance(1);
    const again = h.get('t1');
    assert.equal(h.loads.length, 2, 'read again once stale');
    h.loads[1]?.resolve(terminal(false));
    assert.equal((await again)?.enabled, false, 'the disable is seen after the bound');
  });

  it('shares one read between concurrent look-ups', async () => {
    const h = harness();
    const all = Promise.all([h.get('t1'), h.get('t1'), h.get('t1')]);
    assert.equal(h.loads.length, 1);
    h.loads[0]?.resolve(terminal(true));
    assert.deepEqual(
      (await all).map((s) => s?.enabled),
      [true, true, true],
    );
  });

  it('remembers an unknown terminal as unknown for the staleness bound', async () => {
    const h = harness();
    const first = h.get('nope');
    h.loads[0]?.resolve(undefined);
    assert.equal(await first, undefined);
    assert.equal(await h.get('nope'), undefined);
    assert.equal(h.loads.length, 1);
  });

  it('passes a failed read to every waiter and does not remember it', async () => {
    const h = harness();
    const a = h.get('t1');
    const b = h.get('t1');
    h.loads[0]?.reject(new TaplineError('unavailable', 'redis down'));
    await assert.rejects(a, /redis down/);
    await assert.rejects(b, /redis down/);
    const c = h.get('t1');
    assert.equal(h.loads.length, 2, 'the next look-up reads again');
    h.loads[1]?.resolve(terminal(true));
    assert.equal((await c)?.enabled, true);
  });

  it('keeps at most entries_max terminals', async () => {
    const h = harness(1_000, 3);
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      const got = h.get(id);
      h.loads[h.loads.length - 1]?.resolve(terminal(true));
      await got;
    }
    assert.equal(h.cache.size, 3);
  });

  it('with a staleness of 0 reads every time', async () => {
    const h = harness(0);
    for (let i = 0; i < 3; i++) {
      const got = h.get('t1');
      h.loads[i]?.resolve(terminal(true));
      await got;
    }
    assert.equal(h.loads.length, 3);
  });
});
