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

  it('ends with "N passed, N failed", writes it to test-results.json with the files slowest first', () => {
    const run = spawnSync(
      process.execPath,
      [
        join(projectRoot(), 'node_modules', 'mocha', 'bin', 'mocha.js'),
        '--no-config',
        '--reporter',
        join(projectRoot(), 'dist', 'test', 'support', 'reporter.js'),
        'slow.test.js',
        'quick.test.js',
      ],
      { cwd: dir, encoding: 'utf8' },
    );
    assert.equal(run.status, 1, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.equal(lines.at(-1), '2 passed, 1 failed, 1 skipped');
    const results = JSON.parse(readFileSync(join(dir, 'test-results.json'), 'utf8')) as {
      line: string;
      passed: number;
      failed: number;
      slowest_files: { file: string; seconds: number }[];
    };
    assert.equal(results.line, '2 passed, 1 failed, 1 skipped');
    assert.deepEqual([results.passed, results.failed], [2, 1]);
    assert.deepEqual(
      results.slowest_files.map((entry) => entry.file),
      ['slow.test.js', 'quick.test.js'],
    );
    assert.ok((results.slowest_files[0]?.seconds ?? 0) >= 0.3, JSON.stringify(results.slowest_files));
  });
});
