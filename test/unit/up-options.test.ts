// Proves how `npm start` reads its node count (tools/devenv/up.ts nodeCountOf): `--nodes N`
// and `--nodes=N` win over TAPLINE_NODES, which wins over the older TAPLINE_UP_NODES; the default
// is one node; anything but a whole number from 1 to 16 is refused with a message naming --nodes.

import assert from 'node:assert/strict';
import { nodeCountOf } from '../../tools/devenv/up';

describe('npm start: node count', () => {
  it('defaults to one node', () => {
    assert.equal(nodeCountOf([], {}), 1);
  });

  it('takes --nodes N or --nodes=N before the environment', () => {
    assert.equal(nodeCountOf(['--nodes', '3'], { TAPLINE_NODES: '5' }), 3);
    assert.equal(nodeCountOf(['--nodes=4'], {}), 4);
    assert.equal(nodeCountOf([], { TAPLINE_NODES: '2', TAPLINE_UP_NODES: '7' }), 2);
    assert.equal(nodeCountOf([], { TAPLINE_UP_NODES: '7' }), 7);
  });

  it('refuses counts outside 1..16 and anything not a whole number', () => {
    for (const bad of ['0', '17', '-1', '2.5', 'three', '', '1e1']) {
      assert.throws(() => nodeCountOf(['--nodes', bad], {}), /--nodes must be a number from 1 to 16/, `--nodes ${JSON.stringify(bad)}`);
    }
    assert.throws(() => nodeCountOf(['--nodes'], {}), /--nodes must be a number/);
  });
});
