// Proves "persist before reply" for an operator's repeat of a change that is still committing: an
// account or card actor decides on its in-memory state, which already holds the first change
// while its commit is in flight, so the repeat is found unchanged and writes nothing. Its answer
// must still wait until the first change is durable, and when that commit is lost the repeat must
// not confirm it. Real Redis (AOF, fsync always) and a real node: Redis holds writes (CLIENT PAUSE
// WRITE) so the first commit stays on the wire, then either lets them run (the repeat answers
// once the change is stored, and writes nothing of its own) or is killed with SIGKILL (the commit
// never runs: the repeat is refused, and Redis, restarted from its AOF, holds no change). A refusal
// decided on that state (a create with other fields) waits the same way.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { CardStatus } from '../../gen/tapline/v1/types';
import { TaplineClient } from '../../tools/client/tapline-client';
import { FleetClient } from '../../tools/client/fleet-client';
import { shardOf } from '../../actors/sharding/shard-key';
import { cardKey, fleetKey, terminalKey } from '../../services/authorizer/store/keys';
import { accessTo, startInProcessNode, startTestRedis, test_shard_count } from '../support/harness';
import { connectInspector } from '../support/redis-inspect';
import { decodeCardState } from '../../actors/state/card';
import { decodeFleetAccount } from '../../actors/state/fleet';
import { decodeTerminalState } from '../../actors/state/terminal';

/** How long the test holds a commit on the wire and checks that nothing was answered. */
const held_ms = 600;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A call's fate and when it was learnt. */
interface Seen<T> {
  value?: T;
  error?: grpc.ServiceError;
  answered: boolean;
}

/** A call's answer as it arrives, and when it has. */
interface Watched<T> {
  readonly seen: Seen<T>;
  readonly done: Promise<void>;
}

function watch<T>(call: Promise<T>): Watched<T> {
  const seen: Seen<T> = { answered: false };
  const done = call.then(
    (value) => {
      seen.value = value;
      seen.answered = true;
    },
    (error: unknown) => {
      seen.error = error as grpc.ServiceError;
      seen.answered = true;
    },
  );
  return { seen, done };
}

