// Writes a command to Redis' socket at once instead of at the event loop's next turn.
//
// node-redis queues every command and writes its queue from a setImmediate: the bytes leave in
// the check phase of the loop's next turn, after every I/O callback of that turn's poll phase.
// For most commands that coalescing is right. For the group commit it is a stall: a commit script
// flushed while the node is deciding a burst (an offline upload hands hundreds of cards their
// entries in one turn; a stream frame carries a hundred items) leaves only once the next turn's
// replies and requests have been handled, and Redis waits idle meanwhile, its pipeline slots held
// by replies the busy node has not read yet (docs/DECISIONS.md, "Commit scripts are written at
// once").
//
// writtenNow() takes the write node-redis schedules and runs it before returning. It relies on
// node-redis scheduling that write with the global setImmediate, synchronously inside
// sendCommand, which the version the lockfile pins does; test/integration/redis-write-now.test.ts
// fails when that changes. When the client already has a write scheduled, or is not ready, it
// schedules nothing and the command goes with that write, as it would have anyway.

/** The part of a node-redis client writtenNow() sends on. */
export interface CommandClient {
  sendCommand(args: (string | Buffer)[]): Promise<unknown>;
}

/** What writtenNow() hands node-redis for the immediate it did not schedule: node-redis only keeps it until the write ran. */
const write_taken = Object.freeze({});

/** `client.sendCommand(args)`, its bytes written to the socket before this returns. */
export function writtenNow(client: CommandClient, args: (string | Buffer)[]): Promise<unknown> {
  const schedule = globalThis.setImmediate;
  let write: (() => void) | undefined;
  const take = (callback: (...args: unknown[]) => void, ...rest: unknown[]): unknown => {
    // Anything else scheduled meanwhile (nothing, in the pinned version) keeps its real immediate.
    if (write !== undefined || rest.length > 0) return schedule(callback, ...rest);
    write = callback;
    return write_taken;
  };
  globalThis.setImmediate = take as unknown as typeof setImmediate;
  let reply: Promise<unknown>;
  try {
    reply = client.sendCommand(args);
  } finally {
    globalThis.setImmediate = schedule;
  }
  // After sendCommand returned: node-redis has stored the handle, which the write then clears.
  write?.();
  return reply;
}
