// Proves that patches/@redis+client+6.3.1.patch is applied to the installed Redis client: a
// command that has left the reply queue no longer reaches the commands queued after it.
//
// Why it matters: @redis/client keeps the commands waiting for a reply in a singly linked list,
// and its shift() left the removed node pointing at the next one. Once one node had been promoted
// to V8's old generation (it waited through two young collections, as happens under a burst or a
// pause), that dead node kept its successor alive through every young collection until the next
// full GC; the successor was promoted in turn and held the one after it. Every commit from then on
// was promoted with everything its reply promise reaches (the batch, its gRPC calls): about 5 KB
// per authorization went to the old generation, which filled up and paid for it with full-GC
// pauses of 45-230 ms (docs/DECISIONS.md, "A reply queue that kept every commit alive").
//
// The dead-but-promoted node is modelled here by holding the shifted node in a variable; the test
// then checks with a WeakRef and a full GC that the next command's value became collectable.

import assert from 'node:assert/strict';
import { SinglyLinkedList } from '@redis/client/dist/lib/client/linked-list';
import { collectGarbage } from '../support/gc';

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A command value as the client queues it, standing for everything its reply promise reaches. */
function command(name: string): { name: string; batch: number[] } {
  return { name, batch: Array.from({ length: 64 }, (_, i) => i) };
}

/** Queues a command no variable of the test holds; the WeakRef tells whether it was collected. */
function queueUnheld(queue: SinglyLinkedList<{ name: string }>, name: string): WeakRef<{ name: string }> {
  const value = command(name);
  queue.push(value);
  return new WeakRef(value);
}

describe('the Redis client reply queue (patched @redis/client)', () => {
  it('a shifted command no longer reaches the command queued after it', async () => {
    const queue = new SinglyLinkedList<{ name: string }>();
    const shiftedNode = queue.push(command('first'));
    const laterValue = queueUnheld(queue, 'later');
    assert.equal(queue.shift()?.name, 'first');
    assert.equal(queue.shift()?.name, 'later');
    assert.equal(queue.length, 0);
    // A WeakRef's target is kept until the job that created it ends.
    await nextTurn();
    collectGarbage();
    assert.equal(laterValue.deref(), undefined, 'the shifted node still reaches the next command: the @redis/client patch is not applied (npm install runs patch-package)');
    assert.equal(shiftedNode.next, undefined);
    assert.equal(shiftedNode.value, undefined, 'a shifted node drops its command too');
  });

  it('a removed command no longer reaches the command queued after it', async () => {
    const queue = new SinglyLinkedList<{ name: string }>();
    const first = queue.push(command('first'));
    const removedNode = queue.push(command('removed'));
    const lastValue = queueUnheld(queue, 'last');
    queue.remove(removedNode, first);
    assert.deepEqual([...queue].map((c) => c.name), ['first', 'last'], 'the queue itself is intact');
    assert.equal(queue.shift()?.name, 'first');
    assert.equal(queue.shift()?.name, 'last');
    await nextTurn();
    collectGarbage();
    assert.equal(lastValue.deref(), undefined, 'the removed node still reaches the next command');
    assert.equal(removedNode.next, undefined);
  });
});
