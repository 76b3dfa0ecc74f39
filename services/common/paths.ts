// Locates the project root (local runs, tests and the benchmark keep their data under it).

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The project root: the nearest folder above this file that holds package.json. */
export function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('assertion: package.json not found above ' + __dirname);
    dir = parent;
  }
  return dir;
}
