// Proves the reports service's configuration: secure by default (its HTTPS certificate, the CA of
// the authorizer's operator door, its own token and a token issuer are required unless the
// development switch is set); the defaults load (a node's default operator port on this host, a
// 10 s call deadline); an address that is not host:port is refused.

import assert from 'node:assert/strict';
import { loadReportsConfig } from '../../services/reports/config';
import { ConfigError } from '../../services/common/process';

type Env = Record<string, string | undefined>;

const secure: Env = {
  TAPLINE_TLS_CERT_FILE: '/tls/tls.crt',
  TAPLINE_TLS_KEY_FILE: '/tls/tls.key',
  TAPLINE_AUTHORIZER_CA_FILE: '/tls/ca.crt',
  TAPLINE_AUTHORIZER_TOKEN_FILE: '/var/run/secrets/tapline/token',
  TAPLINE_OIDC_ISSUERS: '[{"issuer":"https://idp.example/","jwks_url":"https://idp.example/jwks"}]',
};

describe('reports configuration: the authorizer link and its own door', () => {
  it('loads the defaults', () => {
    const config = loadReportsConfig(secure);
    assert.equal(config.TAPLINE_AUTHORIZER_GRPC_ADDRESS, '127.0.0.1:50053');
    assert.equal(config.TAPLINE_AUTHORIZER_CALL_TIMEOUT_MS, 10_000);
    assert.equal(config.TAPLINE_DEV_PLAINTEXT, 'false');
  });

  it('takes a host:port address and refuses anything else', () => {
    assert.equal(
      loadReportsConfig({ ...secure, TAPLINE_AUTHORIZER_GRPC_ADDRESS: 'tapline.prod.svc:50053' }).TAPLINE_AUTHORIZER_GRPC_ADDRESS,
      'tapline.prod.svc:50053',
    );
    for (const address of ['', 'tapline', 'http://tapline:50051', 'tapline:port', 'a b:1']) {
      assert.throws(
        () => loadReportsConfig({ ...secure, TAPLINE_AUTHORIZER_GRPC_ADDRESS: address }),
        (error: unknown) => error instanceof ConfigError && error.message.includes('TAPLINE_AUTHORIZER_GRPC_ADDRESS'),
        address,
      );
    }
  });

  it('refuses to start without its certificate, the authorizer CA, its token or an issuer; plaintext only by the switch', () => {
    for (const missing of Object.keys(secure)) {
      assert.throws(
        () => loadReportsConfig({ ...secure, [missing]: undefined }),
        (error: unknown) => error instanceof ConfigError && error.message.includes(missing),
        `without ${missing}`,
      );
    }
    const plain = loadReportsConfig({
      TAPLINE_DEV_PLAINTEXT: 'true',
      TAPLINE_OIDC_ISSUERS: secure['TAPLINE_OIDC_ISSUERS'],
      TAPLINE_AUTHORIZER_TOKEN_FILE: secure['TAPLINE_AUTHORIZER_TOKEN_FILE'],
    });
    assert.equal(plain.TAPLINE_TLS_CERT_FILE, undefined);
  });
});
