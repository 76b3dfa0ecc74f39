// Proves the authorizer's configuration loader (services/authorizer/config.ts): an empty
// environment yields the documented defaults, which satisfy every relation check; every integer
// bound is accepted at its minimum and maximum and refused one past either, and refused when it is
// empty, blank, fractional, hexadecimal, exponential or not a number, always with a ConfigError
// whose message names the variable; enum, URL, id and TLS settings are checked the same way; and
// the relations between bounds (drain batch vs mailbox, stream vs node in-flight, stream vs
// connection pending items, frame vs stream pending items, commit pending vs batch, sweep vs
// passivation, TLS cert with key) are refused together, equality allowed.
// Every test passes its own environment object; process.env is never read.

import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import {
  ConfigError,
  activeEntitiesMax,
  active_entity_bytes_estimate,
  loadConfig as loadNodeConfig,
  type NodeConfig,
} from '../../services/authorizer/config';
import { parseIssuers } from '../../services/common/auth/tokens';

type Env = Record<string, string | undefined>;

/**
 * What every node needs before anything else (secure by default): its certificate, the CA bundles
 * of its doors and a token issuer. These tests add them and vary the rest; the door settings are
 * tested on their own below.
 */
const secure: Env = {
  TAPLINE_TLS_CERT_FILE: '/tls/tls.crt',
  TAPLINE_TLS_KEY_FILE: '/tls/tls.key',
  TAPLINE_TLS_CLIENT_CA_FILE: '/tls/clients.crt',
  TAPLINE_TLS_CLUSTER_CA_FILE: '/tls/cluster.crt',
  TAPLINE_OIDC_ISSUERS: '[{"issuer":"https://idp.example/","jwks_url":"https://idp.example/jwks"}]',
};

const loadConfig = (env: Env): NodeConfig => loadNodeConfig({ ...secure, ...env });

/** Requires loadConfig(env) to fail with a ConfigError whose message names every given variable. */
function assertConfigError(env: Env, variables: readonly string[], what: string): void {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `${what}: expected ConfigError, got ${String(error)}`);
      assert.equal(error.name, 'ConfigError');
      for (const variable of variables)
        assert.ok(error.message.includes(variable), `${what}: message should name ${variable}: ${error.message}`);
      return true;
    },
    `${what}: expected the configuration to be refused`,
  );
}

interface IntegerSetting {
  readonly min: number;
  readonly max: number;
  readonly fallback: number;
  /** Other settings that must move with this one for the relation checks to hold at its bounds. */
  readonly atMin?: Env;
  readonly atMax?: Env;
}

