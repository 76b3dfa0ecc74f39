// Proves the reports service's configuration of its authorizer link: the defaults load (a node's
// default port on this host, a 10 s call deadline, plaintext); an address that is not host:port is
// refused; a client certificate without its key, or a key without its certificate, is refused; and
// a complete TLS setting loads as given.

import assert from 'node:assert/strict';
import { loadReportsConfig } from '../../services/reports/config';
import { ConfigError } from '../../services/common/process';

describe('reports configuration: the authorizer link', () => {
  it('loads the defaults', () => {
    const config = loadReportsConfig({});
    assert.equal(config.TAPLINE_AUTHORIZER_GRPC_ADDRESS, '127.0.0.1:50051');
    assert.equal(config.TAPLINE_AUTHORIZER_CALL_TIMEOUT_MS, 10_000);
    assert.deepEqual(
      [config.TAPLINE_TLS_CA_FILE, config.TAPLINE_TLS_CERT_FILE, config.TAPLINE_TLS_KEY_FILE],
      [undefined, undefined, undefined],
    );
  });

  it('takes a host:port address and refuses anything else', () => {
    assert.equal(
      loadReportsConfig({ TAPLINE_AUTHORIZER_GRPC_ADDRESS: 'tapline.prod.svc:50051' }).TAPLINE_AUTHORIZER_GRPC_ADDRESS,
      'tapline.prod.svc:50051',
    );
    for (const address of ['', 'tapline', 'http://tapline:50051', 'tapline:port', 'a b:1']) {
      assert.throws(
        () => loadReportsConfig({ TAPLINE_AUTHORIZER_GRPC_ADDRESS: address }),
        (error: unknown) => error instanceof ConfigError && error.message.includes('TAPLINE_AUTHORIZER_GRPC_ADDRESS'),
        address,
      );
    }
  });

  it('refuses a client certificate without its key and a key without its certificate', () => {
    for (const env of [{ TAPLINE_TLS_CERT_FILE: '/tls/tls.crt' }, { TAPLINE_TLS_KEY_FILE: '/tls/tls.key' }]) {
      assert.throws(
        () => loadReportsConfig(env),
        (error: unknown) => error instanceof ConfigError && error.message.includes('go together'),
        JSON.stringify(env),
      );
    }
    const tls = { TAPLINE_TLS_CA_FILE: '/tls/ca.crt', TAPLINE_TLS_CERT_FILE: '/tls/tls.crt', TAPLINE_TLS_KEY_FILE: '/tls/tls.key' };
    const config = loadReportsConfig(tls);
    assert.deepEqual([config.TAPLINE_TLS_CA_FILE, config.TAPLINE_TLS_CERT_FILE, config.TAPLINE_TLS_KEY_FILE], Object.values(tls));
  });
});
