// Validates an XML text against an XSD with xmllint (Debian's libxml2-utils, installed by
// scripts/ensure-system-deps.sh): an independent validator, not our own code.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../services/common/paths';

/** The published pain.001.001.03 schema, vendored (services/reports/bank-files/schemas/SOURCE.md). */
export const pain001_xsd = join(projectRoot(), 'services/reports/bank-files/schemas/pain.001.001.03.xsd');

export function validateXml(xml: string, xsd: string): { readonly valid: boolean; readonly output: string } {
  const folder = mkdtempSync(join(tmpdir(), 'tapline-xsd-'));
  try {
    const file = join(folder, 'document.xml');
    writeFileSync(file, xml);
    const result = spawnSync('xmllint', ['--noout', '--schema', xsd, file], { encoding: 'utf8', timeout: 30_000 });
    if (result.error !== undefined) throw new Error(`xmllint could not run (install libxml2-utils): ${result.error.message}`);
    return { valid: result.status === 0, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