describe('fault: an operator repeat of a change still committing (real Redis, CLIENT PAUSE / SIGKILL)', function () {
  this.timeout(60_000);
  let redis: RedisInstance | undefined;
  let node: AuthorizerNode | undefined;
  let fleet: FleetClient | undefined;
  let client: TaplineClient | undefined;

  beforeEach(async function () {
    redis = await startTestRedis('admin-repeats');
    node = await startInProcessNode(redis.url);
    fleet = new FleetClient(await accessTo(node));
    client = new TaplineClient(await accessTo(node));
  });

  afterEach(async function () {
    fleet?.close();
    client?.close();
    await node?.shutdown();
    await redis?.stop();
    node = undefined;
    redis = undefined;
  });

  /** The stored record of an entity (hash fields), read with a fresh connection. */
  async function stored(key: string): Promise<Record<string, string>> {
    const inspect = await connectInspector((redis as RedisInstance).url);
    try {
      return await inspect.client.hGetAll(key);
    } finally {
      await inspect.close();
    }
  }

  /**
   * Redis stops running writes (CLIENT PAUSE WRITE: scripts included) while reads go on, so an
   * actor can load and decide while the commit it submits stays on the wire.
   */
  async function holdWrites(): Promise<void> {
    const inspect = await connectInspector((redis as RedisInstance).url);
    try {
      await inspect.client.sendCommand(['CLIENT', 'PAUSE', '20000', 'WRITE']);
    } finally {
      await inspect.close();
    }
  }

  async function releaseWrites(): Promise<void> {
    const inspect = await connectInspector((redis as RedisInstance).url);
    try {
      await inspect.client.sendCommand(['CLIENT', 'UNPAUSE']);
    } finally {
      await inspect.close();
    }
  }

  async function auditActions(): Promise<string[]> {
    const inspect = await connectInspector((redis as RedisInstance).url);
    try {
      return (await inspect.outbox()).filter((d) => d['type'] === 'audit_record').map((d) => String(d['action']));
    } finally {
      await inspect.close();
    }
  }

  const accountKey = (fleetId: string): string => fleetKey(shardOf('fleet', fleetId, test_shard_count), fleetId);

  /**
   * Holds Redis writes, sends a change, then its repeat: the repeat is still unanswered after
   * held_ms, while the change is on the wire. Writes stay held.
   */
  async function changeThenWaitingRepeat<T>(change: () => Promise<T>): Promise<{ first: Watched<T>; repeat: Watched<T> }> {
    await holdWrites();
    const first = watch(change());
    await pause(100);
    const repeat = watch(change());
    await pause(held_ms);
    assert.equal(repeat.seen.answered, false, `the repeat waits for the first change (${repeat.seen.error?.message ?? 'answered OK'})`);
    return { first, repeat };
  }

  /**
   * A change sent while writes are held, then its repeat: the repeat is not answered while the
   * change is on the wire; once writes run, both are answered OK. Returns the repeat's answer.
   */
  async function repeatOfHeldChange<T>(change: () => Promise<T>): Promise<T | undefined> {
    const { first, repeat } = await changeThenWaitingRepeat(change);
    await releaseWrites();
    await Promise.all([first.done, repeat.done]);
    assert.equal(first.seen.error, undefined, first.seen.error?.message);
    assert.equal(repeat.seen.error, undefined, repeat.seen.error?.message);
    return repeat.seen.value;
  }

  /**
   * A change sent while writes are held, then its repeat; Redis is killed with the change still on
   * the wire: the repeat waited, is refused UNAVAILABLE, and Redis (restarted) holds no change of `key`.
   */
  async function repeatOfLostChange(change: () => Promise<unknown>, key: string): Promise<void> {
    const before = await stored(key);
    const { first: lost, repeat } = await changeThenWaitingRepeat(change);
    await (redis as RedisInstance).kill9();
    await Promise.all([lost.done, repeat.done]);
    assert.ok(lost.seen.error !== undefined, 'the first change is refused');
    assert.ok(repeat.seen.error !== undefined, 'the repeat is not confirmed');
    assert.equal(repeat.seen.error.code, grpc.status.UNAVAILABLE, repeat.seen.error.message);
    await (redis as RedisInstance).restart();
    assert.deepEqual(await stored(key), before, 'Redis holds no change');
  }

  it('fleet account: repeats of CreateFleetAccount and SetFleetPrompts answer only once what they repeat is durable, writing nothing', async function () {
    const admin = fleet as FleetClient;
    const fleetId = 'held';
    const account = { fleetId, creditLimitMinor: 100_000, timeZone: 'Europe/Berlin' };
    const prompts = { requireOdometer: true, requireDriver: false, requireVehicle: true, odometerJumpMaxKm: 900n };
    // The actor reads (finds no account) before the writes are held.
    await assert.rejects(admin.getAccount(fleetId), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);

    await holdWrites();
    const first = watch(admin.createAccount(account));
    const firstPrompts = watch(admin.setPrompts({ fleetId, prompts }));
    await pause(100);
    const repeat = watch(admin.createAccount(account));
    const repeatPrompts = watch(admin.setPrompts({ fleetId, prompts }));
    await pause(held_ms);
    const calls = [first, firstPrompts, repeat, repeatPrompts];
    assert.deepEqual(
      calls.map((call) => call.seen.answered),
      [false, false, false, false],
      `nothing is answered while the changes are on the wire (repeat: ${repeat.seen.error?.message ?? JSON.stringify(repeat.seen.value?.alreadyExisted)})`,
    );

    await releaseWrites();
    await Promise.all(calls.map((call) => call.done));
    for (const call of calls) assert.equal(call.seen.error, undefined, call.seen.error?.message);
    assert.equal(first.seen.value?.alreadyExisted, false);
    assert.equal(repeat.seen.value?.alreadyExisted, true);
    assert.deepEqual(repeatPrompts.seen.value?.account?.prompts, prompts);
    const state = decodeFleetAccount(String((await stored(accountKey(fleetId)))['d']));
    assert.equal(state.prompts.odometer_jump_max_km, 900, 'the account is stored with its prompts');
    // One write each: the repeats were answered from the durable first change, not committed again.
    const actions = await auditActions();
    assert.equal(actions.filter((a) => a.endsWith('/CreateFleetAccount')).length, 1, actions.join(', '));
    assert.equal(actions.filter((a) => a.endsWith('/SetFleetPrompts')).length, 1, actions.join(', '));
  });

  it('fleet account: when the account a repeated CreateFleetAccount waits on is lost (Redis killed), the repeat is refused and nothing is stored', async function () {
    const admin = fleet as FleetClient;
    const fleetId = 'lost';
    const account = { fleetId, creditLimitMinor: 100_000, timeZone: 'Europe/Berlin' };
    await assert.rejects(admin.getAccount(fleetId), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);

    await holdWrites();
    const first = watch(admin.createAccount(account));
    await pause(100);
    const repeat = watch(admin.createAccount(account));
    await pause(held_ms);
    assert.equal(repeat.seen.answered, false, `the repeat waits for the first change (${repeat.seen.error?.message ?? 'answered OK'})`);
    // The held commit never runs: the server dies with it.
    await (redis as RedisInstance).kill9();
    await Promise.all([first.done, repeat.done]);
    assert.ok(first.seen.error !== undefined, 'the first change is refused');
    assert.ok(repeat.seen.error !== undefined, `the repeat is not confirmed (alreadyExisted: ${repeat.seen.value?.alreadyExisted})`);
    assert.equal(repeat.seen.error.code, grpc.status.UNAVAILABLE, repeat.seen.error.message);

    await (redis as RedisInstance).restart();
    assert.deepEqual(await stored(accountKey(fleetId)), {}, 'Redis holds no account');
    assert.deepEqual(
      (await auditActions()).filter((a) => a.endsWith('/CreateFleetAccount')),
      [],
      'no audit record of a change that was not made',
    );
  });

  it('fleet account: a create with other fields while the first create commits is refused only once that account is durable; if it is lost, not with ALREADY_EXISTS', async function () {
    const admin = fleet as FleetClient;
    const account = (fleetId: string, creditLimitMinor: number) => ({ fleetId, creditLimitMinor, timeZone: 'Europe/Berlin' });
    for (const fleetId of ['other-held', 'other-lost'])
      await assert.rejects(admin.getAccount(fleetId), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);

    await holdWrites();
    const first = watch(admin.createAccount(account('other-held', 100_000)));
    await pause(100);
    const other = watch(admin.createAccount(account('other-held', 200_000)));
    await pause(held_ms);
    assert.equal(
      other.seen.answered,
      false,
      `the refusal waits for the account it stands on (${other.seen.error?.message ?? 'answered OK'})`,
    );
    await releaseWrites();
    await Promise.all([first.done, other.done]);
    assert.equal(first.seen.error, undefined, first.seen.error?.message);
    assert.equal(other.seen.error?.code, grpc.status.ALREADY_EXISTS, other.seen.error?.message ?? 'answered OK');

    await holdWrites();
    const lost = watch(admin.createAccount(account('other-lost', 100_000)));
    await pause(100);
    const lostOther = watch(admin.createAccount(account('other-lost', 200_000)));
    await pause(held_ms);
    assert.equal(lostOther.seen.answered, false, `the refusal waits (${lostOther.seen.error?.message ?? 'answered OK'})`);
    await (redis as RedisInstance).kill9();
    await Promise.all([lost.done, lostOther.done]);
    assert.ok(lost.seen.error !== undefined, 'the first create is refused');
    assert.equal(lostOther.seen.error?.code, grpc.status.UNAVAILABLE, lostOther.seen.error?.message ?? 'answered OK');
    await (redis as RedisInstance).restart();
    assert.deepEqual(await stored(accountKey('other-lost')), {}, 'Redis holds no account');
  });

  it('card: a repeat of SetCardStatus answers only once the status it repeats is durable; if that is lost it is refused', async function () {
    const tapline = client as TaplineClient;
    await tapline.issueCard('held-card', 1_000);
    await tapline.issueCard('lost-card', 1_000);
    const key = (cardId: string): string => cardKey(shardOf('card', cardId, test_shard_count), cardId);

    const repeat = await repeatOfHeldChange(() => tapline.setCardStatus('held-card', CardStatus.CARD_STATUS_FROZEN));
    assert.equal(repeat?.status, CardStatus.CARD_STATUS_FROZEN);
    assert.equal(decodeCardState(String((await stored(key('held-card')))['d'])).status, 'frozen', 'the status is stored');

    await repeatOfLostChange(() => tapline.setCardStatus('lost-card', CardStatus.CARD_STATUS_FROZEN), key('lost-card'));
  });

  it('terminal: a repeat of SetTerminalEnabled answers only once the switch it repeats is durable; if that is lost it is refused', async function () {
    const tapline = client as TaplineClient;
    await tapline.registerTerminal('held-pos', 'shop');
    await tapline.registerTerminal('lost-pos', 'shop');
    const key = (terminalId: string): string => terminalKey(shardOf('terminal', terminalId, test_shard_count), terminalId);

    const repeat = await repeatOfHeldChange(() => tapline.setTerminalEnabled('held-pos', false));
    assert.equal(repeat?.enabled, false);
    assert.equal(decodeTerminalState(String((await stored(key('held-pos')))['d'])).enabled, false, 'the switch is stored');

    await repeatOfLostChange(() => tapline.setTerminalEnabled('lost-pos', false), key('lost-pos'));
  });
});
