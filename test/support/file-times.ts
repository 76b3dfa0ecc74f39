// Seconds per test file when mocha runs files in parallel workers (`--parallel`, scripts/test.sh).
// There the reporter in the main process receives a file's events only once the file has finished,
// all at once, so it cannot time the file; each worker times its own file instead (root hooks run
// once per file in a worker, around the file's hooks and tests) and appends one line to
// file_times_path, which the reporter reads at the end of the run. Run serially, this does nothing:
// root hooks then run once around every file, and the reporter times files from its own events.

import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import type { Context } from 'mocha';

/** One JSON line `{ file, seconds }` per file a worker ran, relative to the working directory. */
export const file_times_path = '.test-data/file-times.jsonl';

const inWorker = process.env['MOCHA_WORKER_ID'] !== undefined;
let started = 0;

export const mochaHooks = {
  beforeAll(): void {
    started = performance.now();
  },
  afterAll(this: Context): void {
    const file = this.test?.parent?.suites.find((suite) => suite.file !== undefined)?.file;
    if (!inWorker || file === undefined) return;
    mkdirSync(dirname(file_times_path), { recursive: true });
    const seconds = (performance.now() - started) / 1000;
    appendFileSync(file_times_path, JSON.stringify({ file: relative(process.cwd(), file), seconds }) + '\n');
  },
};
