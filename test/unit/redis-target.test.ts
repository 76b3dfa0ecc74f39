// Proves how a process reads where Redis is (services/common/redis-target.ts, through the
// authorizer's loader): the three modes and what each requires, the replicas a commit waits for by
// default in each mode and when set, the WAIT bound against the command bound, and the host:port
// lists. Every test passes its own environment object; process.env is never read.

import assert from 'node:assert/strict';
import { ConfigError, loadConfig as loadNodeConfig, type NodeConfig } from '../../services/authorizer/config';
import { parseHostPort } from '../../services/common/redis-target';

/** What every node needs before anything else (secure by default): its certificate, CA bundles and a token issuer. */
const secure: Record<string, string> = {
  TAPLINE_TLS_CERT_FILE: '/tls/tls.crt',
  TAPLINE_TLS_KEY_FILE: '/tls/tls.key',
  TAPLINE_TLS_CLIENT_CA_FILE: '/tls/clients.crt',
  TAPLINE_TLS_CLUSTER_CA_FILE: '/tls/cluster.crt',
  TAPLINE_OIDC_ISSUERS: '[{"issuer":"https://idp.example/","jwks_url":"https://idp.example/jwks"}]',
};

const loadConfig = (env: Record<string, string>): NodeConfig => loadNodeConfig({ ...secure, ...env });

function refused(env: Record<string, string>, names: readonly string[]): void {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => error instanceof ConfigError && names.every((name) => error.message.includes(name)),
    `expected a ConfigError naming ${names.join(', ')} for ${JSON.stringify(env)}`,
  );
}

describe('redis target: deployment shapes', () => {
  it('a single server by default, acknowledged on its own fsync (no replicas waited for)', () => {
    const { redis } = loadConfig({ TAPLINE_REDIS_URL: 'redis://10.0.0.5:6379' });
    assert.deepEqual(redis, {
      mode: 'single',
      url: 'redis://10.0.0.5:6379',
      sentinels: [],
      sentinel_name: 'tapline',
      cluster_nodes: [],
      wait_replicas: 0,
      wait_timeout_ms: 500,
    });
  });

  it('Sentinel: needs the Sentinels, waits for one replica unless told otherwise', () => {
    refused({ TAPLINE_REDIS_MODE: 'sentinel' }, ['TAPLINE_REDIS_SENTINELS']);
    const { redis } = loadConfig({
      TAPLINE_REDIS_MODE: 'sentinel',
      TAPLINE_REDIS_SENTINELS: 's1:26379,s2:26379,[::1]:26380',
      TAPLINE_REDIS_SENTINEL_NAME: 'payments',
    });
    assert.equal(redis.mode, 'sentinel');
    assert.deepEqual(redis.sentinels, [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26379 },
      { host: '::1', port: 26380 },
    ]);
    assert.equal(redis.sentinel_name, 'payments');
    assert.equal(redis.wait_replicas, 1);
    const two = loadConfig({ TAPLINE_REDIS_MODE: 'sentinel', TAPLINE_REDIS_SENTINELS: 's1:1', TAPLINE_REDIS_WAIT_REPLICAS: '2' });
    assert.equal(two.redis.wait_replicas, 2);
    const none = loadConfig({ TAPLINE_REDIS_MODE: 'sentinel', TAPLINE_REDIS_SENTINELS: 's1:1', TAPLINE_REDIS_WAIT_REPLICAS: '0' });
    assert.equal(none.redis.wait_replicas, 0, 'an operator may trade the guarantee away explicitly');
  });

  it('Cluster: needs some of its nodes, waits for one replica by default', () => {
    refused({ TAPLINE_REDIS_MODE: 'cluster' }, ['TAPLINE_REDIS_CLUSTER_NODES']);
    const { redis } = loadConfig({ TAPLINE_REDIS_MODE: 'cluster', TAPLINE_REDIS_CLUSTER_NODES: 'r1:6379,r2:6379' });
    assert.deepEqual(redis.cluster_nodes, [
      { host: 'r1', port: 6379 },
      { host: 'r2', port: 6379 },
    ]);
    assert.equal(redis.wait_replicas, 1);
  });

  it('refuses unknown modes, malformed lists and replica counts out of 0..16', () => {
    refused({ TAPLINE_REDIS_MODE: 'replicated' }, ['TAPLINE_REDIS_MODE']);
    for (const list of ['s1', 's1:', ':26379', 's1:26379;s2:26379', 's1:26379,', 'a b:1'])
      refused({ TAPLINE_REDIS_MODE: 'sentinel', TAPLINE_REDIS_SENTINELS: list }, ['TAPLINE_REDIS_SENTINELS']);
    for (const count of ['-1', '17', '1.5', '', 'one']) refused({ TAPLINE_REDIS_WAIT_REPLICAS: count }, ['TAPLINE_REDIS_WAIT_REPLICAS']);
    refused({ TAPLINE_REDIS_SENTINEL_NAME: 'my master' }, ['TAPLINE_REDIS_SENTINEL_NAME']);
  });

  it('a commit waits for its replicas within the command bound, never longer', () => {
    const sentinel = { TAPLINE_REDIS_MODE: 'sentinel', TAPLINE_REDIS_SENTINELS: 's1:1' };
    refused({ ...sentinel, TAPLINE_REDIS_WAIT_TIMEOUT_MS: '2000' }, ['TAPLINE_REDIS_WAIT_TIMEOUT_MS']);
    assert.equal(loadConfig({ ...sentinel, TAPLINE_REDIS_WAIT_TIMEOUT_MS: '1999' }).redis.wait_timeout_ms, 1999);
    // Without replicas to wait for, the WAIT bound is unused and not checked.
    assert.equal(loadConfig({ TAPLINE_REDIS_WAIT_TIMEOUT_MS: '5000' }).redis.wait_replicas, 0);
  });

  it('splits host:port at the last colon, brackets of an IPv6 host removed', () => {
    assert.deepEqual(parseHostPort('redis-0.redis.data.svc:6379'), { host: 'redis-0.redis.data.svc', port: 6379 });
    assert.deepEqual(parseHostPort('[fe80::1]:7000'), { host: 'fe80::1', port: 7000 });
  });
});