const integer_settings: Readonly<Record<string, IntegerSetting>> = {
  TAPLINE_GRPC_PORT: { min: 0, max: 65_535, fallback: 50_051 },
  TAPLINE_OPERATOR_PORT: { min: 0, max: 65_535, fallback: 50_053 },
  TAPLINE_TLS_RELOAD_MS: { min: 50, max: 3_600_000, fallback: 10_000 },
  TAPLINE_OIDC_CLOCK_TOLERANCE_S: { min: 0, max: 600, fallback: 30 },
  TAPLINE_FOUR_EYES_AMOUNT_MINOR: { min: 0, max: 1_000_000_000_000_000, fallback: 100_000 },
  TAPLINE_APPROVAL_TTL_S: { min: 60, max: 90 * 86_400, fallback: 7 * 86_400 },
  TAPLINE_TERMINAL_MERCHANTS_MAX: { min: 1, max: 10_000_000, fallback: 100_000 },
  TAPLINE_METRICS_PORT: { min: -1, max: 65_535, fallback: 9_464 },
  TAPLINE_SHARD_COUNT: { min: 1, max: 65_536, fallback: 256 },
  TAPLINE_PASSIVATE_AFTER_MS: { min: 1_000, max: 86_400_000, fallback: 60_000, atMin: { TAPLINE_PASSIVATION_SWEEP_MS: '1000' } },
  TAPLINE_PASSIVATION_SWEEP_MS: { min: 100, max: 600_000, fallback: 5_000, atMax: { TAPLINE_PASSIVATE_AFTER_MS: '600000' } },
  TAPLINE_MAILBOX_MAX: { min: 1, max: 1_000_000, fallback: 10_000, atMin: { TAPLINE_DRAIN_BATCH_MAX: '1' } },
  TAPLINE_DRAIN_BATCH_MAX: { min: 1, max: 100_000, fallback: 512, atMax: { TAPLINE_MAILBOX_MAX: '100000' } },
  TAPLINE_IN_FLIGHT_MAX: { min: 1, max: 10_000_000, fallback: 250_000, atMin: { TAPLINE_STREAM_IN_FLIGHT_MAX: '1' } },
  TAPLINE_STREAM_IN_FLIGHT_MAX: { min: 1, max: 1_000_000, fallback: 100_000, atMax: { TAPLINE_IN_FLIGHT_MAX: '1000000' } },
  TAPLINE_STREAM_FRAME_ITEMS_MAX: {
    min: 1,
    max: 100_000,
    fallback: 1_000,
    atMax: { TAPLINE_STREAM_PENDING_ITEMS_MAX: '100000', TAPLINE_CONNECTION_PENDING_ITEMS_MAX: '100000' },
  },
  TAPLINE_STREAM_PENDING_ITEMS_MAX: {
    min: 1,
    max: 1_000_000,
    fallback: 10_000,
    atMin: { TAPLINE_STREAM_FRAME_ITEMS_MAX: '1' },
    atMax: { TAPLINE_CONNECTION_PENDING_ITEMS_MAX: '1000000' },
  },
  TAPLINE_CONNECTION_PENDING_ITEMS_MAX: {
    min: 1,
    max: 10_000_000,
    fallback: 20_000,
    atMin: { TAPLINE_STREAM_PENDING_ITEMS_MAX: '1', TAPLINE_STREAM_FRAME_ITEMS_MAX: '1' },
  },
  TAPLINE_GRPC_STREAMS_PER_CONNECTION_MAX: { min: 1, max: 1_000_000, fallback: 1_000 },
  TAPLINE_GRPC_CONNECTION_AGE_MAX_MS: { min: 1_000, max: 86_400_000, fallback: 1_800_000 },
  TAPLINE_GRPC_CONNECTION_AGE_GRACE_MS: { min: 0, max: 3_600_000, fallback: 60_000 },
  TAPLINE_COMMIT_BATCH_MAX: { min: 1, max: 100_000, fallback: 500 },
  TAPLINE_COMMIT_IN_FLIGHT_MAX: { min: 1, max: 64, fallback: 8 },
  TAPLINE_COMMIT_PENDING_MAX: { min: 1, max: 10_000_000, fallback: 500_000, atMin: { TAPLINE_COMMIT_BATCH_MAX: '1' } },
  TAPLINE_REDIS_COMMAND_TIMEOUT_MS: { min: 10, max: 300_000, fallback: 2_000, atMax: { TAPLINE_SHARD_LEASE_MS: '300001' } },
  TAPLINE_REDIS_RECONNECT_BACKOFF_MAX_MS: { min: 10, max: 60_000, fallback: 1_000 },
  TAPLINE_REDIS_WAIT_TIMEOUT_MS: {
    min: 1,
    max: 60_000,
    fallback: 500,
    atMax: { TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '60001', TAPLINE_SHARD_LEASE_MS: '60002' },
  },
  TAPLINE_IDEMPOTENCY_TTL_S: { min: 60, max: 400 * 86_400, fallback: 7 * 86_400 },
  TAPLINE_IDEMPOTENCY_RECENT_MAX: { min: 0, max: 10_000_000, fallback: 50_000 },
  TAPLINE_CONFLICT_ATTEMPTS_MAX: { min: 1, max: 100, fallback: 5 },
  TAPLINE_IDEMPOTENCY_WAITERS_MAX: { min: 1, max: 100_000, fallback: 1_024 },
  TAPLINE_GRPC_MESSAGE_MAX_BYTES: { min: 1_024, max: 64 * 1024 * 1024, fallback: 4 * 1024 * 1024 },
  TAPLINE_SHUTDOWN_GRACE_MS: { min: 0, max: 600_000, fallback: 20_000 },
  TAPLINE_PROGRAM_REFRESH_MS: { min: 100, max: 3_600_000, fallback: 10_000 },
  TAPLINE_MANAGER_PIN_ATTEMPTS_MAX: { min: 1, max: 1_000, fallback: 5 },
  TAPLINE_MANAGER_LOCK_MS: { min: 1_000, max: 86_400_000, fallback: 900_000 },
  TAPLINE_INTERNAL_PORT: { min: 0, max: 65_535, fallback: 50_052 },
  TAPLINE_CLUSTER_TICK_MS: {
    min: 20,
    max: 60_000,
    fallback: 500,
    atMax: { TAPLINE_SHARD_LEASE_MS: '120000', TAPLINE_MEMBER_TTL_MS: '120000' },
  },
  TAPLINE_MEMBER_TTL_MS: { min: 100, max: 600_000, fallback: 3_000, atMin: { TAPLINE_CLUSTER_TICK_MS: '50' } },
  TAPLINE_SHARD_LEASE_MS: {
    min: 100,
    max: 600_000,
    fallback: 3_000,
    atMin: { TAPLINE_CLUSTER_TICK_MS: '50', TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '99' },
  },
  TAPLINE_TAKE_RETRY_MS: { min: 5, max: 60_000, fallback: 50 },
  TAPLINE_ROUTE_RETRY_MS: { min: 1, max: 10_000, fallback: 20 },
  TAPLINE_ROUTE_WAIT_MAX_MS: { min: 10, max: 600_000, fallback: 10_000, atMin: { TAPLINE_ROUTE_RETRY_MS: '10' } },
  TAPLINE_FORWARD_IN_FLIGHT_MAX: { min: 1, max: 10_000_000, fallback: 100_000 },
  TAPLINE_TERMINAL_CACHE_MS: { min: 0, max: 600_000, fallback: 1_000 },
  TAPLINE_TERMINAL_CACHE_MAX: { min: 1, max: 10_000_000, fallback: 100_000 },
  TAPLINE_DENYLIST_LOG_PER_SHARD_MAX: { min: 16, max: 10_000_000, fallback: 4_096 },
  TAPLINE_OFFLINE_MERGE_CARDS_IN_FLIGHT: { min: 1, max: 10_000, fallback: 500 },
  TAPLINE_OFFLINE_DENYLIST_AGE_TERMINALS_MAX: { min: 1, max: 1_000_000, fallback: 10_000 },
  TAPLINE_PSP_WEBHOOK_PORT: { min: -1, max: 65_535, fallback: -1 },
  TAPLINE_PSP_REQUEST_TIMEOUT_MS: { min: 100, max: 60_000, fallback: 10_000 },
};

