// Mocha reporter: mocha's spec output for people, then one closing line "N passed, N failed"
// that CI reads, also written to test-results.json so .ci/run can repeat it last.

import { writeFileSync } from 'node:fs';
import Mocha from 'mocha';

const { EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
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
      writeFileSync('test-results.json', JSON.stringify({ passed, failed, skipped, line }) + '\n');
      // After the spec reporter's epilogue, which it prints on the same event.
      process.nextTick(() => process.stdout.write(`${line}\n`));
    });
  }
}

export = SummaryReporter;
