// The entity host's answerWhenDurable: an answer decided on memory without a write of its own waits
// for exactly the commits that were in flight when it was decided (they settle in submission
// order), is given once they all landed, and is dropped for a new decision when one did not.
// The persistence here settles entries when the test says so, in submission order, as the
// committer does.

import assert from 'node:assert/strict';
import { IdempotencyIndex } from '../../actors/idempotency';
import type { Outcome, TaplineError } from '../../actors/errors';
import { EntityHost, emptySlot, type HostContext } from '../../actors/runtime/entity-host';
import type { CommitEntry, CommitResult, Persistence } from '../../actors/runtime/persistence';

class HeldCommits {
  readonly entries: CommitEntry[] = [];
  submit(entry: CommitEntry): boolean {
    this.entries.push(entry);
    return true;
  }
  /** Settles the oldest entry still in flight. */
  settleNext(result: CommitResult): void {
    const entry = this.entries.shift();
    assert.ok(entry !== undefined, 'an entry is in flight');
    entry.settle(result);
  }
}

class TestHost extends EntityHost<never> {
  readonly slot = emptySlot<number>();

  constructor(context: HostContext) {
    super(0, context);
  }

  protected needsAwait(): boolean {
    return false;
  }
  protected handle(): void {}
  protected handleAwaiting(): Promise<void> {
    return Promise.resolve();
  }
  protected failMessage(_message: never, _error: TaplineError): void {}
  protected retry(_message: never, _ownConflict: boolean): void {}

  change(value: number): void {
    assert.ok(this.commit({ slots: [{ slot: this.slot, entity: { kind: 'card', id: 'c' }, after: value }] }, () => undefined));
  }

  repeat(answers: Outcome<string>[], redecided: string[], name: string): void {
    this.answerWhenDurable(
      (outcome: Outcome<string>) => answers.push(outcome),
      { ok: true, value: name },
      () => redecided.push(name),
    );
  }
}

function setup(keyWaitersMax = 8): { host: TestHost; commits: HeldCommits; answers: Outcome<string>[]; redecided: string[] } {
  const commits = new HeldCommits();
  const context: HostContext = {
    persistence: commits as unknown as Persistence,
    idempotency: new IdempotencyIndex(10),
    conflict_attempts_max: 3,
    key_waiters_max: keyWaitersMax,
  };
  return { host: new TestHost(context), commits, answers: [], redecided: [] };
}

const committed: CommitResult = { status: 'committed' };
const failed: CommitResult = { status: 'failed', error: new Error('redis gone') };
const values = (answers: Outcome<string>[]): string[] => answers.map((a) => (a.ok ? a.value : `error:${a.error.code}`));

describe('entity host: answers that wait until what they were decided on is durable', function () {
  it('answers at once when nothing of the entity is in flight', function () {
    const { host, answers, redecided } = setup();
    host.repeat(answers, redecided, 'now');
    assert.deepEqual(values(answers), ['now']);
    assert.deepEqual(redecided, []);
  });

  it('waits for every commit in flight when it was decided, not for later ones', function () {
    const { host, commits, answers, redecided } = setup();
    host.change(1);
    host.change(2);
    host.repeat(answers, redecided, 'repeat');
    host.change(3);
    commits.settleNext(committed);
    assert.deepEqual(values(answers), [], 'one of the two commits it was decided on is still in flight');
    commits.settleNext(committed);
    assert.deepEqual(values(answers), ['repeat'], 'answered once both landed, the later commit still in flight');
    assert.equal(host.slot.durable, 2);
    commits.settleNext(committed);
    assert.deepEqual(values(answers), ['repeat']);
    assert.ok(host.quiescent);
  });

  it('is decided again, never answered, when a commit it was decided on is lost', function () {
    const { host, commits, answers, redecided } = setup();
    host.change(1);
    host.change(2);
    host.repeat(answers, redecided, 'repeat');
    commits.settleNext(failed);
    commits.settleNext({ status: 'conflict' });
    assert.deepEqual(values(answers), []);
    assert.deepEqual(redecided, ['repeat']);
  });

  it('a wait made after a commit was lost is not affected by that loss', function () {
    const { host, commits, answers, redecided } = setup();
    host.change(1);
    host.repeat(answers, redecided, 'first');
    commits.settleNext(failed);
    host.change(2);
    host.repeat(answers, redecided, 'second');
    commits.settleNext(committed);
    assert.deepEqual(redecided, ['first']);
    assert.deepEqual(values(answers), ['second']);
  });

  it('bounds the answers waiting on one entity (RESOURCE_EXHAUSTED past key_waiters_max)', function () {
    const { host, commits, answers, redecided } = setup(2);
    host.change(1);
    host.repeat(answers, redecided, 'a');
    host.repeat(answers, redecided, 'b');
    host.repeat(answers, redecided, 'c');
    assert.deepEqual(values(answers), ['error:resource_exhausted']);
    commits.settleNext(committed);
    assert.deepEqual(values(answers), ['error:resource_exhausted', 'a', 'b']);
  });
});