describe('config: defaults', () => {
  it('loads the documented defaults from an empty environment', () => {
    const config = loadConfig({});
    const expected: NodeConfig = {
      TAPLINE_NODE_ID: hostname().slice(0, 64),
      TAPLINE_GRPC_HOST: '127.0.0.1',
      TAPLINE_REDIS_URL: 'redis://127.0.0.1:6390',
      TAPLINE_REDIS_MODE: 'single',
      TAPLINE_REDIS_SENTINEL_NAME: 'tapline',
      TAPLINE_LOG_LEVEL: 'info',
      TAPLINE_DEV_PLAINTEXT: 'false',
      TAPLINE_TRUST_DOMAIN: 'tapline',
      TAPLINE_OIDC_AUDIENCE: 'tapline',
      TAPLINE_OIDC_ROLES_CLAIM: 'tapline_roles',
      ...secure,
      TAPLINE_PSP_PROVIDER: 'none',
      TAPLINE_MOLLIE_API_URL: 'https://api.mollie.com',
      ...Object.fromEntries(Object.entries(integer_settings).map(([name, setting]) => [name, setting.fallback])),
      redis: {
        mode: 'single',
        url: 'redis://127.0.0.1:6390',
        sentinels: [],
        sentinel_name: 'tapline',
        cluster_nodes: [],
        wait_replicas: 0,
        wait_timeout_ms: 500,
      },
    } as unknown as NodeConfig;
    assert.deepEqual(config, expected);
  });

  it('ignores variables it does not know', () => {
    assert.equal(loadConfig({ PATH: '/usr/bin', TAPLINE_SOMETHING_ELSE: 'x', HOME: '/root' }).TAPLINE_SHARD_COUNT, 256);
  });

  it('every integer setting is covered by this test', () => {
    const integers = Object.entries(loadConfig({}))
      .filter(([, value]) => typeof value === 'number')
      .map(([name]) => name);
    assert.deepEqual(integers.sort(), Object.keys(integer_settings).sort());
  });
});

