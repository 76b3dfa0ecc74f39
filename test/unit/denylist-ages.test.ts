// Proves what tapline_offline_denylist_age_seconds reports per terminal (the metric the chart's
// TaplineOfflineDenylistStale alert watches): while a terminal's offline grant is valid, the time
// since it acknowledged its denylist, or since its grant when it never did; nothing once the grant
// ran out, the terminal is disabled or without a grant, or its shard moved to another node; and no
// more terminals than the bound.

import assert from 'node:assert/strict';
import { configureOffline, type OfflineGrant, type TerminalOffline } from '../../actors/offline/grant';
import { empty_terminal_parameters, type TerminalState } from '../../actors/terminal/rules';
import { DenylistAges } from '../../services/authorizer/usecases/denylist-ages';

const hour_ms = 3_600_000;

function grantAt(issuedAtMs: number): OfflineGrant {
  return {
    number: 1,
    issuedAtMs,
    offlineMaxMs: hour_ms,
    currency: 'EUR',
    totalMaxMinor: 10_000,
    countMax: 10,
    programs: {},
    required: [0, 0],
    held: [],
  };
}

function terminal(id: string, offline: Partial<TerminalOffline> | undefined, enabled = true): TerminalState {
  const base = configureOffline(undefined, {
    publicKey: Buffer.alloc(32, 1).toString('base64'),
    programs: ['p'],
    currency: 'EUR',
    totalMaxMinor: 10_000,
    countMax: 10,
    offlineMaxMs: hour_ms,
  });
  return {
    terminalId: id,
    merchantId: 'm',
    location: '',
    enabled,
    serialNumber: '',
    parameters: empty_terminal_parameters,
    parametersVersion: 1,
    cashiers: {},
    cashierPins: {},
    ...(offline === undefined ? {} : { offline: { ...base, ...offline } }),
  };
}

describe('denylist ages per terminal (the staleness metric)', () => {
  it('is the time since the acknowledgement while the grant is valid, since the grant when never acknowledged', () => {
    const moved = new Set<string>();
    const ages = new DenylistAges({ terminals_max: 10 }, (id) => !moved.has(id));
    ages.observe('acked', terminal('acked', { grant: grantAt(1_000), ack: { versions: [0, 0], atMs: 5_000, behind: 0 } }));
    ages.observe('never', terminal('never', { grant: grantAt(2_000) }));
    ages.observe('no-grant', terminal('no-grant', {}));
    ages.observe('not-offline', terminal('not-offline', undefined));
    ages.observe('disabled', terminal('disabled', { grant: grantAt(1_000) }, false));
    assert.deepEqual(
      new Map(ages.ages(65_000)),
      new Map([
        ['acked', 60],
        ['never', 63],
      ]),
    );
    // Passivated (undefined): the last state stands.
    ages.observe('acked', undefined);
    assert.deepEqual(new Map(ages.ages(125_000)).get('acked'), 120);
    // The shard moved: the new owner reports it.
    moved.add('never');
    assert.deepEqual(
      ages.ages(125_000).map(([id]) => id),
      ['acked'],
    );
    moved.delete('never');
    assert.deepEqual(
      ages.ages(125_000).map(([id]) => id),
      ['acked'],
      'forgotten once its shard moved',
    );
    // The grant ran out: it may not sell offline, nothing to report.
    assert.deepEqual(ages.ages(1_000 + hour_ms), []);
  });

  it('reports at most its bound of terminals, counting those left out', () => {
    const ages = new DenylistAges({ terminals_max: 2 }, () => true);
    for (const id of ['a', 'b', 'c']) ages.observe(id, terminal(id, { grant: grantAt(0) }));
    assert.equal(ages.ages(1_000).length, 2);
    assert.equal(ages.untracked, 1);
    // A terminal already reported is still updated at the bound.
    ages.observe('a', terminal('a', { grant: grantAt(0), ack: { versions: [0, 0], atMs: 900, behind: 0 } }));
    assert.equal(new Map(ages.ages(1_000)).get('a'), 0.1);
  });
});
