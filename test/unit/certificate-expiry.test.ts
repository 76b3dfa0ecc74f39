// Proves what tapline_tls_certificate_not_after_seconds reports for a file: the end of validity of
// its one certificate, or of the earliest certificate of a bundle (mid-rotation, the old CA's end is
// the one that must be acted on), and nothing for a file without a certificate that parses.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { earliestNotAfterMs } from '../../services/common/auth/certificates';
import { DevAuthority } from '../../tools/devenv/credentials';

describe('when a certificate file stops being valid', function () {
  let dir: string;
  let soon: string;
  let later: string;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'tapline-cert-expiry-'));
    const authority = await DevAuthority.open(dir);
    soon = readFileSync((await authority.issue({ kind: 'node', nodeId: 'n-soon' }, 'soon', { days: 3 })).cert, 'utf8');
    later = readFileSync((await authority.issue({ kind: 'node', nodeId: 'n-later' }, 'later', { days: 300 })).cert, 'utf8');
  });

  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  const end = (pem: string): number => Date.parse(new X509Certificate(pem).validTo);

  it('is the end of the one certificate of a file', function () {
    assert.equal(earliestNotAfterMs(Buffer.from(later)), end(later));
  });

  it('is the earliest end of a bundle, whatever the order', function () {
    assert.equal(earliestNotAfterMs(later + soon), end(soon));
    assert.equal(earliestNotAfterMs(soon + later), end(soon));
    assert.ok(end(soon) < end(later));
  });

  it('is unknown for a file without a certificate that parses, and a broken block does not hide a good one', function () {
    assert.equal(earliestNotAfterMs(''), undefined);
    assert.equal(earliestNotAfterMs('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n'), undefined);
    assert.equal(earliestNotAfterMs('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n' + later), end(later));
  });
});
