// The suite's reporter (test/support/reporter.ts): CI reads its last line, "N passed, N failed",
// and test-results.json. Run here on two small test files in a mocha of its own.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../services/common/paths';

describe('test reporter: the closing line and the slowest files', function () {
  this.timeout(30_000);
  let dir = '';

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapline-reporter-'));
    writeFileSync(
      join(dir, 'slow.test.js'),
      "describe('slow', function () { it('waits', function (done) { setTimeout(done, 300); }); it('fails', function () { throw new Error('no'); }); });\n",
    );
    writeFileSync(
      join(dir, 'quick.test.js'),
      "describe('quick', function () { it('passes', function () {}); it.skip('skipped', function () {}); });\n",
    );
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Mocha over the two files with the suite's reporter; its results file as written. */
  function runMocha(flags: readonly string[]): { status: number | null; lastLine: string | undefined; results: Results; stderr: string } {
    const run = spawnSync(
      process.execPath,
      [
        join(projectRoot(), 'node_modules', 'mocha', 'bin', 'mocha.js'),
        '--no-config',
        '--reporter',
        join(projectRoot(), 'dist', 'test', 'support', 'reporter.js'),
        ...flags,
        'slow.test.js',
        'quick.test.js',
      ],
      { cwd: dir, encoding: 'utf8' },
    );
    const results = JSON.parse(readFileSync(join(dir, 'test-results.json'), 'utf8')) as Results;
    return { status: run.status, lastLine: run.stdout.trimEnd().split('\n').at(-1), results, stderr: run.stderr };
  }

  for (const [mode, flags] of [
    ['run serially', []],
    // As scripts/test.sh runs the suite: the reporter sees a file's events only once it has finished.
    [
      'run in parallel workers',
      ['--parallel', '--jobs', '2', '--require', join(projectRoot(), 'dist', 'test', 'support', 'file-times.js')],
    ],
  ] as const) {
    it(`ends with "N passed, N failed", writes it to test-results.json with the files slowest first (${mode})`, () => {
      const run = runMocha(flags);
      assert.equal(run.status, 1, run.stderr);
      assert.equal(run.lastLine, '2 passed, 1 failed, 1 skipped');
      assert.equal(run.results.line, '2 passed, 1 failed, 1 skipped');
      assert.deepEqual([run.results.passed, run.results.failed], [2, 1]);
      assert.deepEqual(
        run.results.slowest_files.map((entry) => entry.file),
        ['slow.test.js', 'quick.test.js'],
      );
      assert.ok((run.results.slowest_files[0]?.seconds ?? 0) >= 0.3, JSON.stringify(run.results.slowest_files));
    });
  }
});

interface Results {
  readonly line: string;
  readonly passed: number;
  readonly failed: number;
  readonly slowest_files: readonly { readonly file: string; readonly seconds: number }[];
}
