// Proves the streamer's configuration refuses settings that would break its guarantees: a claim
// idle time inside a healthy batch cycle (a live streamer's entries would be taken over), and a
// consumer-forget time below the claim idle time (a consumer could be removed from the group
// before its entries could be claimed); and that the defaults load and satisfy both.

import assert from 'node:assert/strict';
import { loadStreamerConfig } from '../../services/streamer/config';
import { ConfigError } from '../../services/common/process';

describe('streamer configuration', () => {
  it('loads the defaults, which keep forget >= claim idle > batch wait + insert timeout', () => {
    const config = loadStreamerConfig({});
    assert.ok(config.TAPLINE_STREAMER_CONSUMER_FORGET_MS >= config.TAPLINE_STREAMER_CLAIM_IDLE_MS);
    assert.ok(config.TAPLINE_STREAMER_CLAIM_IDLE_MS > config.TAPLINE_STREAMER_BATCH_WAIT_MS + config.TAPLINE_STREAMER_INSERT_TIMEOUT_MS);
  });

  it('refuses a claim idle time within one batch cycle', () => {
    const cycle = { TAPLINE_STREAMER_BATCH_WAIT_MS: '1000', TAPLINE_STREAMER_INSERT_TIMEOUT_MS: '30000' };
    assert.throws(
      () => loadStreamerConfig({ ...cycle, TAPLINE_STREAMER_CLAIM_IDLE_MS: '31000' }),
      (error: unknown) =>
        error instanceof ConfigError && /CLAIM_IDLE_MS must exceed batch wait \+ insert timeout \(31000 ms\)/.test(error.message),
    );
    assert.equal(loadStreamerConfig({ ...cycle, TAPLINE_STREAMER_CLAIM_IDLE_MS: '31001' }).TAPLINE_STREAMER_CLAIM_IDLE_MS, 31_001);
  });

  it('refuses forgetting consumers sooner than their entries could be claimed, and accepts equal', () => {
    assert.throws(
      () => loadStreamerConfig({ TAPLINE_STREAMER_CLAIM_IDLE_MS: '120000', TAPLINE_STREAMER_CONSUMER_FORGET_MS: '119999' }),
      (error: unknown) =>
        error instanceof ConfigError && /CONSUMER_FORGET_MS must be at least TAPLINE_STREAMER_CLAIM_IDLE_MS/.test(error.message),
    );
    assert.equal(
      loadStreamerConfig({ TAPLINE_STREAMER_CLAIM_IDLE_MS: '120000', TAPLINE_STREAMER_CONSUMER_FORGET_MS: '120000' })
        .TAPLINE_STREAMER_CONSUMER_FORGET_MS,
      120_000,
    );
  });
});