describe('config: integer bounds', () => {
  for (const [name, setting] of Object.entries(integer_settings)) {
    it(`${name}: accepts ${setting.min} and ${setting.max}, refuses ${setting.min - 1}, ${setting.max + 1} and malformed values`, () => {
      const atMin = loadConfig({ ...setting.atMin, [name]: String(setting.min) }) as unknown as Record<string, unknown>;
      assert.equal(atMin[name], setting.min);
      const atMax = loadConfig({ ...setting.atMax, [name]: String(setting.max) }) as unknown as Record<string, unknown>;
      assert.equal(atMax[name], setting.max);
      const bad = [String(setting.min - 1), String(setting.max + 1), '', '   ', '12.5', '0x10', '1e3', 'ten', '5 ms'];
      for (const value of bad) assertConfigError({ [name]: value }, [name], `${name}=${JSON.stringify(value)}`);
    });
  }

  it('names every bad variable when several are wrong at once', () => {
    const env = { TAPLINE_GRPC_PORT: '70000', TAPLINE_SHARD_COUNT: '0', TAPLINE_LOG_LEVEL: 'loud' };
    assertConfigError(env, Object.keys(env), 'three bad');
  });
});

describe('config: the cap on actors in memory follows the heap', () => {
  const mib = 1024 * 1024;

  it("unset, half the heap at the estimate per actor: 131,072 actors in the chart's 768 MB heap", () => {
    assert.equal(loadConfig({}).TAPLINE_ACTIVE_ENTITIES_MAX, undefined);
    assert.equal(activeEntitiesMax(loadConfig({}), 768 * mib), 131_072);
    assert.equal(activeEntitiesMax(loadConfig({}), 4_096 * mib), Math.floor((4_096 * mib) / 2 / active_entity_bytes_estimate));
  });

  it('set, is taken as given up to what the heap holds, and refused past it at start', () => {
    assert.equal(activeEntitiesMax(loadConfig({ TAPLINE_ACTIVE_ENTITIES_MAX: '1000' }), 768 * mib), 1_000);
    assert.equal(activeEntitiesMax(loadConfig({ TAPLINE_ACTIVE_ENTITIES_MAX: '131072' }), 768 * mib), 131_072);
    assert.throws(
      () => activeEntitiesMax(loadConfig({ TAPLINE_ACTIVE_ENTITIES_MAX: '2000000' }), 768 * mib),
      (error: unknown) => error instanceof ConfigError && /TAPLINE_ACTIVE_ENTITIES_MAX/.test(error.message) && /131072/.test(error.message),
    );
  });

  it('accepts 1 and 50,000,000 as values and refuses 0, 50,000,001 and malformed ones', () => {
    assert.equal(loadConfig({ TAPLINE_ACTIVE_ENTITIES_MAX: '1' }).TAPLINE_ACTIVE_ENTITIES_MAX, 1);
    assert.equal(loadConfig({ TAPLINE_ACTIVE_ENTITIES_MAX: '50000000' }).TAPLINE_ACTIVE_ENTITIES_MAX, 50_000_000);
    for (const value of ['0', '50000001', '', '12.5', '0x10', 'many'])
      assertConfigError({ TAPLINE_ACTIVE_ENTITIES_MAX: value }, ['TAPLINE_ACTIVE_ENTITIES_MAX'], `TAPLINE_ACTIVE_ENTITIES_MAX=${value}`);
  });
});

