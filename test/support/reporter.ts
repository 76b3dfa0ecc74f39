// Mocha reporter: mocha's spec output for people, then the ten slowest test files (hooks such as
// starting Redis or ClickHouse included) and one closing line "N passed, N failed" that CI reads,
// both also written to test-results.json so .ci/run can repeat the line last. Files run serially
// are timed from the reporter's own events; files run in parallel workers time themselves
// (file-times.ts), since their events reach this process only once the file has finished.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import Mocha from 'mocha';
import { file_times_path } from './file-times';

const { EVENT_RUN_END, EVENT_SUITE_BEGIN, EVENT_SUITE_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;

/** Slowest files listed at the end of a run. */
const slowest_files_shown = 10;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    // Seconds per test file: from its first top-level suite's start to its last one's end.
    const fileSeconds = new Map<string, number>();
    // What workers of an earlier run left must not be read as this run's.
    rmSync(file_times_path, { force: true });
    const started = new Map<Mocha.Suite, number>();
    runner.on(EVENT_SUITE_BEGIN, (suite: Mocha.Suite) => {
      if (suite.parent?.root === true) started.set(suite, performance.now());
    });
    runner.on(EVENT_SUITE_END, (suite: Mocha.Suite) => {
      const at = started.get(suite);
      if (at === undefined || suite.file === undefined) return;
      const file = relative(process.cwd(), suite.file);
      fileSeconds.set(file, (fileSeconds.get(file) ?? 0) + (performance.now() - at) / 1000);
    });
    runner.on(EVENT_TEST_PASS, () => {
      passed += 1;
    });
    runner.on(EVENT_TEST_FAIL, () => {
      failed += 1;
    });
    runner.on(EVENT_TEST_PENDING, () => {
      skipped += 1;
    });
    runner.once(EVENT_RUN_END, () => {
      const line = `${passed} passed, ${failed} failed` + (skipped > 0 ? `, ${skipped} skipped` : '');
      const slowest_files = [...(workerFileSeconds() ?? fileSeconds)]
        .sort((a, b) => b[1] - a[1])
        .slice(0, slowest_files_shown)
        .map(([file, seconds]) => ({ file, seconds: Math.round(seconds * 10) / 10 }));
      writeFileSync('test-results.json', JSON.stringify({ passed, failed, skipped, line, slowest_files }) + '\n');
      // After the spec reporter's epilogue, which it prints on the same event.
      process.nextTick(() => {
        if (slowest_files.length > 0)
          process.stdout.write(
            `slowest files:\n${slowest_files.map(({ file, seconds }) => `  ${seconds.toFixed(1)} s  ${file}`).join('\n')}\n`,
          );
        process.stdout.write(`${line}\n`);
      });
    });
  }
}

/** Seconds per file as the parallel workers timed them; undefined when no worker ran (a serial run). */
function workerFileSeconds(): Map<string, number> | undefined {
  let text: string;
  try {
    text = readFileSync(file_times_path, 'utf8');
  } catch {
    return undefined;
  }
  const seconds = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const entry = JSON.parse(line) as { file: string; seconds: number };
    seconds.set(entry.file, (seconds.get(entry.file) ?? 0) + entry.seconds);
  }
  return seconds;
}

export = SummaryReporter;
