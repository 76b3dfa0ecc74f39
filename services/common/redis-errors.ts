// What a Redis failure was, read from the error itself rather than from message text we wrote.
// Redis answers an error reply whose first word is its code (NOSCRIPT, BUSYGROUP, NOGROUP, ...);
// the client raises it as an ErrorReply, which our typed errors keep as their `cause`.

import { ErrorReply } from 'redis';

/** Causes followed at most; a cause chain is short, this only guards against a cycle. */
const cause_depth_max = 8;

/** The code of the Redis error reply behind `error` (following `cause`), or undefined when there is none. */
export function redisReplyCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < cause_depth_max && current instanceof Error; depth++) {
    if (current instanceof ErrorReply) return current.message.split(' ', 1)[0];
    current = current.cause;
  }
  return undefined;
}