describe('config: other settings', () => {
  it('accepts every log level and refuses any other', () => {
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const) {
      assert.equal(loadConfig({ TAPLINE_LOG_LEVEL: level }).TAPLINE_LOG_LEVEL, level);
    }
    for (const level of ['verbose', 'INFO', ''])
      assertConfigError({ TAPLINE_LOG_LEVEL: level }, ['TAPLINE_LOG_LEVEL'], `log level ${level}`);
  });

  it('takes PIN and PSP secrets of at least 16 characters, none by default, never shown in errors', () => {
    assert.equal(loadConfig({}).TAPLINE_PIN_SECRET, undefined);
    assert.equal(loadConfig({ TAPLINE_PIN_SECRET: 's'.repeat(16) }).TAPLINE_PIN_SECRET, 's'.repeat(16));
    assertConfigError({ TAPLINE_PIN_SECRET: 's'.repeat(15) }, ['TAPLINE_PIN_SECRET'], 'short PIN secret');
    assertConfigError({ TAPLINE_PSP_SECRET: 'p'.repeat(15) }, ['TAPLINE_PSP_SECRET'], 'short PSP secret');
    assert.equal(loadConfig({ TAPLINE_PSP_SECRET: 'secret-value-xyz' }).TAPLINE_PSP_SECRET, 'secret-value-xyz');
    assert.throws(
      () => loadConfig({ TAPLINE_PSP_SECRET: 'short-secret' }),
      (error: Error) => !error.message.includes('short-secret'),
      'the message never shows the secret',
    );
  });

  it('turns Mollie on only with its key, webhook and redirect URLs and a webhook port; never shows the key', () => {
    const mollie = {
      TAPLINE_PSP_PROVIDER: 'mollie',
      TAPLINE_MOLLIE_API_KEY: 'live_abcdefghij0123456789',
      TAPLINE_PSP_WEBHOOK_URL: 'https://pay.example.org/psp/mollie',
      TAPLINE_PSP_REDIRECT_URL: 'https://example.org/thanks',
      TAPLINE_PSP_WEBHOOK_PORT: '8443',
    };
    assert.equal(loadConfig(mollie).TAPLINE_PSP_PROVIDER, 'mollie');
    for (const name of ['TAPLINE_MOLLIE_API_KEY', 'TAPLINE_PSP_WEBHOOK_URL', 'TAPLINE_PSP_REDIRECT_URL', 'TAPLINE_PSP_WEBHOOK_PORT'])
      assertConfigError({ ...mollie, [name]: undefined }, [name], `mollie without ${name}`);
    assertConfigError({ TAPLINE_MOLLIE_API_KEY: mollie.TAPLINE_MOLLIE_API_KEY }, ['TAPLINE_MOLLIE_API_KEY'], 'a key without the provider');
    assertConfigError({ ...mollie, TAPLINE_PSP_PROVIDER: 'stripe' }, ['TAPLINE_PSP_PROVIDER'], 'an unknown provider');
    assert.throws(
      () => loadConfig({ ...mollie, TAPLINE_MOLLIE_API_KEY: 'secret_not_a_mollie_key' }),
      (error: Error) => error.message.includes('TAPLINE_MOLLIE_API_KEY') && !error.message.includes('secret_not_a_mollie_key'),
      'a malformed key is named, never shown',
    );
  });

  it('reads card authentication keys and the token secret, naming a bad entry, never showing a key', () => {
    const key = '00112233445566778899aabbccddeeff';
    assert.equal(
      loadConfig({ TAPLINE_CARD_AUTH_KEYS: `fest-1:${key},fest-2:${key}` }).TAPLINE_CARD_AUTH_KEYS,
      `fest-1:${key},fest-2:${key}`,
    );
    for (const keys of [`fest-1:${key.slice(1)}`, `fest 1:${key}`, `fest-1:${key},fest-1:${key}`, 'x'])
      assert.throws(
        () => loadConfig({ TAPLINE_CARD_AUTH_KEYS: keys }),
        (error: Error) =>
          error instanceof ConfigError && error.message.includes('TAPLINE_CARD_AUTH_KEYS') && !error.message.includes(key.slice(1, 30)),
        keys,
      );
    assert.equal(loadConfig({}).TAPLINE_TOKEN_SECRET, undefined);
    assertConfigError({ TAPLINE_TOKEN_SECRET: 't'.repeat(31) }, ['TAPLINE_TOKEN_SECRET'], 'short token secret');
    assert.equal(loadConfig({ TAPLINE_TOKEN_SECRET: 't'.repeat(32) }).TAPLINE_TOKEN_SECRET, 't'.repeat(32));
  });

  it('requires the Redis URL to be a URL', () => {
    assert.equal(
      loadConfig({ TAPLINE_REDIS_URL: 'redis://redis.tapline.svc:6379/0' }).TAPLINE_REDIS_URL,
      'redis://redis.tapline.svc:6379/0',
    );
    for (const url of ['not a url', '', 'localhost'])
      assertConfigError({ TAPLINE_REDIS_URL: url }, ['TAPLINE_REDIS_URL'], `redis url ${url}`);
  });

  it('requires the node id to be 1-64 of A-Z a-z 0-9 . _ -', () => {
    assert.equal(loadConfig({ TAPLINE_NODE_ID: 'tapline-0' }).TAPLINE_NODE_ID, 'tapline-0');
    assert.equal(loadConfig({ TAPLINE_NODE_ID: 'n'.repeat(64) }).TAPLINE_NODE_ID, 'n'.repeat(64));
    for (const id of ['', 'node 1', 'node:1', 'n'.repeat(65)])
      assertConfigError({ TAPLINE_NODE_ID: id }, ['TAPLINE_NODE_ID'], `node id ${id}`);
  });

  it('is secure by default: refuses to start without the TLS files of its doors and a token issuer', () => {
    for (const missing of Object.keys(secure)) {
      const env = { ...secure, [missing]: undefined };
      assert.throws(
        () => loadNodeConfig(env),
        (error: unknown) => error instanceof ConfigError && error.message.includes(missing),
        `without ${missing}`,
      );
    }
    // The development switch drops the TLS files, never the token issuer.
    const plain = loadNodeConfig({ TAPLINE_DEV_PLAINTEXT: 'true', TAPLINE_OIDC_ISSUERS: secure['TAPLINE_OIDC_ISSUERS'] });
    assert.equal(plain.TAPLINE_DEV_PLAINTEXT, 'true');
    assert.throws(() => loadNodeConfig({ TAPLINE_DEV_PLAINTEXT: 'true' }), /TAPLINE_OIDC_ISSUERS/);
    assertConfigError({ TAPLINE_DEV_PLAINTEXT: 'yes' }, ['TAPLINE_DEV_PLAINTEXT'], 'switch spelled otherwise');
    assert.throws(
      () => parseIssuers('[{"issuer":"https://idp.example/","jwks_url":"http://idp.example/jwks"}]'),
      (error: unknown) => error instanceof ConfigError && /TAPLINE_OIDC_ISSUERS/.test(error.message),
      'signing keys are fetched over HTTPS only',
    );
    assert.equal(parseIssuers(secure['TAPLINE_OIDC_ISSUERS'] ?? '').length, 1);
  });
});

