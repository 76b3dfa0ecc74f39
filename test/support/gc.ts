// A full garbage collection inside the test process, for tests that prove an object becomes
// collectable (a WeakRef to it is cleared): --expose-gc is set at run time and gc() is taken from
// a fresh context, so mocha needs no extra flag.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}