describe('config: relations between bounds', () => {
  /** A setting, its partner, a pair of values the relation refuses, and the equal value it allows. */
  const relations: readonly [string, string, [string, string], string][] = [
    ['TAPLINE_DRAIN_BATCH_MAX', 'TAPLINE_MAILBOX_MAX', ['101', '100'], '100'],
    ['TAPLINE_STREAM_IN_FLIGHT_MAX', 'TAPLINE_IN_FLIGHT_MAX', ['1001', '1000'], '1000'],
    ['TAPLINE_COMMIT_PENDING_MAX', 'TAPLINE_COMMIT_BATCH_MAX', ['99', '100'], '100'],
    ['TAPLINE_PASSIVATION_SWEEP_MS', 'TAPLINE_PASSIVATE_AFTER_MS', ['2001', '2000'], '2000'],
    ['TAPLINE_ROUTE_RETRY_MS', 'TAPLINE_ROUTE_WAIT_MAX_MS', ['101', '100'], '100'],
    ['TAPLINE_STREAM_PENDING_ITEMS_MAX', 'TAPLINE_CONNECTION_PENDING_ITEMS_MAX', ['5001', '5000'], '5000'],
    ['TAPLINE_STREAM_FRAME_ITEMS_MAX', 'TAPLINE_STREAM_PENDING_ITEMS_MAX', ['501', '500'], '500'],
  ];
  for (const [name, partner, [value, partnerValue], equal] of relations) {
    it(`${name}: refused past ${partner}, allowed equal to it`, () => {
      assertConfigError({ [name]: value, [partner]: partnerValue }, [name, partner], name);
      const config = loadConfig({ [name]: equal, [partner]: equal }) as unknown as Record<string, unknown>;
      assert.equal(config[name], Number(equal));
      assert.equal(config[partner], Number(equal));
    });
  }

  it('reports every broken relation at once', () => {
    assertConfigError(
      {
        TAPLINE_DRAIN_BATCH_MAX: '600',
        TAPLINE_MAILBOX_MAX: '500',
        TAPLINE_PASSIVATION_SWEEP_MS: '9000',
        TAPLINE_PASSIVATE_AFTER_MS: '8000',
      },
      ['TAPLINE_DRAIN_BATCH_MAX must be <= TAPLINE_MAILBOX_MAX', 'TAPLINE_PASSIVATION_SWEEP_MS must be <= TAPLINE_PASSIVATE_AFTER_MS'],
      'two relations',
    );
  });

  it('a lease and a membership must survive one missed heartbeat (tick at most half of each)', () => {
    assertConfigError(
      { TAPLINE_CLUSTER_TICK_MS: '1501' },
      ['TAPLINE_CLUSTER_TICK_MS', 'TAPLINE_SHARD_LEASE_MS', 'TAPLINE_MEMBER_TTL_MS'],
      'tick past half the lease',
    );
    assertConfigError(
      { TAPLINE_SHARD_LEASE_MS: '999', TAPLINE_CLUSTER_TICK_MS: '500' },
      ['TAPLINE_SHARD_LEASE_MS'],
      'lease below two ticks',
    );
    assert.equal(loadConfig({ TAPLINE_CLUSTER_TICK_MS: '1500' }).TAPLINE_CLUSTER_TICK_MS, 1500);
  });

  it('a Redis command gives up before the shard lease it writes under can lapse', () => {
    assertConfigError(
      { TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '3000' },
      ['TAPLINE_REDIS_COMMAND_TIMEOUT_MS', 'TAPLINE_SHARD_LEASE_MS'],
      'command timeout equal to the default lease',
    );
    assert.equal(loadConfig({ TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '2999' }).TAPLINE_REDIS_COMMAND_TIMEOUT_MS, 2999);
  });

  it('checks a relation against a default too (a mailbox below the default drain batch)', () => {
    assertConfigError({ TAPLINE_MAILBOX_MAX: '100' }, ['TAPLINE_DRAIN_BATCH_MAX', 'TAPLINE_MAILBOX_MAX'], 'mailbox 100, drain default 512');
  });
});
